"""The Backend interface over an Azure ML workspace (SDK v1).

Long operations are submitted and return at once, like the local backend's:
compute provisioning, AutoML runs, deployments and pipeline runs are polled
with ``get_*`` / ``wait_for_*``. What Azure does not keep (pipeline drafts,
dataset profiles, the published pipeline a draft became, model aliases) is kept
in a small owner-only state folder inside the opml workspace folder.

This class opens the workspace and builds the parts (datasets, computes, runs, models,
services, pipelines, schedules) to which ``AzureBackend``, shared with the SDK v2
backend, hands each operation checked by ``Backend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opml.backends.azure.auth import auth_kind, make_auth
from opml.backends.azure.computes import AzureComputes
from opml.backends.azure.datasets import AzureDatasets
from opml.backends.azure.models import AzureModels
from opml.backends.azure.pipelines import AzurePipelines
from opml.backends.azure.runs import AZURE_AUTOML_LIMITS, AzureRuns
from opml.backends.azure.schedules import AzureSchedules
from opml.backends.azure.sdk import AzureSDK, load_sdk
from opml.backends.azure.services import NO_DATA_COLLECTION, AzureServices
from opml.backends.azure.workspace import AzureWorkspace
from opml.backends.azure_common.backend import AzureBackend
from opml.backends.azure_common.config import read_config
from opml.backends.azure_common.errors import translate, translate_methods
from opml.backends.azure_common.state import AzureState
from opml.entities import (
    AgentStatus,
    Deployment,
    EndpointComparison,
    Service,
    WorkspaceInfo,
)
from opml.errors import BackendUnavailable
from opml.settings import get_settings


@translate_methods
class AzureMLBackend(AzureBackend):
    sdk_version = "v1"
    no_data_collection = NO_DATA_COLLECTION
    automl_limits = AZURE_AUTOML_LIMITS

    def __init__(
        self, *, config: Path, sdk: AzureSDK | None = None, auth: Any = None, state_dir: Path | None = None
    ) -> None:
        self.config_path = Path(config).expanduser()
        self.coordinates = read_config(self.config_path)
        self.sdk = sdk or load_sdk()
        try:  # building the credential can fail too (AzureCliAuthentication without azure-cli, say)
            self.auth = auth if auth is not None else make_auth(self.sdk)
            self.ws = self.sdk.Workspace.from_config(path=str(self.config_path), auth=self.auth)
        except Exception as exc:
            raise translate(exc) from exc
        name = self.coordinates["workspace_name"]
        state = AzureState(state_dir or get_settings().workspace / "azure" / name)
        workspace = AzureWorkspace(sdk=self.sdk, ws=self.ws, state=state, name=name)
        self.datasets = AzureDatasets(workspace)
        self.computes = AzureComputes(workspace)
        self.runs = AzureRuns(workspace, self.datasets, self.computes)
        self.models = AzureModels(workspace, self.runs)
        self.services = AzureServices(workspace, self.models, self.runs)
        self.pipelines = AzurePipelines(
            workspace, runs=self.runs, datasets=self.datasets, computes=self.computes, interface=self
        )
        self.schedules = AzureSchedules(workspace, self.pipelines)
        self.state = state

    # -- workspace -----------------------------------------------------------------

    def describe(self) -> WorkspaceInfo:
        c = self.coordinates
        counts = {
            "datasets": len(self.sdk.Dataset.get_all(self.ws)),
            "computes": len(self.sdk.ComputeTarget.list(self.ws)),
            "models": len(self.sdk.Model.list(self.ws, latest=True)),
            "model versions": len(self.sdk.Model.list(self.ws)),
            "services": len(self.sdk.Webservice.list(self.ws)),
            "pipelines": len(self.state.pipelines()),
        }
        location = f"{c['workspace_name']} (resource group {c['resource_group']}, subscription {c['subscription_id']})"
        return WorkspaceInfo(backend=self.kind, location=location, counts=counts)

    def agent_status(self) -> AgentStatus:
        return AgentStatus(
            running=True,
            pid=None,
            started_at=None,
            heartbeat_at=None,
            detail=f"runs execute in Azure ML workspace {self.coordinates['workspace_name']} "
            f"({auth_kind(self.sdk, self.auth)})",
        )

    # -- deployments ---------------------------------------------------------------
    # An ACI webservice (SDK v1) serves one model version: the endpoint shows it as its one deployment (named
    # by the tag opml set at deploy, see convert.to_service), so listing and waiting work. More deployments
    # behind one scoring URI, a traffic split and mirror traffic are Azure's managed online endpoints' (SDK v2,
    # azure-ai-ml) and, in SDK v1, AKS endpoints' (AksEndpoint versions), which opml does not deploy to: the
    # rest is refused, after NotFound for an unknown service, and changes nothing.

    AZURE_ROLLOUT = (
        "an ACI web service (Azure ML SDK v1) serves one model version, shown as its one deployment: adding or "
        "deleting deployments behind one scoring URI, traffic split, mirror traffic, promote, rollback and "
        "comparing deployments are Azure ML managed online endpoints' (SDK v2: `az ml online-deployment create`, "
        "`az ml online-endpoint update --traffic` and `--mirror-traffic`, per-deployment metrics in Azure "
        "Monitor); with SDK v1, deploy the new version as another service and switch your clients to its "
        "scoring URI"
    )

    def _create_deployment(self, service: str, **settings: Any) -> Deployment:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def _delete_deployment(self, service: str, name: str) -> None:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def _set_traffic(self, service: str, traffic: dict[str, Any]) -> Service:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def _set_mirror_traffic(self, service: str, mirror: dict[str, Any]) -> Service:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def _promote_deployment(self, service: str, name: str) -> Service:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def rollback_traffic(self, service: str) -> Service:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def _compare_deployments(self, service: str, *, since: float, until: float) -> EndpointComparison:
        self.services.get(service)
        raise BackendUnavailable(self.AZURE_ROLLOUT)

    def auth_header(self) -> dict[str, str]:
        return dict(self.auth.get_authentication_header())
