"""Workspace overview: where we are, whether the agent runs, what the workspace holds."""

import pandas as pd
import streamlit as st

from opml.entities import FIRING
from opml.ui.feedback import user_errors
from opml.ui.format import alerts_frame, audit_frame, computes_frame, runs_frame
from opml.ui.workspace import get_backend

st.title("Workspace overview")
backend = get_backend()

with user_errors():
    info = backend.describe()
    agent = backend.agent_status()

    left, right = st.columns([2, 1])
    left.markdown(f"**Backend:** `{info.backend}`  \n**Workspace:** `{info.location}`")
    if agent.running:
        where = f"pid {agent.pid}" if agent.pid else agent.detail
        right.success(f"Agent running ({where})", icon=":material/check_circle:")
    else:
        right.error(
            "Agent not running: queued runs will wait. Start it with `opml up` or `opml agent`.",
            icon=":material/error:",
        )

    columns = st.columns(len(info.counts))
    for column, (name, count) in zip(columns, info.counts.items(), strict=True):
        column.metric(name.capitalize(), count)

    firing = backend.list_alerts(state=FIRING, limit=100)
    if firing:  # nothing at all while none fires
        st.subheader("Firing alerts")
        frame = alerts_frame(firing).drop(columns=["State", "Resolved (UTC)"])
        st.dataframe(frame, hide_index=True, key="overview_alerts")
        st.caption("Rules and every alert: `opml services alert-rules NAME`, `opml services alerts NAME`.")

    st.subheader("Computes")
    computes = backend.list_computes()
    st.dataframe(computes_frame(computes), hide_index=True, key="overview_computes")

    st.subheader("Recent runs")
    runs = backend.list_runs(top_level_only=True, limit=10)
    if runs:
        st.dataframe(runs_frame(runs), hide_index=True, key="overview_runs")
    else:
        st.info("No runs yet.")

    st.subheader("Audit trail")
    events = backend.list_audit_events(limit=20)
    if events:
        st.dataframe(audit_frame(events), hide_index=True, key="overview_audit")
    else:
        st.info(
            "Nothing recorded yet: deploying a service, revealing a key or token, creating or revoking a token "
            "and starting a run are."
        )

    st.subheader("Datasets")
    datasets = backend.list_datasets()
    if datasets:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": d.name,
                        "Version": d.version,
                        "Rows": d.rows,
                        "Columns": len(d.columns),
                        "Source": d.source,
                    }
                    for d in datasets
                ]
            ),
            hide_index=True,
            key="overview_datasets",
        )
    else:
        st.info("No datasets yet: register one on the Datasets page.")
