"""Views that more than one page shows: a pipeline run with its steps, and runs side by side."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from opml.automl.names import default_metric
from opml.backends.base import Backend
from opml.leaderboard import leaderboard
from opml.ui.charts import pipeline_graph, roc_figure
from opml.ui.format import MISSING_CELL, format_seconds
from opml.ui.task_charts import binned_compare_figure
from opml.ui.tasks import compact_metrics, run_task


def pipeline_run_view(backend: Backend, run_id: str, key: str) -> None:
    """A pipeline run: its status, step graph, steps table, each step's log and the AutoML step's leaderboard.
    ``key`` prefixes the widget keys (two pages show this view)."""
    run = backend.get_run(run_id)
    steps = sorted(backend.list_runs(parent_id=run.id), key=lambda s: s.created_at)
    st.metric("Status", run.status)
    if run.error:
        st.error(run.error)
    st.plotly_chart(
        pipeline_graph([(s.display_name, s.params.get("step", {}).get("type", ""), s.status) for s in steps]),
        key=f"{key}_graph",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Step": s.display_name,
                    "Status": s.status,
                    "Duration": format_seconds(s.duration_seconds),
                    "Error": s.error or "",
                    "Outputs": json.dumps(s.progress, default=str),
                }
                for s in steps
            ]
        ),
        hide_index=True,
        key=f"{key}_steps",
    )
    if not steps:
        return
    step = st.selectbox(
        "Step log", [s.id for s in steps], format_func=lambda i: i.rsplit("_", 1)[-1], key=f"{key}_step"
    )
    st.code(backend.read_run_log(step)[0][-15000:] or "(empty)", language="text")
    automl = next((s for s in steps if s.params.get("label_column")), None)
    if automl is not None:
        rows = leaderboard(backend, automl.id)[:10]
        if rows:
            task = run_task(automl.params)
            metric = automl.params.get("primary_metric") or default_metric(task)
            shown = [m for m in compact_metrics(task, metric) if m in rows[0]]
            st.caption(f"AutoML step leaderboard ({task}, best {metric} first; all of it on the Leaderboard page)")
            st.dataframe(
                pd.DataFrame(rows)[["iteration", "algorithm", "status", *shown]],
                hide_index=True,
                key=f"{key}_leaderboard",
                placeholder=MISSING_CELL,
            )


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def compare_runs_view(backend: Backend, run_ids: list[str], key: str) -> None:
    """Runs side by side: their parameters and metrics (rows that differ first), and ROC curves where the
    runs have them (an AutoML run shows its best model's)."""
    runs = [backend.get_run(run_id) for run_id in run_ids]
    params = pd.DataFrame({r.id: {k: _flat(v) for k, v in r.shown_params.items()} for r in runs}).fillna("")
    metrics = pd.DataFrame({r.id: backend.get_run_metrics(r.id) for r in runs})
    for title, table in (("Parameters", params), ("Metrics", metrics)):
        if table.empty:
            continue
        differs = table.astype(str).nunique(axis=1) > 1
        table = pd.concat([table[differs], table[~differs]])
        st.caption(f"{title} ({int(differs.sum())} of {len(table)} differ, shown first)")
        st.dataframe(table, key=f"{key}_{title.lower()}", placeholder=MISSING_CELL)
    curves = {}
    for run in runs:
        source = run.progress.get("best_child_id") or run.id
        details = backend.get_run_output(source, "details.json") or {}
        if details.get("curves"):
            curves[run.id] = details["curves"]
    # Regression runs' best models side by side by their binned predictions; classifiers' by their ROC curves.
    regression = {r: c for r, c in curves.items() if c.get("task") == "regression"}
    classifiers = {r: c for r, c in curves.items() if r not in regression}
    if classifiers:
        st.plotly_chart(roc_figure(classifiers), key=f"{key}_roc")
    if regression:
        st.plotly_chart(binned_compare_figure(regression), key=f"{key}_binned")
