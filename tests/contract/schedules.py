"""Schedules: a published pipeline run every N minutes or on a cron expression; pause, resume, delete."""

from __future__ import annotations

import time

import pytest

from opml.entities import ACTIVE
from opml.errors import InvalidInput, NotFound
from tests.contract.fixtures import ContractFixtures, ids


class ScheduleContract(ContractFixtures):
    def test_schedules_recur_every_n_minutes_or_on_a_cron(self, backend, published):
        every = backend.create_schedule(published.id, name="every", experiment="bank-sched", interval_minutes=15)
        assert (every.name, every.published_pipeline_id, every.experiment) == ("every", published.id, "bank-sched")
        assert (every.recurrence, every.status) == ("every 15 minutes", ACTIVE)
        nightly = backend.create_schedule(published.id, name="nightly", experiment="bank-sched", cron="30 6 * * *")
        assert nightly.recurrence == "30 6 * * *"
        assert ids(backend.list_schedules()) == [nightly.id, every.id]

    def test_paused_schedule_resumes_and_a_deleted_one_is_gone(self, backend, published):
        schedule = backend.create_schedule(published.id, name="s", experiment="e", interval_minutes=15)
        assert backend.set_schedule_paused(schedule.id, True).status == "Paused"
        assert [s.status for s in backend.list_schedules()] == ["Paused"]
        assert backend.set_schedule_paused(schedule.id, False).status == ACTIVE
        backend.delete_schedule(schedule.id)
        assert backend.list_schedules() == []
        with pytest.raises(NotFound):
            backend.delete_schedule(schedule.id)
        with pytest.raises(NotFound):
            backend.set_schedule_paused(schedule.id, True)

    def test_unknown_published_pipeline_has_no_schedules(self, backend):
        with pytest.raises(NotFound):
            backend.create_schedule("nope", name="s", experiment="e", interval_minutes=15)
        assert backend.list_schedules() == []

    @pytest.mark.parametrize(
        "arguments",
        [
            {},
            {"interval_minutes": 15, "cron": "30 6 * * *"},
            {"interval_minutes": 0},
            {"cron": "every day"},
            {"interval_minutes": 15, "parameters": {"nope": 1}},
            {"interval_minutes": 15, "name": "../s"},
            {"interval_minutes": 15, "experiment": "../e"},
        ],
    )
    def test_bad_schedules_create_nothing(self, backend, published, arguments):
        with pytest.raises(InvalidInput):
            backend.create_schedule(published.id, **{"name": "s", "experiment": "e"} | arguments)
        assert backend.list_schedules() == []

    def test_overlap_and_next_occurrence_depend_on_who_fires_schedules(self, backend, published, capabilities):
        serial = backend.create_schedule(published.id, name="serial", experiment="e", interval_minutes=15)
        overlapping = backend.create_schedule(
            published.id, name="overlapping", experiment="e", interval_minutes=15, allow_overlap=True
        )
        assert overlapping.allow_overlap
        if capabilities.schedules_fired_by_opml:
            assert not serial.allow_overlap
            backend.set_schedule_paused(serial.id, True)
            resumed_at = time.time()
            resumed = backend.set_schedule_paused(serial.id, False)
            assert resumed.next_run_at.timestamp() >= resumed_at + 15 * 60
        else:
            assert serial.allow_overlap and serial.next_run_at is None
