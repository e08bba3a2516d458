"""Schedules of published pipelines, and opml's recurrences (every N minutes, or a cron expression) as
Azure's ``ScheduleRecurrence``.

Azure's recurrence has a frequency and an interval, plus hours, minutes and week days for
daily and weekly schedules. Cron expressions of those shapes translate; others are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opml.backends.azure.pipelines import AzurePipelines
from opml.backends.azure.workspace import AzurePart, AzureWorkspace
from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.entities import ACTIVE, PublishedPipeline, Schedule
from opml.errors import InvalidInput, NotFound

_WEEK_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _numbers(field: str, low: int, high: int, what: str) -> list[int]:
    try:
        values = [int(part) for part in field.split(",")]
    except ValueError:
        raise InvalidInput(f"cron {what} {field!r}: Azure ML schedules take numbers or lists here") from None
    if not all(low <= value <= high for value in values):
        raise InvalidInput(f"cron {what} must be between {low} and {high}, got {field!r}")
    return values


def recurrence_from(sdk: Any, interval_minutes: float | None, cron: str | None) -> tuple[Any, str]:
    """(ScheduleRecurrence, how to show it) of a recurrence ``check_recurrence`` accepted. Raises InvalidInput
    naming what Azure cannot express."""
    if interval_minutes is not None:
        if interval_minutes < 1 or float(interval_minutes) != int(interval_minutes):
            raise InvalidInput("Azure ML schedules run every whole number of minutes (1 or more)")
        minutes = int(interval_minutes)
        return sdk.ScheduleRecurrence(frequency="Minute", interval=minutes), f"every {minutes} minutes"
    fields = str(cron).split()
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*":
        raise InvalidInput(
            f"cron {cron!r}: on Azure ML use 'M H * * *' (daily) or 'M H * * D' (weekly), or an interval"
        )
    minutes = _numbers(fields[0], 0, 59, "minute")
    hours = _numbers(fields[1], 0, 23, "hour")
    if fields[4] == "*":
        return sdk.ScheduleRecurrence(frequency="Day", interval=1, hours=hours, minutes=minutes), cron
    days = [_WEEK_DAYS[day] for day in sorted({day % 7 for day in _numbers(fields[4], 0, 7, "day of week")})]
    return sdk.ScheduleRecurrence(frequency="Week", interval=1, hours=hours, minutes=minutes, week_days=days), cron


@translate_methods
class AzureSchedules(AzurePart):
    """Schedules of published pipelines. SDK v1 cannot delete a schedule: opml disables it for good and stops
    listing it (the state folder remembers)."""

    def __init__(self, workspace: AzureWorkspace, pipelines: AzurePipelines):
        super().__init__(workspace)
        self.pipelines = pipelines

    def _to_schedule(self, schedule: Any) -> Schedule:
        known = self.state.schedule(schedule.id)
        return Schedule(
            id=schedule.id,
            name=schedule.name,
            published_pipeline_id=schedule.pipeline_id,
            experiment=known.get("experiment", ""),
            recurrence=known.get("recurrence", ""),
            parameters={},
            allow_overlap=True,  # Azure starts every occurrence, whether or not the previous run ended
            status=ACTIVE if schedule.status == ACTIVE else "Paused",
            next_run_at=None,
            last_run_id=None,
            created_at=parse_time(known.get("created_at")) or EPOCH,
        )

    def _schedule(self, schedule_id: str) -> Any:
        for schedule in self.sdk.Schedule.list(self.ws, active_only=False):
            if schedule.id == schedule_id and not self.state.schedule(schedule.id).get("deleted"):
                return schedule
        raise NotFound(f"no schedule {schedule_id}")

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
        self.pipelines.check_published_values(published.id, parameters)
        recurrence, text = recurrence_from(self.sdk, interval_minutes, cron)
        schedule = self.sdk.Schedule.create(
            self.ws, name=name, pipeline_id=published.id, experiment_name=experiment, recurrence=recurrence
        )
        self.state.save_schedule(
            schedule.id, experiment=experiment, recurrence=text, created_at=datetime.now(UTC).isoformat()
        )
        return self._to_schedule(schedule)

    def list(self) -> list[Schedule]:
        found = [
            self._to_schedule(s)
            for s in self.sdk.Schedule.list(self.ws, active_only=False)
            if not self.state.schedule(s.id).get("deleted")
        ]
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def set_paused(self, schedule_id: str, paused: bool) -> Schedule:
        schedule = self._schedule(schedule_id)
        if paused:
            schedule.disable()
        else:
            schedule.enable()
        return self._to_schedule(schedule)

    def delete(self, schedule_id: str) -> None:
        schedule = self._schedule(schedule_id)
        if schedule.status == ACTIVE:
            schedule.disable()
        self.state.save_schedule(schedule_id, deleted=True)
