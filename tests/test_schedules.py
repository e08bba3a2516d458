"""Schedules of published pipelines: recurrence, no overlap unless allowed, pause, and the agent firing them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from opml.agent.schedules import fire_due_schedules
from opml.errors import InvalidInput
from tests.helpers import wait_until
from tests.test_pipelines import PARAMETERS, steps


@pytest.fixture
def published(gateway_backend, tmp_path):
    pipeline = gateway_backend.create_pipeline(
        name="bank-train", steps=steps(tmp_path / "prep.py"), parameters=PARAMETERS
    )
    return gateway_backend.publish_pipeline(pipeline.id, name="Bankmarketing Train")


def scheduled_runs(backend) -> list:
    return [r for r in backend.list_pipeline_runs() if r.params.get("trigger") == "Schedule"]


def test_due_schedule_triggers_and_never_overlaps_unless_allowed(gateway_backend, published):
    schedule = gateway_backend.create_schedule(published.id, name="often", experiment="sched", interval_minutes=1)
    start = time.time()
    assert fire_due_schedules(gateway_backend, now=start + 10) == []  # not due yet
    (first,) = fire_due_schedules(gateway_backend, now=start + 61)
    assert gateway_backend.get_run(first).params["trigger"] == "Schedule"
    assert fire_due_schedules(gateway_backend, now=start + 122) == []  # first still queued: skipped
    gateway_backend.cancel_run(first)
    (second,) = fire_due_schedules(gateway_backend, now=start + 183)
    assert second != first and gateway_backend.schedules.get(schedule.id).last_run_id == second


def test_overlap_allowed_starts_while_the_previous_run_is_going(gateway_backend, published):
    gateway_backend.create_schedule(
        published.id, name="overlap", experiment="s", interval_minutes=1, allow_overlap=True
    )
    start = time.time()
    (first,) = fire_due_schedules(gateway_backend, now=start + 61)
    (second,) = fire_due_schedules(gateway_backend, now=start + 122)
    assert first != second and not gateway_backend.get_run(first).is_terminal


def test_paused_schedule_fires_nothing_and_resume_does_not_burst(gateway_backend, published):
    schedule = gateway_backend.create_schedule(published.id, name="nightly", experiment="sched", cron="0 6 * * *")
    assert schedule.recurrence == "0 6 * * *" and schedule.next_run_at.hour == 6
    gateway_backend.set_schedule_paused(schedule.id, True)
    assert fire_due_schedules(gateway_backend, now=time.time() + 3 * 86400) == []
    resumed = gateway_backend.set_schedule_paused(schedule.id, False)
    assert resumed.status == "Active" and resumed.next_run_at.timestamp() > time.time()
    gateway_backend.delete_schedule(schedule.id)
    assert gateway_backend.list_schedules() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either an interval"),
        ({"interval_minutes": 5, "cron": "* * * * *"}, "either an interval"),
        ({"interval_minutes": 0}, "from 1"),
        ({"interval_minutes": 0.0001}, "from 1 \\(as on Azure ML\\)"),
        ({"cron": "every day"}, "not a valid cron"),
        ({"interval_minutes": 1e10}, "to 525,600 \\(a year\\)"),
        ({"interval_minutes": float("nan")}, "number of minutes from 1"),
        ({"interval_minutes": float("inf")}, "number of minutes from 1"),
        ({"cron": "0 0 30 2 *"}, "never fires"),
        ({"cron": "* * * * * *"}, "5 fields"),
        ({"interval_minutes": 5, "parameters": {"nope": 1}}, "unknown parameter"),
    ],
)
def test_bad_schedules_are_refused(gateway_backend, published, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        gateway_backend.create_schedule(published.id, name="s", experiment="e", **kwargs)
    assert gateway_backend.list_schedules() == []


def test_agent_fires_a_due_schedule(gateway_backend, published, agent):
    schedule = gateway_backend.create_schedule(published.id, name="every", experiment="sched", interval_minutes=1)
    # Make it due now rather than wait the minute out (the shortest interval, as on Azure ML).
    gateway_backend.store.execute("UPDATE schedules SET next_run_at = ? WHERE id = ?", (time.time(), schedule.id))
    run = wait_until(lambda: scheduled_runs(gateway_backend), timeout=30, what="a scheduled run")[0]
    assert run.experiment == "sched" and run.params["published_pipeline_id"] == published.id
    gateway_backend.set_schedule_paused(schedule.id, True)
    for pending in scheduled_runs(gateway_backend):
        gateway_backend.cancel_run(pending.id)


def test_schedules_through_the_cli(gateway_backend, published):
    def opml(*args):
        return subprocess.run(
            [sys.executable, "-m", "opml", "--workspace", str(gateway_backend.path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = opml(
        "--json",
        "pipelines",
        "schedule",
        published.id,
        "--name",
        "nightly",
        "--experiment",
        "cli",
        "--cron",
        "0 6 * * *",
    )
    assert created.returncode == 0, created.stderr
    schedule_id = json.loads(created.stdout)["id"]
    listed = json.loads(opml("--json", "pipelines", "schedules").stdout)
    assert [s["recurrence"] for s in listed] == ["0 6 * * *"]
    assert json.loads(opml("--json", "pipelines", "schedule-pause", schedule_id).stdout)["status"] == "Paused"
    assert opml("pipelines", "schedule-delete", schedule_id).returncode == 0
    bad = opml("pipelines", "schedule", published.id, "--name", "x", "--experiment", "cli", "--cron", "nope")
    assert bad.returncode == 2 and "not a valid cron" in bad.stderr
