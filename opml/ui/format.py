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
