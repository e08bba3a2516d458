"""Runs as Azure ML jobs (SDK v2): command jobs and AutoML classification jobs. STUB: to be written."""

from __future__ import annotations

from opml.automl.settings import AutoMLLimits
from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.computes import AzureV2Computes
from opml.backends.azure_v2.datasets import AzureV2Datasets
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace

AZURE_V2_AUTOML_LIMITS = AutoMLLimits(
    where="Azure ML", min_timeout_minutes=15, whole_minutes=True, max_iterations=1000, one_node_per_iteration=True
)


@translate_methods
class AzureV2Jobs(AzureV2Part):
    """submit(*, experiment, run_type, compute, params, tags, display_name) -> Run; get(run_id); list(*, experiment,
    parent_id, top_level_only, limit); search(query) -> (runs, total); experiment_names(); cancel(run_id);
    read_log(run_id, *, offset, max_bytes); metrics(run_id); output(run_id, name); automl_job(params, compute,
    training_input) -> the SDK's AutoML job (also a pipeline's node); best_child(job_name)."""

    def __init__(self, workspace: AzureV2Workspace, datasets: AzureV2Datasets, computes: AzureV2Computes):
        super().__init__(workspace)
        self.datasets, self.computes = datasets, computes
