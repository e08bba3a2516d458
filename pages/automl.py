"""AutoML: launch a classification or regression run, watch it live, browse past runs."""

import pandas as pd
import streamlit as st

from opml.automl.names import TASKS, algorithms, default_metric, primary_metrics
from opml.automl.settings import automl_params, check_data, parse_settings, settings_problems
from opml.errors import InvalidInput, OpmlError
from opml.leaderboard import leaderboard
from opml.ui.access import audit
from opml.ui.feedback import show_problems, user_errors
from opml.ui.format import MISSING_CELL, format_seconds
from opml.ui.forms import follow_default, keep_choice, labelled
from opml.ui.tasks import compact_metrics, data_problem, guess_reason, run_task
from opml.ui.workspace import get_backend

FIELD_LABELS = {
    "experiment_timeout_minutes": "Experiment timeout (minutes)",
    "max_iterations": "Max iterations",
    "max_concurrent_iterations": "Max concurrent iterations",
    "n_cross_validations": "Folds",
    "validation_size": "Validation fraction",
    "allowed_algorithms": "Algorithms",
    "label_column": "Label column",
    "dataset": "Dataset",
    "task": "Task",
    "primary_metric": "Primary metric",
}
FRAME = "automl_frame"  # the chosen dataset version's rows, kept while it stays chosen: ((name, version), frame)
PICKED = "automl_task_picked"  # (dataset, label) the user chose a task for: there it no longer follows the guess


def dataset_frame(name: str, version: int) -> pd.DataFrame | None:
    """The rows of the dataset version (read once while it stays chosen), or None when they cannot be read: the
    backend checks the data again when the run is submitted."""
    kept = st.session_state.get(FRAME)
    if kept is None or kept[0] != (name, version):
        try:
            kept = ((name, version), backend.load_dataset(name, version))
        except OpmlError:
            kept = ((name, version), None)
        st.session_state[FRAME] = kept
    return kept[1]


def data_problems(params: dict, frame: pd.DataFrame) -> dict[str, str]:
    """The data's refusal of these settings (a text label for regression, too many classes, a budget too
    small...) by setting name, before anything is queued; kept while the settings it depends on stay the same
    (a rerun for another field does not read every row again)."""
    settings = parse_settings(params)
    checked = (  # what check_data reads of the settings
        settings.dataset,
        settings.dataset_version,
        settings.label_column,
        settings.task,
        settings.n_cross_validations,
        settings.featurization,
        settings.experiment_timeout_minutes,
    )
    kept = st.session_state.get("automl_data_check")
    if kept is None or kept[0] != checked:
        try:
            check_data(settings, frame)
            kept = (checked, {})
        except InvalidInput as exc:
            field, message = data_problem(exc)
            kept = (checked, {field: message})
        st.session_state["automl_data_check"] = kept
    return kept[1]


def picked_task() -> None:
    st.session_state[PICKED] = (st.session_state.get("automl_dataset"), st.session_state.get("automl_label"))


st.title("Automated ML")
backend = get_backend()
limits = backend.automl_limits  # what this backend's AutoML takes (Azure ML: at least 15 minutes)
# Datasets a user registered first, then pipelines' outputs (newest first within each).
datasets = sorted(backend.list_datasets(), key=lambda d: d.source.startswith("pipeline run"))
automl_runs = [r for r in backend.list_runs(top_level_only=True, limit=500) if r.run_type == "automl"]

with st.expander("New AutoML run", icon=":material/rocket_launch:", expanded=not automl_runs):
    if not datasets:
        st.info("Register a dataset first (Datasets page).")
    else:
        left, middle, right = st.columns(3)
        dataset_name = left.selectbox("Dataset", [d.name for d in datasets], key="automl_dataset")
        versions = [d.version for d in backend.list_dataset_versions(dataset_name)]
        version = middle.selectbox("Version", versions, key="automl_version")
        columns = list(backend.get_dataset(dataset_name, version).columns)
        label = right.selectbox(
            "Label column",
            columns,
            index=columns.index("y") if "y" in columns else len(columns) - 1,
            key="automl_label",
        )
        frame = dataset_frame(dataset_name, version)
        left, middle, right = st.columns(3)
        follow_default("automl_experiment", f"{dataset_name}-automl", {f"{d.name}-automl" for d in datasets})
        experiment = left.text_input("Experiment", key="automl_experiment")
        guess = guess_reason(frame[label]) if frame is not None and label in frame.columns else None
        if guess and st.session_state.get(PICKED) != (dataset_name, label):
            st.session_state["automl_task"] = guess[0]  # the guess follows the label until a task is picked
        elif st.session_state.get("automl_task") not in TASKS:
            st.session_state["automl_task"] = TASKS[0]
        task = middle.selectbox("Task", TASKS, key="automl_task", on_change=picked_task)
        metrics = list(primary_metrics(task))
        keep_choice("automl_metric", metrics, metrics.index(default_metric(task)))
        metric = right.selectbox("Primary metric", metrics, key="automl_metric")
        if guess:
            said = "guessed" if guess[0] == task else f"picked; the label column looks like {guess[0]}"
            st.caption(f"Task {said}: `{label}` has {guess[1]}.")
        left, middle, right = st.columns(3)
        computes = {c.name: c for c in backend.list_computes()}
        compute = left.selectbox("Compute", list(computes), key="automl_compute")
        # No min/max on the number fields: the browser would silently keep the last valid value.
        timeout = middle.number_input(
            "Experiment timeout (minutes)",
            value=max(5.0, float(limits.min_timeout_minutes)),
            step=1.0,
            key="automl_timeout",
        )
        max_iterations = right.number_input("Max iterations", value=100, step=1, key="automl_max_iterations")
        left, middle, right = st.columns(3)
        concurrency = left.number_input("Max concurrent iterations", value=1, step=1, key="automl_concurrency")
        validation = middle.radio(
            "Validation", ["Cross-validation", "Validation split"], horizontal=True, key="automl_validation"
        )
        folds, split = None, None
        if validation == "Cross-validation":
            folds = right.number_input("Folds", value=5, step=1, key="automl_folds")
        else:
            split = right.slider("Validation fraction", 0.05, 0.5, 0.2, key="automl_split")
        offered = list(algorithms(task))
        if not set(st.session_state.get("automl_algorithms", offered)) <= set(offered):
            st.session_state["automl_algorithms"] = offered  # another task's algorithms: this task's, all
        st.session_state.setdefault("automl_algorithms", offered)
        allowed = st.multiselect("Algorithms", offered, key="automl_algorithms")
        if not allowed:
            st.caption("No algorithm chosen: every algorithm is tried.")
        left, right = st.columns(2)
        ensembles = left.toggle("Ensembles (VotingEnsemble, StackEnsemble)", value=True, key="automl_ensembles")
        early_stopping = right.toggle("Early stopping", value=True, key="automl_early_stopping")
        params = automl_params(
            dataset=dataset_name,
            label_column=label,
            dataset_version=version,
            task=task,
            primary_metric=metric,
            timeout_minutes=timeout,
            max_iterations=max_iterations,
            max_concurrent_iterations=concurrency,
            n_cross_validations=folds,
            validation_size=split,
            allowed_algorithms=allowed,
            ensembles=ensembles,
            early_stopping=early_stopping,
        )
        setting_problems = settings_problems(params, limits)
        if not setting_problems and frame is not None:
            setting_problems = data_problems(params, frame)
        problems = labelled(setting_problems, FIELD_LABELS)
        show_problems(problems)
        if compute in computes and "max_concurrent_iterations" not in setting_problems:
            note = limits.concurrency_note(int(concurrency), compute, computes[compute].max_nodes)
            if note:
                st.warning(note, icon=":material/hourglass_top:")
        launch = st.button(
            "Launch", type="primary", key="automl_launch", icon=":material/play_arrow:", disabled=bool(problems)
        )
        if launch and not problems:
            with user_errors():  # the backend checks the settings again, and the data
                run = backend.submit_run(experiment=experiment, run_type="automl", compute=compute, params=params)
                audit(backend, "submit_run", f"run {run.id} (automl, experiment {run.experiment})")
                st.session_state["automl_run"] = run.id
                automl_runs.insert(0, run)
                st.success(f"Launched **{run.id}**: follow it below.")

if not automl_runs:
    st.stop()

run_ids = [r.id for r in automl_runs]
if st.session_state.get("automl_run") not in run_ids:
    st.session_state["automl_run"] = run_ids[0]
run_id = st.selectbox("Run", run_ids, key="automl_run")
active = not backend.get_run(run_id).is_terminal


@st.fragment(run_every=2 if active else None)
def watch_run() -> None:
    with user_errors():
        run = backend.get_run(run_id)
        progress = run.progress
        task = run_task(run.params)
        metric = run.params.get("primary_metric", default_metric(task))
        cols = st.columns(4)
        cols[0].metric("Status", run.status)
        cols[1].metric("Iterations", f"{progress.get('iterations_done', 0)} / {run.params.get('max_iterations')}")
        best = progress.get("best_metric")
        cols[2].metric(f"Best {metric}", "–" if best is None else f"{best:.4f}")
        cols[3].metric("Duration", format_seconds(run.duration_seconds) or "–")
        timeout = progress.get("timeout_seconds") or run.params.get("experiment_timeout_minutes", 1) * 60
        elapsed = run.duration_seconds or 0.0
        fraction = 1.0 if run.status == "Completed" else min(1.0, elapsed / timeout)
        st.progress(
            fraction,
            text=f"{progress.get('phase', run.status)} · {format_seconds(elapsed)} of {format_seconds(timeout)}",
        )
        for note in progress.get("notes") or []:
            st.warning(note, icon=":material/hourglass_top:")
        if run.error:
            st.error(run.error)
        if not run.is_terminal and st.button("Cancel run", key="automl_cancel", icon=":material/stop:"):
            backend.cancel_run(run.id)
            st.toast("Cancel requested")
        guardrails = backend.get_run_output(run.id, "guardrails.json")
        if guardrails:
            with st.expander("Data guardrails", expanded=any(g["status"] == "Alerted" for g in guardrails)):
                for guardrail in guardrails:
                    marker = {"Alerted": ":orange", "Done": ":blue", "Passed": ":green"}.get(guardrail["status"], "")
                    st.markdown(
                        f"**{guardrail['name']}** · {marker}[{guardrail['status']}]  \n{guardrail['description']}"
                    )
                    if guardrail["details"]:
                        st.dataframe(pd.DataFrame(guardrail["details"]), hide_index=True)
        rows = leaderboard(backend, run.id)
        if rows:
            table = pd.DataFrame(rows)
            shown = [c for c in compact_metrics(task, metric) if c in table.columns]
            table = table[["iteration", "algorithm", "status", *shown, "duration_seconds", "best"]]
            st.caption(f"Child runs ({len(rows)}), best first · {task}")
            st.dataframe(table, hide_index=True, key="automl_children", placeholder=MISSING_CELL)
        if run.status == "Completed" and st.button("Open leaderboard", key="automl_open_leaderboard"):
            st.session_state["lb_run"] = run.id
            st.switch_page("pages/leaderboard.py")


watch_run()


@st.fragment(run_every=2 if any(not r.is_terminal for r in automl_runs) else None)
def past_runs() -> None:
    """Read afresh on each refresh, so a run that finished says so without leaving the page."""
    current = [r for r in backend.list_runs(top_level_only=True, limit=500) if r.run_type == "automl"]
    history = pd.DataFrame(
        [
            {
                "Experiment": r.experiment,
                "Run": r.id,
                "Status": r.status,
                "Dataset": f"{r.params.get('dataset')}:{r.params.get('dataset_version')}",
                "Task": run_task(r.params),
                "Primary metric": r.params.get("primary_metric"),
                "Best": r.progress.get("best_metric"),
                "Duration": format_seconds(r.duration_seconds),
                "Created": r.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for r in current
        ]
    )
    st.subheader("Past runs")
    st.dataframe(history, hide_index=True, key="automl_history", placeholder=MISSING_CELL)  # newest first, as listed


past_runs()
