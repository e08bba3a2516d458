"""Runs: every top-level run of the workspace, its status, log and cancel."""

import streamlit as st

from opml.ui import format_seconds, get_backend, runs_frame, status_label, user_errors

st.title("Runs")
backend = get_backend()

experiments = ["(all)", *backend.list_experiments()]
experiment = st.selectbox("Experiment", experiments, key="runs_experiment")


@st.fragment(run_every=2)
def runs_table() -> None:
    runs = backend.list_runs(experiment=None if experiment == "(all)" else experiment, top_level_only=True, limit=200)
    if not runs:
        st.info("No runs yet. AutoML and pipeline runs appear here, as do `opml runs submit` runs.")
        return
    st.dataframe(runs_frame(runs), hide_index=True, key="runs_table")


runs_table()

run_ids = [r.id for r in backend.list_runs(top_level_only=True, limit=200) if experiment in ("(all)", r.experiment)]
if not run_ids:
    st.stop()
run_id = st.selectbox("Run", run_ids, key="runs_selected")


@st.fragment(run_every=2)
def run_details() -> None:
    with user_errors():
        run = backend.get_run(run_id)
        left, middle, right = st.columns(3)
        left.metric("Status", status_label(run.status))
        middle.metric("Duration", format_seconds(run.duration_seconds) or "–")
        right.metric("Compute", run.compute)
        if run.error:
            st.error(run.error)
        if not run.is_terminal and st.button("Cancel run", key="runs_cancel"):
            run = backend.cancel_run(run_id)
            st.toast(f"{run.id}: {run.status}")
        with st.expander("Parameters"):
            st.json(run.params)
        text, _ = backend.read_run_log(run_id, offset=0, max_bytes=2 << 20)
        st.caption("Log")
        st.code(text[-20000:] or "(empty)", language="text")


run_details()
