"""Fake of ``ScheduleOperations`` (``MLClient.schedules``): JobSchedules kept as sent, enabled or disabled.

Azure fires a schedule on its trigger; here a test fires one with ``fire_schedule(cloud, name)``, which submits
the schedule's ``create_job`` as Azure does (a pipeline job, played by ``pipeline_jobs``). Azure deletes only a
disabled schedule.
"""

from __future__ import annotations

from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, http_error, not_found, now


def _created() -> Any:
    from azure.ai.ml.entities import SystemData

    return SystemData(created_at=now(), created_by="fake")


def fire_schedule(cloud: FakeAzureML, name: str) -> Any:
    """One occurrence of schedule ``name``: its job submitted (refused while the schedule is disabled)."""
    from tests.azure_v2_fakes.pipeline_jobs import start_pipeline_job

    with cloud.lock:
        schedule = cloud.kind("schedules")[name]
        assert schedule.is_enabled, f"schedule {name} is disabled: Azure does not fire it"
        job = schedule.create_job
    return start_pipeline_job(cloud, job, job.experiment_name)  # a new job from the schedule's definition


class FakeScheduleOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def _stored(self, name: str) -> Any:
        found = self.cloud.kind("schedules").get(name)
        if found is None:
            raise not_found("Schedule", name)
        return found

    def list(self, *, list_view_type: Any = "EnabledOnly", **kwargs: Any) -> Any:
        self.cloud.called("schedules.list", list_view_type=list_view_type)
        wanted = {"EnabledOnly": (True,), "DisabledOnly": (False,), "All": (True, False)}[str(list_view_type)]
        with self.cloud.lock:
            return [s for s in self.cloud.kind("schedules").values() if s.is_enabled in wanted]

    def get(self, name: str, **kwargs: Any) -> Any:
        self.cloud.called("schedules.get", name=name)
        with self.cloud.lock:
            return self._stored(name)

    def begin_create_or_update(self, schedule: Any, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import JobSchedule, Schedule

        self.cloud.called("schedules.begin_create_or_update", schedule=schedule)
        assert isinstance(schedule, JobSchedule), schedule
        schedule._validate(raise_error=True)  # the real operation's first step (the schedule and its job)
        component = getattr(schedule.create_job, "component", None)
        if isinstance(component, str) and not component.startswith("/subscriptions/"):
            # the real operation sends a job's component string unresolved; Azure is given ARM ids by every other
            # path of the SDK (OperationOrchestrator.get_asset_arm_id): the fake takes only what is known to work
            raise http_error(400, f"componentId {component} is not the ARM id of a component", "UserError")
        # what Azure keeps is what the SDK sends, read back as the SDK reads an answer
        rest = schedule._to_rest_object()
        rest.name = schedule.name
        stored = Schedule._from_rest_object(rest)
        with self.cloud.lock:
            azure_sets(stored, is_enabled=True, provisioning_state="Succeeded", creation_context=_created())
            self.cloud.kind("schedules")[stored.name] = stored
        return FakePoller(stored)

    def _set_enabled(self, name: str, enabled: bool) -> Any:
        with self.cloud.lock:
            stored = self._stored(name)
            azure_sets(stored, is_enabled=enabled)
        return FakePoller(stored)

    def begin_enable(self, name: str, **kwargs: Any) -> Any:
        self.cloud.called("schedules.begin_enable", name=name)
        return self._set_enabled(name, True)

    def begin_disable(self, name: str, **kwargs: Any) -> Any:
        self.cloud.called("schedules.begin_disable", name=name)
        return self._set_enabled(name, False)

    def begin_delete(self, name: str, **kwargs: Any) -> Any:
        self.cloud.called("schedules.begin_delete", name=name)
        with self.cloud.lock:
            if self._stored(name).is_enabled:
                raise http_error(400, f"Schedule {name} is enabled: disable it before deleting it", "UserError")
            del self.cloud.kind("schedules")[name]
        return FakePoller(None)
