"""Runs: search every run of the workspace (by experiment, status, id, parameters and metrics), watch one
with its log (a pipeline run with its step graph), and compare any runs side by side."""

import math

import streamlit as st

from opml.entities import RUN_STATUSES
from opml.errors import OpmlError
from opml.ui.feedback import user_errors
from opml.ui.format import format_seconds, runs_frame, status_label
from opml.ui.forms import keep_choice
from opml.ui.views import compare_runs_view, pipeline_run_view
from opml.ui.workspace import get_backend

PAGE_SIZE = 200
FILTER_HELP = (
    "Clauses joined by `and`: `metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'`, "
    "`status = 'Failed'`, `run_type = 'automl'`, `tags.owner = 'ana'`, `run_id LIKE '%abc%'`. "
    "Operators: = != > >= < <= LIKE ILIKE; text in quotes."
)

st.title("Runs")
backend = get_backend()

left, middle, right = st.columns([2, 2, 2])
experiments = ["(all)", *backend.list_experiments()]
experiment = left.selectbox("Experiment", experiments, key="runs_experiment")
statuses = middle.multiselect("Status", list(RUN_STATUSES), key="runs_statuses", placeholder="any status")
run_id_text = right.text_input("Run id contains", key="runs_id_search")
left, right = st.columns([5, 1])
filter_text = left.text_input("Filter", key="runs_filter", help=FILTER_HELP)
children = right.toggle("Child runs too", key="runs_children", help="AutoML trials and pipeline steps")

clauses = [filter_text.strip()] if filter_text.strip() else []
if run_id_text.strip():
    clauses.append("run_id LIKE '%" + run_id_text.strip().replace("'", "''") + "%'")
query = {
    "filter": " and ".join(clauses),
    "experiment": None if experiment == "(all)" else experiment,
    "statuses": statuses,
    "top_level_only": not children,
}
try:
    total = backend.search_runs(**query, limit=1).total
except OpmlError as exc:
    st.error(f"{exc}", icon=":material/error:")
    st.caption(FILTER_HELP)
    st.stop()
pages = max(1, math.ceil(total / PAGE_SIZE))
page = 1
if pages > 1:
    page = st.selectbox("Page", range(1, pages + 1), key="runs_page", format_func=lambda p: f"page {p} of {pages}")


@st.fragment(run_every=2)
def runs_table() -> None:
    """The page of runs, refreshed while the user watches."""
    found = backend.search_runs(**query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    if not found.runs:
        searching = any([query["filter"], query["experiment"], query["statuses"]])
        st.info(
            "No runs match these filters."
            if searching
            else "No runs yet: AutoML and pipeline runs appear here, as do `opml runs submit` runs."
        )
        return
    first = found.offset + 1
    st.caption(f"Runs {first:,}-{found.offset + len(found.runs):,} of {found.total:,}, newest first")
    st.dataframe(runs_frame(found.runs), hide_index=True, key="runs_table")


runs_table()
run_ids = [r.id for r in backend.search_runs(**query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE).runs]
if not run_ids:
    st.stop()
keep_choice("runs_selected", run_ids)
run_id = st.selectbox("Run", run_ids, key="runs_selected")


@st.fragment(run_every=2)
def run_details() -> None:
    with user_errors():
        run = backend.get_run(run_id)
        if run.run_type == "pipeline":
            pipeline_run_view(backend, run.id, key="runs_pipeline")
            if not run.is_terminal and st.button("Cancel run", key="runs_cancel"):
                st.toast(f"{run.id}: {backend.cancel_run(run_id).status}")
            return
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
            st.json(run.shown_params)
        text, _ = backend.read_run_log(run_id, offset=0, max_bytes=2 << 20)
        st.caption("Log")
        st.code(text[-20000:] or "(empty)", language="text")


run_details()

st.subheader("Compare runs")
basket = st.session_state.setdefault("runs_compare_basket", [])
options = list(dict.fromkeys([*basket, *run_ids]))  # runs chosen from earlier searches stay available
compare = st.multiselect(
    "Runs to compare (any experiment: search, then add)", options, key="runs_compare", max_selections=8
)
st.session_state["runs_compare_basket"] = compare
if len(compare) >= 2:
    with user_errors():
        compare_runs_view(backend, compare, key="runs_compare_view")
else:
    st.caption("Choose two or more runs.")
