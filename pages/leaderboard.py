"""Leaderboard: every model an AutoML run tried, its metrics and charts; compare; register."""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from opml.automl.names import LOWER_IS_BETTER, REGRESSION, default_metric
from opml.leaderboard import leaderboard
from opml.ui.charts import calibration_figure, importance_figure, pr_figure, roc_figure
from opml.ui.feedback import user_errors
from opml.ui.format import MISSING_CELL
from opml.ui.forms import offer_all_new
from opml.ui.models import registered_versions
from opml.ui.task_charts import (
    binned_compare_figure,
    class_confusion_figure,
    class_roc_figure,
    predicted_true_figure,
    residuals_figure,
)
from opml.ui.tasks import metrics_in_order, run_task
from opml.ui.workspace import get_backend

BEST_RULE = (
    "For threshold metrics such as accuracy, differences of a few rows out of fold are noise: among the "
    "models within one standard error of the top value, the best is the one with the best log-loss."
)

st.title("Leaderboard")
backend = get_backend()
runs = backend.list_automl_runs()
if not runs:
    st.info("No AutoML runs yet: launch one on the AutoML page (pipelines' AutoML steps show here too).")
    st.stop()

run_labels = {r.id: f"{r.id} (pipeline step {r.display_name or 'automl'})" if r.parent_id else r.id for r in runs}
# Start at the newest run that has models (a cancelled or failed run may have none).
with_models = [r.id for r in runs if r.progress.get("best_child_id")] or [runs[0].id]
if st.session_state.get("lb_run") not in run_labels:
    st.session_state["lb_run"] = with_models[0]
run_id = st.selectbox("AutoML run", list(run_labels), format_func=run_labels.get, key="lb_run")
parent = backend.get_run(run_id)
task = run_task(parent.params)
metric = parent.params.get("primary_metric") or default_metric(task)
ALL_METRICS = metrics_in_order(task, metric)  # the task's metrics, the primary one first
regression = task == REGRESSION
rows = leaderboard(backend, run_id)
st.caption(
    f"{parent.status} · {task} · dataset {parent.params.get('dataset')}:{parent.params.get('dataset_version')} · "
    f"label `{parent.params.get('label_column')}` · primary metric **{metric}** · {len(rows)} models"
)
if not rows:
    st.info("No child runs yet.")
    st.stop()
if parent.progress.get("best_reason"):
    st.caption(f"Best model: {parent.progress['best_reason']}.", help=BEST_RULE)

board = pd.DataFrame(rows)
ALL_METRICS = [m for m in ALL_METRICS if m in board.columns]  # what the leaderboard measured of the run's task
board.insert(0, "rank", range(1, len(board) + 1))
algorithms = sorted(board["algorithm"].unique())
offer_all_new("lb_algorithms", algorithms)
chosen_algorithms = st.multiselect("Algorithms", algorithms, key="lb_algorithms")
only_completed = st.toggle("Completed only", value=False, key="lb_completed_only")
shown = board[board["algorithm"].isin(chosen_algorithms)]
if only_completed:
    shown = shown[shown["status"] == "Completed"]
shown = shown.assign(hyperparameters=shown["hyperparameters"].map(lambda h: json.dumps(h, default=str)))
st.dataframe(
    shown[
        [
            "rank",
            "run_id",
            "algorithm",
            "best",
            "status",
            *ALL_METRICS,
            "duration_seconds",
            "featurization",
            "hyperparameters",
            "error",
        ]
    ],
    hide_index=True,
    key="lb_table",
    column_config={name: st.column_config.NumberColumn(format="%.4f") for name in ALL_METRICS},
    placeholder=MISSING_CELL,
)

completed = board[board["status"] == "Completed"]
if completed.empty:
    st.stop()
labels = {r["run_id"]: f"#{r['iteration']} {r['algorithm']}{' (best)' if r['best'] else ''}" for r in rows}
choices = list(completed["run_id"])
model_id = st.selectbox("Model", choices, format_func=labels.get, key="lb_model")
details = backend.get_run_output(model_id, "details.json") or {}
curves = details.get("curves", {})
row = completed[completed["run_id"] == model_id].iloc[0]

CHART_TABS = (
    ["Predicted vs true", "Residuals"] if regression else ["ROC", "Precision-recall", "Confusion matrix", "Calibration"]
)
tabs = st.tabs(["Metrics", *CHART_TABS, "Feature importance", "Register"], key="lb_tabs")
with tabs[0]:
    st.dataframe(
        pd.DataFrame({"metric": ALL_METRICS, "value": [row[m] for m in ALL_METRICS]}),
        hide_index=True,
        key="lb_metrics",
        column_config={"value": st.column_config.NumberColumn(format="%.4f")},
        placeholder=MISSING_CELL,
    )
    st.caption("Hyperparameters (of the estimator; ensembles list their members)")
    st.json(row["hyperparameters"] if isinstance(row["hyperparameters"], dict) else {}, expanded=False)
    threshold = details.get("spec", {}).get("threshold")
    if threshold is not None:
        st.caption(f"Decision threshold chosen on out-of-fold predictions: {threshold:.3f}")
if curves and regression:
    with tabs[1]:
        st.plotly_chart(predicted_true_figure(curves), key="lb_predicted_true")
        st.caption(
            "Each grey point is one row's out-of-fold prediction; the blue line is the mean true value of the rows "
            "in each bin of predictions, with their spread (one standard deviation). On the dotted line, "
            "predictions equal the truth."
        )
    with tabs[2]:
        st.plotly_chart(residuals_figure(curves), key="lb_residuals")
elif curves:
    with tabs[1]:
        st.plotly_chart(class_roc_figure(curves), key="lb_roc")
    with tabs[2]:
        st.plotly_chart(pr_figure({labels[model_id]: curves}), key="lb_pr")
    with tabs[3]:
        left, right = st.columns(2)
        normalized = left.toggle(
            "Share of each true class", value=True, key="lb_confusion_normalized", help="off: row counts"
        )
        classes = len(curves.get("classes", []))
        top = classes
        if classes > 16:
            top = right.number_input(
                "Classes shown (the others as one)", value=15, min_value=2, max_value=classes, key="lb_confusion_top"
            )
        st.plotly_chart(class_confusion_figure(curves, normalized=normalized, top=int(top)), key="lb_confusion")
    with tabs[4]:
        st.plotly_chart(calibration_figure({labels[model_id]: curves}), key="lb_calibration")
with tabs[-2]:
    if details.get("feature_importance"):
        st.plotly_chart(importance_figure(details["feature_importance"]), key="lb_importance")
    else:
        st.info("No feature importance for this model.")
with tabs[-1]:
    default_name = f"{parent.params.get('dataset', 'model')}-model"
    name = st.text_input("Model name", value=default_name, key="lb_register_name")
    description = st.text_input(
        "Description", value=f"{labels[model_id]} from {run_id}", key=f"lb_register_description_{model_id}"
    )
    if st.button("Register model", type="primary", key="lb_register", icon=":material/inventory_2:"):
        with user_errors(), st.spinner("Registering (refitting on all data if needed)…"):
            known = registered_versions(backend, name)
            model = backend.register_model(name=name, run_id=model_id, description=description)
            if model.version in known:
                st.info(f"This model is identical to **{model.id}**: nothing new registered.")
            else:
                value = model.metrics.get(metric)
                shown = "" if value is None else f", {metric} {value:.4f}"
                st.success(f"Registered **{model.id}** ({model.algorithm}{shown}).")

st.subheader("Compare models")
default_compare = choices[: min(3, len(choices))]
compare = st.multiselect("Models", choices, default=default_compare, format_func=labels.get, key="lb_compare")
if len(compare) >= 2:
    side_by_side = completed.set_index("run_id").loc[compare, list(ALL_METRICS)].T
    side_by_side.columns = [labels[c] for c in compare]
    st.dataframe(side_by_side, key="lb_compare_table", placeholder=MISSING_CELL)
    reference = side_by_side.columns[0]
    deltas = side_by_side.drop(columns=reference).sub(side_by_side[reference], axis=0)
    long = deltas.reset_index(names="metric").melt(id_vars="metric", var_name="model", value_name="difference")
    lower = [m for m in ALL_METRICS if m in LOWER_IS_BETTER]
    lower_words = f"{', '.join(lower)}: lower is better; every other metric: higher" if lower else "higher is better"
    bars = px.bar(long, x="metric", y="difference", color="model", barmode="group")
    bars.update_layout(
        title=f"Difference to {reference} ({lower_words})",
        yaxis={"tickformat": ".4f", "zeroline": True},
    )
    st.plotly_chart(bars, key="lb_compare_bars")
    compared_curves = {labels[c]: (backend.get_run_output(c, "details.json") or {}).get("curves", {}) for c in compare}
    if regression:
        st.plotly_chart(binned_compare_figure(compared_curves), key="lb_compare_binned")
    else:
        st.plotly_chart(roc_figure(compared_curves), key="lb_compare_roc")
