"""Schedules as JobSchedules of a published pipeline's job (SDK v2). STUB: to be written."""

from __future__ import annotations

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.pipelines import AzureV2Pipelines
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace


@translate_methods
class AzureV2Schedules(AzureV2Part):
    """create(published, *, name, experiment, interval_minutes, cron, parameters); list(); set_paused(schedule_id,
    paused); delete(schedule_id)."""

    def __init__(self, workspace: AzureV2Workspace, pipelines: AzureV2Pipelines):
        super().__init__(workspace)
        self.pipelines = pipelines
