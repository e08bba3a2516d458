"""Safe rollout on the local backend, through a real agent and real scoring processes over loopback HTTP:
two deployments of different models behind one endpoint, traffic split, header routing, mirror traffic,
promote and rollback, switching under load, a kill -9 of the scoring process."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter

import pandas as pd
import pytest
import requests

from opml.entities import HEALTHY
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, SchemaChange
from opml.rollout import DEPLOYMENT_HEADER
from opml.snippets import curl_snippet, python_snippet
from tests.helpers import wait_until

ENDPOINT = "bank-endpoint"


@pytest.fixture(scope="module")
def rollout(rollout_workspace, tmp_path_factory: pytest.TempPathFactory):
    """An endpoint of bank-model:1 (deployment "blue", telemetry on) served by a real agent; bank-model:2 (a
    logistic regression from the same AutoML run) and narrow-model:1 registered: (backend, endpoint name)."""
    with rollout_workspace.serving(tmp_path_factory, "rollout", ENDPOINT) as backend:
        yield backend, ENDPOINT


@pytest.fixture(scope="module")
def records(bank_small_csv) -> list[dict]:
    frame = pd.read_csv(bank_small_csv).drop(columns="y")
    return json.loads(frame.head(40).to_json(orient="records"))


class Client:
    def __init__(self, backend, name: str):
        service = backend.get_service(name)
        self.uri = service.scoring_uri
        self.session = requests.Session()
        self.headers = {
            "Authorization": f"Bearer {backend.get_service_keys(name).primary}",
            "Content-Type": "application/json",
        }

    def score(self, records: list[dict], deployment: str | None = None) -> requests.Response:
        headers = dict(self.headers)
        if deployment is not None:
            headers[DEPLOYMENT_HEADER] = deployment
        return self.session.post(self.uri, data=json.dumps({"data": records}), headers=headers, timeout=30)


def answered_by(client: Client, records: list[dict], count: int) -> Counter:
    counts: Counter = Counter()
    for index in range(count):
        response = client.score([records[index % len(records)]])
        assert response.status_code == 200, response.text
        counts[response.headers[DEPLOYMENT_HEADER]] += 1
    return counts


def reset(backend, name: str) -> None:
    """Back to blue alone, no mirror, green deleted (each test starts from one deployment)."""
    backend.set_mirror_traffic(name, {})
    backend.promote_deployment(name, "blue")
    for deployment in backend.list_deployments(name):
        if deployment.name != "blue":
            backend.delete_deployment(name, deployment.name)


def test_a_service_is_an_endpoint_with_one_deployment_taking_all_traffic(rollout, records):
    backend, name = rollout
    (blue,) = backend.list_deployments(name)
    assert (blue.name, blue.model, blue.traffic, blue.mirror, blue.state) == ("blue", "bank-model:1", 100, 0, HEALTHY)
    response = Client(backend, name).score(records[:2])
    assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == "blue"


def test_a_challenger_takes_its_share_and_the_header_picks_a_deployment(rollout, records):
    backend, name = rollout
    before = backend.get_service(name)
    green = backend.create_deployment(name, name="green", model_name="bank-model", model_version=2, traffic=30)
    assert (green.model, green.traffic) == ("bank-model:2", 30)
    assert backend.get_service(name).traffic == {"blue": 70, "green": 30}
    assert backend.wait_for_deployment(name, "green", timeout=60).state == HEALTHY
    service = backend.get_service(name)
    assert (service.scoring_uri, backend.get_service_keys(name)) == (before.scoring_uri, backend.get_service_keys(name))
    client = Client(backend, name)
    counts = answered_by(client, records, 600)
    # Binomial(600, 0.3): mean 180, standard deviation 11.2; 5 deviations either side.
    assert set(counts) == {"blue", "green"} and 124 <= counts["green"] <= 236, counts
    for deployment in ("blue", "green"):
        response = client.score(records[:3], deployment=deployment)
        assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == deployment
    unknown = client.score(records[:1], deployment="purple")
    assert unknown.status_code == 400 and "blue, green" in unknown.json()["error"]
    reset(backend, name)


def test_an_idle_deployment_answers_only_when_named(rollout, records, tmp_path):
    backend, name = rollout
    backend.create_deployment(name, name="green", model_name="bank-model", model_version=2)
    backend.wait_for_deployment(name, "green", timeout=60)
    client = Client(backend, name)
    assert answered_by(client, records, 50) == Counter({"blue": 50})
    assert client.score(records[:1], deployment="green").headers[DEPLOYMENT_HEADER] == "green"
    # the Score page's snippets name the deployment picked, as an external program would
    uri, key = backend.get_service(name).scoring_uri, backend.get_service_keys(name).primary
    curl = subprocess.run(
        ["bash", "-c", curl_snippet(uri, records[:2], key, "green") + " -s -D /dev/stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{DEPLOYMENT_HEADER}: green" in curl.stderr.lower() and len(json.loads(curl.stdout)["result"]) == 2
    script = tmp_path / "endpoint.py"
    for deployment, code in (("green", 0), ("purple", 1)):  # an unknown one: the 400 makes the script fail
        script.write_text(python_snippet(uri, records[:1], key, deployment))
        ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert ran.returncode == code, ran.stderr
    reset(backend, name)


def test_mirror_answers_are_recorded_and_never_returned(rollout, records):
    backend, name = rollout
    since = time.time()
    backend.create_deployment(name, name="shadow", model_name="bank-model", model_version=2, mirror=50)
    assert backend.wait_for_deployment(name, "shadow", timeout=60).state == HEALTHY
    client = Client(backend, name)
    bodies = []
    for index in range(200):
        response = client.score(records[index % 20 : index % 20 + 2])
        assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == "blue"
        bodies.append(response.json())
    # Both kinds of rows are written asynchronously (the last live ones too): wait for all 200 live rows, and
    # for the lower bound of the mirrored ones asserted below.
    wait_until(
        lambda: (
            (seen := backend.compare_deployments(name, since=since)).stats("blue").requests == 200
            and seen.stats("shadow").mirrored >= 65
        ),
        timeout=20,
        what="200 live and 65 mirrored requests in telemetry",
    )
    comparison = backend.compare_deployments(name, since=since)
    blue, shadow = comparison.stats("blue"), comparison.stats("shadow")
    assert blue.requests == 200 and shadow.requests == 0
    # Binomial(200, 0.5): 100 +- 7; 5 deviations either side.
    assert 65 <= shadow.mirrored <= 135 and shadow.mirror_failed == 0
    assert shadow.compared_records == 2 * shadow.mirrored and 0 <= shadow.agreed_records <= shadow.compared_records
    assert shadow.agreement == pytest.approx(shadow.agreed_records / shadow.compared_records)
    assert sum(shadow.predictions.values()) == shadow.compared_records
    # what callers were told came from blue alone: the endpoint's telemetry holds no mirrored row
    summary = backend.get_service_telemetry_summary(name, since=since)
    assert summary.requests == 200
    assert all(row["deployment"] == "blue" for row in backend.get_service_telemetry(name, since=since))
    reset(backend, name)


def test_input_data_requests_are_routed_by_the_header_and_mirrored(rollout, records):
    """The MLflow split body of SDK v2 managed endpoints goes through the same routing and mirror as records."""
    backend, name = rollout
    since = time.time()
    backend.create_deployment(name, name="shadow", model_name="bank-model", model_version=2, mirror=50)
    assert backend.wait_for_deployment(name, "shadow", timeout=60).state == HEALTHY
    client = Client(backend, name)

    def post(rows: list[dict], deployment: str | None = None) -> requests.Response:
        headers = dict(client.headers) | ({DEPLOYMENT_HEADER: deployment} if deployment else {})
        body = {"input_data": pd.DataFrame(rows).to_dict(orient="split")}
        return client.session.post(client.uri, data=json.dumps(body), headers=headers, timeout=30)

    for index in range(60):
        response = post(records[index % 20 : index % 20 + 2])
        assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == "blue"
        assert isinstance(response.json(), list) and len(response.json()) == 2
    pinned = post(records[:3], deployment="shadow")  # named: the idle shadow answers, nothing is mirrored
    assert pinned.status_code == 200 and pinned.headers[DEPLOYMENT_HEADER] == "shadow" and len(pinned.json()) == 3
    wait_until(
        lambda: (
            (seen := backend.compare_deployments(name, since=since)).stats("blue").requests == 60
            and seen.stats("shadow").mirrored >= 10
        ),
        timeout=20,
        what="60 live and 10 mirrored split requests in telemetry",
    )
    shadow = backend.compare_deployments(name, since=since).stats("shadow")
    # Binomial(60, 0.5): 30 +- 3.9; 5 deviations either side.
    assert 10 <= shadow.mirrored <= 50 and shadow.mirror_failed == 0
    assert shadow.compared_records == 2 * shadow.mirrored
    reset(backend, name)


def test_promote_and_rollback_move_all_traffic_in_one_step(rollout, records):
    backend, name = rollout
    backend.create_deployment(name, name="green", model_name="bank-model", model_version=2, traffic=10)
    backend.wait_for_deployment(name, "green", timeout=60)
    promoted = backend.promote_deployment(name, "green")
    assert promoted.traffic == {"blue": 0, "green": 100} and promoted.model == "bank-model:2"
    client = Client(backend, name)
    wait_until(lambda: client.score(records[:1]).headers[DEPLOYMENT_HEADER] == "green", timeout=5)
    assert answered_by(client, records, 40) == Counter({"green": 40})
    rolled = backend.rollback_traffic(name)
    assert rolled.traffic == {"blue": 90, "green": 10} and rolled.model == "bank-model:1"
    assert backend.rollback_traffic(name).traffic == {"blue": 0, "green": 100}  # twice: forth again
    reset(backend, name)


def test_bad_changes_are_refused_and_change_nothing(rollout):
    backend, name = rollout
    backend.create_deployment(name, name="green", model_name="bank-model", model_version=2)
    before = backend.get_service(name)
    refusals = [
        (InvalidInput, "add up to 100", lambda: backend.set_traffic(name, {"blue": 60, "green": 30})),
        (InvalidInput, "unknown deployment", lambda: backend.set_traffic(name, {"blue": 50, "purple": 50})),
        (InvalidInput, "whole percent", lambda: backend.set_traffic(name, {"blue": 99.5, "green": 0.5})),
        (
            AlreadyExists,
            "already has a deployment",
            lambda: backend.create_deployment(name, name="green", model_name="bank-model", model_version=2),
        ),
        (Conflict, "takes 100 % of live traffic", lambda: backend.delete_deployment(name, "blue")),
        (InvalidInput, "at most 50", lambda: backend.set_mirror_traffic(name, {"green": 60})),
        (InvalidInput, "takes none", lambda: backend.set_mirror_traffic(name, {"blue": 10})),
        (
            InvalidInput,
            "not both",
            lambda: backend.create_deployment(
                name, name="red", model_name="bank-model", model_version=2, traffic=10, mirror=10
            ),
        ),
        (InvalidInput, "not valid", lambda: backend.create_deployment(name, name="Blue!", model_name="bank-model")),
        (NotFound, "no deployment named", lambda: backend.promote_deployment(name, "purple")),
        (
            NotFound,
            "bank-model",
            lambda: backend.create_deployment(name, name="red", model_name="bank-model", model_version=9),
        ),
    ]
    for error, message, change in refusals:
        with pytest.raises(error, match=message):
            change()
    after = backend.get_service(name)
    assert (after.traffic, after.mirror_traffic, after.model) == (before.traffic, before.mirror_traffic, before.model)
    reset(backend, name)
    with pytest.raises(Conflict, match="roll back"):  # the last change (promote blue) changed nothing
        backend.rollback_traffic(name)


def test_a_model_with_another_input_schema_needs_confirming_and_then_changes_swagger(
    rollout, rollout_workspace, bank_small_csv
):
    backend, name = rollout
    dropped = rollout_workspace.dropped  # narrow-model:1 was trained without it
    client, swagger_uri = Client(backend, name), backend.get_service(name).swagger_uri

    def swagger_columns() -> set[str]:
        document = requests.get(swagger_uri, timeout=10).json()
        return set(document["definitions"]["ServiceInput"]["properties"]["data"]["items"]["properties"])

    assert dropped in swagger_columns()
    with pytest.raises(SchemaChange, match=f"no column\\(s\\) {dropped}.*Confirm"):
        backend.create_deployment(name, name="narrow", model_name="narrow-model")
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]
    backend.create_deployment(name, name="narrow", model_name="narrow-model", allow_schema_change=True)
    assert backend.get_service(name).model == "narrow-model:1"
    wait_until(lambda: dropped not in swagger_columns(), timeout=10, what="swagger.json of the new schema")
    backend.wait_for_deployment(name, "narrow", timeout=60)
    record = {key: value for key, value in records_of(bank_small_csv)[0].items() if key != dropped}
    assert client.score([record], deployment="narrow").status_code == 200
    refused = client.score([record], deployment="blue")  # blue's schema still needs the column
    assert refused.status_code == 400 and dropped in refused.json()["error"]
    backend.delete_deployment(name, "narrow")
    assert backend.get_service(name).model == "bank-model:1"
    wait_until(lambda: dropped in swagger_columns(), timeout=10, what="swagger.json back to blue's schema")


def records_of(csv) -> list[dict]:
    return json.loads(pd.read_csv(csv).drop(columns="y").head(5).to_json(orient="records"))


def test_traffic_changes_under_load_fail_no_request(rollout, records):
    backend, name = rollout
    backend.create_deployment(name, name="green", model_name="bank-model", model_version=2)
    backend.wait_for_deployment(name, "green", timeout=60)
    stop = threading.Event()
    failures: list[str] = []
    answered: Counter = Counter()

    def load() -> None:
        client = Client(backend, name)
        while not stop.is_set():
            response = client.score(records[:2])
            if response.status_code != 200:
                failures.append(response.text)
            else:
                answered[response.headers[DEPLOYMENT_HEADER]] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for split in ({"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}):
            backend.set_traffic(name, split)
            time.sleep(0.7)
        backend.rollback_traffic(name)
        time.sleep(0.5)
        backend.promote_deployment(name, "blue")
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == [] and answered["blue"] > 50 and answered["green"] > 50, (failures[:3], answered)
    reset(backend, name)


def test_a_killed_scoring_process_comes_back_with_both_deployments(rollout, records):
    backend, name = rollout
    backend.create_deployment(name, name="green", model_name="bank-model", model_version=2, traffic=50)
    backend.wait_for_deployment(name, "green", timeout=60)
    pid, _ = backend.services.process_of(name)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: backend.services.process_of(name)[0] not in (None, pid), timeout=30, what="a new process")
    assert backend.wait_for_service(name, timeout=120).state == HEALTHY
    states = {d.name: d.state for d in backend.list_deployments(name)}
    assert states == {"blue": HEALTHY, "green": HEALTHY}
    counts = answered_by(Client(backend, name), records, 100)
    assert set(counts) == {"blue", "green"} and statistics.mean([counts["blue"], counts["green"]]) == 50
    reset(backend, name)


def test_a_service_deployed_before_deployments_keeps_answering_through_its_first_change(rollout, records):
    """Upgraded from an opml without deployments: its runtime.json has no routing (the process serves its one
    model as "blue", with no creation time). The first change writes blue's creation time: that is the same
    deployment, answering throughout, not a new one to load while requests fail."""
    from opml.files import write_private_file

    backend, name = rollout
    path = backend.services.runtime_path(name)
    old = json.loads(path.read_text())
    del old["deployments"], old["endpoint_model"]
    write_private_file(path, json.dumps(old).encode())
    pid, _ = backend.services.process_of(name)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: backend.services.process_of(name)[0] not in (None, pid), timeout=30, what="a new process")
    assert backend.wait_for_service(name, timeout=120).state == HEALTHY
    assert [(d.name, d.model, d.traffic) for d in backend.list_deployments(name)] == [("blue", "bank-model:1", 100)]
    log = backend.layout.service_log(name)
    logged = log.stat().st_size
    stop = threading.Event()
    failures: list[str] = []

    def load() -> None:
        client = Client(backend, name)
        while not stop.is_set():
            response = client.score(records[:1])
            if response.status_code != 200:
                failures.append(response.text)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        backend.create_deployment(name, name="green", model_name="bank-model", model_version=2, traffic=10)
        assert backend.wait_for_deployment(name, "green", timeout=60).state == HEALTHY
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    with log.open("rb") as file:
        file.seek(logged)
        since = file.read().decode(errors="replace")
    assert failures == [] and "deployment blue" not in since, (failures[:3], since)
    reset(backend, name)


def test_a_challenger_that_cannot_load_fails_alone_and_takes_no_traffic(rollout, records, trained_workspace):
    backend, name = rollout
    _, run_id = trained_workspace
    forest = next(
        run for run in backend.list_runs(parent_id=run_id) if run.display_name == "RandomForest"
    )  # a third version, its file then tampered with
    broken = backend.register_model(name="bank-model", run_id=forest.id)
    path = backend.download_model("bank-model", broken.version)
    path.write_bytes(path.read_bytes() + b"tampered")
    backend.create_deployment(name, name="broken", model_name="bank-model", model_version=broken.version, traffic=50)
    failed = backend.wait_for_deployment(name, "broken", timeout=60)
    assert failed.state == "Failed" and "refusing to load" in failed.error
    assert backend.get_service(name).state == HEALTHY
    client = Client(backend, name)
    assert answered_by(client, records, 30) == Counter({"blue": 30})  # its 50 % went to blue
    pinned = client.score(records[:1], deployment="broken")
    assert pinned.status_code == 503 and "failed to load" in pinned.json()["error"]
    with pytest.raises(Conflict, match="failed to load"):
        backend.promote_deployment(name, "broken")
    backend.set_traffic(name, {"blue": 100})
    backend.delete_deployment(name, "broken")
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]


def test_the_names_a_refused_deployment_name_suggests_are_valid():
    import re

    from opml.rollout import check_deployment_name

    with pytest.raises(InvalidInput, match="'v2' is not valid") as refused:
        check_deployment_name("v2")  # 2 characters: Azure's rule is 3 to 32
    examples = re.findall(r"'([^']+)'", str(refused.value).split("e.g.", 1)[1])
    assert len(examples) >= 3 and all(check_deployment_name(example) == example for example in examples)


def test_a_deployment_made_again_under_its_name_is_not_taken_for_the_one_before(rollout, records):
    backend, name = rollout
    backend.create_deployment(name, name="again", model_name="bank-model", model_version=2)
    assert backend.wait_for_deployment(name, "again", timeout=60).state == HEALTHY
    backend.delete_deployment(name, "again")
    made = backend.create_deployment(name, name="again", model_name="bank-model", model_version=2)
    assert made.state == "Transitioning"  # the process's report of the deleted one does not count for it
    assert backend.wait_for_deployment(name, "again", timeout=60).state == HEALTHY
    response = Client(backend, name).score(records[:1], deployment="again")
    assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == "again"
    backend.delete_deployment(name, "again")


def test_the_last_loaded_deployment_is_not_deleted_while_the_one_taking_its_traffic_cannot_answer(
    rollout, records, trained_workspace
):
    """Blue at 0 % still answers every request while the deployment given its traffic loads (or failed to):
    deleting it then would leave the endpoint with nothing to answer and no split to roll back to."""
    backend, name = rollout
    _, run_id = trained_workspace
    forest = next(run for run in backend.list_runs(parent_id=run_id) if run.display_name == "RandomForest")
    broken = backend.register_model(name="bank-model", run_id=forest.id)
    path = backend.download_model("bank-model", broken.version)
    path.write_bytes(path.read_bytes() + b"tampered")
    backend.create_deployment(name, name="broken", model_name="bank-model", model_version=broken.version, traffic=100)
    assert backend.get_service(name).traffic == {"blue": 0, "broken": 100}
    with pytest.raises(Conflict, match=r"blue.*still answers"):
        backend.delete_deployment(name, "blue")  # broken is loading, or failed to: either way blue answers
    assert backend.wait_for_deployment(name, "broken", timeout=60).state == "Failed"
    with pytest.raises(Conflict, match=r"blue.*still answers"):
        backend.delete_deployment(name, "blue")
    assert answered_by(Client(backend, name), records, 10) == Counter({"blue": 10})
    backend.set_traffic(name, {"blue": 100})
    with pytest.raises(Conflict, match="'broken' failed to load"):
        backend.rollback_traffic(name)  # to the split giving broken all the traffic: refused, as set_traffic is
    assert backend.get_service(name).traffic == {"blue": 100, "broken": 0}
    backend.delete_deployment(name, "broken")
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]
