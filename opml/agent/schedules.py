"""Firing schedules: each tick of the agent triggers the published pipelines whose schedule is due."""

from __future__ import annotations

import logging
import time

from opml.backends.local.backend import LocalBackend
from opml.errors import NotFound, OpmlError

log = logging.getLogger("opml.agent")


def fire_due_schedules(backend: LocalBackend, now: float | None = None) -> list[str]:
    """Trigger every due, active schedule through the same path as the REST gateway; the new run ids.

    Without ``allow_overlap`` a schedule whose previous run is still going skips this occurrence."""
    started = []
    for schedule in backend.schedules.due(time.time() if now is None else now):
        if schedule["last_run_id"] and not schedule["allow_overlap"]:
            try:
                if not backend.get_run(schedule["last_run_id"]).is_terminal:
                    log.info(
                        "schedule %s: previous run %s still going; skipped", schedule["name"], schedule["last_run_id"]
                    )
                    continue
            except NotFound:
                pass
        try:
            run = backend.trigger_published_pipeline(
                schedule["published_id"],
                experiment=schedule["experiment"],
                parameters=schedule["parameters"],
                trigger="Schedule",
                description=f"schedule {schedule['name']}",
            )
        except OpmlError as exc:  # disabled or deleted pipeline: try again next time
            log.warning("schedule %s could not trigger: %s", schedule["name"], exc)
            continue
        backend.schedules.record_run(schedule["id"], run.id)
        started.append(run.id)
    return started
