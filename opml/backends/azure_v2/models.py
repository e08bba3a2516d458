"""Models as MLflow models in the workspace's registry (SDK v2). STUB: to be written."""

from __future__ import annotations

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.jobs import AzureV2Jobs
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace


@translate_methods
class AzureV2Models(AzureV2Part):
    """register(*, name, run_id, description, tags); list(name); get(name, version); load(name, version);
    download(name, version); delete(name, version); aliases(name); move_alias(name, alias, version, actor);
    alias_history(name); sdk_model(name, version) -> the SDK's Model (NotFound)."""

    def __init__(self, workspace: AzureV2Workspace, runs: AzureV2Jobs):
        super().__init__(workspace)
        self.runs = runs
