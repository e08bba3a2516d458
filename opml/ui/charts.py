"""Plotly figures for model evaluation, built from the ``curves`` a run stores."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from opml.reasons import amount_text, is_regression_explanation

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


def predictions_text(predictions, shown: int = 5) -> str:
    """A request's predictions in a table cell: "yes: 3, no: 7" (a classifier's counts) or "12.5, 13.1, … (40
    values)" (a regression model's numbers, the first ``shown``)."""
    if isinstance(predictions, dict):
        return ", ".join(f"{k}: {v}" for k, v in predictions.items())
    if isinstance(predictions, list):
        text = ", ".join(
            f"{value:.6g}" if isinstance(value, (int, float)) else str(value) for value in predictions[:shown]
        )
        return text if len(predictions) <= shown else f"{text}, … ({len(predictions):,} values)"
    return "" if predictions is None else str(predictions)


def recent_frame(events: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(events)
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["at"], unit="s")
        frame["predictions"] = [predictions_text(predictions) for predictions in frame["predictions"]]
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


MAX_CLASSES_SHOWN = 8  # classes drawn one by one in a class mix; the others are summed as "other"
OTHER_CLASSES = "other"
CLASS_COLORS = (
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
    "#9e9e9e",  # "other"
)


def top_classes(totals: dict[str, float], limit: int = MAX_CLASSES_SHOWN) -> tuple[list[str], list[str]]:
    """(the classes drawn one by one, the rest summed as "other"): all of them up to ``limit + 1``, else the
    ``limit`` largest by ``totals`` (ties by name) and the rest, so a mix of 10+ classes stays readable."""
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    if len(ranked) <= limit + 1:
        return sorted(ranked), []
    return ranked[:limit], ranked[limit:]


def grouped_counts(counts: dict[str, float], rest: list[str]) -> dict[str, float]:
    """``counts`` with the classes of ``rest`` summed under ``OTHER_CLASSES``."""
    if not rest:
        return dict(counts)
    grouped = {label: value for label, value in counts.items() if label not in rest}
    grouped[OTHER_CLASSES] = grouped.get(OTHER_CLASSES, 0) + sum(counts.get(label, 0) for label in rest)
    return grouped


def prediction_drift_figure(frame, training_balance: dict[str, float]) -> go.Figure:
    """Share of each predicted class per bucket (solid), with the training label balance in the same colour
    (dashed, in the legend group of its class: clicking a class shows or hides both). With more than
    ``MAX_CLASSES_SHOWN + 1`` classes the most predicted ones are drawn and the rest summed as "other"."""
    totals: dict[str, float] = dict.fromkeys(training_balance, 0.0)
    for counts in frame["predictions"]:
        for label, count in counts.items():
            totals[label] = totals.get(label, 0) + count
    shown, rest = top_classes(totals)
    balance = grouped_counts(training_balance, rest)
    figure = go.Figure()
    times = list(frame["time"])
    for index, label in enumerate([*shown, *([OTHER_CLASSES] if rest else [])]):
        color = CLASS_COLORS[-1] if label == OTHER_CLASSES and rest else CLASS_COLORS[index % (len(CLASS_COLORS) - 1)]
        name = f"other ({len(rest)} classes)" if label == OTHER_CLASSES and rest else label
        points = [
            (time, grouped_counts(counts, rest).get(label, 0) / (sum(counts.values()) or 1))
            for time, counts in zip(times, frame["predictions"], strict=True)
            if counts
        ]
        figure.add_scatter(
            x=[time for time, _ in points],
            y=[share for _, share in points],
            mode="lines+markers",
            name=f"predicted {name}",
            legendgroup=label,
            line={"color": color},
            hovertemplate=f"{name}: %{{y:.1%}}",
        )
        if label in balance and times:
            figure.add_scatter(
                x=[min(times), max(times)],
                y=[balance[label]] * 2,
                mode="lines",
                name=f"training {name}",
                legendgroup=label,
                showlegend=False,
                line={"color": color, "dash": "dash"},
                hovertemplate=f"training {name}: %{{y:.1%}}",
            )
    return figure.update_layout(
        title="Predicted class mix vs training label balance (dashed)",
        yaxis={"range": [0, 1], "tickformat": ".0%", "title": "share of records"},
        **LAYOUT,
    )


HISTOGRAM_BINS = 30


def regression_baseline(manifest: dict) -> tuple[dict | None, str]:
    """What a regression model's live predictions are drawn beside: the manifest's ``prediction_summary`` (the
    out-of-fold predictions) or else its ``label_summary`` (the training labels), and its name in a legend."""
    for key, name in (("prediction_summary", "out-of-fold predictions"), ("label_summary", "training labels")):
        if (manifest.get(key) or {}).get("quantiles"):
            return manifest[key], name
    return None, ""


def _cdf(quantiles: dict) -> tuple[list[float], list[float]]:
    """(values, probabilities) of a manifest's quantiles ``{"0.01": v, ...}``, for a piecewise-linear CDF."""
    points = sorted((float(q), float(v)) for q, v in quantiles.items())
    return [v for _, v in points], [q for q, _ in points]


def training_shares(quantiles: dict, edges) -> list[float]:
    """The share of the training values in each bin of ``edges``, from their quantiles (the CDF between two
    quantiles taken as linear; 0 below the smallest, 1 above the largest)."""
    import numpy as np

    values, probabilities = _cdf(quantiles)
    cdf = np.interp(edges, values, probabilities, left=0.0, right=1.0)
    return [float(share) for share in np.diff(cdf)]


def prediction_histogram_figure(values: list[float], summary: dict | None, source: str = "") -> go.Figure:
    """A regression service's predicted values of the window (``TelemetrySummary.predicted_values``) as the
    share in each of ``HISTOGRAM_BINS`` equal bins, beside the share the training values of ``summary`` (a
    manifest's ``prediction_summary`` or ``label_summary``: their quantiles) put in the same bins; ``source``
    names them. The bins span the live values and the training 1st to 99th percentiles."""
    import numpy as np

    live = np.asarray(values, dtype=np.float64)
    live = live[np.isfinite(live)]
    quantiles = (summary or {}).get("quantiles") or {}
    low = [float(live.min())] if len(live) else []
    high = [float(live.max())] if len(live) else []
    if quantiles:
        low.append(float(quantiles.get("0.01", min(quantiles.values()))))
        high.append(float(quantiles.get("0.99", max(quantiles.values()))))
    figure = go.Figure()
    if low:
        start, stop = min(low), max(high)
        edges = np.linspace(start, stop if stop > start else start + 1.0, HISTOGRAM_BINS + 1)
        middles = ((edges[:-1] + edges[1:]) / 2).tolist()  # lists: plotly would send arrays as binary
        width = float(edges[1] - edges[0])
        if quantiles:
            figure.add_bar(
                x=middles,
                y=training_shares(quantiles, edges),
                width=width,
                name=source or "training",
                marker_color="#9e9e9e",
                opacity=0.6,
                hovertemplate="%{x:.4g}: %{y:.1%}",
            )
        if len(live):
            counts, _ = np.histogram(live, bins=edges)
            figure.add_bar(
                x=middles,
                y=(counts / len(live)).tolist(),
                width=width,
                name=f"live ({len(live):,} predictions)",
                marker_color="#1565c0",
                opacity=0.6,
                customdata=counts.tolist(),
                hovertemplate="%{x:.4g}: %{y:.1%} (%{customdata} predictions)",
            )
    return figure.update_layout(
        title="Predicted values: live vs training" if quantiles else "Predicted values (live)",
        barmode="overlay",
        xaxis_title="predicted value",
        yaxis={"title": "share of predictions", "tickformat": ".0%"},
        **LAYOUT,
    )


def predicted_values_figure(frame, summary: dict | None) -> go.Figure:
    """A regression service's mean predicted value per bucket (its bucket's smallest and largest as the band),
    with the median of the training values of ``summary`` (their quantiles) dashed and their 10th to 90th
    percentiles shaded."""
    points = [
        (time, values)
        for time, values in zip(frame["time"], frame["values"], strict=True)
        if values and values["mean"] is not None
    ]
    times = [time for time, _ in points]
    figure = go.Figure()
    figure.add_scatter(
        x=times,
        y=[v["max"] for _, v in points],
        mode="lines",
        line={"width": 0},
        showlegend=False,
        name="largest",
        hovertemplate="largest %{y:.4g}",
    )
    figure.add_scatter(
        x=times,
        y=[v["min"] for _, v in points],
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(21,101,192,0.15)",
        name="smallest to largest",
        hovertemplate="smallest %{y:.4g}",
    )
    figure.add_scatter(
        x=times,
        y=[v["mean"] for _, v in points],
        mode="lines+markers",
        name="mean predicted",
        line={"color": "#1565c0"},
        customdata=[v["count"] for _, v in points],
        hovertemplate="mean %{y:.4g} of %{customdata} predictions",
    )
    quantiles = (summary or {}).get("quantiles") or {}
    if "0.5" in quantiles:
        figure.add_hline(
            y=float(quantiles["0.5"]),
            line_dash="dash",
            line_color="#616161",
            annotation_text=f"training median {float(quantiles['0.5']):.4g}",
        )
    if "0.1" in quantiles and "0.9" in quantiles:
        figure.add_hrect(
            y0=float(quantiles["0.1"]), y1=float(quantiles["0.9"]), fillcolor="#9e9e9e", opacity=0.12, line_width=0
        )
    return figure.update_layout(title="Predicted values per bucket (shaded: training 10th-90th percentile)", **LAYOUT)


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


def explanation_waterfall(explanation: dict, record: dict, top: int = 10, label: str | None = None) -> go.Figure:
    """One record's explanation (the endpoint's explain answer): from the base value, each column's
    contribution to P(positive class), or to a regression model's predicted value (``label``: what it
    predicts), the ``top`` largest by size and the rest as one bar, to the record's probability or value."""
    contributions = sorted(explanation["contributions"].items(), key=lambda item: -abs(item[1]))
    shown, rest = contributions[:top], contributions[top:]
    labels = [f"{column} = {record.get(column)}" for column, _ in shown]
    values = [value for _, value in shown]
    if rest:
        labels.append(f"{len(rest)} other columns")
        values.append(sum(value for _, value in rest))
    if is_regression_explanation(explanation):
        total = float(explanation["prediction"])
        what = f"predicted {label}" if label else "prediction"
        text = [amount_text(explanation["base_value"]), *[f"{'+' if v >= 0 else ''}{amount_text(v)}" for v in values]]
        text.append(amount_text(total))
        title = f"Why the {what} = {amount_text(total)}"
    else:
        positive = explanation["positive_class"]
        total = explanation["probabilities"][positive]
        what = f"P({positive})"
        text = [f"{explanation['base_value']:.3f}", *[f"{v:+.3f}" for v in values], f"{total:.3f}"]
        title = f"Why {what} = {total:.3f}"
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(values), "total"],
            y=["base value", *labels, f"{what} of this record"],
            x=[explanation["base_value"], *values, total],
            text=text,
            textposition="outside",
            increasing={"marker": {"color": "#d62728"}},
            decreasing={"marker": {"color": "#1f77b4"}},
            totals={"marker": {"color": "#7f7f7f"}},
        )
    )
    figure.update_layout(
        title=title,
        yaxis={"autorange": "reversed"},
        xaxis_title=what,
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
        xaxis={"type": "category", "title": "category" if drift.kind == "categorical" else "bin"},
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
    bars, with the record counts on hover; past ``MAX_CLASSES_SHOWN + 1`` classes the rest summed as "other"."""
    overall: dict[str, float] = {}
    for stats in comparison.deployments:
        for label, count in stats.predictions.items():
            overall[label] = overall.get(label, 0) + count
    shown, rest = top_classes(overall)
    mixes = [grouped_counts(s.predictions, rest) for s in comparison.deployments]
    names = [s.name for s in comparison.deployments]
    totals = [sum(mix.values()) for mix in mixes]
    figure = go.Figure()
    for label in [*shown, *([OTHER_CLASSES] if rest else [])]:
        counts = [mix.get(label, 0) for mix in mixes]
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


def live_errors_figure(accuracy) -> go.Figure:
    """A regression service's live MAE and RMSE per bucket of request time (a ``LiveAccuracy`` of task
    "regression"), with the model's cross-validated MAE and RMSE as dashed lines."""
    times = pd.to_datetime([bucket["at"] for bucket in accuracy.buckets], unit="s")
    figure = go.Figure()
    for name, key, cv, color in (
        ("MAE", "mae", accuracy.cv_mae, "#1565c0"),
        ("RMSE", "rmse", accuracy.cv_rmse, "#ef6c00"),
    ):
        figure.add_scatter(
            x=times,
            y=[bucket[key] for bucket in accuracy.buckets],
            mode="lines+markers",
            name=f"live {name}",
            line={"color": color},
            customdata=[bucket["labelled"] for bucket in accuracy.buckets],
            hovertemplate=f"{name} %{{y:.4g}} over %{{customdata}} labelled",
        )
        if cv is not None:
            figure.add_hline(
                y=cv,
                line_dash="dash",
                line_color=color,
                annotation_text=f"cross-validated {name} {cv:.4g}",
                annotation_position="top left" if key == "mae" else "top right",
            )
    return figure.update_layout(
        title=f"Live errors per {bucket_label(accuracy.bucket_seconds)}",
        yaxis={"title": "error (label units)", "rangemode": "tozero"},
        **LAYOUT,
    )
