"""The mirror's queue bound: past ``max_pending`` waiting copies a mirrored request is dropped, never waited
for, and the drop is counted in the telemetry status the backend shows as ``Service.mirror_dropped``."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import numpy as np

from opml.backends.local import LocalBackend
from opml.serving.mirror import Mirror
from opml.serving.router import LoadedDeployment
from opml.serving.telemetry import TelemetryWriter
from opml.serving.validation import Payload, SchemaValidator
from tests.helpers import wait_until


class HeldModel:
    """A shadow model that answers only once released (a slow shadow, made deterministic)."""

    classes_ = np.array(["no", "yes"])

    def __init__(self) -> None:
        self.release = threading.Event()

    def predict_proba_records(self, records):
        assert self.release.wait(20)
        return np.array([[0.8, 0.2]] * len(records))

    def labels_for(self, proba):
        return self.classes_[np.argmax(proba, axis=1)]


def test_a_full_mirror_queue_drops_without_waiting_and_counts_the_drops(tmp_path):
    backend = LocalBackend(tmp_path / "workspace")  # a real store: the telemetry table the writer fills
    status = tmp_path / "telemetry-status.json"
    telemetry = TelemetryWriter(backend.layout.db, "svc", status)
    model = HeldModel()
    schema = [{"name": "age", "type": "numeric"}]
    shadow = LoadedDeployment("green", "m:2", model, {"input_schema": schema}, SchemaValidator(schema, max_rows=10))
    mirror = Mirror(telemetry, lambda: True, max_pending=2)
    payload = Payload(records=[{"age": 41}], method="predict", azure_v2_shape=False)
    try:
        started = time.perf_counter()
        taken = [
            mirror.submit(shadow, payload, ["no"], request_id=f"r{i}", at=time.time(), collect=False, client=None)
            for i in range(5)
        ]
        assert time.perf_counter() - started < 1.0  # the caller never waits for the held shadow
        assert taken == [True, True, False, False, False] and mirror.dropped == 3
        wait_until(lambda: json.loads(status.read_text()).get("mirror_dropped") == 3, timeout=10, what="the status")
        model.release.set()
    finally:
        model.release.set()
        mirror.close()
        telemetry.close()
    with sqlite3.connect(backend.layout.db) as connection:
        rows = connection.execute("SELECT request_id, deployment, mirrored, agreed FROM telemetry ORDER BY request_id")
        assert rows.fetchall() == [("r0", "green", 1, 1), ("r1", "green", 1, 1)]  # the two it took, agreeing
    assert json.loads(status.read_text())["mirror_dropped"] == 3
