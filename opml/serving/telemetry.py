"""Request telemetry, App Insights style: recorded off the request path, never lost.

The request handler only appends a tuple to an in-memory queue. A writer thread
drains the queue in batches into the workspace database (and, when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, exports the same events to
Azure Monitor through OpenTelemetry). ``close()`` flushes everything left.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path

from opml.settings import appinsights_connection_string

log = logging.getLogger("opml.serving.telemetry")

BATCH = 2000
FLUSH_SECONDS = 0.25
MAX_ERROR = 500  # characters of a request's error kept in its telemetry row

INSERT = """INSERT INTO telemetry (service, at, request_id, status, latency_ms, records, predictions, error, client)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""


class TelemetryWriter:
    def __init__(self, db_path: Path, service: str):
        self.db_path = db_path
        self.service = service
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._exporter, self._exporter_shutdown = _azure_monitor_tracer(service)
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
    ) -> None:
        if error is not None and len(error) > MAX_ERROR:
            error = error[: MAX_ERROR - 1] + "…"
        self._queue.put((self.service, at, request_id, status, latency_ms, records, predictions, error, client))

    def _drain(self, first: tuple | None) -> list[tuple]:
        batch = [first] if first is not None else []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, connection: sqlite3.Connection, batch: list[tuple]) -> None:
        for attempt in range(50):
            try:
                with connection:
                    connection.executemany(INSERT, batch)
                break
            except sqlite3.OperationalError as exc:  # locked for longer than the busy timeout: retry
                log.warning("telemetry write failed (%s); retrying", exc)
                time.sleep(0.1 * (attempt + 1))
        if self._exporter is not None:
            self._exporter(batch)

    def _run(self) -> None:
        connection = sqlite3.connect(self.db_path, timeout=15)
        connection.execute("PRAGMA busy_timeout = 15000")
        while True:
            try:
                first = self._queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                if self._stop.is_set():
                    break
                continue
            self._write(connection, self._drain(first))
        remaining = self._drain(None)
        while remaining:
            self._write(connection, remaining)
            remaining = self._drain(None)
        connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._exporter_shutdown is not None:
            self._exporter_shutdown()


def _azure_monitor_tracer(service: str):
    """(export batch as spans to Azure Monitor, flush and stop), or (None, None) when not configured."""
    connection_string = appinsights_connection_string()
    if not connection_string:
        return None, None
    try:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set but azure-monitor-opentelemetry-exporter is not installed"
        )
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(AzureMonitorTraceExporter(connection_string=connection_string, disable_offline_storage=True))
    )
    tracer = provider.get_tracer("opml.serving")

    def export(batch: list[tuple]) -> None:
        for _, at, request_id, status, latency_ms, records, predictions, error, client in batch:
            start = int(at * 1e9)
            span = tracer.start_span("POST /score", start_time=start)
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
                }
            )
            span.end(end_time=start + int(latency_ms * 1e6))

    return export, provider.shutdown
