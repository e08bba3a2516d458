"""Copyable client code for a scoring endpoint: curl, Python requests (a classic endpoint.py), ApacheBench; in the
body the endpoint takes (``{"data": [...]}``, or ``{"input_data": ...}`` for an SDK v2 managed online endpoint)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from opml.client import request_body as client_body
from opml.rollout import DEPLOYMENT_HEADER

if TYPE_CHECKING:
    from opml.scoring import ServiceOutput

KEY_PLACEHOLDER = "<your-key>"


def body_of(records: list[dict[str, Any]], request_format: str = "data") -> dict[str, Any]:
    """The request body of the snippets: ``{"data": [records]}``, or for an endpoint taking MLflow's shape
    ``{"input_data": {"columns", "index", "data"}}`` (see ``opml.client.request_body``)."""
    return client_body(records, request_format=request_format)


def request_body(records: list[dict[str, Any]], request_format: str = "data") -> str:
    return json.dumps(body_of(records, request_format), indent=2)


def curl_snippet(
    uri: str,
    records: list[dict[str, Any]],
    key: str | None,
    deployment: str | None = None,
    request_format: str = "data",
) -> str:
    """``deployment``: the endpoint's deployment to answer (the ``azureml-model-deployment`` header);
    ``request_format``: the body the endpoint takes (``Service.request_format``)."""
    lines = [f"curl -X POST {shlex.quote(uri)}", "  -H 'Content-Type: application/json'"]
    if key is not None:
        lines.append(f"  -H {shlex.quote('Authorization: Bearer ' + key)}")
    if deployment:
        lines.append(f"  -H {shlex.quote(DEPLOYMENT_HEADER + ': ' + deployment)}")
    lines.append(f"  -d {shlex.quote(json.dumps(body_of(records, request_format)))}")
    return " \\\n".join(lines)


def python_snippet(
    uri: str,
    records: list[dict[str, Any]],
    key: str | None,
    deployment: str | None = None,
    request_format: str = "data",
) -> str:
    body = body_of(records, request_format)
    ((field, value),) = body.items()
    auth = "" if key is None else f'\nkey = "{key}"\nheaders["Authorization"] = f"Bearer {{key}}"'
    if deployment:
        auth += f'\nheaders["{DEPLOYMENT_HEADER}"] = "{deployment}"  # this deployment answers'
    return f'''import json

import requests

scoring_uri = "{uri}"
data = {{"{field}": {json.dumps(value, indent=4)}}}
headers = {{"Content-Type": "application/json"}}{auth}

response = requests.post(scoring_uri, data=json.dumps(data), headers=headers, timeout=60)
response.raise_for_status()
print(response.json())
'''


def answer_description(output: ServiceOutput, request_format: str = "data") -> str:
    """What the endpoint answers the snippets' request, in words, by its model's task (``opml.scoring.
    service_output``): numbers for a regression model, labels (and on request one probability per class) for a
    classifier."""
    if output.regression:
        what = f"one predicted value of {output.label_column}" if output.label_column else "one predicted value"
        shape = "a list of numbers" if request_format == "input_data" else '{"result": [numbers]}'
        return f"The endpoint answers {shape}: {what} per record (a regression model has no probabilities)."
    if request_format == "input_data":
        return (
            'The endpoint answers a list, one label per record; add "params": {"method": "predict_proba"} for '
            "one {class: probability} object per record."
        )
    return (
        'The endpoint answers {"result": [labels]}; send {"Inputs": {"data": [records]}, "GlobalParameters": '
        '{"method": "predict_proba"}} for {"Results": [{class: probability}, ...]}, one probability per class.'
    )


def ab_snippet(
    uri: str, key: str | None, requests: int = 100, concurrency: int = 8, deployment: str | None = None
) -> str:
    auth = "" if key is None else f" -H {shlex.quote('Authorization: Bearer ' + key)}"
    if deployment:
        auth += f" -H {shlex.quote(DEPLOYMENT_HEADER + ': ' + deployment)}"
    return f"ab -n {requests} -c {concurrency} -T 'application/json' -p data.json{auth} {shlex.quote(uri)}"


def pipeline_trigger_snippets(endpoint: str, token: str, body: dict[str, Any]) -> tuple[str, str]:
    """(curl, Python requests) that run a published pipeline: POST ``body`` (``Backend.published_trigger_body``)
    to its endpoint with a bearer token. The Python one prints the run's id: ``Id`` in the answer of opml's
    gateway and of Azure ML SDK v1, ``name`` (the pipeline job's) in a v2 batch endpoint's."""
    answer_key = "name" if "properties" in body else "Id"
    curl = (
        f"curl -X POST {shlex.quote(endpoint)} \\\n  -H {shlex.quote('Authorization: Bearer ' + token)} \\\n"
        f"  -H 'Content-Type: application/json' \\\n  -d {shlex.quote(json.dumps(body))}"
    )
    python = f'''import requests

response = requests.post(
    "{endpoint}",
    headers={{"Authorization": "Bearer {token}"}},
    json={body!r},
    timeout=60,
)
response.raise_for_status()
print(response.json()["{answer_key}"])
'''
    return curl, python
