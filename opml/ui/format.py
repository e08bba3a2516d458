"""Plain formatting for pages: durations, statuses and the tables of computes, runs and audit events."""

from __future__ import annotations

import pandas as pd

# What a table shows in a cell without a value (st.dataframe's ``placeholder``; Streamlit's own is the text
# "None"): the metrics of a canceled or failed trial, a run without a best model yet.
MISSING_CELL = "—"


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


DRIFT_COLUMNS = ["Feature", "Kind", "PSI", "JS distance", "Rows", "Verdict"]
# Verdict backgrounds of the drift table: green stable, amber moderate, red drift, grey too few rows.
VERDICT_BACKGROUNDS = {
    "stable": "#c8e6c9",
    "moderate": "#ffe082",
    "drift": "#ef9a9a",
    "too few rows": "#e0e0e0",
    "no rows": "#e0e0e0",
}


def drift_frame(report) -> pd.DataFrame:
    """A ``DriftReport``'s table, in the report's order (most drifted first)."""
    return pd.DataFrame(
        [
            {
                "Feature": row["feature"],
                "Kind": row["kind"],
                "PSI": row["psi"],
                "JS distance": row["js"],
                "Rows": row["rows"],
                "Verdict": row["verdict"],
            }
            for row in report.table()
        ],
        columns=DRIFT_COLUMNS,
    )


def styled_drift(frame: pd.DataFrame):
    """The drift table coloured by verdict, PSI and JS with 3 decimals, rows with thousands separators (a pandas
    Styler for st.dataframe)."""

    def colour(row: pd.Series) -> list[str]:
        background = VERDICT_BACKGROUNDS.get(row["Verdict"], "")
        return [f"background-color: {background}; color: #000000" if background else ""] * len(row)

    return frame.style.apply(colour, axis=1).format(
        {"PSI": "{:.3f}", "JS distance": "{:.3f}", "Rows": "{:,}"}, na_rep=""
    )


def _shares(labels, shares) -> str:
    return ", ".join(f"{label} {share:.1%}" for label, share in zip(labels, shares, strict=True) if share > 0)


def prediction_drift_words(report) -> str | None:
    """The prediction drift in one line: the predicted class mix of the window against the baseline it is
    compared with (naming it), with PSI and verdict. None when the model's baseline has no class balance."""
    from opml.monitoring.baseline import PREDICTION_BASELINE_WORDS

    drift = report.prediction
    if drift is None:
        return None
    baseline = PREDICTION_BASELINE_WORDS.get(report.prediction_source or "", "the training class balance")
    recent = _shares(drift.labels, drift.actual) if drift.rows else "no predictions"
    measured = "" if drift.psi is None else f": PSI {drift.psi:.3f}, {drift.verdict}"
    return (
        f"Predicted classes {recent} ({drift.rows:,} rows) against {baseline}: "
        f"{_shares(drift.labels, drift.expected)}{measured}."
    )


def alert_rules_frame(rules: list) -> pd.DataFrame:
    """Alert rules as the Monitoring page lists them: the condition, its window and wait, where it posts (the
    webhook's scheme and host only: its path may hold a token), what it triggers, and its last evaluation."""
    from opml.monitoring.rules import KINDS, shown_url

    def moment(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""

    return pd.DataFrame(
        [
            {
                "Rule": rule.name,
                "Condition": KINDS[rule.kind].condition(rule.threshold),
                "Enabled": "yes" if rule.enabled else "no",
                "Window (min)": f"{rule.window_minutes:g}",
                "For (min)": f"{rule.for_minutes:g}",
                "Webhook": shown_url(rule.webhook_url),
                "Pipeline": rule.pipeline or "",
                "Last evaluation": rule.note,
                "Evaluated (UTC)": moment(rule.evaluated_at),
                "Id": rule.id,
            }
            for rule in rules
        ],
        columns=[
            "Rule",
            "Condition",
            "Enabled",
            "Window (min)",
            "For (min)",
            "Webhook",
            "Pipeline",
            "Last evaluation",
            "Evaluated (UTC)",
            "Id",
        ],
    )
