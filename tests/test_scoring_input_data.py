"""Clients speaking the MLflow ``{"input_data": ...}`` body of SDK v2 managed online endpoints: opml.client.score,
the batch helper, the snippets, ``opml score`` and the Score page, all against a real local service (which takes
both bodies, so what a client written for a managed endpoint sends is answered for real)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from opml.client import ScoringError, predictions_of, request_body, score
from opml.errors import InvalidInput
from opml.scoring import (
    labels_from_probabilities,
    probability_rows,
    read_scoring_csv,
    schema_from_swagger,
    score_in_chunks,
)
from opml.settings import get_settings
from opml.snippets import curl_snippet, python_snippet
from opml.snippets import request_body as snippet_body
from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


def test_request_bodies_of_each_format():
    records = [{"age": 41, "job": "technician"}, {"job": "admin.", "marital": "single"}]
    assert request_body(records) == {"data": records}
    assert request_body(records, probabilities=True) == {
        "Inputs": {"data": records},
        "GlobalParameters": {"method": "predict_proba"},
    }
    # Every column any record has, in the order first seen; a column a record leaves out is null (missing).
    split = {
        "columns": ["age", "job", "marital"],
        "index": [0, 1],
        "data": [[41, "technician", None], [None, "admin.", "single"]],
    }
    assert request_body(records, request_format="input_data") == {"input_data": split}
    assert request_body(records, request_format="input_data", probabilities=True) == {
        "input_data": split,
        "params": {"method": "predict_proba"},
    }
    with pytest.raises(InvalidInput, match="answer no explanations"):
        request_body(records, request_format="input_data", explain=True)
    with pytest.raises(InvalidInput, match="data, input_data"):
        request_body(records, request_format="dataframe_split")


def test_answers_of_every_shape_give_the_predictions():
    assert predictions_of({"result": ["no"]}) == ["no"]
    assert predictions_of({"Results": [{"no": 1.0}]}) == [{"no": 1.0}]
    assert predictions_of(["no", "yes"]) == ["no", "yes"]  # a managed endpoint's MLflow answer
    assert predictions_of('["no", "yes"]') == ["no", "yes"]  # the same list, JSON in a JSON string
    assert predictions_of({"predictions": [1, 0]}) == [1, 0]  # MLflow's own server
    assert probability_rows([[0.9, 0.1]], ["no", "yes"]) == [{"no": 0.9, "yes": 0.1}]
    assert probability_rows([{"no": 0.9, "yes": 0.1}], []) == [{"no": 0.9, "yes": 0.1}]
    with pytest.raises(ScoringError, match="where class probabilities were asked for"):
        probability_rows(["no"], ["no", "yes"])


def test_client_scores_through_input_data_as_through_data(deployed):
    backend, name = deployed
    service, key = backend.get_service(name), backend.get_service_keys(name).primary
    assert service.request_format == "data"  # a local service is described by its classic body
    records = backend.get_model("bank-model").manifest["example"]
    classic = score(service.scoring_uri, records, key=key)
    split = score(service.scoring_uri, records, key=key, request_format="input_data")
    assert "input_data" in split.request_body and isinstance(split.response_body, list)
    assert split.predictions == classic.predictions and split.deployment == "blue" and split.request_id
    proba = score(service.scoring_uri, records, key=key, probabilities=True, request_format="input_data")
    classic_proba = score(service.scoring_uri, records, key=key, probabilities=True)
    assert proba.request_body["params"] == {"method": "predict_proba"}
    assert proba.predictions == classic_proba.predictions and set(proba.predictions[0]) == {"no", "yes"}
    pinned = score(service.scoring_uri, records, key=key, deployment="blue", request_format="input_data")
    assert pinned.deployment == "blue"
    with pytest.raises(InvalidInput, match="no explanations"):
        score(service.scoring_uri, records, key=key, explain=True, request_format="input_data")


def test_batch_helper_scores_a_csv_in_input_data_chunks(deployed, bank_csv):
    backend, name = deployed
    manifest = backend.get_model("bank-model").manifest
    frame = pd.read_csv(bank_csv).tail(700)
    batch = read_scoring_csv(frame.to_csv(index=False).encode(), manifest["input_schema"], label="y")
    progress = []
    probabilities = score_in_chunks(
        backend.get_service(name).scoring_uri,
        batch.records,
        key=backend.get_service_keys(name).primary,
        probabilities=True,
        chunk_rows=300,
        on_progress=lambda done, total: progress.append(done),
        request_format="input_data",
    )
    assert progress == [300, 600, 700]
    labels = labels_from_probabilities(probabilities, manifest["classes"], manifest["threshold"])
    assert labels == list(backend.load_model("bank-model").predict(frame.drop(columns=["y"])))


def test_input_data_snippets_print_the_endpoints_predictions(deployed, tmp_path):
    backend, name = deployed
    service, key = backend.get_service(name), backend.get_service_keys(name).primary
    records = backend.get_model("bank-model").manifest["example"]
    expected = score(service.scoring_uri, records, key=key, request_format="input_data").response_body
    assert isinstance(expected, list)
    script = tmp_path / "endpoint.py"
    script.write_text(python_snippet(service.scoring_uri, records, key, "blue", request_format="input_data"))
    assert '"input_data"' in script.read_text()
    printed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == str(expected)
    assert shutil.which("curl"), "curl is needed to check the curl snippet"
    snippet = curl_snippet(service.scoring_uri, records, key, request_format="input_data")
    curl = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=60)
    assert json.loads(curl.stdout) == expected
    # data.json, as the ApacheBench snippet posts it (-p data.json -T application/json)
    (tmp_path / "data.json").write_text(snippet_body(records, "input_data"))
    posted = subprocess.run(
        ["curl", "-s", "-X", "POST", service.scoring_uri, "-H", "Content-Type: application/json", "-H",
         f"Authorization: Bearer {key}", "--data-binary", f"@{tmp_path / 'data.json'}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert json.loads(posted.stdout) == expected


def test_swagger_of_an_mlflow_endpoint_gives_the_form_its_fields():
    # A body published as {"input_data": split DataFrame}: the columns from the example when the document types
    # no row, the types from the example's values.
    document = {
        "swagger": "2.0",
        "definitions": {
            "ServiceInput": {
                "type": "object",
                "properties": {"input_data": {"type": "object"}, "params": {"type": "object"}},
                "example": {
                    "input_data": {"columns": ["age", "job", "euribor3m"], "index": [0], "data": [[57, "admin.", 1.3]]}
                },
            }
        },
    }
    schema, examples = schema_from_swagger(document)
    assert [(c["name"], c["type"], c["dtype"]) for c in schema] == [
        ("age", "numeric", "integer"),
        ("job", "categorical", "string"),
        ("euribor3m", "numeric", "float"),
    ]
    assert examples == [{"age": 57, "job": "admin.", "euribor3m": 1.3}]
    with pytest.raises(InvalidInput, match="input_data"):
        schema_from_swagger({"definitions": {"ServiceInput": {"properties": {"input_data": {}}}}})


def opml(*args: str, workspace: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "opml", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_opml_score_speaks_input_data_to_a_service_or_a_url(deployed, tmp_path):
    backend, name = deployed
    workspace, service = backend.path, backend.get_service(name)
    classic = json.loads(opml("--json", "score", "--service", name, "--record", "age=41", workspace=workspace).stdout)
    assert isinstance(classic, dict) and set(classic) == {"result"}
    split = opml(
        "--json", "score", "--service", name, "--record", "age=41", "--format", "input_data", workspace=workspace
    )
    assert split.returncode == 0, split.stderr
    assert json.loads(split.stdout) == classic["result"]  # the bare list: the body was input_data
    # An endpoint given by URL (no Service entity): its key from the environment, its columns from swagger.json.
    key = {"OPML_SCORING_KEY": backend.get_service_keys(name).primary}
    by_url_args = ["score", "--url", service.scoring_uri, "--format", "input_data", "--record", "age=41", "--proba"]
    by_url = opml("--json", *by_url_args, workspace=workspace, env=key)
    assert by_url.returncode == 0, by_url.stderr
    answer = json.loads(by_url.stdout)
    assert isinstance(answer, list) and set(answer[0]) == {"no", "yes"}
    table = opml(*by_url_args, workspace=workspace, env=key).stdout  # the table rounds; --json keeps every digit
    numbers = [word for word in table.split() if "." in word]
    assert numbers and all(len(number.split(".")[1]) <= 4 for number in numbers), table
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps(request_body(backend.get_model("bank-model").manifest["example"], request_format="input_data"))
    )
    from_file = opml(
        "score",
        "--url",
        service.scoring_uri,
        "--format",
        "input_data",
        "--json",
        str(body),
        workspace=workspace,
        env=key,
    )
    assert from_file.returncode == 0, from_file.stderr
    assert len(from_file.stdout.split()) == 2 and set(from_file.stdout.split()) <= {"no", "yes"}
    no_key = opml("score", "--url", service.scoring_uri, "--json", str(body), workspace=workspace,
                  env={"OPML_SCORING_KEY": ""})  # fmt: skip
    assert no_key.returncode != 0 and "missing or wrong key" in no_key.stderr
    assert "$OPML_SCORING_KEY is empty: --url reads the endpoint's key from it" in no_key.stderr  # the way forward
    both = opml("score", "--service", name, "--url", service.scoring_uri, "--json", str(body), workspace=workspace)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    wrong = opml("score", "--service", name, "--format", "tensor", "--json", str(body), workspace=workspace)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    unreadable = opml("score", "--url", f"http://127.0.0.1:{free_port()}/score", "--record", "age=1",
                      workspace=workspace)  # fmt: skip
    assert unreadable.returncode == 2 and "give the records with --json" in unreadable.stderr


@pytest.fixture
def live_input_data(deployed, monkeypatch):
    """The deployed local service as the Score page sees an SDK v2 managed endpoint: its request_format is
    "input_data" (a local service takes that body too, so the page's requests are answered for real). Only
    the entity's field is changed, on the backend's real answers."""
    backend, name = deployed
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    real_get, real_list = LocalBackend.get_service, LocalBackend.list_services
    as_v2 = lambda service: dataclasses.replace(service, request_format="input_data")  # noqa: E731
    monkeypatch.setattr(LocalBackend, "get_service", lambda self, n: as_v2(real_get(self, n)))
    monkeypatch.setattr(
        LocalBackend, "list_services", lambda self, *a, **k: [as_v2(s) for s in real_list(self, *a, **k)]
    )
    return backend, name


def test_score_page_speaks_input_data_to_such_an_endpoint(live_input_data):
    backend, name = live_input_data
    before = len(backend.get_service_telemetry(name))
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [t for t in at.toggle if t.key == "score_explain"]  # MLflow on a managed endpoint explains nothing
    at.number_input(key=f"score_field_{name}_age").set_value(35)
    at.button(key="score_add").click().run()
    at.button(key="score_table").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, records, result, explained = at.session_state[f"score_result_{name}"]
    assert not explained and set(result.request_body) == {"input_data", "params"}
    assert isinstance(result.response_body, list) and len(result.response_body) == 2
    assert [row[result.request_body["input_data"]["columns"].index("age")] for row in
            result.request_body["input_data"]["data"]][1] == 35  # fmt: skip
    shown = next(df.value for df in at.dataframe if "prediction" in df.value.columns)
    model = backend.load_model("bank-model")
    assert list(shown["prediction"]) == list(model.predict(pd.DataFrame(records)))
    wait_until(lambda: len(backend.get_service_telemetry(name)) > before, timeout=10, what="the request's telemetry")
    # The snippets are written for the input_data body.
    codes = [c.value for c in at.code]
    assert any('"input_data"' in code and "curl" in code for code in codes)
    assert any('data = {"input_data"' in code for code in codes)


def test_score_page_batch_csv_goes_through_input_data(live_input_data, bank_csv, monkeypatch):
    backend, name = live_input_data
    import opml.scoring

    # A spy on the real client call (the request still goes to the service): which body each chunk was sent in.
    formats, real_score = [], opml.scoring.score

    def spy(*args, **kwargs):
        result = real_score(*args, **kwargs)
        formats.append(next(iter(result.request_body)))
        return result

    monkeypatch.setattr(opml.scoring, "score", spy)
    rows = pd.read_csv(bank_csv).head(30)
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    assert not [c for c in at.checkbox if c.key == "score_batch_reasons"]  # no explanations for this endpoint
    at.file_uploader(key=f"score_upload_{name}").set_value(("rows.csv", rows.to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.button(key="score_batch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert formats == ["input_data"]
    _, _, labels, probabilities, reasons = at.session_state[f"score_batch_result_{name}"]
    assert labels == list(backend.load_model("bank-model").predict(rows.drop(columns=["y"])))
    assert reasons is None and len(probabilities) == 30 and set(probabilities[0]) == {"no", "yes"}
    assert any(m.label == "Accuracy against the file's labels" for m in at.metric)


def test_a_local_services_snippets_offer_either_body(deployed, monkeypatch):
    """A local service takes opml's body and MLflow's: the Snippets tab writes either, the classic one first."""
    backend, _ = deployed
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any('"data": [' in c.value and "curl" in c.value for c in at.code)
    at.radio(key="score_snippet_format").set_value("input_data").run()
    codes = [c.value for c in at.code]
    assert any('"input_data"' in code and "curl" in code for code in codes)
    assert any('data = {"input_data"' in code for code in codes)
