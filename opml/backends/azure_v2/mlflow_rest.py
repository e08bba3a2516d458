"""The workspace's MLflow tracking server over its REST API: where Azure ML (SDK v2) keeps jobs' metrics.

SDK v2 has no call for a job's metrics; Azure's documented way is MLflow (``azureml-mlflow``), which opml does not
install: the two requests it needs are made here, with a bearer token of Azure Resource Manager's audience.
``workspace.mlflow_tracking_uri()`` is ``azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/...``; its
REST API is that address over https, followed by ``/api/2.0/mlflow/...``. Any other URI (a loopback server in
tests) is used as it is.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from opml.backends.azure_common.errors import translate
from opml.backends.azure_v2.auth import ARM_SCOPE, bearer_header
from opml.backends.azure_v2.workspace import AzureV2Workspace
from opml.errors import NotFound

TIMEOUT_SECONDS = (10, 60)  # connect, read: a request never hangs the dashboard
PAGE_SIZE = 1000  # runs/search's max_results


class MlflowError(Exception):
    """A refusal of the MLflow REST API, with its HTTP status (``translate`` judges it by that)."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code, self.message = status_code, message


def rest_base(tracking_uri: str) -> str:
    """``https://<host>/mlflow/v1.0/...`` for an ``azureml://`` tracking URI; any other URI as it is."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "azureml":
        return f"https://{parsed.netloc}{parsed.path}".rstrip("/")
    return tracking_uri.rstrip("/")


class MlflowRest:
    def __init__(self, workspace: AzureV2Workspace):
        self.workspace = workspace
        self._experiment_ids: dict[str, str] = {}

    def _request(self, method: str, route: str, *, params: dict | None = None, body: dict | None = None) -> Any:
        import requests

        url = f"{rest_base(self.workspace.mlflow_tracking_uri())}/api/2.0/mlflow/{route}"
        headers = {**bearer_header(self.workspace.credential, ARM_SCOPE), "Content-Type": "application/json"}
        try:
            answer = requests.request(
                method,
                url,
                params=params,
                data=None if body is None else json.dumps(body),
                headers=headers,
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise translate(exc) from exc
        if answer.status_code >= 400:
            try:
                message = answer.json().get("message") or answer.text
            except ValueError:
                message = answer.text
            raise translate(MlflowError(answer.status_code, f"MLflow {route}: {message or answer.reason}"))
        try:
            return answer.json()
        except ValueError as exc:
            raise translate(MlflowError(502, f"MLflow {route} answered something that is not JSON")) from exc

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The MLflow run of a job (``info``, ``data``), None when MLflow has none (yet)."""
        try:
            return self._request("GET", "runs/get", params={"run_id": run_id})["run"]
        except NotFound:
            return None

    def experiment_id(self, name: str) -> str | None:
        if name not in self._experiment_ids:
            try:
                found = self._request("GET", "experiments/get-by-name", params={"experiment_name": name})
            except NotFound:
                return None
            self._experiment_ids[name] = found["experiment"]["experiment_id"]
        return self._experiment_ids[name]

    def children(self, experiment: str, parent_id: str) -> list[dict[str, Any]]:
        """The MLflow runs whose parent is ``parent_id`` (an AutoML job's trials and its other children), in one
        request a page."""
        experiment_id = self.experiment_id(experiment)
        if experiment_id is None:
            return []
        runs: list[dict[str, Any]] = []
        token = None
        while True:
            body = {
                "experiment_ids": [experiment_id],
                "filter": f"tags.mlflow.parentRunId = '{parent_id}'",
                "max_results": PAGE_SIZE,
                **({"page_token": token} if token else {}),
            }
            page = self._request("POST", "runs/search", body=body)
            runs.extend(page.get("runs") or [])
            token = page.get("next_page_token")
            if not token:
                return runs


def metrics_of(run: dict[str, Any] | None) -> dict[str, float]:
    """The last value of each metric of an MLflow run (what runs/get and runs/search answer: the latest values)."""
    metrics: dict[str, float] = {}
    for item in ((run or {}).get("data") or {}).get("metrics") or ():
        try:
            metrics[str(item["key"])] = float(item["value"])
        except (KeyError, TypeError, ValueError):
            continue
    return metrics


def tags_of(run: dict[str, Any] | None) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in ((run or {}).get("data") or {}).get("tags") or ()}
