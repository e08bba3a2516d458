"""Services as ACI web services of AutoML models, deployed with the run's own scoring script."""

from __future__ import annotations

import re
from typing import Any

from opml.backends.azure.convert import DEPLOYMENT_TAG, to_service
from opml.backends.azure.models import AzureModels
from opml.backends.azure.runs import AzureRuns
from opml.backends.azure.workspace import AzurePart, AzureWorkspace
from opml.backends.azure_common.errors import translate_methods
from opml.entities import Service, ServiceKeys
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound
from opml.files import make_private_dir

SCORING_FILE = "outputs/scoring_file_v_1_0_0.py"  # what an AutoML child run writes for deployment
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
NO_DATA_COLLECTION = (
    "Azure ML (SDK v1) collects model data only from a scoring script that calls ModelDataCollector, which the "
    "AutoML scoring script opml deploys does not, and only into the workspace's blob storage, which opml does not "
    "read back (AciWebservice.update cannot switch it either); an Azure service's requests are in Application "
    "Insights (turn on app_insights_enabled). Data collection, labels and live accuracy are for local services"
)


@translate_methods
class AzureServices(AzurePart):
    def __init__(self, workspace: AzureWorkspace, models: AzureModels, runs: AzureRuns):
        super().__init__(workspace)
        self.models, self.runs = models, runs

    def webservice(self, name: str) -> Any:
        """The SDK's Webservice. Raises NotFound."""
        for service in self.sdk.Webservice.list(self.ws):
            if service.name == name:
                return service
        raise NotFound(f"no service named {name!r}")

    def deploy(
        self,
        *,
        name: str,
        model_name: str,
        model_version: int | None,
        auth_enabled: bool,
        app_insights_enabled: bool,
        port: int | None,
        description: str,
        deployment_name: str,
    ) -> Service:
        """An ACI web service of the model, tagged with ``deployment_name``: the name of the one deployment
        the endpoint shows (SDK v1's web service serves one model; see ``convert.to_service``)."""
        if not _SERVICE_NAME.match(name):
            raise InvalidInput(
                f"service name {name!r}: 3-32 lowercase letters, digits and '-', starting with a letter (Azure's rule)"
            )
        if port is not None:
            raise InvalidInput("port is for local services; Azure chooses the address of an ACI service")
        if any(service.name == name for service in self.sdk.Webservice.list(self.ws)):
            raise AlreadyExists(f"service {name} already exists")
        model = self.models.sdk_model(model_name, model_version)
        source = self.runs.sdk_run(model.run_id)
        if SCORING_FILE not in source.get_file_names():
            raise Conflict(f"run {source.id} has no {SCORING_FILE}: only AutoML models can be deployed by opml")
        folder = self.state.folder / "deployments" / name
        make_private_dir(folder)
        entry_script = folder / "score.py"
        source.download_file(SCORING_FILE, output_file_path=str(entry_script))
        inference = self.sdk.InferenceConfig(entry_script=str(entry_script), environment=source.get_environment())
        deployment = self.sdk.AciWebservice.deploy_configuration(
            cpu_cores=1,
            memory_gb=2,
            auth_enabled=auth_enabled,
            enable_app_insights=app_insights_enabled,
            description=description,
            tags={DEPLOYMENT_TAG: deployment_name},
        )
        service = self.sdk.Model.deploy(
            self.ws, name, [model], inference_config=inference, deployment_config=deployment, overwrite=False
        )
        return to_service(service)

    def list(self) -> list[Service]:
        services = [to_service(s) for s in self.sdk.Webservice.list(self.ws)]
        return sorted(services, key=lambda s: s.created_at, reverse=True)

    def get(self, name: str) -> Service:
        return to_service(self.webservice(name))

    def delete(self, name: str) -> None:
        self.webservice(name).delete()

    def keys(self, name: str) -> ServiceKeys:
        primary, secondary = self.webservice(name).get_keys()
        return ServiceKeys(primary=primary, secondary=secondary)

    def regenerate_key(self, name: str, key: str) -> ServiceKeys:
        service = self.webservice(name)
        service.regen_key(key)
        primary, secondary = service.get_keys()
        return ServiceKeys(primary=primary, secondary=secondary)

    def update(self, name: str, *, app_insights_enabled: bool | None, auth_enabled: bool | None) -> Service:
        service = self.webservice(name)
        changes = {}
        if app_insights_enabled is not None:
            changes["enable_app_insights"] = app_insights_enabled
        if auth_enabled is not None:
            changes["auth_enabled"] = auth_enabled
        if changes:
            service.update(**changes)
        return to_service(service)

    def restart(self, name: str) -> Service:
        """SDK v1 cannot restart an ACI service (``update`` with nothing to change is refused): say what works."""
        self.webservice(name)
        raise BackendUnavailable(
            f"Azure ML (SDK v1) cannot restart ACI service {name!r} in place: delete it and deploy the model again"
        )

    def logs(self, name: str, *, tail: int) -> str:
        return self.webservice(name).get_logs(num_lines=tail)

    def no_collected_data(self, name: str) -> Any:
        """What an Azure service cannot give: collected data, labels, live accuracy. NotFound for an unknown
        service; BackendUnavailable saying what Azure offers instead for a known one."""
        self.webservice(name)
        raise BackendUnavailable(NO_DATA_COLLECTION)

    def telemetry(self, name: str) -> list[dict[str, Any]]:
        self.webservice(name)
        raise BackendUnavailable(
            "an Azure service sends its telemetry to the workspace's Application Insights: open it in the Azure portal"
        )
