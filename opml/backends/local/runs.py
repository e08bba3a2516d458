"""Runs of a local workspace: the queue the agent claims from, and the records run processes write."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Mapping
from typing import Any

from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.entities import (
    ACTIVE_STATUSES,
    CANCEL_REQUESTED,
    CANCELED,
    NOT_STARTED,
    PREPARING,
    QUEUED,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    Run,
)
from opml.errors import InvalidInput, NotFound
from opml.naming import check_name, check_tags
from opml.runsearch import RunQuery

_IN_ACTIVE = ",".join("?" * len(ACTIVE_STATUSES))
_ACTIVE = tuple(sorted(ACTIVE_STATUSES))


def _to_run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        experiment=row["experiment"],
        run_type=row["run_type"],
        status=row["status"],
        compute=row["compute"],
        created_at=from_text(row["created_at"]),
        params=json.loads(row["params"]),
        tags=json.loads(row["tags"]),
        parent_id=row["parent_id"],
        started_at=from_text(row["started_at"]),
        ended_at=from_text(row["ended_at"]),
        error=row["error"],
        progress=json.loads(row["progress"]),
        display_name=row["display_name"],
    )


def new_run_id(experiment: str) -> str:
    return f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


class RunRepository:
    def __init__(self, store: Store):
        self._store = store

    # -- creation ---------------------------------------------------------------

    def insert(
        self,
        *,
        experiment: str,
        run_type: str,
        compute: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
        display_name: str = "",
        parent_id: str | None = None,
        run_id: str | None = None,
        status: str = QUEUED,
    ) -> Run:
        experiment = check_name(experiment, "experiment")
        run_id = run_id or new_run_id(experiment)
        now = to_text(utcnow())
        started = now if status not in (QUEUED, NOT_STARTED) else None
        with self._store.transaction() as connection:
            if compute and not connection.execute("SELECT 1 FROM computes WHERE name = ?", (compute,)).fetchone():
                raise NotFound(f"no compute named {compute!r}; create it first or pick another")
            connection.execute(
                """INSERT INTO runs (id, experiment, run_type, status, compute, parent_id, params, tags,
                   display_name, progress, created_at, started_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)""",
                (
                    run_id,
                    experiment,
                    run_type,
                    status,
                    compute,
                    parent_id,
                    dumps(dict(params)),
                    dumps(check_tags(dict(tags) if tags else None)),
                    str(display_name or ""),
                    now,
                    started,
                ),
            )
        return self.get(run_id)

    # -- reading ----------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        row = self._store.query_one("SELECT * FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return _to_run(row)

    def list(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = None,
        top_level_only: bool = False,
        limit: int = 200,
    ) -> list[Run]:
        clauses, params = [], []
        if experiment is not None:
            clauses.append("experiment = ?")
            params.append(experiment)
        if parent_id is not None:
            clauses.append("parent_id = ?")
            params.append(parent_id)
        if top_level_only:
            clauses.append("parent_id IS NULL")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._store.query(
            f"SELECT * FROM runs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, int(limit))
        )
        return [_to_run(row) for row in rows]

    def search(self, query: RunQuery) -> tuple[list[Run], int]:
        """One page of the runs matching the clauses (``opml.runsearch``), newest first, and the total."""
        from opml.runsearch import to_sql

        where, params = to_sql(query.clauses)
        if query.experiment is not None:
            where += " AND runs.experiment = ?"
            params.append(query.experiment)
        if query.statuses:
            where += f" AND runs.status IN ({','.join('?' * len(query.statuses))})"
            params.extend(query.statuses)
        if query.top_level_only:
            where += " AND runs.parent_id IS NULL"
        total = self._store.query_one(f"SELECT COUNT(*) FROM runs WHERE {where}", params)[0]
        rows = self._store.query(
            f"SELECT * FROM runs WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (*params, query.limit, query.offset),
        )
        return [_to_run(row) for row in rows], total

    def automl(self, *, limit: int) -> list[Run]:
        """AutoML runs and pipelines' AutoML steps (runs whose trials make a leaderboard), newest first."""
        rows = self._store.query(
            """SELECT * FROM runs WHERE (run_type = 'automl' AND parent_id IS NULL)
               OR (run_type = 'pipeline_step' AND json_extract(params, '$.label_column') IS NOT NULL)
               ORDER BY created_at DESC, rowid DESC LIMIT ?""",
            (int(limit),),
        )
        return [_to_run(row) for row in rows]

    def count(self, *, top_level_only: bool = True) -> int:
        where = "WHERE parent_id IS NULL" if top_level_only else ""
        return self._store.query_one(f"SELECT COUNT(*) FROM runs {where}")[0]

    def active(self) -> list[Run]:
        rows = self._store.query(f"SELECT * FROM runs WHERE parent_id IS NULL AND status IN ({_IN_ACTIVE})", _ACTIVE)
        return [_to_run(row) for row in rows]

    def process_of(self, run_id: str) -> tuple[int | None, float | None]:
        row = self._store.query_one("SELECT pid, pid_started FROM runs WHERE id = ?", (run_id,))
        return (row["pid"], row["pid_started"]) if row else (None, None)

    # -- state changes ----------------------------------------------------------

    def request_cancel(self, run_id: str) -> Run:
        with self._store.transaction() as connection:
            row = connection.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}")
            if row["status"] in (QUEUED, NOT_STARTED):
                self._finish(connection, run_id, CANCELED, "canceled before it started")
            elif row["status"] in ACTIVE_STATUSES and row["status"] != CANCEL_REQUESTED:
                connection.execute("UPDATE runs SET status = ? WHERE id = ?", (CANCEL_REQUESTED, run_id))
        return self.get(run_id)

    def claim_queued(self, capacity: Mapping[str, int]) -> list[Run]:
        """Atomically move queued top-level runs to Preparing, oldest first, within each
        compute's free capacity (``max_nodes`` minus its active runs)."""
        claimed: list[str] = []
        with self._store.transaction() as connection:
            busy = dict(
                connection.execute(
                    f"""SELECT compute, COUNT(*) FROM runs WHERE parent_id IS NULL
                        AND status IN ({_IN_ACTIVE}) GROUP BY compute""",
                    _ACTIVE,
                ).fetchall()
            )
            free = {name: limit - busy.get(name, 0) for name, limit in capacity.items()}
            queued = connection.execute(
                "SELECT id, compute FROM runs WHERE parent_id IS NULL AND status = ? ORDER BY created_at, rowid",
                (QUEUED,),
            ).fetchall()
            now = to_text(utcnow())
            for row in queued:
                if free.get(row["compute"], 0) <= 0:
                    continue
                free[row["compute"]] -= 1
                connection.execute(
                    "UPDATE runs SET status = ?, started_at = ? WHERE id = ? AND status = ?",
                    (PREPARING, now, row["id"], QUEUED),
                )
                claimed.append(row["id"])
        return [self.get(run_id) for run_id in claimed]

    def set_process(self, run_id: str, pid: int, pid_started: float) -> None:
        self._store.execute("UPDATE runs SET pid = ?, pid_started = ? WHERE id = ?", (pid, pid_started, run_id))

    def set_status(self, run_id: str, status: str) -> bool:
        """Move a run to a non-terminal status unless it is already finished or being cancelled."""
        if status not in RUN_STATUSES or status in TERMINAL_STATUSES:
            raise InvalidInput(f"not an intermediate run status: {status!r}")
        changed = self._store.execute(
            f"""UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?)
                WHERE id = ? AND status NOT IN ({",".join("?" * (len(TERMINAL_STATUSES) + 1))})""",
            (status, to_text(utcnow()), run_id, *sorted(TERMINAL_STATUSES), CANCEL_REQUESTED),
        )
        return changed > 0

    def update_progress(self, run_id: str, progress: Mapping[str, Any]) -> None:
        with self._store.transaction() as connection:
            row = connection.execute("SELECT progress FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}")
            merged = {**json.loads(row["progress"]), **dict(progress)}
            connection.execute("UPDATE runs SET progress = ? WHERE id = ?", (dumps(merged), run_id))

    def finish(self, run_id: str, status: str, error: str | None = None) -> bool:
        """Record the end of a run once: a run already finished keeps its first end."""
        with self._store.transaction() as connection:
            return self._finish(connection, run_id, status, error)

    def _finish(self, connection: sqlite3.Connection, run_id: str, status: str, error: str | None) -> bool:
        if status not in TERMINAL_STATUSES:
            raise InvalidInput(f"not a final run status: {status!r}")
        now = to_text(utcnow())
        changed = connection.execute(
            f"""UPDATE runs SET status = ?, error = ?, ended_at = ?, started_at = COALESCE(started_at, ?)
                WHERE id = ? AND status NOT IN ({",".join("?" * len(TERMINAL_STATUSES))})""",
            (status, error, now, now, run_id, *sorted(TERMINAL_STATUSES)),
        ).rowcount
        return changed > 0

    def finish_open_children(self, parent_id: str, status: str, error: str | None = None) -> int:
        """End every descendant of ``parent_id`` that has not ended (the parent stopped under them)."""
        count = 0
        for child in self.list(parent_id=parent_id, limit=100_000):
            count += self.finish_open_children(child.id, status, error)
            if not child.is_terminal:
                count += self.finish(child.id, status, error)
        return count

    def set_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self._store.execute("UPDATE runs SET params = ? WHERE id = ?", (dumps(dict(params)), run_id))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        now = to_text(utcnow())
        with self._store.transaction() as connection:
            connection.executemany(
                "INSERT INTO metrics (run_id, name, value, step, logged_at) VALUES (?, ?, ?, ?, ?)",
                [(run_id, name, None if value is None else float(value), step, now) for name, value in metrics.items()],
            )

    def metrics(self, run_id: str) -> dict[str, float]:
        """The last value logged for each metric of a run."""
        rows = self._store.query("SELECT name, value FROM metrics WHERE run_id = ? ORDER BY rowid", (run_id,))
        return {row["name"]: row["value"] for row in rows}
