"""Schedules of published pipelines (every N minutes, or a cron expression), fired by the agent."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.entities import ACTIVE, Schedule
from opml.errors import NotFound

PAUSED = "Paused"


def _to_schedule(row: sqlite3.Row) -> Schedule:
    recurrence = row["cron"] or f"every {row['interval_seconds'] / 60:g} minutes"
    next_at = datetime.fromtimestamp(row["next_run_at"], UTC) if row["next_run_at"] else None
    return Schedule(
        id=row["id"],
        name=row["name"],
        published_pipeline_id=row["published_id"],
        experiment=row["experiment"],
        recurrence=recurrence,
        parameters=json.loads(row["parameters"]),
        allow_overlap=bool(row["allow_overlap"]),
        status=row["status"],
        next_run_at=next_at,
        last_run_id=row["last_run_id"],
        created_at=from_text(row["created_at"]),
    )


def next_time(row: sqlite3.Row | dict, after: float) -> float:
    if row["cron"]:
        from croniter import croniter

        return float(croniter(row["cron"], datetime.fromtimestamp(after, UTC)).get_next(float))
    return after + float(row["interval_seconds"])


class ScheduleRepository:
    def __init__(self, store: Store):
        self._store = store

    def create(
        self,
        *,
        published_id: str,
        name: str,
        experiment: str,
        interval_minutes: float | None,
        cron: str | None,
        parameters: dict[str, Any],
        allow_overlap: bool,
    ) -> Schedule:
        row = {"cron": cron, "interval_seconds": None if interval_minutes is None else float(interval_minutes) * 60}
        schedule_id = str(uuid.uuid4())
        self._store.execute(
            """INSERT INTO schedules (id, name, published_id, experiment, interval_seconds, cron, parameters,
               allow_overlap, status, next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                schedule_id,
                name,
                published_id,
                experiment,
                row["interval_seconds"],
                cron,
                dumps(parameters),
                int(bool(allow_overlap)),
                ACTIVE,
                next_time(row, time.time()),
                to_text(utcnow()),
            ),
        )
        return self.get(schedule_id)

    def get(self, schedule_id: str) -> Schedule:
        row = self._store.query_one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        return _to_schedule(row)

    def list(self) -> list[Schedule]:
        return [_to_schedule(row) for row in self._store.query("SELECT * FROM schedules ORDER BY created_at DESC")]

    def set_paused(self, schedule_id: str, paused: bool) -> Schedule:
        row = self._store.query_one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        # Resuming starts the recurrence again from now: no burst of missed runs.
        self._store.execute(
            "UPDATE schedules SET status = ?, next_run_at = ? WHERE id = ?",
            (PAUSED if paused else ACTIVE, next_time(row, time.time()), schedule_id),
        )
        return self.get(schedule_id)

    def delete(self, schedule_id: str) -> None:
        if not self._store.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)):
            raise NotFound(f"no schedule with id {schedule_id!r}")

    def due(self, now: float) -> list[dict[str, Any]]:
        """Active schedules whose time has come, each moved on to its next occurrence (at once, so that a
        slow trigger never fires the same occurrence twice)."""
        found = []
        for row in self._store.query("SELECT * FROM schedules WHERE status = ? AND next_run_at <= ?", (ACTIVE, now)):
            self._store.execute("UPDATE schedules SET next_run_at = ? WHERE id = ?", (next_time(row, now), row["id"]))
            found.append({**dict(row), "parameters": json.loads(row["parameters"])})
        return found

    def record_run(self, schedule_id: str, run_id: str) -> None:
        self._store.execute("UPDATE schedules SET last_run_id = ? WHERE id = ?", (run_id, schedule_id))
