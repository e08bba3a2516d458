"""Alert rules and alerts of a local workspace (the agent evaluates the rules: ``opml.agent.alerts``).

A rule keeps what its last evaluation found (``note``, ``evaluated_at``) and since when its condition has
held (``pending_since``, for ``for_minutes``). An alert is one firing: a partial unique index allows one
Firing alert per rule, so two evaluators (an agent and a test, say) cannot fire the same rule twice.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.entities import FIRING, RESOLVED, Alert, AlertRule
from opml.errors import NotFound


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _to_rule(row: sqlite3.Row) -> AlertRule:
    return AlertRule(
        id=row["id"],
        service=row["service"],
        name=row["name"],
        kind=row["kind"],
        threshold=row["threshold"],
        window_minutes=row["window_minutes"],
        for_minutes=row["for_minutes"],
        enabled=bool(row["enabled"]),
        created_at=from_text(row["created_at"]),
        webhook_url=row["webhook_url"],
        pipeline=row["pipeline"],
        pipeline_parameters=json.loads(row["pipeline_parameters"]),
        experiment=row["experiment"],
        note=row["note"],
        evaluated_at=_moment(row["evaluated_at"]),
        pending_since=_moment(row["pending_since"]),
    )


def _to_alert(row: sqlite3.Row) -> Alert:
    return Alert(
        id=row["id"],
        rule_id=row["rule_id"],
        rule_name=row["rule_name"],
        service=row["service"],
        kind=row["kind"],
        state=row["state"],
        value=row["value"],
        threshold=row["threshold"],
        message=row["message"],
        fired_at=_moment(row["fired_at"]),
        resolved_at=_moment(row["resolved_at"]),
        webhook_status=row["webhook_status"],
        run_id=row["run_id"],
    )


RESOLVE_TO_SEND = "resolved: to send"  # a disabled rule's alert, whose Resolved webhook the agent sends


class AlertRepository:
    def __init__(self, store: Store):
        self._store = store

    # -- rules -----------------------------------------------------------------------------

    def create_rule(self, **fields: Any) -> AlertRule:
        rule_id = uuid.uuid4().hex[:12]
        self._store.execute(
            """INSERT INTO alert_rules (id, service, name, kind, threshold, window_minutes, for_minutes, enabled,
               webhook_url, pipeline, pipeline_parameters, experiment, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)""",
            (
                rule_id,
                fields["service"],
                fields["name"],
                fields["kind"],
                fields["threshold"],
                fields["window_minutes"],
                fields["for_minutes"],
                fields["webhook_url"],
                fields["pipeline"],
                dumps(fields["pipeline_parameters"] or {}),
                fields["experiment"],
                to_text(utcnow()),
            ),
        )
        return self.rule(rule_id)

    def rule(self, rule_id: str) -> AlertRule:
        row = self._store.query_one("SELECT * FROM alert_rules WHERE id = ?", (rule_id,))
        if row is None:
            raise NotFound(f"no alert rule with id {rule_id!r}; list them with `opml services alert-rules NAME`")
        return _to_rule(row)

    def rules(self, service: str | None = None, *, enabled_only: bool = False) -> list[AlertRule]:
        sql, params = "SELECT * FROM alert_rules WHERE 1 = 1", []
        if service is not None:
            sql, params = sql + " AND service = ?", [*params, service]
        if enabled_only:
            sql += " AND enabled = 1"
        return [_to_rule(row) for row in self._store.query(sql + " ORDER BY created_at DESC, id", params)]

    def delete_rule(self, rule_id: str, now: float) -> None:
        """Delete a rule; its firing alert (if any) is resolved, its past alerts are kept."""
        with self._store.transaction() as connection:
            if not connection.execute("DELETE FROM alert_rules WHERE id = ?", (rule_id,)).rowcount:
                raise NotFound(f"no alert rule with id {rule_id!r}")
            self._resolve_quietly(connection, rule_id, now, "the rule was deleted")

    def set_enabled(self, rule_id: str, enabled: bool, now: float) -> AlertRule:
        """Enable or disable a rule. Disabling resolves its firing alert and forgets a pending condition."""
        with self._store.transaction() as connection:
            changed = connection.execute(
                "UPDATE alert_rules SET enabled = ?, pending_since = NULL, note = ? WHERE id = ?",
                (int(enabled), "" if enabled else "disabled", rule_id),
            ).rowcount
            if not changed:
                raise NotFound(f"no alert rule with id {rule_id!r}")
            if not enabled:
                # The agent sends the Resolved webhook (this may be the dashboard's or the CLI's process).
                connection.execute(
                    """UPDATE alerts SET webhook_status = ? WHERE rule_id = ? AND state = ?
                       AND EXISTS (SELECT 1 FROM alert_rules WHERE id = ? AND webhook_url IS NOT NULL)""",
                    (RESOLVE_TO_SEND, rule_id, FIRING, rule_id),
                )
                self._resolve_quietly(connection, rule_id, now, "the rule was disabled")
        return self.rule(rule_id)

    def resolutions_to_send(self) -> list[tuple[Alert, AlertRule]]:
        """Alerts resolved by disabling their rule whose Resolved webhook the agent has not sent yet."""
        rows = self._store.query("SELECT id, rule_id FROM alerts WHERE webhook_status = ?", (RESOLVE_TO_SEND,))
        found = []
        for row in rows:
            try:
                found.append((self.alert(row["id"]), self.rule(row["rule_id"])))
            except NotFound:  # the rule was deleted meanwhile: nowhere to send it
                self.set_webhook_status(row["id"], "not sent: the rule was deleted", taking_resolution=True)
        return found

    @staticmethod
    def _resolve_quietly(connection: sqlite3.Connection, rule_id: str, now: float, why: str) -> None:
        connection.execute(
            "UPDATE alerts SET state = ?, resolved_at = ?, message = message || ? WHERE rule_id = ? AND state = ?",
            (RESOLVED, now, f"; resolved: {why}", rule_id, FIRING),
        )

    def record_evaluation(self, rule_id: str, now: float, note: str, pending_since: float | None) -> None:
        self._store.execute(
            "UPDATE alert_rules SET evaluated_at = ?, note = ?, pending_since = ? WHERE id = ? AND enabled = 1",
            (now, note, pending_since, rule_id),
        )

    # -- alerts ----------------------------------------------------------------------------

    def alert(self, alert_id: str) -> Alert:
        row = self._store.query_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        if row is None:
            raise NotFound(f"no alert with id {alert_id!r}")
        return _to_alert(row)

    def alerts(self, service: str | None, state: str | None, limit: int) -> list[Alert]:
        sql, params = "SELECT * FROM alerts WHERE 1 = 1", []
        if service is not None:
            sql, params = sql + " AND service = ?", [*params, service]
        if state is not None:
            sql, params = sql + " AND state = ?", [*params, state]
        rows = self._store.query(sql + " ORDER BY fired_at DESC, rowid DESC LIMIT ?", [*params, limit])
        return [_to_alert(row) for row in rows]

    def firing(self, rule_id: str) -> Alert | None:
        row = self._store.query_one("SELECT * FROM alerts WHERE rule_id = ? AND state = ?", (rule_id, FIRING))
        return _to_alert(row) if row else None

    def fire(self, rule: AlertRule, *, value: float, message: str, now: float, webhook: bool) -> Alert | None:
        """Record a firing of ``rule``; None when it is already firing (or was deleted meanwhile)."""
        alert_id = uuid.uuid4().hex[:12]
        with self._store.transaction() as connection:
            if not connection.execute("SELECT 1 FROM alert_rules WHERE id = ? AND enabled = 1", (rule.id,)).fetchone():
                return None
            try:
                connection.execute(
                    """INSERT INTO alerts (id, rule_id, rule_name, service, kind, state, value, threshold, message,
                       fired_at, webhook_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        alert_id,
                        rule.id,
                        rule.name,
                        rule.service,
                        rule.kind,
                        FIRING,
                        value,
                        rule.threshold,
                        message,
                        now,
                        "queued" if webhook else None,
                    ),
                )
            except sqlite3.IntegrityError:  # another evaluator fired it first
                return None
        return self.alert(alert_id)

    def resolve(self, alert_id: str, *, now: float, note: str, webhook: bool) -> Alert | None:
        """Resolve a firing alert; None when it was resolved already."""
        changed = self._store.execute(
            """UPDATE alerts SET state = ?, resolved_at = ?, message = message || ?,
               webhook_status = CASE WHEN ? THEN 'queued' ELSE webhook_status END
               WHERE id = ? AND state = ?""",
            (RESOLVED, now, f"; resolved: {note}", int(webhook), alert_id, FIRING),
        )
        return self.alert(alert_id) if changed else None

    def set_webhook_status(self, alert_id: str, status: str, *, taking_resolution: bool = False) -> None:
        """Record how a delivery went. A resolution still to send keeps its mark unless the agent is taking it
        (``taking_resolution``): the Firing delivery of the same alert, finishing after its rule was disabled,
        must not make the agent forget the resolution."""
        if taking_resolution:
            self._store.execute("UPDATE alerts SET webhook_status = ? WHERE id = ?", (status, alert_id))
            return
        self._store.execute(
            "UPDATE alerts SET webhook_status = ? WHERE id = ? AND webhook_status IS NOT ?",
            (status, alert_id, RESOLVE_TO_SEND),
        )

    def set_run(self, alert_id: str, run_id: str | None, problem: str | None = None) -> None:
        """The pipeline run a firing started, or why none was (appended to the message)."""
        if run_id is not None:
            self._store.execute("UPDATE alerts SET run_id = ? WHERE id = ?", (run_id, alert_id))
        else:
            note = f" (retraining not started: {problem})"
            self._store.execute("UPDATE alerts SET message = message || ? WHERE id = ?", (note, alert_id))
