"""HTTP clients for opml's contracts, the same for local and Azure ML endpoints.

``score()`` talks to a scoring service; ``trigger_pipeline()``
and ``wait_for_pipeline_run()`` to a published pipeline's REST endpoint.
Errors come back as ``ScoringError`` with the server's own message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from opml.errors import InvalidInput, OpmlError
from opml.rollout import DEPLOYMENT_HEADER

# The request bodies a scoring URI takes (``Service.request_format``): ``{"data": [records]}`` (local and SDK v1
# services), or the MLflow ``{"input_data": {"columns", "index", "data"}}`` of SDK v2 managed online endpoints.
REQUEST_FORMATS = ("data", "input_data")


class ScoringError(OpmlError):
    """The endpoint answered with an error (``status``), or could not be reached (``status`` 0)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ScoreResult:
    predictions: list[Any]  # labels, numbers (a regression model), or {class: probability} per record
    status: int
    latency_ms: float
    request_id: str | None
    request_body: dict[str, Any]
    response_body: Any
    deployment: str | None = None  # the deployment that answered (its azureml-model-deployment header)


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])
        if isinstance(body, dict) and "message" in body:  # Azure ML's own error bodies
            return str(body["message"])
    except ValueError:
        pass
    return response.text.strip()[:500] or response.reason


def check_request_format(request_format: str) -> str:
    if request_format not in REQUEST_FORMATS:
        raise InvalidInput(f"the request format must be one of {', '.join(REQUEST_FORMATS)}, got {request_format!r}")
    return request_format


def split_frame(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Records as a pandas DataFrame in "split" orientation: every column any record has (in the order first
    seen), one row per record with null where a record leaves a column out (a missing value)."""
    columns = list(dict.fromkeys(name for record in records for name in record))
    return {
        "columns": columns,
        "index": list(range(len(records))),
        "data": [[record.get(name) for name in columns] for record in records],
    }


def request_body(
    records: Sequence[Mapping[str, Any]],
    *,
    request_format: str = "data",
    probabilities: bool = False,
    explain: bool = False,
    task: str | None = None,
) -> dict[str, Any]:
    """The JSON body that asks a scoring URI taking ``request_format`` for labels (numbers from a regression
    model), probabilities or (``data`` services of opml-trained models only) explanations of ``records``.
    ``task`` "regression" (the service's model predicts values): asking for probabilities is an InvalidInput,
    before anything is sent (explanations are asked as of a classifier: ``explain`` wins over
    ``probabilities``, which an explanation of a regressor's value does not hold)."""
    if task == "regression" and probabilities and not explain:
        raise InvalidInput(
            "this service's model predicts values (regression): it answers numbers, not class probabilities; "
            "score without --proba"
        )
    if check_request_format(request_format) == "input_data":
        if explain:
            raise InvalidInput(
                "this endpoint takes MLflow's input_data requests, which answer no explanations: score without "
                "explanations"
            )
        body: dict[str, Any] = {"input_data": split_frame(records)}
        if probabilities:
            body["params"] = {"method": "predict_proba"}
        return body
    if probabilities or explain:
        method = "explain" if explain else "predict_proba"
        return {"Inputs": {"data": list(records)}, "GlobalParameters": {"method": method}}
    return {"data": list(records)}


def predictions_of(payload: Any) -> Any:
    """The per-record answers in a scoring answer of any shape: ``{"result": [...]}``, ``{"Results": [...]}``,
    or the bare list an MLflow model on a managed online endpoint answers (a JSON string holding it too, as a
    custom scoring script may return)."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return payload
    if isinstance(payload, dict):
        for name in ("Results", "result", "predictions"):
            if name in payload:
                return payload[name]
    return payload


def score(
    uri: str,
    records: Sequence[Mapping[str, Any]],
    *,
    key: str | None = None,
    probabilities: bool = False,
    explain: bool = False,
    timeout: float = 60.0,
    session: requests.Session | None = None,
    deployment: str | None = None,
    request_format: str = "data",
    task: str | None = None,
) -> ScoreResult:
    """POST records to a scoring URI; labels (or class probabilities, or with ``explain`` the explanation of
    each record: prediction, probabilities and contributions) for each record; a regression model's service
    answers a number per record, or with ``explain`` its explanation (prediction, base value, contributions)
    (with ``task`` "regression", asking it for probabilities is an InvalidInput before anything is sent;
    without, the service's 400 says why). ``deployment`` names the
    deployment of the endpoint that should answer (the ``azureml-model-deployment`` header, as on Azure);
    by default the endpoint's traffic split decides. ``request_format`` is the body the URI takes (the
    Service's ``request_format``): "data" or "input_data" (MLflow on an SDK v2 managed online endpoint, which
    answers no explanations: InvalidInput with ``explain``).

    Raises ScoringError with the server's message on any non-200 answer.
    """
    body = request_body(records, request_format=request_format, probabilities=probabilities, explain=explain, task=task)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    started = time.perf_counter()
    try:
        response = (session or requests).post(uri, json=body, headers=headers, timeout=timeout)
    except requests.exceptions.InvalidJSONError:
        raise ScoringError(
            "the records hold a value JSON cannot carry (NaN or infinity): leave the column out for a missing value"
        ) from None
    except requests.exceptions.InvalidHeader:  # its message quotes the value: it may be the key
        raise ScoringError(
            "the key or the deployment name holds a character an HTTP header cannot carry (a line break, a "
            "leading space): check them"
        ) from None
    except requests.RequestException as exc:
        raise ScoringError(f"cannot reach {uri}: {type(exc).__name__}") from None
    latency = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise ScoringError(f"HTTP {response.status_code}: {_error_message(response)}", response.status_code)
    try:
        payload = response.json()
    except ValueError:
        raise ScoringError(f"the endpoint answered 200 with a body that is not JSON: {response.text[:200]!r}") from None
    return ScoreResult(
        predictions=predictions_of(payload),
        status=response.status_code,
        latency_ms=latency,
        request_id=response.headers.get("X-Ms-Request-Id"),
        request_body=body,
        response_body=payload,
        deployment=response.headers.get(DEPLOYMENT_HEADER),
    )


def _request(method: str, url: str, headers: Mapping[str, str], body: Any = None, timeout: float = 30.0) -> Any:
    try:
        response = requests.request(method, url, headers=dict(headers), json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise ScoringError(f"cannot reach {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ScoringError(f"HTTP {response.status_code}: {_error_message(response)}", response.status_code)
    return response.json()


def get_swagger(swagger_uri: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """A service's Swagger document (served without auth, locally and on Azure)."""
    return _request("GET", swagger_uri, {}, timeout=timeout)


def trigger_pipeline(
    endpoint: str, auth_header: Mapping[str, str], experiment: str, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """POST to a published pipeline's endpoint, as an Azure ML client does; the answer has the run's ``Id``."""
    body: dict[str, Any] = {"ExperimentName": experiment}
    if parameters:
        body["ParameterAssignments"] = dict(parameters)
    return _request("POST", endpoint, auth_header, body)


def get_pipeline_run(endpoint: str, auth_header: Mapping[str, str], run_id: str) -> dict[str, Any]:
    """The status document of a pipeline run, from the same gateway as ``endpoint``."""
    base = endpoint.split("/PipelineSubmit/")[0]
    return _request("GET", f"{base}/{run_id}", auth_header)


# Azure's pipeline-run status codes, as azureml-pipeline-core's own client reads them (it still receives the
# numeric form from some regions).
_AZURE_STATUS_CODES = {"0": "NotStarted", "1": "Running", "2": "Failed", "3": "Finished", "4": "Canceled"}
FINISHED = {"Completed": "Completed", "Finished": "Completed", "Failed": "Failed", "Canceled": "Canceled"}


def pipeline_run_status(document: Mapping[str, Any]) -> str:
    """A pipeline run's status from its REST document, in either shape: opml's gateway gives a string
    (``"Completed"``); Azure gives an object ``{"StatusCode": "Finished", ...}`` (or a numeric code).
    A finished Azure run reads "Completed", as opml names it."""
    status = document.get("Status")
    if isinstance(status, Mapping):
        status = status.get("StatusCode")
    if status is None:
        return "NotStarted"
    text = _AZURE_STATUS_CODES.get(str(status), str(status))
    return FINISHED.get(text, text)


def wait_for_pipeline_run(
    endpoint: str, auth_header: Mapping[str, str], run_id: str, *, timeout: float = 3600, poll_seconds: float = 1.0
) -> dict[str, Any]:
    """Poll the run's status until it is over (Completed, Failed or Canceled; Azure's "Finished" reads
    Completed); raises ScoringError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        document = get_pipeline_run(endpoint, auth_header, run_id)
        status = pipeline_run_status(document)
        if status in ("Completed", "Failed", "Canceled"):
            return document
        if time.monotonic() > deadline:
            raise ScoringError(f"pipeline run {run_id} is still {status} after {timeout:.0f} s")
        time.sleep(poll_seconds)
