"""Request telemetry, App Insights style: recorded off the request path, in bounded memory.

The request handler only appends a tuple to an in-memory queue. A writer thread
drains the queue in batches into the workspace database (and, when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, exports the same events to
Azure Monitor through OpenTelemetry). ``close()`` flushes everything left.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson

from opml.files import write_private_file
from opml.settings import appinsights_connection_string

log = logging.getLogger("opml.serving.telemetry")

BATCH = 2000
FLUSH_SECONDS = 0.25
MAX_QUEUED = 50_000  # events waiting for the writer; more are dropped and counted
WRITE_ATTEMPTS = 50
MAX_ERROR = 500  # characters of a request's error kept in its telemetry row

MAX_PREDICTED_VALUES = 1_000  # predicted values of a regression request kept in its telemetry row


def predictions_column(predictions: Sequence, *, regression: bool) -> str:
    """The ``predictions`` column of a telemetry row (the contract the monitoring charts read): for a
    classifier a JSON object {label: count}; for a regressor a JSON array of the first
    ``MAX_PREDICTED_VALUES`` predicted values, each rounded to 6 significant digits (``[]`` for a failed
    request)."""
    if regression:
        return orjson.dumps([float(f"{value:.6g}") for value in predictions[:MAX_PREDICTED_VALUES]]).decode()
    return orjson.dumps(Counter(predictions)).decode()


INSERT = """INSERT INTO telemetry (service, at, request_id, status, latency_ms, records, predictions, error, client,
                                   deployment, mirrored, agreed)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


class TelemetryWriter:
    """Records requests off the request path, in bounded memory.

    ``record`` never blocks: past ``MAX_QUEUED`` waiting events it drops the event and counts it. The
    writer thread survives any error (a failed batch is counted as dropped). What a user should know (the
    drop count, whether App Insights export is on, off or failing) is kept in ``status_path`` for the
    Endpoints page.
    """

    def __init__(self, db_path: Path, service: str, status_path: Path | None = None):
        self.db_path = db_path
        self.service = service
        self.status_path = status_path
        self._queue: queue.Queue = queue.Queue(maxsize=MAX_QUEUED)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.dropped = 0
        self.mirror_dropped = 0  # mirrored requests not scored: the shadow's queue was full (opml.serving.mirror)
        self._reported: tuple[int, str, int] | None = None
        self._exporter, self._exporter_shutdown, self.export_note = _azure_monitor_tracer(service)
        self._save_status()
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._thread.start()

    def record(
        self,
        *,
        at: float,
        request_id: str,
        status: int,
        latency_ms: float,
        records: int,
        predictions: str,
        error: str | None,
        client: str | None,
        deployment: str | None = None,
        mirrored: bool = False,
        agreed: int | None = None,
    ) -> None:
        """Queue one request: the deployment that answered it (None when refused before routing) and, for the
        shadow answer of a mirrored request, ``mirrored`` with the records it predicted as the live answer did."""
        if error is not None and len(error) > MAX_ERROR:
            error = error[: MAX_ERROR - 1] + "…"
        event = (self.service, at, request_id, status, latency_ms, records, predictions, error, client)
        try:
            self._queue.put_nowait((*event, deployment, int(mirrored), agreed))
        except queue.Full:
            self._count_dropped(1)

    def _count_dropped(self, count: int) -> None:
        with self._lock:
            self.dropped += count

    def count_mirror_dropped(self) -> None:
        """Count a mirrored request the shadow could not take (shown with the drops of this writer)."""
        with self._lock:
            self.mirror_dropped += 1

    def _save_status(self) -> None:
        """Write the status file when what it says changed (at most once per batch or idle second)."""
        current = (self.dropped, self.export_note, self.mirror_dropped)
        if self.status_path is None or current == self._reported:
            return
        self._reported = current
        document = {
            "dropped": self.dropped,
            "export": self.export_note,
            "mirror_dropped": self.mirror_dropped,
            "updated_at": time.time(),
        }
        try:
            write_private_file(self.status_path, json.dumps(document).encode())
        except OSError as exc:
            log.warning("could not write the telemetry status (%s)", exc)

    def _drain(self, first: tuple | None) -> list[tuple]:
        batch = [first] if first is not None else []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, connection: sqlite3.Connection, batch: list[tuple]) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with connection:
                    connection.executemany(INSERT, batch)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):  # disk full, I/O error: not worth waiting
                    log.warning("telemetry batch of %d lost: %s", len(batch), exc)
                    self._count_dropped(len(batch))
                    break
                log.warning("telemetry write failed (%s); retrying", exc)  # locked past the busy timeout
                time.sleep(0.1 * (attempt + 1))
        else:
            self._count_dropped(len(batch))
        self._export(batch)

    def _export(self, batch: list[tuple]) -> None:
        if self._exporter is None:
            return
        try:
            self._exporter(batch)
        except Exception as exc:  # the exporter's own failure: local telemetry goes on without it
            log.warning("App Insights export failed and is switched off: %s", exc)
            self._exporter = None
            self.export_note = f"App Insights export failed and is off ({type(exc).__name__}); recorded locally"

    def _run(self) -> None:
        connection = sqlite3.connect(self.db_path, timeout=15)
        connection.execute("PRAGMA busy_timeout = 15000")
        while True:
            try:
                first = self._queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                if self._stop.is_set():
                    break
                self._save_status()  # drops counted while nothing was recorded (the mirror's, telemetry off)
                continue
            self._write_safely(connection, self._drain(first))
        remaining = self._drain(None)
        while remaining:
            self._write_safely(connection, remaining)
            remaining = self._drain(None)
        self._save_status()
        connection.close()

    def _write_safely(self, connection: sqlite3.Connection, batch: list[tuple]) -> None:
        try:
            self._write(connection, batch)
        except Exception:  # anything else (disk full, a corrupt row): count the batch, keep the thread alive
            log.exception("telemetry batch of %d lost", len(batch))
            self._count_dropped(len(batch))
        self._save_status()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._exporter_shutdown is not None:
            self._exporter_shutdown()


def _azure_monitor_tracer(service: str):
    """(export a batch as spans to Azure Monitor, flush and stop, what to tell the user). Without a connection
    string, or with one the exporter refuses, or without the exporter installed, export is off (one warning)
    and requests are recorded locally all the same."""
    connection_string = appinsights_connection_string()
    if not connection_string:
        return None, None, "App Insights export off (no APPLICATIONINSIGHTS_CONNECTION_STRING); recorded locally"
    try:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        note = "App Insights export off: azure-monitor-opentelemetry-exporter is not installed; recorded locally"
        log.warning(note)
        return None, None, note
    try:
        exporter = AzureMonitorTraceExporter(connection_string=connection_string, disable_offline_storage=True)
    except Exception as exc:  # e.g. "InstrumentationKey=not-a-guid": ValueError
        note = f"App Insights export off: APPLICATIONINSIGHTS_CONNECTION_STRING is not valid ({exc}); recorded locally"
        log.warning(note)
        return None, None, note
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("opml.serving")

    def export(batch: list[tuple]) -> None:
        for event in batch:
            _, at, request_id, status, latency_ms, records, predictions, error, client, deployment, mirrored, _ = event
            start = int(at * 1e9)
            span = tracer.start_span("POST /score (mirrored)" if mirrored else "POST /score", start_time=start)
            span.set_attributes(
                {
                    "http.method": "POST",
                    "http.route": "/score",
                    "http.status_code": status,
                    "opml.request_id": request_id,
                    "opml.records": records,
                    "opml.predictions": predictions,
                    "opml.error": error or "",
                    "client.address": client or "",
                    "opml.deployment": deployment or "",
                }
            )
            span.end(end_time=start + int(latency_ms * 1e6))

    return export, provider.shutdown, "App Insights export on (and recorded locally)"
