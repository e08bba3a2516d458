"""Schedules as ``JobSchedule``s (SDK v2): a recurrence (``RecurrenceTrigger``, every N minutes) or a cron
expression (``CronTrigger``, which Azure takes as it is), creating a pipeline job of the published pipeline's
component (the one its batch deployment runs, named in the endpoint's tags), with its inputs, on its compute, in
the schedule's experiment. The schedule's id is its name (unique in the workspace). Azure fires it: every
occurrence starts a job, whether or not the previous one ended, and opml does not know the next occurrence.

Pause and resume are ``begin_disable`` / ``begin_enable``. Azure deletes only a disabled schedule: ``delete``
disables it first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.azure_v2.pipelines import AzureV2Pipelines, asset_arm_id, run_tags
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.entities import ACTIVE, PublishedPipeline, Schedule
from opml.errors import AlreadyExists, InvalidInput, NotFound

PAUSED = "Paused"
# ScheduleListViewType.ALL (a str enum the SDK exports only from its private REST client): enabled and disabled
LIST_ALL = "All"


def trigger_from(sdk: Any, interval_minutes: float | None, cron: str | None) -> tuple[Any, str]:
    """(the trigger, how to show the recurrence) of a recurrence ``check_recurrence`` accepted."""
    if interval_minutes is not None:
        if interval_minutes < 1 or float(interval_minutes) != int(interval_minutes):
            raise InvalidInput("Azure ML schedules run every whole number of minutes (1 or more)")
        minutes = int(interval_minutes)
        return sdk.RecurrenceTrigger(frequency="minute", interval=minutes), f"every {minutes} minutes"
    return sdk.CronTrigger(expression=str(cron), time_zone="UTC"), str(cron)


@translate_methods
class AzureV2Schedules(AzureV2Part):
    """create(published, *, name, experiment, interval_minutes, cron, parameters); list(); set_paused(schedule_id,
    paused); delete(schedule_id)."""

    def __init__(self, workspace: AzureV2Workspace, pipelines: AzureV2Pipelines):
        super().__init__(workspace)
        self.pipelines = pipelines

    def _to_schedule(self, schedule: Any) -> Schedule:
        tags = schedule.tags or {}
        return Schedule(
            id=schedule.name,
            name=schedule.display_name or schedule.name,
            published_pipeline_id=tags.get("opml_published_id", ""),
            experiment=getattr(schedule.create_job, "experiment_name", None) or tags.get("opml_experiment", ""),
            recurrence=tags.get("opml_recurrence", ""),
            parameters={},
            allow_overlap=True,  # Azure starts every occurrence, whether or not the previous run ended
            status=ACTIVE if schedule.is_enabled else PAUSED,
            next_run_at=None,
            last_run_id=None,
            created_at=parse_time(tags.get("opml_created_at")) or EPOCH,
        )

    def _schedule(self, schedule_id: str) -> Any:
        try:
            schedule = self.client.schedules.get(schedule_id)
        except Exception as exc:
            raise lookup_failed(exc, f"no schedule {schedule_id}") from exc
        if "opml_published_id" not in (schedule.tags or {}):
            raise NotFound(f"no schedule {schedule_id} (schedule {schedule_id} is not opml's)")
        return schedule

    def scheduled_job(self, published: PublishedPipeline, *, experiment: str, parameters: dict[str, Any]) -> Any:
        """The pipeline job each occurrence creates: the published pipeline's component (as its batch deployment
        runs it), its inputs, its compute, tagged as opml tags the runs it starts."""
        tags = self.client.batch_endpoints.get(published.id).tags or {}
        if not tags.get("opml_component"):
            raise InvalidInput(f"published pipeline {published.id} names no component (tag opml_component)")
        inputs = {
            name: self.sdk.Input(type=value["type"], path=value["path"])
            for name, value in self.pipelines.published_inputs(published, parameters).items()
        }
        values = {**self.state.published(published.id).get("parameters", {}), **parameters}
        job = self.sdk.PipelineJob(
            # by ARM id: schedules.begin_create_or_update sends a job's component string as it is (only a
            # component entity is resolved), and every other path of the SDK sends Azure the ARM id
            component=asset_arm_id(self.client, "components", tags["opml_component"]),
            inputs=inputs,
            experiment_name=experiment,
            display_name=published.name,
            tags=run_tags(published.pipeline_id, values, "Schedule", opml_published_id=published.id, dated=False),
        )
        job.settings.default_compute = tags.get("opml_compute")
        job.settings.force_rerun = True
        return job

    def create(
        self,
        published: PublishedPipeline,
        *,
        name: str,
        experiment: str,
        interval_minutes: float | None,
        cron: str | None,
        parameters: dict[str, Any],
    ) -> Schedule:
        trigger, text = trigger_from(self.sdk, interval_minutes, cron)
        if any(s.name == name for s in self.client.schedules.list(list_view_type=LIST_ALL)):
            # begin_create_or_update would replace it
            raise AlreadyExists(f"a schedule named {name} exists in the workspace: pick another name")
        job = self.scheduled_job(published, experiment=experiment, parameters=parameters)
        schedule = self.sdk.JobSchedule(
            name=name,
            display_name=name,
            trigger=trigger,
            create_job=job,
            description=f"opml schedule of {published.name} v{published.version}",
            tags={
                "opml_published_id": published.id,
                "opml_experiment": experiment,
                "opml_recurrence": text,
                "opml_created_at": datetime.now(UTC).isoformat(),
            },
        )
        schedule._to_rest_object()  # the SDK's own check of what it will send
        created = self.client.schedules.begin_create_or_update(schedule).result()
        return self._to_schedule(created)

    def list(self) -> list[Schedule]:
        found = [
            self._to_schedule(schedule)
            for schedule in self.client.schedules.list(list_view_type=LIST_ALL)
            if "opml_published_id" in (schedule.tags or {})
        ]
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def set_paused(self, schedule_id: str, paused: bool) -> Schedule:
        self._schedule(schedule_id)
        operation = self.client.schedules.begin_disable if paused else self.client.schedules.begin_enable
        return self._to_schedule(operation(schedule_id).result())

    def delete(self, schedule_id: str) -> None:
        schedule = self._schedule(schedule_id)
        if schedule.is_enabled:
            self.client.schedules.begin_disable(schedule_id).result()
        self.client.schedules.begin_delete(schedule_id).result()
