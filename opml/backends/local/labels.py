"""Ground-truth labels of a local workspace's services, keyed by (service, request id, record)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opml.backends.local.store import Store


class LabelRepository:
    def __init__(self, store: Store):
        self._store = store

    def add(self, service: str, labels: Sequence[tuple[str, int, str]], *, at: float | None = None) -> int:
        """Store checked (request_id, record, label) rows in one transaction; labelling a record again
        replaces its label. Returns how many were given."""
        now = time.time() if at is None else at
        with self._store.transaction() as connection:
            connection.executemany(
                """INSERT INTO service_labels (service, request_id, record, label, at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (service, request_id, record) DO UPDATE SET label = excluded.label, at = excluded.at""",
                [(service, request_id, record, label, now) for request_id, record, label in labels],
            )
        return len(labels)

    def list(self, service: str, *, limit: int) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT request_id, record, label, at FROM service_labels WHERE service = ? ORDER BY at DESC, rowid DESC "
            "LIMIT ?",
            (service, int(limit)),
        )
        return [dict(row) for row in rows]

    def since(self, service: str, since: float) -> list[tuple[str, int, str]]:
        """The labels given since ``since`` (epoch seconds): those of requests made since then."""
        rows = self._store.query(
            "SELECT request_id, record, label FROM service_labels WHERE service = ? AND at >= ?", (service, since)
        )
        return [(row["request_id"], row["record"], row["label"]) for row in rows]

    def delete_service(self, service: str) -> int:
        return self._store.execute("DELETE FROM service_labels WHERE service = ?", (service,))
