"""Workspace overview: where we are, whether the agent runs, what the workspace holds."""

import pandas as pd
import streamlit as st

from opml.ui import format_seconds, get_backend, status_label, user_errors

st.title("Workspace overview")
backend = get_backend()

with user_errors():
    info = backend.describe()
    agent = backend.agent_status()

    left, right = st.columns([2, 1])
    left.markdown(f"**Backend:** `{info.backend}`  \n**Workspace:** `{info.location}`")
    if agent.running:
        right.success(f"Agent running (pid {agent.pid})", icon=":material/check_circle:")
    else:
        right.error(
            "Agent not running: queued runs will wait. Start it with `opml up` or `opml agent`.",
            icon=":material/error:",
        )

    columns = st.columns(len(info.counts))
    for column, (name, count) in zip(columns, info.counts.items(), strict=True):
        column.metric(name.capitalize(), count)

    st.subheader("Computes")
    computes = backend.list_computes()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Name": c.name,
                    "Kind": c.kind,
                    "Max nodes": c.max_nodes,
                    "Active runs": c.active_runs,
                    "Queued runs": c.queued_runs,
                    "State": c.state,
                }
                for c in computes
            ]
        ),
        hide_index=True,
        key="overview_computes",
    )

    st.subheader("Recent runs")
    runs = backend.list_runs(top_level_only=True, limit=10)
    if runs:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Run": r.id,
                        "Experiment": r.experiment,
                        "Type": r.run_type,
                        "Status": status_label(r.status),
                        "Duration": format_seconds(r.duration_seconds),
                        "Created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    }
                    for r in runs
                ]
            ),
            hide_index=True,
            key="overview_runs",
        )
    else:
        st.info("No runs yet.")

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
