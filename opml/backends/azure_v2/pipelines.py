"""Pipelines as v2 pipeline jobs, published as batch endpoints (SDK v2). STUB: to be written."""

from __future__ import annotations

from typing import Any

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.computes import AzureV2Computes
from opml.backends.azure_v2.datasets import AzureV2Datasets
from opml.backends.azure_v2.jobs import AzureV2Jobs
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace


@translate_methods
class AzureV2Pipelines(AzureV2Part):
    """create(*, name, steps, parameters, compute, description); list(); get(pipeline_id); run(pipeline, *,
    experiment, parameters, trigger); publish(pipeline, *, name, description, version); list_published();
    get_published(published_id); set_enabled(published_id, enabled); trigger(published, *, experiment, parameters,
    trigger, description, tags); list_runs(*, pipeline_id, published_pipeline_id, limit)."""

    def __init__(
        self,
        workspace: AzureV2Workspace,
        *,
        runs: AzureV2Jobs,
        datasets: AzureV2Datasets,
        computes: AzureV2Computes,
        interface: Any,
    ):
        super().__init__(workspace)
        self.runs, self.datasets, self.computes, self.interface = runs, datasets, computes, interface
