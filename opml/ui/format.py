"""Plain formatting for pages: durations, statuses and the tables of computes, runs and audit events."""

from __future__ import annotations

import pandas as pd


def status_label(status: str) -> str:
    """Status text for tables (kept plain: emoji fonts are not on every machine)."""
    return status


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def audit_frame(events: list) -> pd.DataFrame:
    """Audit events as the Overview page lists them: when (UTC), who, what, to what."""
    return pd.DataFrame(
        [
            {
                "When (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "Who": e.actor,
                "What": e.description,
                "Target": e.target,
            }
            for e in events
        ],
        columns=["When (UTC)", "Who", "What", "Target"],
    )


def computes_frame(computes: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Name": c.name,
                "Kind": c.kind,
                "State": c.state,
                "Max nodes": c.max_nodes,
                "Active runs": c.active_runs,
                "Queued runs": c.queued_runs,
            }
            for c in computes
        ]
    )


def pipeline_runs_frame(runs: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Run": r.id,
                "Pipeline": r.display_name,
                "Status": status_label(r.status),
                "Trigger": r.params.get("trigger"),
                "Experiment": r.experiment,
                "Created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "Duration": format_seconds(r.duration_seconds),
            }
            for r in runs
        ]
    )


def runs_frame(runs: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Run": r.id,
                "Experiment": r.experiment,
                "Type": r.run_type,
                "Status": status_label(r.status),
                "Compute": r.compute,
                "Created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "Duration": format_seconds(r.duration_seconds),
                "Error": r.error or "",
            }
            for r in runs
        ]
    )


ALERT_COLUMNS = ["Service", "Rule", "State", "Value", "Threshold", "Since (UTC)", "Resolved (UTC)", "Message"]


def alerts_frame(alerts: list) -> pd.DataFrame:
    """Alerts as the Overview and Monitoring pages list them: the service, the rule, the measured value
    against the threshold (with their units), since when it fires and, when resolved, until when; the
    webhook's outcome and the retraining run when there are any."""
    from opml.monitoring.rules import KINDS

    def moment(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""

    rows = []
    for alert in alerts:
        kind = KINDS[alert.kind]
        rows.append(
            {
                "Service": alert.service,
                "Rule": alert.rule_name,
                "State": alert.state,
                "Value": kind.words(alert.value),
                "Threshold": f"{'>' if kind.above else '<'} {kind.words(alert.threshold)}",
                "Since (UTC)": moment(alert.fired_at),
                "Resolved (UTC)": moment(alert.resolved_at),
                "Message": alert.message,
                "Webhook": alert.webhook_status or "",
                "Retraining run": alert.run_id or "",
            }
        )
    columns = [*ALERT_COLUMNS, "Webhook", "Retraining run"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop(columns=[c for c in ("Webhook", "Retraining run") if not frame[c].astype(bool).any()])
