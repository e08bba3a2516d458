"""Services as managed online endpoints with their deployments (SDK v2). STUB: to be written."""

from __future__ import annotations

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.models import AzureV2Models
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace

NO_DATA_COLLECTION = "STUB"


@translate_methods
class AzureV2Endpoints(AzureV2Part):
    """deploy(...); list(); get(name); delete(name); keys(name); regenerate_key(name, key); update(name, *,
    app_insights_enabled, auth_enabled); restart(name); logs(name, *, tail); telemetry(name); no_collected_data(name);
    create_deployment(service, *, name, model_name, model_version, traffic, mirror, allow_schema_change);
    delete_deployment(service, name); set_traffic(service, traffic); set_mirror_traffic(service, mirror);
    promote(service, name); rollback(service); compare(service, *, since, until)."""

    def __init__(self, workspace: AzureV2Workspace, models: AzureV2Models):
        super().__init__(workspace)
        self.models = models
