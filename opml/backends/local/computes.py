"""Local computes: named pools that run at most ``max_nodes`` top-level runs at once."""

from __future__ import annotations

import sqlite3

from opml.backends.local.store import Store, from_text, to_text, utcnow
from opml.entities import ACTIVE_STATUSES, QUEUED, Compute
from opml.errors import AlreadyExists, Conflict, NotFound

DEFAULT_COMPUTE = "cpu-cluster"
DEFAULT_MAX_NODES = 2

_COUNTS = f"""
    SELECT c.*,
      (SELECT COUNT(*) FROM runs r WHERE r.compute = c.name AND r.parent_id IS NULL
         AND r.status IN ({",".join("?" * len(ACTIVE_STATUSES))})) AS active_runs,
      (SELECT COUNT(*) FROM runs r WHERE r.compute = c.name AND r.parent_id IS NULL
         AND r.status = ?) AS queued_runs
    FROM computes c"""
_COUNT_PARAMS = (*sorted(ACTIVE_STATUSES), QUEUED)


def _to_compute(row: sqlite3.Row) -> Compute:
    return Compute(
        name=row["name"],
        max_nodes=row["max_nodes"],
        kind="local",
        state="Succeeded",
        created_at=from_text(row["created_at"]),
        active_runs=row["active_runs"],
        queued_runs=row["queued_runs"],
    )


class ComputeRepository:
    def __init__(self, store: Store):
        self._store = store

    def ensure_default(self) -> None:
        if self._store.query_one("SELECT 1 FROM computes WHERE name = ?", (DEFAULT_COMPUTE,)):
            return  # a read: opening a workspace takes no write lock once it has its default compute
        self._store.execute(
            "INSERT OR IGNORE INTO computes (name, max_nodes, created_at) VALUES (?, ?, ?)",
            (DEFAULT_COMPUTE, DEFAULT_MAX_NODES, to_text(utcnow())),
        )

    def create(self, *, name: str, max_nodes: int) -> Compute:
        with self._store.transaction() as connection:
            if connection.execute("SELECT 1 FROM computes WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a compute named {name!r} already exists")
            connection.execute(
                "INSERT INTO computes (name, max_nodes, created_at) VALUES (?, ?, ?)",
                (name, max_nodes, to_text(utcnow())),
            )
        return self.get(name)

    def list(self) -> list[Compute]:
        return [_to_compute(row) for row in self._store.query(_COUNTS + " ORDER BY c.name", _COUNT_PARAMS)]

    def get(self, name: str) -> Compute:
        row = self._store.query_one(_COUNTS + " WHERE c.name = ?", (*_COUNT_PARAMS, name))
        if row is None:
            raise NotFound(f"no compute named {name!r}")
        return _to_compute(row)

    def delete(self, name: str) -> None:
        with self._store.transaction() as connection:
            if not connection.execute("SELECT 1 FROM computes WHERE name = ?", (name,)).fetchone():
                raise NotFound(f"no compute named {name!r}")
            busy = connection.execute(
                f"""SELECT COUNT(*) FROM runs WHERE compute = ? AND parent_id IS NULL
                    AND status IN ({",".join("?" * (len(ACTIVE_STATUSES) + 1))})""",
                (name, *sorted(ACTIVE_STATUSES), QUEUED),
            ).fetchone()[0]
            if busy:
                raise Conflict(f"compute {name!r} has {busy} queued or active run(s); cancel them or wait")
            connection.execute("DELETE FROM computes WHERE name = ?", (name,))

    def count(self) -> int:
        return self._store.query_one("SELECT COUNT(*) FROM computes")[0]
