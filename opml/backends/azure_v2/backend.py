"""The Backend interface over an Azure ML workspace through SDK v2 (``azure-ai-ml``), the supported path.

Long operations are submitted and return at once, like the other backends': compute provisioning, AutoML
jobs, online deployments and pipeline jobs are polled with ``get_*`` / ``wait_for_*``. What Azure does not
keep (pipeline drafts, dataset profiles, model aliases, the previous traffic split) is kept in an owner-only
state folder inside the opml workspace folder (``azure-v2/<workspace>``, apart from SDK v1's).

This class opens the workspace (an ``MLClient``; nothing is asked of Azure until the first operation) and
builds the parts to which ``AzureBackend``, shared with the SDK v1 backend, hands each operation checked by
``Backend``. An endpoint's deployments are a managed online endpoint's own (``endpoints.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opml.backends.azure_common.backend import AzureBackend
from opml.backends.azure_common.config import read_config
from opml.backends.azure_common.errors import translate, translate_methods
from opml.backends.azure_common.state import AzureState
from opml.backends.azure_v2.auth import ML_SCOPE, bearer_header, credential_kind, make_credential
from opml.backends.azure_v2.computes import AzureV2Computes
from opml.backends.azure_v2.datasets import AzureV2Datasets
from opml.backends.azure_v2.endpoints import NO_DATA_COLLECTION, AzureV2Endpoints
from opml.backends.azure_v2.jobs import AZURE_V2_AUTOML_LIMITS, AzureV2Jobs
from opml.backends.azure_v2.models import AzureV2Models
from opml.backends.azure_v2.pipelines import AzureV2Pipelines
from opml.backends.azure_v2.schedules import AzureV2Schedules
from opml.backends.azure_v2.sdk import AzureV2SDK, load_sdk
from opml.backends.azure_v2.workspace import AzureV2Workspace
from opml.entities import AgentStatus, Deployment, EndpointComparison, Service, WorkspaceInfo
from opml.settings import get_settings


@translate_methods
class AzureMLv2Backend(AzureBackend):
    sdk_version = "v2"
    sizes_deployments = True
    no_data_collection = NO_DATA_COLLECTION
    automl_limits = AZURE_V2_AUTOML_LIMITS

    def __init__(
        self,
        *,
        config: Path,
        sdk: AzureV2SDK | None = None,
        credential: Any = None,
        state_dir: Path | None = None,
    ) -> None:
        self.config_path = Path(config).expanduser()
        self.coordinates = read_config(self.config_path)
        self.sdk = sdk or load_sdk()
        c = self.coordinates
        try:
            self.credential = credential if credential is not None else make_credential(self.sdk)
            self.client = self.sdk.MLClient(
                credential=self.credential,
                subscription_id=c["subscription_id"],
                resource_group_name=c["resource_group"],
                workspace_name=c["workspace_name"],
            )
        except Exception as exc:
            raise translate(exc) from exc
        name = c["workspace_name"]
        state = AzureState(state_dir or get_settings().workspace / "azure-v2" / name)
        workspace = AzureV2Workspace(
            sdk=self.sdk, client=self.client, credential=self.credential, state=state, name=name
        )
        self.datasets = AzureV2Datasets(workspace)
        self.computes = AzureV2Computes(workspace)
        self.runs = AzureV2Jobs(workspace, self.datasets, self.computes)
        self.models = AzureV2Models(workspace, self.runs)
        self.services = AzureV2Endpoints(workspace, self.models)
        self.pipelines = AzureV2Pipelines(
            workspace, runs=self.runs, datasets=self.datasets, computes=self.computes, interface=self
        )
        self.schedules = AzureV2Schedules(workspace, self.pipelines)
        self.state = state

    # -- workspace -----------------------------------------------------------------

    def describe(self) -> WorkspaceInfo:
        c, client = self.coordinates, self.client
        counts = {
            "datasets": len({data.name for data in client.data.list()}),
            "computes": len(list(client.compute.list())),
            "models": len({model.name for model in client.models.list()}),
            "services": len(list(client.online_endpoints.list())),  # managed online endpoints
            "pipelines": len(self.state.pipelines()),
        }
        location = (
            f"{c['workspace_name']} (resource group {c['resource_group']}, subscription {c['subscription_id']}; SDK v2)"
        )
        return WorkspaceInfo(backend=self.kind, location=location, counts=counts)

    def agent_status(self) -> AgentStatus:
        return AgentStatus(
            running=True,
            pid=None,
            started_at=None,
            heartbeat_at=None,
            detail=f"jobs execute in Azure ML workspace {self.coordinates['workspace_name']} through SDK v2 "
            f"({credential_kind(self.sdk, self.credential)})",
        )

    def auth_header(self) -> dict[str, str]:
        """A bearer token of Azure ML's audience: what a batch endpoint (a published pipeline) takes."""
        return bearer_header(self.credential, ML_SCOPE)

    def published_trigger_body(self, published_id: str, experiment: str) -> dict[str, Any]:
        """A batch endpoint's invocation body: the pipeline's inputs (its training data) and the experiment."""
        return self.pipelines.trigger_body(self.get_published_pipeline(published_id), experiment)

    # -- deployments: a managed online endpoint's own ------------------------------

    def _create_deployment(
        self,
        service: str,
        *,
        name: str,
        model_name: str,
        model_version: int | None,
        traffic: int,
        mirror: int,
        allow_schema_change: bool,
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Deployment:
        return self.services.create_deployment(
            service,
            name=name,
            model_name=model_name,
            model_version=model_version,
            traffic=traffic,
            mirror=mirror,
            allow_schema_change=allow_schema_change,
            instance_type=instance_type,
            instance_count=instance_count,
        )

    def _delete_deployment(self, service: str, name: str) -> None:
        self.services.delete_deployment(service, name)

    def _set_traffic(self, service: str, traffic: dict[str, Any]) -> Service:
        return self.services.set_traffic(service, traffic)

    def _set_mirror_traffic(self, service: str, mirror: dict[str, Any]) -> Service:
        return self.services.set_mirror_traffic(service, mirror)

    def _promote_deployment(self, service: str, name: str) -> Service:
        return self.services.promote(service, name)

    def rollback_traffic(self, service: str) -> Service:
        return self.services.rollback(service)

    def _compare_deployments(self, service: str, *, since: float, until: float) -> EndpointComparison:
        return self.services.compare(service, since=since, until=until)
