"""HTTP clients for opml's contracts, the same for local and Azure ML endpoints.

``score()`` talks to a scoring service; ``trigger_pipeline()``
and ``wait_for_pipeline_run()`` to a published pipeline's REST endpoint.
Errors come back as ``ScoringError`` with the server's own message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from opml.errors import OpmlError
from opml.rollout import DEPLOYMENT_HEADER


class ScoringError(OpmlError):
    """The endpoint answered with an error (``status``), or could not be reached (``status`` 0)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ScoreResult:
    predictions: list[Any]  # labels, or {class: probability} per record
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
) -> ScoreResult:
    """POST records to a scoring URI; labels (or class probabilities, or with ``explain`` the explanation of
    each record: prediction, probabilities and contributions) for each record. ``deployment`` names the
    deployment of the endpoint that should answer (the ``azureml-model-deployment`` header, as on Azure);
    by default the endpoint's traffic split decides.

    Raises ScoringError with the server's message on any non-200 answer.
    """
    body: dict[str, Any]
    if probabilities or explain:
        method = "explain" if explain else "predict_proba"
        body = {"Inputs": {"data": list(records)}, "GlobalParameters": {"method": method}}
    else:
        body = {"data": list(records)}
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
    payload = response.json()
    predictions = payload.get("Results", payload.get("result")) if isinstance(payload, dict) else payload
    return ScoreResult(
        predictions=predictions,
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
