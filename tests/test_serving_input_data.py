"""The ``{"input_data": {"columns", "index", "data"}}`` body (an MLflow model on an Azure ML managed online
endpoint) over real HTTP against a deployed local service: answered as Azure answers it (the bare list),
refused as ``{"data": [...]}`` is (a 400 with a JSON body naming what is wrong), documented in swagger.json,
and seen by telemetry like any other request."""

from __future__ import annotations

import json

import jsonschema
import pandas as pd
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opml.rollout import DEPLOYMENT_HEADER
from tests.helpers import wait_until
from tests.test_serving_http import assert_error


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


def split(records: list[dict], *, index: bool = True) -> dict:
    """Records as pandas writes them in "split" orientation (``DataFrame.to_dict(orient="split")``)."""
    document = pd.DataFrame(records).to_dict(orient="split")
    if not index:
        del document["index"]
    return document


def post(service, headers, body) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body)
    return requests.post(service.scoring_uri, data=data, headers=headers, timeout=10)


def test_split_body_is_answered_with_the_bare_list_of_labels(deployed, service, headers, records):
    backend, _ = deployed
    response = post(service, headers, {"input_data": split(records)})
    assert response.status_code == 200, response.text
    expected = list(backend.load_model("bank-model").predict(pd.DataFrame(records)))
    assert response.json() == expected  # as Azure ML's MLflow scoring answers: a JSON list, one item per row
    assert response.headers["X-Ms-Run-Function-Failed"] == "False" and response.headers["X-Ms-Request-Id"]
    # The same answer without the optional index, with the columns in another order, and with params.
    shuffled = {"columns": sorted(records[0], reverse=True)}
    shuffled["data"] = [[record[name] for name in shuffled["columns"]] for record in records]
    for body in (
        {"input_data": split(records, index=False)},
        {"input_data": shuffled},
        {"input_data": split(records), "params": {"method": "predict"}},
        {"input_data": split(records), "params": {}},
    ):
        again = post(service, headers, body)
        assert again.status_code == 200 and again.json() == expected, again.text


def test_predict_proba_in_params_gives_one_probability_object_per_row(deployed, service, headers, records):
    backend, _ = deployed
    body = {"input_data": split(records[:4]), "params": {"method": "predict_proba"}}
    results = post(service, headers, body).json()
    expected = backend.load_model("bank-model").predict_proba(pd.DataFrame(records[:4]))
    assert isinstance(results, list) and [sorted(r) for r in results] == [["no", "yes"]] * 4
    assert [r["yes"] for r in results] == pytest.approx(expected[:, 1].tolist(), abs=1e-12)


def test_missing_values_and_unseen_categories_are_scored(service, headers, records):
    document = split(records[:2])
    document["data"][0][document["columns"].index("age")] = None
    document["data"][1][document["columns"].index("job")] = "astronaut"
    response = post(service, headers, {"input_data": document})
    assert response.status_code == 200 and len(response.json()) == 2


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"input_data": [{"age": 41}]}, ['pandas "split" orientation', '{"data": [ {record}, ... ]}']),
        ({"input_data": [[41, "technician"]]}, ["a list is not taken"]),
        ({"input_data": "age=41"}, ['"input_data" must be an object']),
        ({"input_data": {"columns": ["age"]}}, ["lacks data"]),
        ({"input_data": {"data": [[1]]}}, ["lacks columns"]),
        ({"input_data": {"columns": "age", "data": [[1]]}}, ["input_data.columns", "list of column names"]),
        ({"input_data": {"columns": ["age", 3], "data": [[1, 2]]}}, ["list of column names"]),
        ({"input_data": {"columns": ["age", "age"], "data": [[1, 2]]}}, ["more than once: age"]),
        ({"input_data": {"columns": ["age"], "data": []}}, ["at least one row"]),
        ({"input_data": {"columns": ["age"], "data": {"age": 1}}}, ["list of rows"]),
        ({"input_data": {"columns": ["age"], "data": [[1], 2]}}, ["input_data.data[1] must be a list"]),
        ({"input_data": {"columns": ["age", "job"], "data": [["41", "x"], [41]]}}, ["data[1] has 1 value(s)", "2"]),
        ({"input_data": {"columns": ["age"], "index": [0, 1], "data": [[1]]}}, ["one id per row (1)", "2 item(s)"]),
        ({"input_data": {"columns": ["age"], "index": 0, "data": [[1]]}}, ["input_data.index"]),
        ({"input_data": {"columns": ["age"], "index": [[0]], "data": [[1]]}}, ["scalars"]),
        ({"input_data": {"columns": ["age"], "data": [[1]], "orient": "split"}}, ["unknown field(s) in input_data"]),
        ({"input_data": {"columns": ["age"], "data": [[1]]}, "extra": 1}, ["unknown top-level field(s) extra"]),
        ({"input_data": {"columns": ["age"], "data": [[1]]}, "params": 1}, ['"params" must be an object']),
        ({"input_data": {"columns": ["age"], "data": [[1]]}, "params": {"top_k": 1}}, ["unknown params: top_k"]),
        ({"input_data": {"columns": ["age"], "data": [[1]]}, "params": {"method": "explain"}}, ['"predict_proba"']),
    ],
)
def test_malformed_split_bodies_are_400_with_a_message(service, headers, body, fragments):
    response = post(service, headers, body)
    assert_error(response, 400, *fragments)
    assert response.headers["X-Ms-Run-Function-Failed"] == "True"


def test_missing_unknown_and_mistyped_columns_are_named_as_for_records(service, headers, records):
    first = split(records[:2])
    columns = first["columns"]
    without_age = {"columns": [c for c in columns if c != "age"]}
    without_age["data"] = [[r[c] for c in without_age["columns"]] for r in records[:1]]
    extra = {"columns": [*columns, "shoe_size"], "data": [[*first["data"][0], 42]]}
    mistyped = {"columns": columns, "data": [first["data"][0], [*first["data"][1]]]}
    mistyped["data"][1][columns.index("age")] = "forty"
    for document, fragment in [
        (without_age, "missing column(s): age"),
        (extra, "unknown column(s): shoe_size"),
        (mistyped, "record 1: column 'age' must be a number"),
    ]:
        assert_error(post(service, headers, {"input_data": document}), 400, fragment)


def test_size_bounds_hold_for_split_bodies(service, headers, records):
    one = split(records[:1])
    too_many = {"input_data": {"columns": one["columns"], "data": one["data"] * 10_001}}
    assert_error(post(service, headers, too_many), 413, "10000")
    huge = b'{"input_data": {"columns": ["age"], "data": [' + b"[1]," * 2_500_000 + b"[1]]}}"
    assert_error(post(service, headers, huge), 413, "limit")


def test_header_routing_and_telemetry_see_split_requests(deployed, service, headers, records):
    backend, name = deployed
    response = post(service, {**headers, DEPLOYMENT_HEADER: "blue"}, {"input_data": split(records[:3])})
    assert response.status_code == 200 and response.headers[DEPLOYMENT_HEADER] == "blue"
    request_id = response.headers["X-Ms-Request-Id"]
    unknown = post(service, {**headers, DEPLOYMENT_HEADER: "purple"}, {"input_data": split(records[:1])})
    assert_error(unknown, 400, "purple")
    rows = wait_until(
        lambda: [r for r in backend.get_service_telemetry(name) if r["request_id"] == request_id],
        timeout=10,
        what="the telemetry row of the split request",
    )
    assert rows[0]["status"] == 200 and rows[0]["records"] == 3 and rows[0]["deployment"] == "blue"
    assert sum(rows[0]["predictions"].values()) == 3


def test_swagger_documents_the_split_body_and_its_answers(service, headers):
    document = requests.get(service.swagger_uri, timeout=5).json()
    definitions = document["definitions"]
    split_input = definitions["ServiceInputSplit"]
    example = split_input["example"]
    assert set(example) == {"input_data"} and set(example["input_data"]) == {"columns", "index", "data"}
    assert '"input_data"' in document["paths"]["/score"]["post"]["parameters"][0]["description"]
    # The documented example is a request the service answers 200, with what SplitOutput* say (and ServiceOutput,
    # the 200 answer's schema, admits).
    labels = post(service, headers, example)
    assert labels.status_code == 200, labels.text
    probabilities = post(service, headers, {**example, "params": {"method": "predict_proba"}})
    jsonschema.validate(labels.json(), definitions["SplitOutputLabels"])
    jsonschema.validate(probabilities.json(), definitions["SplitOutputProbabilities"])
    for wrong, schema in ((labels, "SplitOutputProbabilities"), (probabilities, "SplitOutputLabels")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong.json(), definitions[schema])
    for answer in (labels, probabilities):
        jsonschema.validate(answer.json(), definitions["ServiceOutput"])
    # ServiceInputSplit accepts what the service takes and refuses what it refuses (on the body's shape).
    jsonschema.validate({**example, "params": {"method": "predict_proba"}}, split_input)
    for refused in (
        {"input_data": [{"age": 1}]},
        {"input_data": {"columns": ["age"]}},
        {"input_data": {**example["input_data"], "data": []}},
        {**example, "params": {"method": "explain"}},
        {**example, "extra": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused, split_input)
        assert post(service, headers, refused).status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def test_no_split_body_is_a_server_error(deployed, service, headers, records):
    """Any JSON under input_data (and params), and valid frames with one part replaced by any JSON: answered
    200, or 4xx with the JSON error body, never 5xx."""
    valid = split(records[:2])
    session = requests.Session()
    statuses = []

    @given(
        part=st.sampled_from(["input_data", "columns", "index", "data", "row", "cell", "params", "method"]),
        value=json_values,
    )
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(part, value):
        frame = json.loads(json.dumps(valid))
        body: dict = {"input_data": frame}
        if part == "input_data":
            body["input_data"] = value
        elif part in ("columns", "index", "data"):
            frame[part] = value
        elif part == "row":
            frame["data"][1] = value
        elif part == "cell":
            frame["data"][0][0] = value
        elif part == "params":
            body["params"] = value
        else:
            body["params"] = {"method": value}
        response = session.post(service.scoring_uri, data=json.dumps(body), headers=headers, timeout=10)
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text
        if response.status_code != 200:
            assert set(response.json()) == {"error", "status_code"}

    fuzz()
    assert len(statuses) >= 100 and 200 in statuses and 400 in statuses
