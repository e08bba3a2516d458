"""The mirror's queue bound: past ``max_pending_records`` waiting records a mirrored request is dropped, never waited
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
    mirror = Mirror(telemetry, lambda: True, max_pending_records=2)
    payload = Payload(records=[{"age": 41}], method="predict")
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


class AgeModel:
    """Predicts "yes" above 40; counts its calls (to see the copies scored together)."""

    classes_ = np.array(["no", "yes"])

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba_records(self, records):
        self.calls.append(len(records))
        return np.array([[0.1, 0.9] if record["age"] > 40 else [0.9, 0.1] for record in records])

    def labels_for(self, proba):
        return self.classes_[np.argmax(proba, axis=1)]


def test_copies_are_scored_together_and_each_gets_its_own_answer(tmp_path):
    backend = LocalBackend(tmp_path / "workspace")
    telemetry = TelemetryWriter(backend.layout.db, "svc", tmp_path / "status.json")
    model = AgeModel()
    schema = [{"name": "age", "type": "numeric"}]
    shadow = LoadedDeployment("green", "m:2", model, {"input_schema": schema}, SchemaValidator(schema, max_rows=10))
    mirror = Mirror(telemetry, lambda: True, batch_seconds=0.3)
    sent = {
        "r0": ([{"age": 30}, {"age": 50}], ["no", "no"]),  # the live answer agrees on one record of two
        "r1": ([{"age": 60}], ["yes"]),
        "r2": ([{"age": "old"}], ["no"]),  # the shadow's schema refuses it: a 400 of its own, the others go on
        "r3": ([{"age": 20}, {"age": 45}, {"age": 41}], ["no", "yes", "yes"]),
    }
    try:
        for request_id, (records, live) in sent.items():
            payload = Payload(records=records, method="predict")
            assert mirror.submit(
                shadow, payload, live, request_id=request_id, at=time.time(), collect=False, client=None
            )
    finally:
        mirror.close()
        telemetry.close()
    assert model.calls == [6]  # one prediction for the six valid records of the three valid copies
    with sqlite3.connect(backend.layout.db) as connection:
        rows = connection.execute(
            "SELECT request_id, status, records, agreed, predictions FROM telemetry WHERE mirrored = 1 ORDER BY 1"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("r0", 200, 2, 1),
        ("r1", 200, 1, 1),
        ("r2", 400, 1, None),
        ("r3", 200, 3, 3),
    ]
    assert json.loads(rows[3][4]) == {"no": 1, "yes": 2}
