"""The agent's own row in the store: who it is, when it started, its last heartbeat (informative: whether
an agent runs is decided by its lock, ``opml.locks``)."""

from __future__ import annotations

from datetime import datetime

from opml.backends.local.store import Store, from_text, to_text, utcnow


class AgentRepository:
    def __init__(self, store: Store):
        self._store = store

    def record_start(self, pid: int) -> None:
        now = to_text(utcnow())
        self._store.execute(
            "INSERT OR REPLACE INTO agent (id, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?)", (pid, now, now)
        )

    def heartbeat(self) -> None:
        self._store.execute("UPDATE agent SET heartbeat_at = ? WHERE id = 1", (to_text(utcnow()),))

    def last_seen(self) -> tuple[datetime | None, datetime | None]:
        """(started at, last heartbeat) of the latest agent, if any ever ran."""
        row = self._store.query_one("SELECT started_at, heartbeat_at FROM agent WHERE id = 1")
        return (from_text(row["started_at"]), from_text(row["heartbeat_at"])) if row else (None, None)
