"""Plotly figures for model evaluation, built from the ``curves`` a run stores."""

from __future__ import annotations

import itertools

import pandas as pd
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
        title="Confusion matrix (out-of-fold)",
        xaxis_title="Predicted",
        yaxis_title="Actual",
        yaxis={"autorange": "reversed"},
        **LAYOUT,
    )


def importance_figure(importance: dict[str, float], top: int = 20) -> go.Figure:
    """The ``top`` features, most important at the top, every bar labelled (plotly would skip labels of a
    crowded axis: the height grows with the bars instead)."""
    items = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:top][::-1]
    names = [name for name, _ in items]
    figure = go.Figure(go.Bar(x=[v for _, v in items], y=names, orientation="h"))
    return figure.update_layout(
        title="Global feature importance",
        xaxis_title="share of importance",
        yaxis={"tickmode": "array", "tickvals": names, "ticktext": names, "automargin": True},
        **{**LAYOUT, "height": 120 + 24 * len(items)},
    )


# Telemetry windows the Endpoints page offers: (seconds looked back, seconds per bucket), ~60-360 buckets each.
TELEMETRY_WINDOWS = {
    "Last hour": (3_600, 60),
    "Last 24 hours": (86_400, 300),
    "Last 7 days": (7 * 86_400, 1_800),
    "Last 30 days": (30 * 86_400, 7_200),
}


def bucket_label(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"


def summary_frame(summary) -> pd.DataFrame:
    """A ``TelemetrySummary``'s buckets as a frame (``time`` in UTC, kept naive: plotly and Streamlit drop zones)."""
    frame = pd.DataFrame(summary.buckets)
    if frame.empty:
        return frame
    frame["time"] = pd.to_datetime(frame["at"], unit="s")
    frame["failure_rate"] = 100 * frame["failed"] / frame["requests"]
    return frame


def recent_frame(events: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(events)
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["at"], unit="s")
        frame["predictions"] = [", ".join(f"{k}: {v}" for k, v in counts.items()) for counts in frame["predictions"]]
        frame["error"] = frame["error"].fillna("")
        frame["client"] = frame["client"].fillna("")
    return frame


def over_window(figure: go.Figure, since: float, until: float) -> go.Figure:
    """The x axis spans the chosen window (a lone bucket would otherwise get an axis of milliseconds)."""
    # Whole seconds: plotly warns that it discards the nanoseconds of time.time()'s fractions.
    return figure.update_xaxes(range=[pd.to_datetime(round(since), unit="s"), pd.to_datetime(round(until), unit="s")])


def requests_figure(frame, bucket_seconds: int) -> go.Figure:
    figure = go.Figure()
    width = bucket_seconds * 1000 * 0.9  # bars one bucket wide: plotly would size a lone bar to the whole axis
    figure.add_bar(x=frame["time"], y=frame["requests"] - frame["failed"], name="succeeded", width=width, offset=0)
    figure.add_bar(x=frame["time"], y=frame["failed"], name="failed", width=width, offset=0)
    return figure.update_layout(title=f"Requests per {bucket_label(bucket_seconds)}", barmode="stack", **LAYOUT)


def latency_figure(frame) -> go.Figure:
    figure = go.Figure()
    for quantile in ("p50", "p95", "p99"):
        figure.add_scatter(x=frame["time"], y=frame[quantile], mode="lines+markers", name=quantile)
    return figure.update_layout(title="Latency (ms)", **LAYOUT)


def failure_rate_figure(frame) -> go.Figure:
    figure = go.Figure(go.Scatter(x=frame["time"], y=frame["failure_rate"], mode="lines+markers", name="failure %"))
    return figure.update_layout(title="Failure rate (%)", yaxis={"range": [0, 100]}, **LAYOUT)


def prediction_drift_figure(frame, training_balance: dict[str, float]) -> go.Figure:
    """Share of each predicted class per bucket, with the training label balance as dashed lines."""
    labels = sorted({label for counts in frame["predictions"] for label in counts} | set(training_balance))
    figure = go.Figure()
    for label in labels:
        points = [
            (time, counts.get(label, 0) / (sum(counts.values()) or 1))
            for time, counts in zip(frame["time"], frame["predictions"], strict=True)
            if counts
        ]
        figure.add_scatter(
            x=[time for time, _ in points],
            y=[share for _, share in points],
            mode="lines+markers",
            name=f"predicted {label}",
        )
        if label in training_balance:
            figure.add_hline(y=training_balance[label], line_dash="dash", annotation_text=f"training {label}")
    return figure.update_layout(
        title="Prediction distribution vs training label balance", yaxis={"range": [0, 1]}, **LAYOUT
    )


STATUS_COLORS = {
    "Completed": "#2e7d32",
    "Failed": "#c62828",
    "Running": "#1565c0",
    "Finalizing": "#1565c0",
    "Preparing": "#f9a825",
    "Queued": "#9e9e9e",
    "NotStarted": "#bdbdbd",
    "Skipped": "#e0e0e0",
    "Canceled": "#616161",
    "CancelRequested": "#ef6c00",
}


def pipeline_graph(steps: list[tuple[str, str, str]]) -> go.Figure:
    """Steps as boxes left to right, coloured by status: (name, type, status) each."""
    figure = go.Figure()
    for index, (name, kind, status) in enumerate(steps):
        if index:
            figure.add_annotation(
                x=index - 0.18,
                y=0,
                ax=index - 1 + 0.18,
                ay=0,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=2,
                arrowwidth=2,
            )
        figure.add_scatter(
            x=[index],
            y=[0],
            mode="markers+text",
            marker={"size": 60, "symbol": "square", "color": STATUS_COLORS.get(status, "#bdbdbd")},
            text=[f"{name}<br>{status}"],
            textposition="bottom center",
            name=f"{name} ({kind})",
            hovertext=f"{name}: {kind}, {status}",
            showlegend=False,
        )
    figure.update_xaxes(visible=False, range=[-0.6, max(len(steps) - 0.4, 0.6)])
    figure.update_yaxes(visible=False, range=[-1.2, 0.6])
    return figure.update_layout(height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10})


def explanation_waterfall(explanation: dict, record: dict, top: int = 10) -> go.Figure:
    """One record's explanation (the endpoint's explain answer): from the base value, each column's
    contribution to P(positive class), the ``top`` largest by size and the rest as one bar, to the
    record's probability."""
    contributions = sorted(explanation["contributions"].items(), key=lambda item: -abs(item[1]))
    shown, rest = contributions[:top], contributions[top:]
    labels = [f"{column} = {record.get(column)}" for column, _ in shown]
    values = [value for _, value in shown]
    if rest:
        labels.append(f"{len(rest)} other columns")
        values.append(sum(value for _, value in rest))
    positive = explanation["positive_class"]
    probability = explanation["probabilities"][positive]
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(values), "total"],
            y=["base value", *labels, f"P({positive}) of this record"],
            x=[explanation["base_value"], *values, probability],
            text=[f"{explanation['base_value']:.3f}", *[f"{v:+.3f}" for v in values], f"{probability:.3f}"],
            textposition="outside",
            increasing={"marker": {"color": "#d62728"}},
            decreasing={"marker": {"color": "#1f77b4"}},
            totals={"marker": {"color": "#7f7f7f"}},
        )
    )
    figure.update_layout(
        title=f"Why P({positive}) = {probability:.3f}",
        yaxis={"autorange": "reversed"},
        xaxis_title=f"P({positive})",
        height=140 + 28 * (len(values) + 2),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
    )
    return figure


VERDICT_COLORS = {"stable": "#2e7d32", "moderate": "#f9a825", "drift": "#c62828"}


def drift_histogram_figure(drift) -> go.Figure:
    """One feature's (a ``FeatureDrift``'s) training share vs recent share per bin or category, grouped bars."""
    bars = drift.histogram()
    buckets = [bar["bucket"] for bar in bars]
    figure = go.Figure()
    figure.add_bar(x=buckets, y=[bar["training"] for bar in bars], name="training", marker_color="#9e9e9e")
    figure.add_bar(x=buckets, y=[bar["recent"] for bar in bars], name="recent", marker_color="#1565c0")
    psi = "" if drift.psi is None else f": PSI {drift.psi:.3f}, {drift.verdict}"
    return figure.update_layout(
        title=f"{drift.name}, training vs recent{psi}",
        barmode="group",
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        xaxis={"type": "category", "title": "bin" if drift.kind == "numeric" else "category"},
        **LAYOUT,
    )


def drift_over_time_figure(over_time, features: list[str], prediction: str | None = None) -> go.Figure:
    """PSI per time bucket (a ``DriftOverTime``) of ``features`` and, named ``prediction``, of the predicted
    labels; the verdicts' limits (0.1 moderate, 0.25 drift) as dotted lines. Buckets without rows are gaps."""
    from opml.monitoring.drift import DRIFT_FROM, STABLE_BELOW

    times = pd.to_datetime(list(over_time.starts), unit="s")
    figure = go.Figure()
    for feature in features:
        figure.add_scatter(x=times, y=list(over_time.psi[feature]), mode="lines+markers", name=feature)
    if prediction and over_time.prediction_psi:
        figure.add_scatter(
            x=times,
            y=list(over_time.prediction_psi),
            mode="lines+markers",
            name=prediction,
            line={"dash": "dash", "color": "black"},
        )
    figure.add_hline(y=STABLE_BELOW, line_dash="dot", line_color=VERDICT_COLORS["moderate"])
    figure.add_hline(y=DRIFT_FROM, line_dash="dot", line_color=VERDICT_COLORS["drift"])
    return figure.update_layout(
        title=f"PSI per {over_time.bucket} (dotted: moderate from 0.1, drift from 0.25)",
        yaxis={"title": "PSI", "rangemode": "tozero"},
        **LAYOUT,
    )


def live_accuracy_figure(accuracy) -> go.Figure:
    """Live accuracy and AUC per bucket of request time (a ``LiveAccuracy``), with the model's cross-validated
    accuracy and AUC_weighted as dashed lines."""
    times = pd.to_datetime([bucket["at"] for bucket in accuracy.buckets], unit="s")
    figure = go.Figure()
    figure.add_scatter(
        x=times,
        y=[bucket["accuracy"] for bucket in accuracy.buckets],
        mode="lines+markers",
        name="live accuracy",
        line={"color": "#1565c0"},
        customdata=[bucket["labelled"] for bucket in accuracy.buckets],
        hovertemplate="%{y:.3f} over %{customdata} labelled",
    )
    if any(bucket["auc"] is not None for bucket in accuracy.buckets):
        figure.add_scatter(
            x=times,
            y=[bucket["auc"] for bucket in accuracy.buckets],
            mode="lines+markers",
            name="live AUC",
            line={"color": "#ef6c00"},
        )
    if accuracy.cv_accuracy is not None:
        figure.add_hline(
            y=accuracy.cv_accuracy,
            line_dash="dash",
            line_color="#1565c0",
            annotation_text=f"cross-validated accuracy {accuracy.cv_accuracy:.3f}",
        )
    if accuracy.cv_auc_weighted is not None:
        figure.add_hline(
            y=accuracy.cv_auc_weighted,
            line_dash="dash",
            line_color="#ef6c00",
            annotation_text=f"cross-validated AUC {accuracy.cv_auc_weighted:.3f}",
            annotation_position="bottom right",
        )
    return figure.update_layout(
        title=f"Live accuracy per {bucket_label(accuracy.bucket_seconds)}", yaxis={"range": [0, 1.02]}, **LAYOUT
    )


def deployment_latency_figure(comparison) -> go.Figure:
    """p50/p95/p99 latency of each deployment's live answers (an ``EndpointComparison``) as grouped bars; a
    shadow's bar is its mirrored answers' p50."""
    figure = go.Figure()
    names = [s.name for s in comparison.deployments]
    for label, figures in (
        ("p50", [s.p50 if s.requests else s.mirror_p50 for s in comparison.deployments]),
        ("p95", [s.p95 for s in comparison.deployments]),
        ("p99", [s.p99 for s in comparison.deployments]),
    ):
        figure.add_bar(x=names, y=figures, name=label, hovertemplate="%{x}: %{y:.2f} ms")
    return figure.update_layout(
        title="Latency per deployment", barmode="group", xaxis_title="deployment", yaxis_title="ms", **LAYOUT
    )


def deployment_class_mix_figure(comparison) -> go.Figure:
    """The share of each predicted class per deployment (live answers; mirrored ones for a shadow) as stacked
    bars, with the record counts on hover."""
    classes = sorted({label for s in comparison.deployments for label in s.predictions})
    names = [s.name for s in comparison.deployments]
    totals = [sum(s.predictions.values()) for s in comparison.deployments]
    figure = go.Figure()
    for label in classes:
        counts = [s.predictions.get(label, 0) for s in comparison.deployments]
        figure.add_bar(
            x=names,
            y=[count / total if total else None for count, total in zip(counts, totals, strict=True)],
            name=label,
            customdata=counts,
            hovertemplate=f"{label}: %{{y:.1%}} (%{{customdata}} records)",
        )
    return figure.update_layout(
        title="Predicted class mix per deployment",
        barmode="stack",
        showlegend=True,  # the class names, even when every answer was one class
        xaxis_title="deployment",
        yaxis={"title": "share of records", "tickformat": ".0%", "range": [0, 1]},
        **LAYOUT,
    )


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
