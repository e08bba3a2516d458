"""A loopback HTTP server playing Azure's batch endpoint invocation API for the fake workspace.

``POST /endpoints/<name>/jobs`` (the fake endpoints' ``scoring_uri``) checks what Azure checks: a bearer token
of Azure ML's audience (``https://ml.azure.com``), a JSON body ``{"properties": {"inputData": {...},
"properties": {"experimentName": ...}}}``, an endpoint with a default deployment (or the
``azureml-model-deployment`` header). It starts a pipeline job of the deployment's component with those inputs
(``pipeline_jobs.start_pipeline_job``) and answers with the batch job, as Azure does. Each request is kept in
``server.requests`` for assertions.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML

EXPECTED_TOKEN = "Bearer token-for https://ml.azure.com/.default"  # the fake credential's token of that scope
_DATA_ARM = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+/"
    r"data/([^/]+)/versions/([^/]+)$"
)
_INPUT_TYPES = {"MLTable": "mltable", "UriFile": "uri_file", "UriFolder": "uri_folder"}


class BatchServer:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = server.invoke(self.path, dict(self.headers), body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def invoke(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        from azure.ai.ml import Input
        from azure.ai.ml.entities import PipelineJob

        from tests.azure_v2_fakes.pipeline_jobs import start_pipeline_job

        headers = {k.lower(): v for k, v in headers.items()}
        self.requests.append({"path": path, "headers": headers, "body": raw})
        if headers.get("authorization") != EXPECTED_TOKEN:
            return 401, _error("InvalidAuthenticationToken", "a token of https://ml.azure.com is required")
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "jobs":
            return 404, _error("NotFound", f"no route {path}")
        try:
            body = json.loads(raw)
            data = body["properties"].get("inputData") or {}
            experiment = (body["properties"].get("properties") or {}).get("experimentName")
        except (ValueError, KeyError, AttributeError, TypeError):
            return 400, _error("BadRequest", "the body must be {'properties': {'inputData': {...}}}")
        with self.cloud.lock:
            endpoint = self.cloud.kind("batch_endpoints").get(parts[1])
            if endpoint is None:
                return 404, _error("NotFound", f"endpoint {parts[1]} not found")
            default = getattr(endpoint.defaults, "deployment_name", None)
            deployment_name = headers.get("azureml-model-deployment") or default
            deployment = self.cloud.kind("batch_deployments").get((parts[1], deployment_name))
            if deployment is None:
                return 400, _error("BadArgument", f"No deployment was given and endpoint {parts[1]} has no default")
            name, version = deployment.component.removeprefix("azureml:").rsplit(":", 1)
            component = self.cloud.kind("components")[(name, version)]
            reference = deployment.component
        inputs = {}
        for key, value in data.items():
            if value.get("jobInputType") == "Literal":
                inputs[key] = value["value"]
            elif value.get("jobInputType") in _INPUT_TYPES:
                # batch_endpoints.invoke sends a data asset as its ARM id (never the short azureml:name:version,
                # which the SDK resolves before it POSTs); Azure resolves that id to an existing version
                found = _DATA_ARM.match(str(value.get("uri", "")))
                if not found:
                    return 400, _error("BadArgument", f"input {key}: {value.get('uri')} is not a data asset's id")
                with self.cloud.lock:
                    if (found.group(1), found.group(2)) not in self.cloud.kind("data"):
                        return 404, _error("NotFound", f"data asset {found.group(1)}:{found.group(2)} not found")
                path = f"azureml:{found.group(1)}:{found.group(2)}"
                inputs[key] = Input(type=_INPUT_TYPES[value["jobInputType"]], path=path)
            else:
                return 400, _error("BadArgument", f"input {key}: unknown jobInputType {value.get('jobInputType')}")
        unknown = set(inputs) - set(component.inputs)
        if unknown:
            return 400, _error("BadArgument", f"inputs {sorted(unknown)} are not inputs of the pipeline component")
        job = PipelineJob(component=reference, inputs=inputs, experiment_name=experiment)
        job.settings.default_compute = (deployment.settings or {}).get("default_compute")
        started = start_pipeline_job(self.cloud, job, experiment or endpoint.name)
        return 200, {
            "id": f"/subscriptions/{self.cloud.subscription_id}/resourceGroups/{self.cloud.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.cloud.workspace}/jobs/{started.name}",
            "name": started.name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"status": "NotStarted", "experimentName": started.experiment_name},
        }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def batch_server(cloud: FakeAzureML) -> BatchServer:
    """The workspace's batch server, started the first time an endpoint is made."""
    with cloud.lock:
        server = getattr(cloud, "batch_server", None)
        if server is None:
            server = cloud.batch_server = BatchServer(cloud)
        return server
