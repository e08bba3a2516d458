"""Serving and scoring per task, end to end over HTTP on 127.0.0.1: a regression model and a multiclass model
trained for real (one short AutoML run each, through a real agent), deployed as services (their own uvicorn
processes), scored one record and a batch in every body shape; swagger.json validated against the answers;
telemetry, collected data, labels, mirror agreement; the Python client, batch CSV scoring and the CLI."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import requests
from openapi_spec_validator import validate

from opml.backends.local import LocalBackend
from opml.client import score
from opml.errors import InvalidInput
from opml.scoring import (
    ServiceOutput,
    explained_values,
    output_of_manifest,
    output_of_swagger,
    read_scoring_csv,
    score_batch,
    scored_csv,
    service_output,
)
from tests.helpers import free_port, wait_until
from tests.test_serving_http import assert_error

ROWS = 600
CLASSES = ["alpha", "beta", "gamma"]


def price_table(rng: np.random.Generator) -> pd.DataFrame:
    """A diamonds-like table: price = f(carat, cut) + noise."""
    carat = rng.uniform(0.2, 2.5, ROWS).round(2)
    cut = rng.choice(["Fair", "Good", "Ideal"], ROWS)
    depth = rng.normal(61, 1.5, ROWS).round(1)
    bonus = np.select([cut == "Fair", cut == "Good"], [-300.0, 0.0], 500.0)
    price = (4000 * carat**1.5 + bonus + rng.normal(0, 200, ROWS)).round(1)
    return pd.DataFrame({"carat": carat, "cut": cut, "depth": depth, "price": price})


def kind_table(rng: np.random.Generator) -> pd.DataFrame:
    """Three classes decided by two numbers (and a column that does not matter)."""
    x1, x2 = rng.normal(0, 1, ROWS), rng.normal(0, 1, ROWS)
    kind = np.where(
        x1 + rng.normal(0, 0.3, ROWS) > 0.5, "alpha", np.where(x2 + rng.normal(0, 0.3, ROWS) > 0, "beta", "gamma")
    )
    color = rng.choice(["red", "blue"], ROWS)
    return pd.DataFrame({"x1": x1.round(3), "x2": x2.round(3), "color": color, "kind": kind})


class Served:
    """The module's workspace: price-svc (regression) and kind-svc (three classes), telemetry and data
    collection on, served by a real agent."""

    def __init__(self, backend: LocalBackend, price: pd.DataFrame, kind: pd.DataFrame, data: Path):
        self.backend, self.price, self.kind, self.data = backend, price, kind, data

    def service(self, name: str):
        return self.backend.get_service(name)

    def headers(self, name: str) -> dict[str, str]:
        key = self.backend.get_service_keys(name).primary
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, name: str, body) -> requests.Response:
        return requests.post(self.service(name).scoring_uri, json=body, headers=self.headers(name), timeout=30)

    def price_records(self, count: int) -> list[dict]:
        return json.loads(self.price.drop(columns="price").head(count).to_json(orient="records"))

    def kind_records(self, count: int) -> list[dict]:
        return json.loads(self.kind.drop(columns="kind").head(count).to_json(orient="records"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from opml.agent.launcher import start_agent

    rng = np.random.default_rng(7)
    data = tmp_path_factory.mktemp("task-data")
    price, kind = price_table(rng), kind_table(rng)
    price.to_csv(data / "price.csv", index=False)
    kind.to_csv(data / "kind.csv", index=False)
    root = tmp_path_factory.mktemp("tasks") / "workspace"
    backend = LocalBackend(root)
    backend.register_dataset(name="price", source=data / "price.csv")
    backend.register_dataset(name="kind", source=data / "kind.csv")
    tiny = {"experiment_timeout_minutes": 0.5, "max_iterations": 4, "n_cross_validations": 2}
    runs = {
        "price": backend.submit_run(
            experiment="price",
            run_type="automl",
            compute="cpu-cluster",
            params={"dataset": "price", "label_column": "price", "task": "regression", **tiny},
        ),
        "kind": backend.submit_run(
            experiment="kind",
            run_type="automl",
            compute="cpu-cluster",
            params={"dataset": "kind", "label_column": "kind", "task": "classification", **tiny},
        ),
    }
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        for name, run in runs.items():
            finished = backend.wait_for_run(run.id, timeout=180)
            assert finished.status == "Completed", finished.error
            backend.register_model(name=f"{name}-model", run_id=run.id)
            backend.deploy_model(name=f"{name}-svc", model_name=f"{name}-model", app_insights_enabled=True)
        for name in runs:
            service = backend.wait_for_service(f"{name}-svc", timeout=120)
            assert service.state == "Healthy", service.error
            backend.update_service(f"{name}-svc", data_collection=True, collection_sampling_rate=1.0)
        yield Served(backend, price, kind, data)
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def telemetry_of(served: Served, name: str, request_id: str) -> dict:
    rows = wait_until(
        lambda: [r for r in served.backend.get_service_telemetry(name) if r["request_id"] == request_id],
        timeout=10,
        what=f"the telemetry row of {request_id}",
    )
    return rows[0]


# -- regression ------------------------------------------------------------------------------------------


def test_a_regression_service_answers_numbers_in_every_shape(served):
    records = served.price_records(25)
    expected = served.backend.load_model("price-model").predict(pd.DataFrame(records))
    one = served.post("price-svc", {"data": records[:1]})
    assert one.status_code == 200, one.text
    assert one.json()["result"] == pytest.approx(expected[:1].tolist(), rel=1e-9)
    batch = served.post("price-svc", {"data": records}).json()["result"]
    assert all(isinstance(value, float) for value in batch) and batch == pytest.approx(expected.tolist(), rel=1e-9)
    azure = served.post("price-svc", {"Inputs": {"data": records[:3]}, "GlobalParameters": {"method": "predict"}})
    assert azure.json() == {"Results": pytest.approx(expected[:3].tolist(), rel=1e-9)}
    split = pd.DataFrame(records[:4]).to_dict(orient="split")
    bare = served.post("price-svc", {"input_data": split})
    assert bare.json() == pytest.approx(expected[:4].tolist(), rel=1e-9)  # MLflow's answer: the bare list
    # Predictions follow the inputs: a bigger stone costs more (the synthetic price rises with carat).
    small, big = ({**records[0], "carat": carat} for carat in (0.3, 2.3))
    low, high = served.post("price-svc", {"data": [small, big]}).json()["result"]
    assert high > low + 2000


def test_probabilities_of_a_regression_service_are_a_400_saying_why(served):
    records = served.price_records(2)
    refused = served.post("price-svc", {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}})
    assert_error(refused, 400, "a regression model predicts values", "predict_proba is for", '"explain"')
    assert refused.headers["X-Ms-Run-Function-Failed"] == "True"
    split = pd.DataFrame(records).to_dict(orient="split")
    refused = served.post("price-svc", {"input_data": split, "params": {"method": "predict_proba"}})
    assert_error(refused, 400, "predict_proba is for classification models")
    request_id = refused.headers["X-Ms-Request-Id"]
    row = telemetry_of(served, "price-svc", request_id)
    assert row["status"] == 400 and row["predictions"] == []  # a regression row's predictions: an array
    # Refused before a deployment was chosen (no key): still the array of a regression service.
    unauthorized = requests.post(served.service("price-svc").scoring_uri, json={"data": records}, timeout=10)
    assert unauthorized.status_code == 401
    row = telemetry_of(served, "price-svc", unauthorized.headers["X-Ms-Request-Id"])
    assert row["status"] == 401 and row["predictions"] == []


def test_regression_swagger_documents_numbers_and_nothing_that_does_not_apply(served):
    service = served.service("price-svc")
    document = requests.get(service.swagger_uri, timeout=5).json()
    validate(document)
    definitions = document["definitions"]
    assert document["info"]["x-opml-task"] == "regression" and "regression" in document["info"]["description"]
    assert "SplitOutputProbabilities" not in definitions and "SplitOutputLabels" not in definitions
    assert definitions["ServiceInputSplit"]["properties"]["params"]["properties"]["method"]["enum"] == ["predict"]
    description = document["paths"]["/score"]["post"]["parameters"][0]["description"]
    assert "predict_proba is refused" in description and '"explain"' in description
    output = definitions["ServiceOutput"]
    assert all(isinstance(value, float) for value in output["example"]["result"])
    jsonschema.validate(output["example"], output)
    # Real answers are what the document says, and answers of the other task are not.
    example = definitions["ServiceInput"]["example"]
    classic = served.post("price-svc", example)
    jsonschema.validate(classic.json(), output)
    azure = served.post("price-svc", {"Inputs": example})
    jsonschema.validate(azure.json(), output)
    split = served.post("price-svc", definitions["ServiceInputSplit"]["example"])
    assert split.status_code == 200, split.text
    jsonschema.validate(split.json(), definitions["SplitOutputValues"])
    jsonschema.validate(split.json(), output)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"result": ["alpha"]}, output)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(["alpha"], definitions["SplitOutputValues"])
    # A refused body's 400 is the documented error.
    jsonschema.validate(served.post("price-svc", {"data": []}).json(), definitions["ErrorResponse"])
    assert output_of_swagger(document) == ServiceOutput("regression")


def assert_explained(explanation: dict, prediction: float, columns: list[str]) -> None:
    """One regression explanation: its contributions add up to its prediction (and to its log in log_value)."""
    assert explanation["prediction"] == pytest.approx(prediction, rel=1e-9)
    assert list(explanation["contributions"]) == columns
    total = explanation["base_value"] + sum(explanation["contributions"].values())
    assert total == pytest.approx(explanation["prediction"], rel=1e-9)
    if "log_value" in explanation:
        logs = explanation["log_value"]
        assert logs["base_value"] + sum(logs["contributions"].values()) == pytest.approx(
            math.log(explanation["prediction"]), abs=1e-9
        )


def test_a_regression_service_explains_its_predictions_as_its_swagger_says(served):
    records = served.price_records(30)
    model = served.backend.load_model("price-model")
    expected = model.predict(pd.DataFrame(records))
    response = served.post("price-svc", {"Inputs": {"data": records}, "GlobalParameters": {"method": "explain"}})
    assert response.status_code == 200, response.text
    results = response.json()["Results"]
    columns = ["carat", "cut", "depth"]
    for explanation, prediction in zip(results, expected, strict=True):
        assert_explained(explanation, prediction, columns)
        assert ("log_value" in explanation) == (model.target is not None)
    # carat drives the price (it rises with carat): its contributions span thousands
    carat = [e["contributions"]["carat"] for e in results]
    assert max(carat) - min(carat) > 1000
    document = requests.get(served.service("price-svc").swagger_uri, timeout=5).json()
    for explanation in results:
        jsonschema.validate(explanation, document["definitions"]["Explanation"])
    with pytest.raises(jsonschema.ValidationError):  # a number is not an explanation
        jsonschema.validate(expected[0], document["definitions"]["Explanation"])
    # Telemetry and data collection record an explained request's predicted values, as for "predict".
    request_id = response.headers["X-Ms-Request-Id"]
    row = telemetry_of(served, "price-svc", request_id)
    assert row["predictions"] == [float(f"{e['prediction']:.6g}") for e in results]
    rows = wait_until(
        lambda: [r for r in served.backend.get_collected_data("price-svc") if r["request_id"] == request_id],
        timeout=20,
        what="the collected rows of the explained request",
    )
    assert sorted(r["output.label"] for r in rows) == pytest.approx(sorted(e["prediction"] for e in results))
    # At most 1,000 records an explain request; MLflow's input_data body answers no explanations.
    many = served.post("price-svc", {"Inputs": {"data": records * 34}, "GlobalParameters": {"method": "explain"}})
    assert_error(many, 400, "explain takes at most 1,000 records per request, got 1,020")
    split = pd.DataFrame(records[:2]).to_dict(orient="split")
    assert_error(served.post("price-svc", {"input_data": split, "params": {"method": "explain"}}), 400, '"explain"')


def test_a_log_price_model_of_the_shared_workspace_explains_in_both_spaces_over_http(task_backend):
    """The conftest's regression model learns log(price): served, its explanations carry log_value."""
    from opml.agent.launcher import start_agent

    model = task_backend.load_model("price-model")
    assert model.target is not None
    task_backend.deploy_model(name="log-price-svc", model_name="price-model")
    agent = start_agent(task_backend.path, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        service = task_backend.wait_for_service("log-price-svc", timeout=120)
        assert service.state == "Healthy", service.error
        frame = task_backend.load_dataset("prices").drop(columns="price").head(40)
        records = json.loads(frame.to_json(orient="records"))
        key = task_backend.get_service_keys("log-price-svc").primary
        answer = score(service.scoring_uri, records, key=key, explain=True, task="regression")
        expected = model.predict(frame)
        for explanation, prediction in zip(answer.predictions, expected, strict=True):
            assert "log_value" in explanation
            assert_explained(explanation, prediction, list(frame.columns))
        document = requests.get(service.swagger_uri, timeout=5).json()
        for explanation in answer.predictions:
            jsonschema.validate(explanation, document["definitions"]["Explanation"])
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def test_regression_telemetry_holds_the_predicted_values(served):
    records = served.price_records(5)
    response = served.post("price-svc", {"data": records})
    values = response.json()["result"]
    row = telemetry_of(served, "price-svc", response.headers["X-Ms-Request-Id"])
    assert row["records"] == 5
    assert row["predictions"] == [float(f"{value:.6g}") for value in values]
    assert row["predictions"] == pytest.approx(values, rel=1e-5)
    big = served.post("price-svc", {"data": served.price_records(ROWS) * 2})  # 1,200 records
    assert big.status_code == 200
    row = telemetry_of(served, "price-svc", big.headers["X-Ms-Request-Id"])
    assert row["records"] == 1200 and len(row["predictions"]) == 1000
    assert row["predictions"] == [float(f"{value:.6g}") for value in big.json()["result"][:1000]]
    # The class mix of the summary counts classifiers' rows only: a regressor's arrays are no class mix.
    summary = served.backend.get_service_telemetry_summary("price-svc", since=row["at"] - 3600)
    assert summary.requests >= 2 and all(bucket["predictions"] == {} for bucket in summary.buckets)
    assert isinstance(summary.recent[0]["predictions"], list)


def test_regression_collected_data_has_float_predictions_and_no_probabilities(served):
    import pyarrow.parquet as pq

    records = served.price_records(3)
    response = served.post("price-svc", {"data": records})
    request_id = response.headers["X-Ms-Request-Id"]
    rows = wait_until(
        lambda: [r for r in served.backend.get_collected_data("price-svc") if r["request_id"] == request_id],
        timeout=20,
        what="the collected rows",
    )
    assert sorted(r["output.label"] for r in rows) == pytest.approx(sorted(response.json()["result"]), rel=1e-12)
    assert not [column for column in rows[0] if column.startswith("output.proba.")]
    files = list((served.backend.layout.service_dir("price-svc") / "collected").rglob("*.parquet"))
    assert files and str(pq.read_schema(files[0]).field("output.label").type) == "double"


def test_regression_labels_are_numbers(served):
    response = served.post("price-svc", {"data": served.price_records(2)})
    request_id = response.headers["X-Ms-Request-Id"]
    service = served.service("price-svc")
    url = service.base_uri + "/labels"
    good = {
        "labels": [{"request_id": request_id, "label": 1234.5}, {"request_id": request_id, "label": 7, "record": 1}]
    }
    accepted = requests.post(url, json=good, headers=served.headers("price-svc"), timeout=10)
    assert accepted.status_code == 200 and accepted.json() == {"accepted": 2}, accepted.text
    stored = {r["record"]: r["label"] for r in served.backend.list_service_labels("price-svc")}
    assert float(stored[0]) == 1234.5 and float(stored[1]) == 7.0
    text = {"labels": [{"request_id": request_id, "label": 1.0}, {"request_id": request_id, "label": "expensive"}]}
    refused = requests.post(url, json=text, headers=served.headers("price-svc"), timeout=10)
    assert_error(refused, 400, "labels[1]", "the true value as a number", "'expensive'")
    with pytest.raises(
        InvalidInput, match="label 1: the service serves a regression model, so a label is the true value as a number"
    ):
        served.backend.add_service_labels("price-svc", [{"request_id": request_id, "label": "cheap"}])
    assert served.backend.add_service_labels("price-svc", [{"request_id": request_id, "label": "99.5"}]) == 1


def test_mirror_agreement_of_a_regression_shadow_and_a_deployment_of_another_task_is_refused(served):
    backend = served.backend
    with pytest.raises(InvalidInput, match="classification model and endpoint 'price-svc' serves a regression"):
        backend.create_deployment("price-svc", name="other", model_name="kind-model", traffic=0)
    backend.create_deployment("price-svc", name="shadow", model_name="price-model", traffic=0, mirror=50)
    try:
        wait_until(
            lambda: any(
                d.name == "shadow" and d.state == "Healthy" for d in backend.get_service("price-svc").deployments
            ),
            timeout=60,
            what="the shadow deployment",
        )
        for _ in range(30):
            assert served.post("price-svc", {"data": served.price_records(3)}).status_code == 200

        def mirrored():
            return backend.store.query(
                "SELECT records, agreed, predictions FROM telemetry WHERE service = 'price-svc' AND mirrored = 1"
            )

        rows = wait_until(lambda: mirrored() or None, timeout=15, what="mirrored telemetry")
        # The same model in the shadow: every record within 1 % of the live value.
        assert all(row["agreed"] == row["records"] == 3 for row in rows)
        assert all(len(json.loads(row["predictions"])) == 3 for row in rows)
    finally:
        backend.set_mirror_traffic("price-svc", {"shadow": 0})
        backend.delete_deployment("price-svc", "shadow")


def test_the_regression_client_batch_csv_and_service_output(served, tmp_path):
    backend = served.backend
    service = served.service("price-svc")
    key = backend.get_service_keys("price-svc").primary
    output = service_output(backend, service)
    assert output.regression and not output.probabilities and output.label_column == "price"
    assert output.kind == "a number (price)"
    assert output == output_of_manifest(backend.get_model("price-model").manifest)
    records = served.price_records(3)
    # Refused before anything is sent: the URI is a closed port (sending would be "cannot reach").
    closed = f"http://127.0.0.1:{free_port()}/score"
    with pytest.raises(InvalidInput, match="predicts values"):
        score(closed, records, key=key, probabilities=True, task="regression")
    answer = score(service.scoring_uri, records, key=key, task="regression")
    assert all(isinstance(value, float) for value in answer.predictions)
    explained = score(service.scoring_uri, records, key=key, explain=True, task="regression")
    assert explained_values(explained.predictions) == pytest.approx(answer.predictions, rel=1e-9)
    # Batch CSV scoring: chunks of 250 rows, the input columns kept, numbers appended.
    csv = (served.data / "price.csv").read_bytes()
    batch = read_scoring_csv(csv, backend.get_model("price-model").manifest["input_schema"], label="price")
    progress = []
    scores = score_batch(
        service.scoring_uri, batch.records, output, key=key, chunk_rows=250, on_progress=lambda d, t: progress.append(d)
    )
    assert progress == [250, 500, 600] and scores.probabilities is None
    scored = pd.read_csv(io.BytesIO(scored_csv(batch.frame, scores.predictions, scores.probabilities)))
    assert list(scored.columns) == ["carat", "cut", "depth", "price", "prediction"]
    assert scored["prediction"].dtype == float
    expected = backend.load_model("price-model").predict(served.price.drop(columns="price"))
    # to float32's precision: chunks of 250 rows take the packed trees' path, 600 rows XGBoost's own
    assert scored["prediction"].to_numpy() == pytest.approx(expected, rel=1e-6)
    assert np.corrcoef(scored["prediction"], scored["price"])[0, 1] > 0.9


# -- multiclass ------------------------------------------------------------------------------------------


def test_a_multiclass_service_answers_labels_and_one_probability_per_class(served):
    records = served.kind_records(20)
    model = served.backend.load_model("kind-model")
    labels = served.post("kind-svc", {"data": records}).json()["result"]
    assert labels == list(model.predict(pd.DataFrame(records)))
    assert set(labels) <= set(CLASSES) and len(set(labels)) >= 2
    proba = served.post("kind-svc", {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}})
    results = proba.json()["Results"]
    expected = model.predict_proba(pd.DataFrame(records))
    for row, numbers, label in zip(results, expected, labels, strict=True):
        assert sorted(row) == CLASSES and sum(row.values()) == pytest.approx(1.0, abs=1e-9)
        assert [row[c] for c in model.classes] == pytest.approx(numbers.tolist(), abs=1e-12)
        assert max(row, key=row.get) == label
    split = served.post(
        "kind-svc",
        {"input_data": pd.DataFrame(records[:2]).to_dict(orient="split"), "params": {"method": "predict_proba"}},
    )
    assert [sorted(row) for row in split.json()] == [CLASSES, CLASSES]
    # Explanations cover binary models: a multiclass one says so.
    explain = served.post("kind-svc", {"Inputs": {"data": records[:1]}, "GlobalParameters": {"method": "explain"}})
    assert_error(explain, 400, "cannot be explained")


def test_multiclass_swagger_matches_its_answers(served):
    document = requests.get(served.service("kind-svc").swagger_uri, timeout=5).json()
    validate(document)
    definitions = document["definitions"]
    assert document["info"]["x-opml-task"] == "classification" and "Explanation" not in definitions
    assert definitions["SplitOutputLabels"]["items"]["enum"] == CLASSES
    assert '"explain"' not in document["paths"]["/score"]["post"]["parameters"][0]["description"]
    example = definitions["ServiceInputSplit"]["example"]
    labels = served.post("kind-svc", example)
    probabilities = served.post("kind-svc", {**example, "params": {"method": "predict_proba"}})
    jsonschema.validate(labels.json(), definitions["SplitOutputLabels"])
    jsonschema.validate(probabilities.json(), definitions["SplitOutputProbabilities"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(probabilities.json(), definitions["SplitOutputLabels"])
    with pytest.raises(jsonschema.ValidationError):  # a regressor's answer is not this service's
        jsonschema.validate({"result": [12.5]}, definitions["ServiceOutput"])
    classic = served.post("kind-svc", definitions["ServiceInput"]["example"])
    jsonschema.validate(classic.json(), definitions["ServiceOutput"])
    assert output_of_swagger(document) == ServiceOutput("classification", tuple(CLASSES))


def test_multiclass_telemetry_collection_and_labels(served):
    records = served.kind_records(6)
    response = served.post("kind-svc", {"data": records})
    labels = response.json()["result"]
    request_id = response.headers["X-Ms-Request-Id"]
    row = telemetry_of(served, "kind-svc", request_id)
    assert row["predictions"] == {label: labels.count(label) for label in set(labels)}
    rows = wait_until(
        lambda: [r for r in served.backend.get_collected_data("kind-svc") if r["request_id"] == request_id],
        timeout=20,
        what="the collected rows",
    )
    assert {r["output.label"] for r in rows} == set(labels)
    assert all(sum(r[f"output.proba.{c}"] for c in CLASSES) == pytest.approx(1.0) for r in rows)
    url = served.service("kind-svc").base_uri + "/labels"
    good = {"labels": [{"request_id": request_id, "label": "beta"}]}
    assert requests.post(url, json=good, headers=served.headers("kind-svc"), timeout=10).json() == {"accepted": 1}
    numeric = {"labels": [{"request_id": request_id, "label": 3}]}
    assert_error(requests.post(url, json=numeric, headers=served.headers("kind-svc"), timeout=10), 400, "labels[0]")


def test_multiclass_batch_scoring_has_a_probability_column_per_class(served):
    backend = served.backend
    service = served.service("kind-svc")
    output = service_output(backend, service)
    assert output == ServiceOutput("classification", tuple(CLASSES), None, "kind") and not output.explainable
    records = served.kind_records(40)
    scores = score_batch(service.scoring_uri, records, output, key=backend.get_service_keys("kind-svc").primary)
    model = backend.load_model("kind-model")
    assert scores.predictions == list(model.predict(pd.DataFrame(records)))
    out = pd.read_csv(io.BytesIO(scored_csv(pd.DataFrame(records), scores.predictions, scores.probabilities)))
    assert [c for c in out.columns if c.startswith("probability_")] == [f"probability_{c}" for c in CLASSES]
    assert out[[f"probability_{c}" for c in CLASSES]].sum(axis=1).to_numpy() == pytest.approx(1.0)


# -- the CLI ---------------------------------------------------------------------------------------------


def opml(*args: str, workspace: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "opml", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_opml_score_per_task(served, tmp_path):
    workspace = served.backend.path
    shown = opml("models", "show", "price-model", workspace=workspace)
    assert "task: regression, predicts price (training values" in shown.stdout and "classes" not in shown.stdout
    assert "classes: ['alpha', 'beta', 'gamma']" in opml("models", "show", "kind-model", workspace=workspace).stdout
    table = opml("score", "--service", "price-svc", "--record", "carat=1.2", "cut=Ideal", workspace=workspace)
    assert table.returncode == 0, table.stderr
    assert "PREDICTION" in table.stdout and math.isfinite(float(table.stdout.split()[-1]))
    as_json = opml("--json", "score", "--service", "price-svc", "--record", "carat=1.2", workspace=workspace)
    assert isinstance(json.loads(as_json.stdout)["result"][0], float)
    refused = opml("score", "--service", "price-svc", "--record", "carat=1.2", "--proba", workspace=workspace)
    assert refused.returncode != 0 and "predicts values (regression)" in refused.stderr
    assert "Traceback" not in refused.stderr
    key = {"OPML_SCORING_KEY": served.backend.get_service_keys("price-svc").primary}
    uri = served.service("price-svc").scoring_uri
    by_url = opml("score", "--url", uri, "--record", "carat=1.2", "--proba", workspace=workspace, env=key)
    assert by_url.returncode != 0 and "score without --proba" in by_url.stderr  # read from its swagger.json
    explained = opml("services", "explain", "price-svc", "--record", "carat=2.4", "cut=Ideal", workspace=workspace)
    assert explained.returncode == 0, explained.stderr
    lines = explained.stdout.splitlines()
    assert lines[0].startswith("record 0: predicted price ") and "(base value " in lines[0]
    # a stone of 2.4 carats (the training mean is about 1.35) costs more: carat is the first reason, and raises it
    assert lines[1].strip().startswith("carat = 2.4 raised the predicted price by ")
    assert 3 <= len(lines) <= 4 and all(" the predicted price by " in line for line in lines[1:])
    as_json = opml("--json", "services", "explain", "price-svc", "--record", "carat=1.2", workspace=workspace)
    explanation = json.loads(as_json.stdout)["Results"][0]
    total = explanation["base_value"] + sum(explanation["contributions"].values())
    assert total == pytest.approx(explanation["prediction"], rel=1e-9)
    refused = opml("services", "explain", "kind-svc", "--record", "x1=0.5", workspace=workspace)
    assert refused.returncode != 0 and "multiclass" in refused.stderr and "Traceback" not in refused.stderr
    # Labels from a CSV: numbers for a regression service; a text label is refused naming its line.
    request_id = served.post("price-svc", {"data": served.price_records(2)}).headers["X-Ms-Request-Id"]
    truth = tmp_path / "truth.csv"
    truth.write_text(f"request_id,label,record\n{request_id},4321.5,0\n{request_id},1200,1\n")
    stored = opml("services", "labels", "price-svc", "--csv", str(truth), workspace=workspace)
    assert stored.returncode == 0 and "stored 2 label(s)" in stored.stdout, stored.stderr
    truth.write_text(f"request_id,label\n{request_id},4321.5\n{request_id},pricey\n")
    refused = opml("services", "labels", "price-svc", "--csv", str(truth), workspace=workspace)
    assert (
        refused.returncode != 0
        and f"{truth}, line 3: the service serves a regression model, so a label is the true value as a number"
        in refused.stderr
    )
    # A CSV scored to a file: the predicted numbers appended.
    out = tmp_path / "scored.csv"
    written = opml(
        "score",
        "--service",
        "price-svc",
        "--csv",
        str(served.data / "price.csv"),
        "--out",
        str(out),
        workspace=workspace,
    )
    assert written.returncode == 0, written.stderr
    scored = pd.read_csv(out)
    assert len(scored) == ROWS and scored["prediction"].dtype == float and "price" in scored
    # Multiclass: --proba prints a probability per class; --out writes a column per class.
    proba = opml("score", "--service", "kind-svc", "--record", "x1=1.5", "--proba", workspace=workspace)
    assert proba.returncode == 0 and all(c.upper() in proba.stdout for c in CLASSES)
    out = tmp_path / "kind.csv"
    written = opml(
        "score", "--service", "kind-svc", "--csv", str(served.data / "kind.csv"), "--proba", "--out", str(out),
        workspace=workspace,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    scored = pd.read_csv(out)
    assert set(scored["prediction"]) <= set(CLASSES)
    assert [c for c in scored.columns if c.startswith("probability_")] == [f"probability_{c}" for c in CLASSES]
    assert (scored["prediction"] == scored["kind"]).mean() > 0.6
