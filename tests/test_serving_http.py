"""Azure ML's scoring contract (the README's HTTP contracts) over real HTTP against a deployed service."""

from __future__ import annotations

import concurrent.futures
import json
import math
import re
import socket
import time

import jsonschema
import pandas as pd
import pytest
import requests
from openapi_spec_validator import validate

from tests.helpers import wait_until


@pytest.fixture
def service(deployed):
    backend, name = deployed
    return backend.get_service(name)


@pytest.fixture
def headers(deployed):
    backend, name = deployed
    return {"Authorization": f"Bearer {backend.get_service_keys(name).primary}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def records(bank_small_csv) -> list[dict]:
    frame = pd.read_csv(bank_small_csv).drop(columns="y")
    return json.loads(frame.head(20).to_json(orient="records"))


def assert_error(response: requests.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status and isinstance(body["error"], str)
    for fragment in fragments:
        assert fragment in body["error"], body["error"]


def test_health(service):
    response = requests.get(service.base_uri + "/", timeout=5)
    assert response.status_code == 200 and response.text == "Healthy"


def test_classic_shape_matches_the_model_in_process(deployed, service, headers, records):
    backend, _ = deployed
    response = requests.post(service.scoring_uri, json={"data": records}, headers=headers, timeout=10)
    assert response.status_code == 200
    expected = list(backend.load_model("bank-model").predict(pd.DataFrame(records)))
    assert response.json() == {"result": expected}
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["X-Ms-Request-Id"])
    assert response.headers["X-Ms-Run-Function-Failed"] == "False"


def test_azure_shape_with_probabilities(deployed, service, headers, records):
    backend, _ = deployed
    body = {"Inputs": {"data": records[:3]}, "GlobalParameters": {"method": "predict_proba"}}
    response = requests.post(service.scoring_uri, json=body, headers=headers, timeout=10)
    results = response.json()["Results"]
    expected = backend.load_model("bank-model").predict_proba(pd.DataFrame(records[:3]))
    assert [sorted(r) for r in results] == [["no", "yes"]] * 3
    assert [r["yes"] for r in results] == pytest.approx(expected[:, 1].tolist(), abs=1e-12)
    labels = requests.post(
        service.scoring_uri,
        json={"Inputs": {"data": records[:3]}, "GlobalParameters": {"method": "predict"}},
        headers=headers,
        timeout=10,
    ).json()
    assert set(labels["Results"]) <= {"no", "yes"}


def test_explain_gives_contributions_that_add_up_to_the_probability(deployed, service, headers, records):
    def post(method: str, rows: list[dict]) -> requests.Response:
        body = {"Inputs": {"data": rows}, "GlobalParameters": {"method": method}}
        return requests.post(service.scoring_uri, json=body, headers=headers, timeout=30)

    response = post("explain", records[:5])
    assert response.status_code == 200, response.text
    results = response.json()["Results"]
    probabilities = [r["yes"] for r in post("predict_proba", records[:5]).json()["Results"]]
    labels = post("predict", records[:5]).json()["Results"]
    columns = sorted(records[0])
    for result, probability, label in zip(results, probabilities, labels, strict=True):
        assert result["prediction"] == label and result["positive_class"] == "yes"
        assert result["probabilities"]["yes"] == pytest.approx(probability, abs=1e-6)
        assert sorted(result["contributions"]) == columns
        assert result["base_value"] + sum(result["contributions"].values()) == pytest.approx(probability, abs=1e-6)
        log_odds = result["log_odds"]
        total = log_odds["base_value"] + sum(log_odds["contributions"].values())
        assert total == pytest.approx(math.log(probability / (1 - probability)), abs=1e-5)
    assert len({r["base_value"] for r in results}) == 1  # one base value per model
    too_many = post("explain", records[:1] * 1001)
    assert_error(too_many, 400, "at most 1,000 records")
    assert_error(post("why", records[:1]), 400, '"explain"')


def test_each_request_gets_a_fresh_request_id(service, headers, records):
    ids = {
        requests.post(service.scoring_uri, json={"data": records[:1]}, headers=headers, timeout=5).headers[
            "X-Ms-Request-Id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_auth_none_wrong_primary_secondary(deployed, service, records):
    backend, name = deployed
    keys = backend.get_service_keys(name)
    body = {"data": records[:1]}
    missing = requests.post(service.scoring_uri, json=body, timeout=5)
    assert_error(missing, 401, "Bearer")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.headers["X-Ms-Run-Function-Failed"] == "True"
    assert_error(
        requests.post(service.scoring_uri, json=body, headers={"Authorization": "Bearer nope"}, timeout=5), 401
    )
    assert_error(requests.post(service.scoring_uri, json=body, headers={"Authorization": keys.primary}, timeout=5), 401)
    for key in (keys.primary, keys.secondary):
        ok = requests.post(service.scoring_uri, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert ok.status_code == 200


def test_rotated_key_stops_working_at_once(deployed, service, records):
    backend, name = deployed
    old = backend.get_service_keys(name)
    new = backend.regenerate_service_key(name, "Secondary")
    assert new.secondary != old.secondary and new.primary == old.primary
    body = {"data": records[:1]}
    rejected = requests.post(
        service.scoring_uri, json=body, headers={"Authorization": f"Bearer {old.secondary}"}, timeout=5
    )
    assert_error(rejected, 401)
    accepted = requests.post(
        service.scoring_uri, json=body, headers={"Authorization": f"Bearer {new.secondary}"}, timeout=5
    )
    assert accepted.status_code == 200


def test_keys_are_long_random_and_not_in_the_log(deployed):
    backend, name = deployed
    keys = backend.get_service_keys(name)
    assert len(keys.primary) >= 43 and keys.primary != keys.secondary
    log = backend.get_service_logs(name, tail=10_000)
    assert keys.primary not in log and keys.secondary not in log


def _with(record: dict, **changes) -> dict:
    return {**record, **changes}


@pytest.mark.parametrize(
    ("body", "status", "fragments"),
    [
        (b"{not json", 400, ["not valid JSON"]),
        (b"", 400, ["empty"]),
        (b"[1, 2]", 400, ["JSON object"]),
        (b'{"rows": []}', 400, ['"data"']),
        (b'{"data": []}', 400, ["at least one record"]),
        (b'{"data": {"age": 1}}', 400, ["list of records"]),
        (b'{"data": [1]}', 400, ["record 0 must be a JSON object"]),
        (b'{"data": [], "extra": 1}', 400, ["extra"]),
        (b'{"Inputs": {"data": []}, "GlobalParameters": {"method": "shap"}}', 400, ["predict_proba", "explain"]),
        (b'{"Inputs": {"data": [{}]}, "GlobalParameters": 0}', 400, ["GlobalParameters"]),
        (b'{"Inputs": {"data": [{}], "z": 1}}', 400, ["Inputs.z"]),
        (b'{"Inputs": {"data": [{}]}, "data": []}', 400, ["unknown field(s) data"]),
    ],
)
def test_malformed_bodies_are_400_with_a_message(service, headers, body, status, fragments):
    response = requests.post(service.scoring_uri, data=body, headers=headers, timeout=5)
    assert_error(response, status, *fragments)
    assert response.headers["X-Ms-Run-Function-Failed"] == "True"


def test_missing_unknown_and_mistyped_columns_are_named(service, headers, records):
    first = dict(records[0])
    without_age = {k: v for k, v in first.items() if k != "age"}
    cases = [
        ([without_age], "missing column(s): age"),
        ([_with(first, shoe_size=42)], "unknown column(s): shoe_size"),
        ([first, _with(first, age="forty")], "record 1: column 'age' must be a number"),
        ([_with(first, job={"x": 1})], "column 'job' must be text"),
        ([_with(first, age=True)], "column 'age' must be a number"),
        ([_with(first, age=1e300)], "column 'age' is out of range"),  # found by the fuzz test: was a 500
    ]
    for data, fragment in cases:
        assert_error(requests.post(service.scoring_uri, json={"data": data}, headers=headers, timeout=5), 400, fragment)


def test_quoted_values_and_listed_columns_are_cut(service, headers, records):
    first = dict(records[0])
    huge = requests.post(
        service.scoring_uri, json={"data": [_with(first, age="x" * 100_000)]}, headers=headers, timeout=5
    )
    assert_error(huge, 400, "must be a number", "(100,002 characters)")
    assert len(huge.text) < 1000
    many = requests.post(
        service.scoring_uri,
        json={"data": [{**first, **{f"extra_{i:05d}": 1 for i in range(5000)}}]},
        headers=headers,
        timeout=5,
    )
    assert_error(many, 400, "unknown column(s): extra_00000", "extra_00019 and 4,980 more")
    assert len(many.text) < 2000


def test_a_value_nested_1000_deep_is_a_400_with_its_headers_and_telemetry(deployed, service, headers, records):
    backend, name = deployed
    backend.update_service(name, app_insights_enabled=True)
    deep = "[" * 1000 + "]" * 1000
    body = json.dumps({"data": [{**records[0], "age": 0}]}).replace('"age": 0', f'"age": {deep}')
    response = requests.post(service.scoring_uri, data=body, headers=headers, timeout=5)
    assert_error(response, 400, "column 'age' must be a number, got a list of 1 item(s)")
    request_id = response.headers["X-Ms-Request-Id"]
    rows = wait_until(
        lambda: [r for r in backend.get_service_telemetry(name) if r["request_id"] == request_id],
        timeout=10,
        what="the telemetry row of the request",
    )
    assert rows[0]["status"] == 400 and len(rows[0]["error"]) <= 500


def test_unseen_category_and_missing_values_are_scored(service, headers, records):
    data = [_with(records[0], job="astronaut"), _with(records[1], marital=None, age=None)]
    response = requests.post(service.scoring_uri, json={"data": data}, headers=headers, timeout=5)
    assert response.status_code == 200 and len(response.json()["result"]) == 2


def test_limits_and_content_type(service, headers, records):
    too_many = {"data": records[:1] * 10_001}
    assert_error(requests.post(service.scoring_uri, json=too_many, headers=headers, timeout=30), 413, "10000")
    huge = b'{"data": [' + b'{"age": 1},' * 900_000 + b'{"age": 1}]}'
    assert_error(requests.post(service.scoring_uri, data=huge, headers=headers, timeout=30), 413, "limit")
    text = {**headers, "Content-Type": "text/plain"}
    assert_error(
        requests.post(service.scoring_uri, data=json.dumps({"data": records[:1]}), headers=text, timeout=5), 415
    )


def test_unknown_paths_and_methods_answer_json(service):
    assert_error(requests.get(service.base_uri + "/nope", timeout=5), 404, "/nope")
    assert_error(requests.get(service.scoring_uri, timeout=5), 405, "GET")


def test_swagger_is_valid_and_its_example_scores(service, headers):
    document = requests.get(service.swagger_uri, timeout=5).json()
    validate(document)  # raises on an invalid Swagger 2.0 document
    assert document["swagger"] == "2.0" and set(document["paths"]) == {"/", "/score"}
    record = document["definitions"]["ServiceInput"]["properties"]["data"]["items"]
    assert "emp.var.rate" in record["properties"] and record["additionalProperties"] is False
    example = document["definitions"]["ServiceInput"]["example"]
    response = requests.post(service.scoring_uri, json=example, headers=headers, timeout=5)
    assert response.status_code == 200 and len(response.json()["result"]) == len(example["data"])
    explained = requests.post(
        service.scoring_uri,
        json={"Inputs": example, "GlobalParameters": {"method": "explain"}},
        headers=headers,
        timeout=10,
    ).json()["Results"]
    assert '"explain"' in document["paths"]["/score"]["post"]["parameters"][0]["description"]
    for result in explained:  # the answer is what the documented Explanation says
        jsonschema.validate(result, document["definitions"]["Explanation"])


def test_swagger_ui_is_served_without_external_urls(service):
    page = requests.get(service.base_uri + "/docs", timeout=5)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/docs/static/") for source in sources)
    assert "http" not in page.text.replace("http-equiv", "")
    for source in sources:
        assert requests.get(service.base_uri + source, timeout=5).status_code == 200


def test_telemetry_counts_every_request_of_a_burst(deployed, service, headers, records):
    backend, name = deployed
    before = len(backend.get_service_telemetry(name))
    sent = 200

    def call(i: int) -> int:
        body = {"data": records[i % 20 : i % 20 + 1]}
        return requests.post(service.scoring_uri, json=body, headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(sent)))
    requests.post(service.scoring_uri, json={"data": []}, headers=headers, timeout=5)  # one failure, recorded too
    assert statuses == [200] * sent
    wait_until(lambda: len(backend.get_service_telemetry(name)) == before + sent + 1, timeout=10, what="telemetry")
    events = backend.get_service_telemetry(name)[before:]
    assert sum(e["records"] for e in events) == sent
    assert sum(sum(e["predictions"].values()) for e in events) == sent
    assert [e["status"] for e in events].count(400) == 1 and all(e["latency_ms"] > 0 for e in events)
    assert {e["client"] for e in events} == {"127.0.0.1"}


def test_telemetry_switch_takes_effect_without_redeploy(deployed, service, headers, records):
    backend, name = deployed
    backend.update_service(name, app_insights_enabled=False)
    try:
        before = len(backend.get_service_telemetry(name))
        for _ in range(5):
            requests.post(service.scoring_uri, json={"data": records[:1]}, headers=headers, timeout=5)
        time.sleep(0.6)  # longer than the telemetry writer's flush period
        assert len(backend.get_service_telemetry(name)) == before
        assert backend.get_service(name).state == "Healthy"
    finally:
        backend.update_service(name, app_insights_enabled=True)


def test_the_service_log_has_one_line_per_request_and_never_the_key_or_body(deployed, service, headers, records):
    backend, name = deployed
    marker = "astronaut-of-the-sea"  # a value only this request's body holds
    good = requests.post(service.scoring_uri, json={"data": records[:2]}, headers=headers, timeout=10)
    bad = requests.post(
        service.scoring_uri, json={"data": [{**records[0], "age": marker}]}, headers=headers, timeout=10
    )
    refused = requests.post(service.scoring_uri, json={"data": records[:1]}, timeout=10)
    assert (good.status_code, bad.status_code, refused.status_code) == (200, 400, 401)

    def lines() -> dict[str, str]:
        found = {}
        for line in backend.get_service_logs(name, tail=5000).splitlines():
            for response in (good, bad, refused):
                if response.headers["X-Ms-Request-Id"] in line:
                    found[response.headers["X-Ms-Request-Id"]] = line
        return found if len(found) == 3 else {}

    logged = wait_until(lines, timeout=10, what="three request lines in the service log")
    assert re.search(r"POST /score \S+ 200 [\d.]+ ms 2 record\(s\)$", logged[good.headers["X-Ms-Request-Id"]])
    assert " 400 " in logged[bad.headers["X-Ms-Request-Id"]] and " 401 " in logged[refused.headers["X-Ms-Request-Id"]]
    text = backend.get_service_logs(name, tail=5000)
    keys = backend.get_service_keys(name)
    assert keys.primary not in text and keys.secondary not in text and marker not in text


def test_a_client_that_leaves_mid_body_gets_one_log_line_and_no_traceback(deployed, service, headers):
    import socket
    from urllib.parse import urlparse

    backend, name = deployed

    def request_lines() -> list[str]:
        return [line for line in backend.get_service_logs(name, tail=5000).splitlines() if "POST /score" in line]

    before_lines, before_text = len(request_lines()), backend.get_service_logs(name, tail=5000)
    address = urlparse(service.scoring_uri)
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(
            f"POST /score HTTP/1.1\r\nHost: {address.hostname}\r\nContent-Type: application/json\r\n"
            f'Authorization: {headers["Authorization"]}\r\nContent-Length: 100\r\n\r\n{{"data": ['.encode()
        )
    lines = wait_until(lambda: len(request_lines()) > before_lines and request_lines(), timeout=10, what="a line")
    assert " 400 " in lines[-1]
    added = backend.get_service_logs(name, tail=5000)[len(before_text) :]
    assert "Traceback" not in added and "ClientDisconnect" not in added


def test_a_silent_connection_to_a_service_is_closed_on_time(service):
    """The scoring server runs with opml's HTTP bounds (tests/test_http_bounds.py checks them one by one)."""
    from opml.httpserver import SCORING_BOUNDS

    port = int(service.scoring_uri.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=SCORING_BOUNDS.head_timeout + 5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert SCORING_BOUNDS.head_timeout - 1 < time.monotonic() - started < SCORING_BOUNDS.head_timeout + 3


def test_the_models_example_is_made_up_not_a_training_row(deployed, bank_small_csv):
    backend, _ = deployed
    example = backend.get_model("bank-model").manifest["example"]
    training = pd.read_csv(bank_small_csv).drop(columns=["y"])
    rows = {tuple(row) for row in training.astype(str).itertuples(index=False)}
    made_up = pd.DataFrame(example)[training.columns].astype(str)
    assert not any(tuple(row) in rows for row in made_up.itertuples(index=False))
    assert example[0]["age"] == round(training["age"].median())


def test_every_file_and_folder_of_a_workspace_is_owner_only(deployed):
    """After a dataset, an AutoML run, a registered model and a running service (files written by the test
    process, the agent, runs and the scoring process alike)."""
    backend, _ = deployed
    loose = [
        f"{oct(path.lstat().st_mode & 0o777)} {path.relative_to(backend.path)}"
        for path in [backend.path, *backend.path.rglob("*")]
        if not path.is_symlink() and path.lstat().st_mode & 0o077
    ]
    assert loose == []


def test_health_is_answered_while_big_batches_are_scored(service, headers, records):
    body = {"data": (records * 500)[:10_000]}
    finished: list[float] = []

    def score_big() -> None:
        response = requests.post(service.scoring_uri, json=body, headers=headers, timeout=120)
        assert response.status_code == 200
        finished.append(time.monotonic())

    batches = [concurrent.futures.ThreadPoolExecutor(1).submit(score_big) for _ in range(3)]
    time.sleep(0.3)  # the batches are in the service
    health = requests.get(service.base_uri + "/", timeout=10)
    answered = time.monotonic()
    for batch in batches:
        batch.result()
    assert health.text == "Healthy"
    assert answered < max(finished)  # the health check did not wait for the batches (scored off the loop)


def test_a_scoring_process_runs_with_few_malloc_arenas(deployed):
    """Its thread pool would otherwise fragment memory (the soak benchmark measured +52 MB, +7 MB with two)."""
    import psutil

    backend, name = deployed
    pid = backend.services.process_of(name)[0]
    assert psutil.Process(pid).environ()["MALLOC_ARENA_MAX"] == "2"


def test_telemetry_and_restart_through_the_cli(deployed, service, headers, records):
    import subprocess
    import sys

    backend, name = deployed
    requests.post(service.scoring_uri, json={"data": records[:2]}, headers=headers, timeout=5)
    wait_until(lambda: backend.get_service_telemetry(name), timeout=10, what="telemetry")

    def opml(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "opml", "--workspace", str(backend.path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    shown = opml("--json", "services", "telemetry", name, "--hours", "1", "--bucket-seconds", "60")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    summary = backend.get_service_telemetry_summary(name, since=time.time() - 3600, bucket_seconds=60)
    assert document["requests"] == summary.requests > 0 and document["dropped"] == document["mirror_dropped"] == 0
    table = opml("services", "telemetry", name)
    assert table.returncode == 0 and "request(s) in the last 24 h" in table.stdout and "P50 MS" in table.stdout
    bad = opml("services", "telemetry", name, "--hours", "nan")
    assert bad.returncode == 2 and "--hours must be a number of hours" in bad.stderr
    healthy = opml("services", "restart", name)
    assert healthy.returncode == 2 and "only a Failed service is restarted" in healthy.stderr


def test_explain_through_the_cli(deployed, service, headers, records, tmp_path):
    import subprocess
    import sys

    backend, name = deployed

    def opml(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "opml", "--workspace", str(backend.path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    (tmp_path / "records.json").write_text(json.dumps({"data": records[:2]}))
    shown = opml("services", "explain", name, "--json", str(tmp_path / "records.json"), "--top", "2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("record 0: ") and "P(yes) = " in lines[0]
    body = {"Inputs": {"data": records[:2]}, "GlobalParameters": {"method": "explain"}}
    expected = requests.post(service.scoring_uri, json=body, headers=headers, timeout=10).json()["Results"][0]
    biggest = max(expected["contributions"].items(), key=lambda item: abs(item[1]))
    assert lines[1].startswith(f"  {biggest[0]} = ") and " P(yes) by " in lines[1]
    assert len([line for line in lines if line.startswith("  ")]) == 4  # two reasons per record
    as_json = opml("--json", "services", "explain", name, "--record", "age=40", "duration=500")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["Results"][0]["positive_class"] == "yes"
    bad = opml("services", "explain", name, "--record", "age=40", "--top", "0")
    assert bad.returncode == 2 and "--top must be from 1 to 1000" in bad.stderr
