"""The audit trail of a local workspace: one row per event, appended, never changed (``opml.audit``)."""

from __future__ import annotations

from opml.audit import AuditEvent
from opml.backends.local.store import Store, from_text, to_text, utcnow


class AuditRepository:
    def __init__(self, store: Store):
        self._store = store

    def record(self, actor: str, action: str, target: str) -> AuditEvent:
        event = AuditEvent(at=utcnow(), actor=actor, action=action, target=target)
        self._store.execute(
            "INSERT INTO audit_events (at, actor, action, target) VALUES (?, ?, ?, ?)",
            (to_text(event.at), actor, action, target),
        )
        return event

    def list(self, limit: int) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first (in the order they were recorded)."""
        rows = self._store.query(
            "SELECT at, actor, action, target FROM audit_events ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [
            AuditEvent(at=from_text(r["at"]), actor=r["actor"], action=r["action"], target=r["target"]) for r in rows
        ]
