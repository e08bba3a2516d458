"""Plotly figures for model evaluation, built from the ``curves`` a run stores."""

from __future__ import annotations

import plotly.graph_objects as go

LAYOUT = {"height": 380, "margin": {"l": 40, "r": 20, "t": 40, "b": 40}}


def roc_figure(curves_by_model: dict[str, dict]) -> go.Figure:
    figure = go.Figure()
    for model, curves in curves_by_model.items():
        for label, roc in curves.get("roc", {}).items():
            figure.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"{model} ({label})")
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance")
    return figure.update_layout(
        title="ROC curve", xaxis_title="False positive rate", yaxis_title="True positive rate", **LAYOUT
    )


def pr_figure(curves_by_model: dict[str, dict]) -> go.Figure:
    figure = go.Figure()
    for model, curves in curves_by_model.items():
        for label, pr in curves.get("pr", {}).items():
            figure.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=f"{model} ({label})")
    return figure.update_layout(title="Precision-recall curve", xaxis_title="Recall", yaxis_title="Precision", **LAYOUT)


def calibration_figure(curves_by_model: dict[str, dict]) -> go.Figure:
    figure = go.Figure()
    for model, curves in curves_by_model.items():
        for label, calibration in curves.get("calibration", {}).items():
            figure.add_scatter(
                x=calibration["predicted"], y=calibration["observed"], mode="lines+markers", name=f"{model} ({label})"
            )
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect")
    return figure.update_layout(
        title="Calibration", xaxis_title="Mean predicted probability", yaxis_title="Observed frequency", **LAYOUT
    )


def confusion_figure(curves: dict) -> go.Figure:
    classes = curves["classes"]
    matrix = curves["confusion_matrix"]
    figure = go.Figure(
        go.Heatmap(z=matrix, x=classes, y=classes, text=matrix, texttemplate="%{text}", colorscale="Blues")
    )
    return figure.update_layout(
        title="Confusion matrix (out-of-fold)", xaxis_title="Predicted", yaxis_title="Actual",
        yaxis={"autorange": "reversed"}, **LAYOUT,
    )  # fmt: skip


def importance_figure(importance: dict[str, float], top: int = 20) -> go.Figure:
    items = list(importance.items())[:top][::-1]
    figure = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h"))
    return figure.update_layout(title="Global feature importance", xaxis_title="share of importance", **LAYOUT)
