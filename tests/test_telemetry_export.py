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
        for i in range(5):
            writer.record(
                at=time.time(),
                request_id=f"req-{i}",
                status=200,
                latency_ms=1.5,
                records=1,
                predictions='{"no": 1}',
                error=None,
                client="127.0.0.1",
            )
    finally:
        writer.close()
        server.shutdown()
    stored = local_backend.store.query("SELECT request_id FROM telemetry ORDER BY request_id")
    assert [row["request_id"] for row in stored] == [f"req-{i}" for i in range(5)]
    exported = [item["data"]["baseData"] for item in Ingestion.received if item.get("data", {}).get("baseData")]
    ids = {data.get("properties", {}).get("opml.request_id") for data in exported}
    assert {f"req-{i}" for i in range(5)} <= ids
