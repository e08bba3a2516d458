"""Plotly figures of a model's evaluation per AutoML task, from the ``curves`` of its ``details.json``: one ROC
curve per class and a confusion matrix that stays readable with many classes (classification); predicted vs
true and the residuals (regression); binned predictions of models side by side."""

from __future__ import annotations

import itertools

import plotly.graph_objects as go

from opml.ui.charts import LAYOUT


def _auc(fpr: list[float], tpr: list[float]) -> float:
    import numpy as np

    x, y = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def class_roc_figure(curves: dict) -> go.Figure:
    """One model's ROC curve per class (one-vs-rest for multiclass), each class's AUC in the legend."""
    figure = go.Figure()
    for label, roc in curves.get("roc", {}).items():
        figure.add_scatter(
            x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"{label} (AUC {_auc(roc['fpr'], roc['tpr']):.3f})"
        )
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance")
    one_vs_rest = " (one-vs-rest per class)" if len(curves.get("roc", {})) > 2 else ""
    return figure.update_layout(
        title=f"ROC curve{one_vs_rest}",
        xaxis_title="False positive rate",
        yaxis_title="True positive rate",
        **{**LAYOUT, "height": 420},
    )


OTHER = "other"  # the classes folded together when a confusion matrix has too many to read


def folded_confusion(classes: list[str], matrix: list[list[int]], top: int = 15) -> tuple[list[str], list[list[int]]]:
    """The matrix (rows: true class, columns: predicted) with the ``top`` most frequent true classes kept and
    the others summed into one ``other`` row and column (unchanged when there are at most ``top + 1``)."""
    import numpy as np

    counts = np.asarray(matrix, dtype=int)
    if len(classes) <= top + 1:
        return [str(c) for c in classes], counts.tolist()
    kept = sorted(np.argsort(-counts.sum(axis=1), kind="stable")[:top])
    rest = [i for i in range(len(classes)) if i not in set(kept)]
    groups = [[i] for i in kept] + [rest]
    folded = np.array([[counts[np.ix_(rows, cols)].sum() for cols in groups] for rows in groups])
    return [str(classes[i]) for i in kept] + [f"{OTHER} ({len(rest)} classes)"], folded.tolist()


def class_confusion_figure(curves: dict, *, normalized: bool = True, top: int = 15) -> go.Figure:
    """The out-of-fold confusion matrix, readable with many classes: shares of each true class (``normalized``)
    or counts, the counts and shares on hover, the ``top`` most frequent classes and the rest as "other", and
    the axes' labels angled on a plot that grows with the classes."""
    import numpy as np

    classes, matrix = folded_confusion(curves["classes"], curves["confusion_matrix"], top)
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    z = shares if normalized else counts
    text = [[f"{v:.0%}" if normalized else f"{int(v):,}" for v in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z.tolist(),
            x=classes,
            y=classes,
            text=text,
            texttemplate="%{text}",
            customdata=np.dstack([counts, shares]).tolist(),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[0]:,.0f} rows "
            "(%{customdata[1]:.1%} of the true class)<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalized else None,
        )
    )
    size = max(380, 140 + 34 * len(classes))
    return figure.update_layout(
        title="Confusion matrix (out-of-fold" + (", share of each true class)" if normalized else ", rows)"),
        xaxis={"title": "Predicted", "type": "category", "tickangle": -45, "automargin": True},
        yaxis={"title": "True", "type": "category", "autorange": "reversed", "automargin": True},
        height=size,
        margin={"l": 40, "r": 20, "t": 40, "b": 40},
    )


def predicted_true_figure(curves: dict) -> go.Figure:
    """Regression: the sampled out-of-fold points (predicted, true), the mean true value per bin of predictions
    with its spread (one standard deviation), and the y = x line of perfect predictions."""
    points, binned = curves.get("predicted_vs_true", {}), curves.get("binned", {})
    figure = go.Figure()
    figure.add_scatter(
        x=points.get("predicted", []),
        y=points.get("true", []),
        mode="markers",
        marker={"size": 4, "opacity": 0.35, "color": "#90a4ae"},
        name=f"rows ({len(points.get('true', [])):,} sampled)",
        hovertemplate="predicted %{x:.4g}<br>true %{y:.4g}<extra></extra>",
    )
    figure.add_scatter(
        x=binned.get("predicted_mean", []),
        y=binned.get("true_mean", []),
        error_y={"type": "data", "array": binned.get("true_std", []), "visible": True},
        customdata=binned.get("count", []),
        mode="lines+markers",
        line={"color": "#1565c0"},
        name="mean true value per bin (± 1 std)",
        hovertemplate="predicted %{x:.4g}<br>mean true %{y:.4g}<br>%{customdata:,} rows<extra></extra>",
    )
    values = [*points.get("predicted", []), *points.get("true", []), *binned.get("predicted_mean", [])]
    if values:
        low, high = min(values), max(values)
        figure.add_scatter(
            x=[low, high], y=[low, high], mode="lines", line={"dash": "dot", "color": "grey"}, name="y = x"
        )
    return figure.update_layout(
        title="Predicted vs true (out-of-fold)",
        xaxis_title="Predicted value",
        yaxis_title="True value",
        **{**LAYOUT, "height": 440},
    )


def residuals_figure(curves: dict) -> go.Figure:
    """Regression: the histogram of the out-of-fold residuals (true − predicted) a run stored, 0 marked."""
    residuals = curves.get("residuals", {})
    edges, counts = residuals.get("edges", []), residuals.get("counts", [])
    bins = list(itertools.pairwise(edges))
    centers = [(a + b) / 2 for a, b in bins]
    widths = [b - a for a, b in bins]
    figure = go.Figure(
        go.Bar(
            x=centers,
            y=counts,
            width=widths,
            marker_color="#1565c0",
            customdata=bins,
            hovertemplate="%{customdata[0]:.4g} to %{customdata[1]:.4g}: %{y:,} rows<extra></extra>",
            name="residuals",
        )
    )
    figure.add_vline(x=0, line_dash="dot", line_color="grey")
    return figure.update_layout(
        title="Residuals (true − predicted, out-of-fold)",
        xaxis_title="Residual",
        yaxis_title="Rows",
        bargap=0.02,
        **LAYOUT,
    )


def binned_compare_figure(curves_by_model: dict[str, dict]) -> go.Figure:
    """Regression models side by side: each one's mean true value per bin of its predictions, with y = x."""
    figure = go.Figure()
    values = []
    for model, curves in curves_by_model.items():
        binned = curves.get("binned", {})
        values += [*binned.get("predicted_mean", []), *binned.get("true_mean", [])]
        figure.add_scatter(
            x=binned.get("predicted_mean", []), y=binned.get("true_mean", []), mode="lines+markers", name=model
        )
    if values:
        low, high = min(values), max(values)
        figure.add_scatter(
            x=[low, high], y=[low, high], mode="lines", line={"dash": "dot", "color": "grey"}, name="y = x"
        )
    return figure.update_layout(
        title="Mean true value per bin of predictions",
        xaxis_title="Predicted value",
        yaxis_title="Mean true value",
        **LAYOUT,
    )
