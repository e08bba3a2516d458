"""Azure ML's SDK v1 itself, offline: only what crosses the network is stood in.

The fakes (``tests/azure_fakes.py``) copy the SDK's signatures, but a fake accepts what the SDK
refuses. Where the real classes work without Azure, tests use them instead:

- ``AzureStandIn``: an HTTP server on loopback answering the few calls building a pipeline makes
  (AutoML's settings validation answers 204, "valid"; anything else Azure's 404 error body), and
  recording each request, so a test sees what would have gone to Azure. A test can give it more answers
  (``answers``: Azure's JSON for paths ending so, the run history's listings say).
- ``offline_workspace``: a real ``Workspace`` whose service discovery points at the stand-in and
  whose compute list (ARM's answer) is the fake cloud's; it carries the fake cloud for the fakes.
- ``real_pipeline_sdk``: an ``AzureSDK`` whose pipeline parts are the real classes (``PipelineData``,
  ``OutputFileDatasetConfig``, both steps, ``AutoMLConfig``, ``RunConfiguration``, the graph builder
  behind ``Pipeline``, ``ScheduleRecurrence``) and whose network parts are the fakes, except that
  ``Dataset.get_by_name``, ``Datastore.get_default`` and ``Environment.get`` return real objects built
  as the SDK builds them from Azure's answers.

``no_internet`` (a fixture) checks that the session's loopback guard is on: nothing leaves this machine.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from opml.backends.azure.sdk import AzureSDK, load_sdk
from tests import loopback_guard


@pytest.fixture
def no_internet(monkeypatch):
    """The session's loopback guard (``tests/loopback_guard.py``) is on, and the SDK is told which Azure cloud
    it is in (it would fetch the list of clouds from ARM otherwise)."""
    assert socket.getaddrinfo is loopback_guard._guarded_getaddrinfo, "tests/conftest.py installs the guard"
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")


class AzureStandIn(ThreadingHTTPServer):
    """Azure's services as far as building a pipeline reaches them. ``requests``: (method, path, JSON body).
    ``answers``: path ending (query string aside) -> the JSON Azure answers (200), or a function of the path and
    the request's body giving it."""

    def __init__(self):
        self.requests: list[tuple[str, str, Any]] = []
        self.answers: dict[str, Any] = {}
        super().__init__(("127.0.0.1", 0), _AzureHandler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def paths(self, method: str, containing: str) -> list[tuple[str, Any]]:
        return [(path, body) for m, path, body in self.requests if m == method and containing in path]


class _AzureHandler(BaseHTTPRequestHandler):
    server: AzureStandIn

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.server.requests.append((self.command, self.path, body))
        path = self.path.split("?")[0]
        if self.command == "POST" and "/jasmine/" in self.path and path.endswith("/validation"):
            self.send_response(204)  # AutoML's validation service: the settings are valid
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        for ending, answer in self.server.answers.items():
            if path.endswith(ending):
                self._send(200, answer(path, body) if callable(answer) else answer)
                return
        error = {
            "code": "UserError",
            "message": f"{self.path} not found",
            "details": [],
            "innerError": {"code": "NotFound"},
        }
        self._send(404, {"error": error})

    def _send(self, status: int, document: Any) -> None:
        answer = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


def offline_workspace(cloud, stand_in: AzureStandIn) -> Any:
    """A real ``Workspace`` over ``stand_in``, holding ``cloud`` for the fakes."""
    from azureml._restclient.service_context import ServiceContext, _ServiceKeys
    from azureml.core import Workspace
    from azureml.core.authentication import AbstractAuthentication
    from azureml.data.azure_storage_datastore import AzureBlobDatastore

    class OfflineAuthentication(AbstractAuthentication):
        def _get_arm_token(self):
            return "offline-token"

        def _get_graph_token(self):
            return "offline-token"

        def _get_all_subscription_ids(self):
            return [cloud.coordinates["subscription_id"]], False

    class OfflineServiceContext(ServiceContext):
        def _fetch_endpoints(self):  # service discovery's answer: every service at the stand-in
            return {key: stand_in.url for key in _ServiceKeys.get_discovery_keys()}

    class OfflineWorkspace(Workspace):
        @property
        def service_context(self):
            if self._service_context is None:
                self._service_context = OfflineServiceContext(
                    self.subscription_id, self.resource_group, self.name, "workspace-id", None, self._auth_object
                )
            return self._service_context

        @property
        def compute_targets(self):  # ARM's list of the workspace's computes
            return dict(cloud.computes)

        def get_default_datastore(self):  # the datastore service's answer
            return self.blob_store

    workspace = OfflineWorkspace(
        cloud.coordinates["subscription_id"],
        cloud.coordinates["resource_group"],
        cloud.coordinates["workspace_name"],
        auth=OfflineAuthentication(),
        _location="westeurope",
        _disable_service_check=True,
    )
    workspace.cloud = cloud
    workspace.blob_store = AzureBlobDatastore(workspace, "workspaceblobstore", "azureml", "account", account_key="a2V5")
    return workspace


class WorkflowStandIn:
    """The pipeline service client a ``Pipeline`` holds: building a graph reads only its endpoint; the providers
    are used when a graph is uploaded (submit, publish), which needs Azure."""

    def __init__(self, url: str):
        self._service_caller = SimpleNamespace(_service_endpoint=url)
        self.graph_provider = self.module_provider = self.datasource_provider = self.datatype_provider = None


def real_pipeline_sdk(fakes: AzureSDK, workspace: Any, stand_in: AzureStandIn) -> AzureSDK:
    """``fakes`` with the pipeline parts replaced by the real SDK classes (see the module docstring)."""
    from azureml.core import Dataset, Environment
    from azureml.data.abstract_dataset import _DatasetRegistration

    real = load_sdk()
    blob_store = workspace.blob_store

    def pipeline(workspace, steps, description=None, **kwargs):
        return real.Pipeline(
            workspace, steps, description=description, _workflow_provider=WorkflowStandIn(stand_in.url), **kwargs
        )

    class RealDataset(fakes.Dataset):
        @staticmethod
        def get_by_name(workspace, name, version="latest", **kwargs):
            """A registered TabularDataset, as the SDK builds it from Azure's answer (ids, name, version, tags)."""
            found = fakes.Dataset.get_by_name(workspace, name, version)
            tabular = Dataset.Tabular.from_delimited_files(
                path=[(blob_store, found.path[0][1])], validate=False, infer_column_types=False
            )
            tabular._registration = _DatasetRegistration(
                workspace,
                saved_id=uuid.uuid4().hex,
                registered_id=found.id,
                name=found.name,
                version=found.version,
                description=found.description,
                tags=found.tags,
            )
            # Reading the rows is a download from Azure storage (by the SDK's native reader): the fake's rows.
            tabular.to_pandas_dataframe = found.to_pandas_dataframe
            tabular.take = found.take
            return tabular

    class RealDatastore:
        @staticmethod
        def get_default(workspace):
            return blob_store

    class RealEnvironment:
        @staticmethod
        def get(workspace, name, version=None, label=None):
            fakes.Environment.get(workspace, name, version)  # refused as Azure refuses an unknown one
            return Environment(name)

    return replace(
        fakes,
        Workspace=SimpleNamespace(from_config=lambda path=None, auth=None, **kwargs: workspace),
        Dataset=RealDataset,
        TabularDataset=real.TabularDataset,
        Datastore=RealDatastore,
        Environment=RealEnvironment,
        RunConfiguration=real.RunConfiguration,
        AutoMLConfig=real.AutoMLConfig,
        Pipeline=pipeline,
        PipelineParameter=real.PipelineParameter,
        PipelineData=real.PipelineData,
        OutputFileDatasetConfig=real.OutputFileDatasetConfig,
        TrainingOutput=real.TrainingOutput,
        ScheduleRecurrence=real.ScheduleRecurrence,
        AutoMLStep=real.AutoMLStep,
        PythonScriptStep=real.PythonScriptStep,
    )
