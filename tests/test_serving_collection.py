"""Data collection and labels through a real scoring service (its own uvicorn process, started by a real
agent): switched on and off without a redeploy, sampled, never holding the key; labels POSTed with the key or
given as a CSV; live accuracy from both."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from opml.monitoring.collected import collected_dir, collected_files
from tests.helpers import free_port, wait_until


@pytest.fixture(scope="module")
def collecting(trained_workspace, tmp_path_factory: pytest.TempPathFactory):
    """A service of the trained model (collection off at first) served by a real agent: (backend, name)."""
    import shutil

    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend

    source, run_id = trained_workspace
    root = tmp_path_factory.mktemp("collecting") / "workspace"
    shutil.copytree(source, root)
    backend = LocalBackend(root)
    backend.register_model(name="bank-model", run_id=run_id)
    backend.deploy_model(name="svc", model_name="bank-model")
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        service = backend.wait_for_service("svc", timeout=120)
        assert service.state == "Healthy", service.error
        yield backend, "svc"
    finally:
        agent.terminate()
        agent.wait(timeout=30)


@pytest.fixture(scope="module")
def records(bank_small_csv) -> list[dict]:
    frame = pd.read_csv(bank_small_csv).drop(columns="y")
    return json.loads(frame.head(50).to_json(orient="records"))


class Scorer:
    def __init__(self, backend, name: str):
        service = backend.get_service(name)
        self.uri, self.base = service.scoring_uri, service.base_uri
        self.key = backend.get_service_keys(name).primary
        self.session = requests.Session()
        self.headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    def score(self, records: list[dict], *, proba: bool = False) -> tuple[str, list]:
        body = (
            {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}}
            if proba
            else {"data": records}
        )
        response = self.session.post(self.uri, json=body, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.headers["X-Ms-Request-Id"], response.json()["Results" if proba else "result"]

    def labels(self, body, headers=None) -> requests.Response:
        return self.session.post(
            self.base + "/labels",
            data=json.dumps(body),
            headers=self.headers if headers is None else headers,
            timeout=10,
        )


def collected_ids(backend, name: str, since: float) -> list[str]:
    return [row["request_id"] for row in backend.get_collected_data(name, since=since, limit=10_000)]


def test_collection_is_off_until_switched_on_then_takes_every_request(collecting, records):
    backend, name = collecting
    scorer = Scorer(backend, name)
    since = time.time() - 1
    off = {scorer.score(records[:1])[0] for _ in range(10)}
    backend.update_service(name, data_collection=True)  # no redeploy: the process re-reads runtime.json
    sent: dict[str, int] = {}
    for index in range(20):
        batch = records[index % 5 : index % 5 + 1 + index % 3]
        sent[scorer.score(batch)[0]] = len(batch)
    failed = scorer.session.post(scorer.uri, json={"data": [{"age": "old"}]}, headers=scorer.headers, timeout=10)
    assert failed.status_code == 400  # refused requests are not collected
    expected_rows = sum(sent.values())
    wait_until(lambda: len(collected_ids(backend, name, since)) >= expected_rows, timeout=30, what="collection")
    time.sleep(6)  # one more flush period: nothing else arrives
    ids = collected_ids(backend, name, since)
    assert len(ids) == expected_rows
    assert set(ids) == set(sent) and not set(ids) & off
    service = backend.get_service(name)
    assert service.collection_rows >= expected_rows and service.collection_dropped == 0
    backend.update_service(name, data_collection=False)


def test_collected_rows_hold_inputs_and_outputs_as_scored(collecting, records):
    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    since = time.time() - 1
    request_id, results = scorer.score(records[:3], proba=True)
    wait_until(lambda: request_id in collected_ids(backend, name, since), timeout=30, what="the request")
    rows = [row for row in backend.get_collected_data(name, since=since) if row["request_id"] == request_id]
    rows.sort(key=lambda row: row["record"])
    assert [row["record"] for row in rows] == [0, 1, 2]
    model = backend.get_model("bank-model")
    schema = model.manifest["input_schema"]
    for row, record, result in zip(rows, records[:3], results, strict=True):
        assert row["deployment"] == "blue" and since <= row["at"] <= time.time()
        for column in schema:
            value = record.get(column["name"])
            got = row[f"input.{column['name']}"]
            if column["type"] in ("numeric", "boolean"):
                assert got == pytest.approx(float(value))
            else:
                assert got == str(value)
        assert {cls: row[f"output.proba.{cls}"] for cls in result} == pytest.approx(result, abs=1e-12)
        threshold = model.manifest.get("threshold")
        expected = max(result, key=result.get) if threshold is None else ("yes" if result["yes"] >= threshold else "no")
        assert row["output.label"] == expected
    backend.update_service(name, data_collection=False)


def test_explained_requests_are_collected_with_their_probabilities(collecting, records):
    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    since = time.time() - 1
    body = {"Inputs": {"data": records[:2]}, "GlobalParameters": {"method": "explain"}}
    response = scorer.session.post(scorer.uri, json=body, headers=scorer.headers, timeout=10)
    assert response.status_code == 200, response.text
    request_id, results = response.headers["X-Ms-Request-Id"], response.json()["Results"]
    wait_until(lambda: request_id in collected_ids(backend, name, since), timeout=30, what="the explained request")
    rows = sorted(
        (row for row in backend.get_collected_data(name, since=since) if row["request_id"] == request_id),
        key=lambda row: row["record"],
    )
    assert [row["output.label"] for row in rows] == [result["prediction"] for result in results]
    assert [row["output.proba.yes"] for row in rows] == pytest.approx([r["probabilities"]["yes"] for r in results])
    backend.update_service(name, data_collection=False)


def test_sampling_keeps_about_the_rate_and_never_the_key(collecting, records):
    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=0.5)
    since = time.time() - 1
    sent = {scorer.score(records[:1])[0] for _ in range(400)}
    backend.update_service(name, data_collection=False)
    time.sleep(6)  # past a flush period
    wait_until(lambda: backend.get_service(name).collection_dropped == 0, timeout=5)
    ids = set(collected_ids(backend, name, since))
    assert ids <= sent
    # Binomial(400, 0.5): mean 200, standard deviation 10; 5 deviations either side fails once in ~3.5 million.
    assert 150 <= len(ids) <= 250, len(ids)
    keys = backend.get_service_keys(name)
    for path in collected_dir(backend.layout.service_dir(name)).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert keys.primary.encode() not in data and keys.secondary.encode() not in data
    status = backend.layout.service_collection_status(name, "blue.live").read_bytes()
    assert b'"rows"' in status and keys.primary.encode() not in status


def test_labels_posted_with_the_key_and_live_accuracy(collecting, records, bank_small_csv):
    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    since = time.time() - 1
    scored = [scorer.score(records[i : i + 2]) for i in range(0, 20, 2)]
    wait_until(lambda: len(collected_ids(backend, name, since)) >= 20, timeout=30, what="collection")
    backend.update_service(name, data_collection=False)
    truth = pd.read_csv(bank_small_csv)["y"].astype(str).tolist()[:20]  # the records' own outcomes
    labels = [
        {"request_id": request_id, "record": record, "label": truth[2 * index + record]}
        for index, (request_id, _) in enumerate(scored)
        for record in range(2)
    ]
    body = {"labels": labels}
    missing = scorer.labels(body, headers={"Content-Type": "application/json"})
    assert missing.status_code == 401 and missing.json()["status_code"] == 401
    wrong = scorer.labels(body, headers={"Authorization": "Bearer nope", "Content-Type": "application/json"})
    assert wrong.status_code == 401
    bad = scorer.labels({"labels": [labels[0], {**labels[1], "label": "maybe"}]})
    assert bad.status_code == 400 and "labels[1]" in bad.json()["error"] and "'maybe'" in bad.json()["error"]
    assert scorer.labels({"labels": "x"}).status_code == 400
    assert scorer.labels({"labels": labels, "more": 1}).status_code == 400
    plain = {"Authorization": f"Bearer {scorer.key}", "Content-Type": "text/plain"}
    assert scorer.labels(body, headers=plain).status_code == 415
    assert backend.list_service_labels(name) == []  # nothing stored by a refused call
    accepted = scorer.labels(body)
    assert accepted.status_code == 200 and accepted.json() == {"accepted": 20}
    result = backend.get_live_accuracy(name, since=since, bucket_seconds=3600)
    predicted = [label for _, results in scored for label in results]
    right = [p == t for p, t in zip(predicted, truth, strict=True)]
    assert (result.labelled, result.correct, result.unmatched) == (20, sum(right), 0)
    assert result.accuracy == pytest.approx(sum(right) / 20)
    assert sum(bucket["labelled"] for bucket in result.buckets) == 20
    # Relabelling replaces: flip every label and the accuracy flips with it.
    flipped = [{**label, "label": "no" if label["label"] == "yes" else "yes"} for label in labels]
    assert scorer.labels({"labels": flipped}).json() == {"accepted": 20}
    again = backend.get_live_accuracy(name, since=since, bucket_seconds=3600)
    assert (again.labelled, again.correct) == (20, 20 - sum(right))
    assert len(backend.list_service_labels(name)) == 20
    command = [sys.executable, "-m", "opml", "--workspace", str(backend.path)]
    shown = subprocess.run(
        [*command, "--json", "services", "accuracy", name, "--hours", "1"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert (document["labelled"], document["correct"]) == (20, 20 - sum(right))
    table = subprocess.run([*command, "services", "accuracy", name], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "over 20 labelled record(s)" in table.stdout, table.stderr


def test_labels_from_a_csv_through_the_cli(collecting, tmp_path: Path):
    backend, name = collecting
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    good = tmp_path / "labels.csv"
    good.write_text(f"request_id,label,record\n{rid},yes,0\n{rid},no,1\n")
    command = [sys.executable, "-m", "opml", "--workspace", str(backend.path), "services", "labels", name]
    done = subprocess.run([*command, "--csv", str(good)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "stored 2 label(s)" in done.stdout
    stored = {(row["request_id"], row["record"]): row["label"] for row in backend.list_service_labels(name)}
    assert stored[(rid, 0)] == "yes" and stored[(rid, 1)] == "no"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"request_id,label\n{rid},yes\n{rid},maybe\n")
    refused = subprocess.run([*command, "--csv", str(bad)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "line 3" in refused.stderr and "'maybe'" in refused.stderr, refused.stderr
    malformed = tmp_path / "malformed.csv"
    malformed.write_text(f"request_id,label\n{rid},yes\nr-2,no\n")
    refused = subprocess.run([*command, "--csv", str(malformed)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "line 3" in refused.stderr and "request_id" in refused.stderr


def test_the_cli_shows_collected_records(collecting):
    backend, name = collecting
    command = [sys.executable, "-m", "opml", "--workspace", str(backend.path)]
    done = subprocess.run(
        [*command, "--json", "services", "collected", name, "--hours", "1", "--limit", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 5 and rows == backend.get_collected_data(name, since=time.time() - 3600, limit=5)
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True)
    table = subprocess.run(
        [*command, "services", "collected", name, "--limit", "3"], capture_output=True, text=True, timeout=60
    )
    assert table.returncode == 0 and "OUTPUT.LABEL" in table.stdout
    update = subprocess.run(
        [*command, "--json", "services", "update", name, "--data-collection", "on", "--sampling", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert update.returncode == 0, update.stderr
    shown = json.loads(update.stdout)
    assert shown["data_collection"] is True and math.isclose(shown["collection_sampling_rate"], 0.2)
    refused = subprocess.run(
        [*command, "services", "update", name, "--sampling", "2"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "sampling rate" in refused.stderr
    backend.update_service(name, data_collection=False)


def test_drift_flags_the_shifted_features_and_a_drift_rule_fires(collecting, bank_small_csv):
    from opml.agent.alerts import evaluate_alerts
    from opml.monitoring import signals

    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    frame = pd.read_csv(bank_small_csv).drop(columns="y").sample(n=600, random_state=3)  # the training rows
    plain = json.loads(frame.to_json(orient="records"))
    shifted = [{**record, "age": record["age"] + 30, "job": "student"} for record in plain]

    def send(rows: list[dict]) -> tuple[float, float]:
        started = time.time()
        ids = [scorer.score(rows[i : i + 100])[0] for i in range(0, len(rows), 100)]
        wait_until(lambda: set(ids) <= set(collected_ids(backend, name, started - 1)), timeout=30, what="collection")
        return started, time.time() + 0.001

    plain_window, shifted_window = send(plain), send(shifted)
    backend.update_service(name, data_collection=False)
    calm = backend.get_service_drift(name, since=plain_window[0], until=plain_window[1])
    moved = backend.get_service_drift(name, since=shifted_window[0], until=shifted_window[1])
    assert calm.rows == moved.rows == 600
    assert {f.verdict for f in calm.features} == {"stable"}, calm.table()
    assert [f.name for f in moved.features[:2]] == sorted(["age", "job"], key=lambda n: -moved.feature(n).psi)
    assert {moved.feature("age").verdict, moved.feature("job").verdict} == {"drift"}
    assert all(f.verdict == "stable" for f in moved.features[2:]), moved.table()
    assert "student" in [bar["bucket"] for bar in moved.feature("job").histogram()]
    assert moved.feature("job").actual[moved.feature("job").labels.index("student")] == pytest.approx(1.0)

    command = [sys.executable, "-m", "opml", "--workspace", str(backend.path), "services", "drift", name, "--hours"]
    shown = subprocess.run([*command, "1"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line.split() for line in shown.stdout.splitlines()[1:] if line.strip()}
    assert lines["age"][-2] == "drift"  # the hour holds both halves (and the other tests' requests)
    assert "predictions against the out-of-fold predictions of the model's cross-validation" in shown.stdout
    over_time = subprocess.run([*command, "1", "--bucket", "hour"], capture_output=True, text=True, timeout=60)
    assert over_time.returncode == 0 and "age" in over_time.stdout, over_time.stderr
    refused = subprocess.run([*command, "nan"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--hours must be a number of hours" in refused.stderr

    feature, psi = signals.max_feature_drift(backend, name, since=shifted_window[0])
    assert feature in ("age", "job") and psi >= 0.25
    rule = backend.create_alert_rule(name, kind="drift", threshold=0.25, window_minutes=10)
    try:
        evaluate_alerts(backend)
        firing = [a for a in backend.list_alerts(service=name, state="Firing") if a.rule_id == rule.id]
        assert len(firing) == 1 and firing[0].value >= 0.25  # over the rule's window: both halves
        assert re.search(r"most drifted feature (age|job): PSI", firing[0].message), firing[0].message
    finally:
        backend.delete_alert_rule(rule.id)


def test_input_data_requests_are_collected_as_their_rows(collecting, records):
    """The MLflow split body of SDK v2 managed endpoints: each row is collected as the record it stands for."""
    backend, name = collecting
    scorer = Scorer(backend, name)
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    since = time.time() - 1
    frame = pd.DataFrame(records[:3]).to_dict(orient="split")
    body = {"input_data": frame, "params": {"method": "predict_proba"}}
    response = scorer.session.post(scorer.uri, json=body, headers=scorer.headers, timeout=10)
    assert response.status_code == 200, response.text
    request_id, results = response.headers["X-Ms-Request-Id"], response.json()
    wait_until(lambda: request_id in collected_ids(backend, name, since), timeout=30, what="the split request")
    rows = sorted(
        (row for row in backend.get_collected_data(name, since=since) if row["request_id"] == request_id),
        key=lambda row: row["record"],
    )
    assert [row["record"] for row in rows] == [0, 1, 2]
    for row, record, result in zip(rows, records[:3], results, strict=True):
        assert row["input.age"] == pytest.approx(float(record["age"])) and row["input.job"] == record["job"]
        assert {cls: row[f"output.proba.{cls}"] for cls in result} == pytest.approx(result, abs=1e-12)
    backend.update_service(name, data_collection=False)


def test_deleting_the_service_deletes_its_collected_data_and_labels(collecting):
    backend, name = collecting
    folder = backend.layout.service_dir(name)
    assert collected_files(folder) and backend.list_service_labels(name)
    backend.delete_service(name)
    wait_until(lambda: not any(s.name == name for s in backend.list_services()), timeout=30, what="the delete")
    assert not folder.exists()
    rows = backend.store.query("SELECT COUNT(*) FROM service_labels WHERE service = ?", (name,))
    assert rows[0][0] == 0
