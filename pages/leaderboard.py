"""Leaderboard: every model an AutoML run tried, its metrics and charts; compare; register."""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from opml.automl.names import ALL_METRICS
from opml.leaderboard import leaderboard
from opml.ui import get_backend, user_errors
from opml.ui.charts import calibration_figure, confusion_figure, importance_figure, pr_figure, roc_figure

BEST_RULE = (
    "For threshold metrics such as accuracy, differences of a few rows out of fold are noise: among the "
    "models within one standard error of the top value, the best is the one with the best log-loss."
)

st.title("Leaderboard")
backend = get_backend()
runs = [r for r in backend.list_runs(top_level_only=True, limit=500) if r.run_type == "automl"]
if not runs:
    st.info("No AutoML runs yet: launch one on the AutoML page.")
    st.stop()

run_ids = [r.id for r in runs]
if st.session_state.get("lb_run") not in run_ids:
    st.session_state["lb_run"] = run_ids[0]
run_id = st.selectbox("AutoML run", run_ids, key="lb_run")
parent = backend.get_run(run_id)
metric = parent.params.get("primary_metric", "accuracy")
rows = leaderboard(backend, run_id)
st.caption(
    f"{parent.status} · dataset {parent.params.get('dataset')}:{parent.params.get('dataset_version')} · "
    f"label `{parent.params.get('label_column')}` · primary metric **{metric}** · {len(rows)} models"
)
if not rows:
    st.info("No child runs yet.")
    st.stop()
if parent.progress.get("best_reason"):
    st.caption(f"Best model: {parent.progress['best_reason']}.", help=BEST_RULE)

board = pd.DataFrame(rows)
board.insert(0, "rank", range(1, len(board) + 1))
algorithms = sorted(board["algorithm"].unique())
chosen_algorithms = st.multiselect("Algorithms", algorithms, default=algorithms, key="lb_algorithms")
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

tabs = st.tabs(
    ["Metrics", "ROC", "Precision-recall", "Confusion matrix", "Calibration", "Feature importance", "Register"]
)
with tabs[0]:
    st.dataframe(
        pd.DataFrame({"metric": ALL_METRICS, "value": [row[m] for m in ALL_METRICS]}), hide_index=True, key="lb_metrics"
    )
    st.json(row["hyperparameters"] if isinstance(row["hyperparameters"], dict) else {}, expanded=False)
    threshold = details.get("spec", {}).get("threshold")
    if threshold is not None:
        st.caption(f"Decision threshold chosen on out-of-fold predictions: {threshold:.3f}")
if curves:
    with tabs[1]:
        st.plotly_chart(roc_figure({labels[model_id]: curves}), key="lb_roc")
    with tabs[2]:
        st.plotly_chart(pr_figure({labels[model_id]: curves}), key="lb_pr")
    with tabs[3]:
        st.plotly_chart(confusion_figure(curves), key="lb_confusion")
    with tabs[4]:
        st.plotly_chart(calibration_figure({labels[model_id]: curves}), key="lb_calibration")
with tabs[5]:
    if details.get("feature_importance"):
        st.plotly_chart(importance_figure(details["feature_importance"]), key="lb_importance")
    else:
        st.info("No feature importance for this model.")
with tabs[6]:
    default_name = f"{parent.params.get('dataset', 'model')}-model"
    name = st.text_input("Model name", value=default_name, key="lb_register_name")
    description = st.text_input("Description", value=f"{labels[model_id]} from {run_id}", key="lb_register_description")
    if st.button("Register model", type="primary", key="lb_register", icon=":material/inventory_2:"):
        with user_errors(), st.spinner("Registering (refitting on all data if needed)…"):
            model = backend.register_model(name=name, run_id=model_id, description=description)
            st.success(f"Registered **{model.id}** ({model.algorithm}, {metric} {model.metrics.get(metric, 0):.4f}).")

st.subheader("Compare models")
default_compare = choices[: min(3, len(choices))]
compare = st.multiselect("Models", choices, default=default_compare, format_func=labels.get, key="lb_compare")
if len(compare) >= 2:
    side_by_side = completed.set_index("run_id").loc[compare, list(ALL_METRICS)].T
    side_by_side.columns = [labels[c] for c in compare]
    st.dataframe(side_by_side, key="lb_compare_table")
    long = side_by_side.reset_index(names="metric").melt(id_vars="metric", var_name="model")
    bars = px.bar(long[long["metric"] != "log_loss"], x="metric", y="value", color="model", barmode="group")
    st.plotly_chart(bars, key="lb_compare_bars")
    compared_curves = {labels[c]: (backend.get_run_output(c, "details.json") or {}).get("curves", {}) for c in compare}
    st.plotly_chart(roc_figure(compared_curves), key="lb_compare_roc")
