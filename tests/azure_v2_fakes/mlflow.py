"""The workspace's MLflow tracking server, played by a real HTTP server on loopback (what opml's MLflow REST
client talks to), answering from the cloud's store: ``kind("jobs")`` (runs), ``kind("metrics")[run_id]`` (their
metrics), ``kind("job_times")[run_id]`` (start and end, in ms) and ``kind("mlflow_tags")[run_id]`` (tags Azure
sets on the MLflow run, e.g. an AutoML job's ``automl_best_child_run_id``). Each request is recorded as
``mlflow.<route>`` (``cloud.calls_of("mlflow.runs/search")``: headers, params, body); ``cloud.refuse`` of such an
operation with an ``http_error`` makes the server answer that status with Azure's message."""

from __future__ import annotations

import json
import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.azure_v2_fakes.cloud import FakeAzureML

MLFLOW_STATUS = {
    "Completed": "FINISHED",
    "Failed": "FAILED",
    "Canceled": "KILLED",
    "Queued": "SCHEDULED",
    "NotStarted": "SCHEDULED",
}


def parent_of(cloud: FakeAzureML, name: str) -> str | None:
    """The parent of a job, as the fakes record it (the SDK's child jobs do not say)."""
    return cloud.kind("job_parents").get(name)


def mlflow_run(cloud: FakeAzureML, name: str) -> dict[str, Any]:
    job = cloud.kind("jobs")[name]
    times = cloud.kind("job_times").get(name, {})
    parent = parent_of(cloud, name)
    experiment = cloud.kind("jobs")[parent].experiment_name if parent else job.experiment_name
    tags = [{"key": str(k), "value": str(v)} for k, v in (job.tags or {}).items()]
    if parent:
        tags.append({"key": "mlflow.parentRunId", "value": parent})
    tags.extend({"key": k, "value": v} for k, v in cloud.kind("mlflow_tags").get(name, {}).items())
    metrics = [
        {"key": key, "value": value, "timestamp": times.get("end", 0), "step": 0}
        for key, value in cloud.kind("metrics").get(name, {}).items()
    ]
    info = {
        "run_id": name,
        "run_uuid": name,
        "experiment_id": f"exp-{experiment}",
        "status": MLFLOW_STATUS.get(str(job.status), "RUNNING"),
        "lifecycle_stage": "active",
    }
    info.update({key: value for key, value in (("start_time", times.get("start")), ("end_time", times.get("end")))})
    return {"info": {k: v for k, v in info.items() if v is not None}, "data": {"metrics": metrics, "tags": tags}}


class FakeMlflowServer:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        # The server holds the cloud weakly: once a test drops its cloud, the server stops (from a thread of its
        # own: the collector may run in the server's thread, which shutdown() would wait for).
        handler = type("Handler", (_Handler,), {"cloud_ref": weakref.ref(cloud)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        weakref.finalize(cloud, _stop_later, self.server)

    def tracking_uri(self) -> str:
        c = self.cloud
        return (
            f"http://127.0.0.1:{self.server.server_address[1]}/mlflow/v1.0/subscriptions/{c.subscription_id}/"
            f"resourceGroups/{c.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{c.workspace}"
        )


def _stop_later(server: ThreadingHTTPServer) -> None:
    def stop() -> None:
        server.shutdown()
        server.server_close()

    threading.Thread(target=stop, daemon=True).start()


def mlflow_server(cloud: FakeAzureML) -> FakeMlflowServer:
    """The cloud's MLflow server, started the first time it is asked for."""
    with cloud.lock:
        server = getattr(cloud, "_mlflow_server", None)
        if server is None:
            server = cloud._mlflow_server = FakeMlflowServer(cloud)
        return server


class _Handler(BaseHTTPRequestHandler):
    cloud_ref: Any  # weakref.ref to the FakeAzureML

    @property
    def cloud(self) -> FakeAzureML:
        cloud = self.cloud_ref()
        if cloud is None:
            raise ConnectionAbortedError("the fake workspace is gone")
        return cloud

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(json.loads(self.rfile.read(length) or b"{}"))

    def _serve(self, body: dict[str, Any] | None) -> None:
        url = urlparse(self.path)
        if "/mlflow/v1.0/" not in url.path or "/api/2.0/mlflow/" not in url.path:
            return self._answer(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {url.path}"})
        route = url.path.split("/api/2.0/mlflow/", 1)[1]
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        try:
            self.cloud.called(f"mlflow.{route}", headers=dict(self.headers), params=params, body=body)
        except Exception as refusal:  # what a test queued with cloud.refuse
            status = getattr(refusal, "status_code", 500)
            return self._answer(status, {"error_code": "REFUSED", "message": getattr(refusal, "message", "")})
        if not str(self.headers.get("Authorization", "")).startswith("Bearer "):
            return self._answer(401, {"error_code": "UNAUTHENTICATED", "message": "no bearer token"})
        with self.cloud.lock:
            jobs = self.cloud.kind("jobs")
            if route == "runs/get":
                if params.get("run_id") not in jobs:
                    return self._answer(
                        404,
                        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run '{params.get('run_id')}' not found"},
                    )
                return self._answer(200, {"run": mlflow_run(self.cloud, params["run_id"])})
            if route == "experiments/get-by-name":
                name = params.get("experiment_name")
                if not any(job.experiment_name == name for job in jobs.values()):
                    return self._answer(
                        404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Experiment '{name}' not found"}
                    )
                return self._answer(200, {"experiment": {"experiment_id": f"exp-{name}", "name": name}})
            if route == "runs/search":
                prefix = "tags.mlflow.parentRunId = '"
                wanted = str(body.get("filter", ""))
                assert wanted.startswith(prefix) and wanted.endswith("'"), wanted
                parent = wanted[len(prefix) : -1]
                runs = [
                    mlflow_run(self.cloud, name)
                    for name in jobs
                    if parent_of(self.cloud, name) == parent
                    and f"exp-{jobs[parent].experiment_name}" in body.get("experiment_ids", ())
                ]
                # MLflow pages its answer: max_results (default 1000, at most 50000) a page, the rest behind an
                # opaque next_page_token
                size = int(body.get("max_results") or 1000)
                if not 0 < size <= 50000:
                    return self._answer(
                        400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"Invalid max_results {size}"}
                    )
                start = int(body.get("page_token") or 0)
                page: dict[str, Any] = {"runs": runs[start : start + size]}
                if start + size < len(runs):
                    page["next_page_token"] = str(start + size)
                return self._answer(200, page)
        return self._answer(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {route}"})
