"""Telemetry to Azure Monitor through OpenTelemetry, against a loopback ingestion endpoint."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from typing import ClassVar

from opml.backends.local import LocalBackend
from opml.serving.telemetry import TelemetryWriter


class Ingestion(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = json.loads(body)
        Ingestion.received.extend(items if isinstance(items, list) else [items])
        answer = json.dumps(
            {"itemsReceived": len(Ingestion.received), "itemsAccepted": len(Ingestion.received), "errors": []}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_events_are_written_to_the_store_and_exported_to_azure_monitor(local_backend: LocalBackend, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingestion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        f"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:{server.server_address[1]}/",
    )
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")  # nothing may leave the machine
    monkeypatch.setenv("APPLICATIONINSIGHTS_SDKSTATS_DISABLED", "true")  # no metrics flush after the server stops
    writer = TelemetryWriter(local_backend.layout.db, "svc")
    try:
        _record(writer, 5)
    finally:
        writer.close()
        server.shutdown()
    stored = local_backend.store.query("SELECT request_id FROM telemetry ORDER BY request_id")
    assert [row["request_id"] for row in stored] == [f"req-{i}" for i in range(5)]
    exported = [item["data"]["baseData"] for item in Ingestion.received if item.get("data", {}).get("baseData")]
    ids = {data.get("properties", {}).get("opml.request_id") for data in exported}
    assert {f"req-{i}" for i in range(5)} <= ids


def _record(writer: TelemetryWriter, count: int, prefix: str = "req") -> None:
    for i in range(count):
        writer.record(
            at=time.time(),
            request_id=f"{prefix}-{i}",
            status=200,
            latency_ms=1.0,
            records=1,
            predictions='{"no": 1}',
            error=None,
            client="127.0.0.1",
        )


def _rows(backend: LocalBackend, service: str = "svc") -> int:
    return backend.store.query_one("SELECT COUNT(*) FROM telemetry WHERE service = ?", (service,))[0]


def test_a_malformed_connection_string_degrades_to_local_telemetry(local_backend: LocalBackend, monkeypatch, caplog):
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=not-a-guid")
    status = local_backend.layout.service_telemetry_status("svc")
    writer = TelemetryWriter(local_backend.layout.db, "svc", status)  # used to raise and fail the service
    try:
        _record(writer, 3)
    finally:
        writer.close()
    assert _rows(local_backend) == 3
    note = json.loads(status.read_text())["export"]
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING is not valid" in note and "recorded locally" in note
    assert sum("not valid" in record.getMessage() for record in caplog.records) == 1


def test_a_failing_exporter_is_switched_off_and_the_writer_goes_on(local_backend: LocalBackend, monkeypatch):
    def failing(batch):
        raise ConnectionError("ingestion refused")

    monkeypatch.setattr("opml.serving.telemetry._azure_monitor_tracer", lambda service: (failing, None, "on"))
    status = local_backend.layout.service_telemetry_status("svc")
    writer = TelemetryWriter(local_backend.layout.db, "svc", status)
    try:
        _record(writer, 3)
        time.sleep(0.6)
        _record(writer, 2, prefix="later")
    finally:
        writer.close()
    assert _rows(local_backend) == 5
    assert "export failed and is off (ConnectionError)" in json.loads(status.read_text())["export"]


HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_full_queue_drops_and_counts_instead_of_growing(local_backend: LocalBackend, monkeypatch):
    """The database is locked (another process writes for a long time): the writer waits, the queue fills to
    its bound, and what does not fit is counted, not kept; every event is either written or counted."""
    import subprocess
    import sys

    monkeypatch.setattr("opml.serving.telemetry.MAX_QUEUED", 1000)
    monkeypatch.setattr("opml.serving.telemetry.BATCH", 100)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(local_backend.layout.db), "4"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    status = local_backend.layout.service_telemetry_status("svc")
    writer = TelemetryWriter(local_backend.layout.db, "svc", status)
    try:
        _record(writer, 5000)
        assert writer.dropped >= 5000 - 1000 - 100  # the bound plus at most one batch in the writer's hands
    finally:
        holder.wait(timeout=30)
        writer.close()
    assert _rows(local_backend) + writer.dropped == 5000
    assert json.loads(status.read_text())["dropped"] == writer.dropped
