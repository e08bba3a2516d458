"""Monitoring per task, on real Parquet files and a real SQLite store: regression labels are numbers, live MAE /
RMSE / R² and multiclass AUC_weighted from collected rows, regression prediction drift over the out-of-fold
quantiles, accuracy rules refused for regression, the telemetry summary of regression requests, and the charts
(the predicted values' histogram, class mixes of 10+ classes)."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opml.backends.base import summarize_telemetry
from opml.errors import InvalidInput
from opml.models.manifest import input_schema, value_summary
from opml.monitoring.accuracy import live_accuracy
from opml.monitoring.baseline import Baseline, build_baseline, quantile_baseline
from opml.monitoring.collected import file_name
from opml.monitoring.drift import drift_of_files, psi
from opml.monitoring.labels import check_labels, read_labels_csv
from opml.monitoring.rules import KINDS, check_kind_for_task, kinds_for_task
from opml.serving.collection import CollectionWriter
from opml.serving.telemetry import TelemetryWriter
from opml.ui.charts import (
    MAX_CLASSES_SHOWN,
    deployment_class_mix_figure,
    prediction_drift_figure,
    prediction_histogram_figure,
    training_shares,
)

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
QUANTILES = ("0.0", "0.01", "0.05", "0.1", "0.25", "0.5", "0.75", "0.9", "0.95", "0.99", "1.0")


def ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(count)]


# --- labels ---------------------------------------------------------------------------------------------------------


def test_regression_labels_are_numbers_and_text_is_refused_naming_the_row():
    request = ids(1)[0]
    given = [
        {"request_id": request, "label": 12, "record": 0},
        {"request_id": request, "label": 0.1 + 0.2, "record": 1},
        {"request_id": request, "label": " -3.5e2 ", "record": 2},  # a CSV cell
    ]
    for how in ({"classes": []}, {"classes": (), "task": None}, {"task": "regression"}):
        clean = check_labels(given, **how)
        assert [label for _, _, label in clean] == ["12.0", repr(0.1 + 0.2), "-350.0"]
        assert float(clean[1][2]) == 0.1 + 0.2  # read back as the very float given
    for bad in ("cheap", "", True, None, float("nan"), "inf", 10**400, [1]):
        with pytest.raises(InvalidInput, match=r"^labels\[1\]: the service serves a regression model"):
            check_labels([given[0], {**given[1], "label": bad}], [], where=lambda i: f"labels[{i}]")
    # A classifier's labels are still class names, and without classes (a CSV checked before the service is
    # known) any text: numbers in a CSV are text, so a regression file passes that first check too.
    assert check_labels([{"request_id": request, "label": "yes"}], ["no", "yes"])[0][2] == "yes"
    with pytest.raises(InvalidInput, match="must be a class name"):
        check_labels([{"request_id": request, "label": 12}], ["no", "yes"])
    labels, lines = read_labels_csv(f"request_id,label\n{request},1200.5\n{request},x\n".encode())
    assert check_labels(labels)[0][2] == "1200.5" and lines == [2, 3]
    with pytest.raises(InvalidInput, match=r"line 3: .*got 'x'"):
        check_labels(labels, [], where=lambda i: f"line {lines[i]}")


# --- baselines and prediction drift ----------------------------------------------------------------------------------


def regression_manifest(X: pd.DataFrame, predictions: np.ndarray, **extra) -> dict:
    return {
        "task": "regression",
        "classes": [],
        "input_schema": input_schema(X),
        "label_summary": value_summary(predictions + 1.0),
        "prediction_summary": {"quantiles": value_summary(predictions)["quantiles"]},
        "dataset": "crafted:1",
        "metrics": {"mean_absolute_error": 1.5, "root_mean_squared_error": 2.0, "r2_score": 0.8},
        **extra,
    }


def test_the_regression_prediction_baseline_is_the_out_of_fold_quantile_bins():
    quantiles = dict(zip(QUANTILES, [0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100], strict=True))
    feature = quantile_baseline("prediction", quantiles, "prediction_summary")
    assert feature.kind == "numeric" and feature.edges == (1, 5, 10, 25, 50, 75, 90, 95, 99)
    assert feature.shares == pytest.approx([0.01, 0.04, 0.05, 0.15, 0.25, 0.25, 0.15, 0.05, 0.04, 0.01])
    assert feature.labels[0] == "<= 1" and feature.labels[-2] == "> 99"
    # A model predicting few values: coinciding quantiles make one edge holding their shares together.
    few = dict(zip(QUANTILES, [1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3], strict=True))
    merged = quantile_baseline("prediction", few, "prediction_summary")
    assert merged.edges == (1, 2, 3) and merged.shares == pytest.approx([0.25, 0.65, 0.09, 0.01])
    with pytest.raises(InvalidInput, match="must not decrease"):
        quantile_baseline("prediction", {"0.1": 5, "0.5": 4}, "prediction_summary")
    with pytest.raises(InvalidInput, match="no finite quantiles"):
        quantile_baseline("prediction", {"0.0": 1, "1.0": 2}, "prediction_summary")

    X = pd.DataFrame({"carat": np.linspace(0.2, 2.5, 500)})
    predictions = X["carat"].to_numpy() * 1000
    baseline = build_baseline(X, regression_manifest(X, predictions))
    assert baseline.prediction_source == "prediction_summary" and baseline.prediction.kind == "numeric"
    assert Baseline.from_json(baseline.to_json()) == baseline
    without = regression_manifest(X, predictions)
    del without["prediction_summary"]
    fallback = build_baseline(X, without)  # the labels' quantiles, shifted by 1 here
    assert fallback.prediction_source == "label_summary"
    assert fallback.prediction.edges[0] == pytest.approx(baseline.prediction.edges[0] + 1)
    # A classifier's manifest (no task) keeps its class balance.
    classifier = build_baseline(X, {**regression_manifest(X, predictions), "task": None, "classes": ["a", "b"]})
    assert classifier.prediction is None


def collect(folder: Path, frame: pd.DataFrame, predicted: np.ndarray, *, at: float, classes=(), proba=None):
    """``frame``'s rows with their predictions, written by the product's collector under ``folder`` (a service's
    folder: the files go to its ``collected/``), one request per 100 rows; the request ids in order."""
    writer = CollectionWriter(folder, deployment="blue", input_schema=input_schema(frame), classes=list(classes))
    records = json.loads(frame.to_json(orient="records"))
    sent = []
    for start in range(0, len(records), 100):
        request_id = str(uuid.uuid4())
        labels = [str(value) if classes else float(value) for value in predicted[start : start + 100]]
        rows = np.zeros((len(labels), 0)) if proba is None else proba[start : start + 100]
        writer.record(
            request_id=request_id, at=at + start, records=records[start : start + 100], labels=labels, proba=rows
        )
        sent.append(request_id)
    writer.close()
    return sent


def test_regression_prediction_drift_on_collected_files_either_way_a_value_is_written(tmp_path: Path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"carat": rng.uniform(0.2, 2.5, 5000)})
    model = lambda frame: 1000 * frame["carat"].to_numpy() ** 1.5  # noqa: E731
    baseline = build_baseline(X, regression_manifest(X, model(X)))
    same = pd.DataFrame({"carat": rng.uniform(0.2, 2.5, 2000)})
    moved = same.assign(carat=same["carat"] * 1.5)
    # As the collector writes a regression service's rows today: the value's text in output.label.
    collect(tmp_path / "same", same, model(same), at=T0)
    collect(tmp_path / "moved", moved, model(moved), at=T0)
    stable = drift_of_files(baseline, sorted((tmp_path / "same").rglob("*.parquet")))
    drifted = drift_of_files(baseline, sorted((tmp_path / "moved").rglob("*.parquet")))
    assert stable.prediction.rows == 2000 and stable.prediction.verdict == "stable"
    assert drifted.prediction.verdict == "drift" and drifted.feature("carat").verdict == "drift"
    counts = np.bincount(np.searchsorted(baseline.prediction.edges, model(moved), side="left"), minlength=10)
    expected = psi(np.append(counts / 2000, 0.0), baseline.prediction.expected)
    assert drifted.prediction.psi == pytest.approx(float(expected))
    # As ``output.prediction`` (float64): the same counts.
    table = pq.read_table(sorted((tmp_path / "moved").rglob("*.parquet"))[0])
    values = pa.array(table.column("output.label").to_numpy(zero_copy_only=False).astype(float))
    as_float = table.drop_columns(["output.label"]).append_column("output.prediction", values)
    path = tmp_path / "float" / file_name(T0, 1, 1)
    path.parent.mkdir()
    pq.write_table(as_float, path)
    first = drift_of_files(baseline, [sorted((tmp_path / "moved").rglob("*.parquet"))[0]])
    assert drift_of_files(baseline, [path]).prediction.actual == first.prediction.actual


# --- live metrics -------------------------------------------------------------------------------------------------


def test_live_errors_of_a_regression_service_from_collected_rows_and_number_labels(tmp_path: Path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"carat": rng.uniform(0.2, 2.5, 400)})
    predicted = 1000 * frame["carat"].to_numpy()
    truth = predicted + rng.normal(0, 50, 400)
    service = tmp_path / "reg"
    sent = collect(service, frame, predicted, at=T0)
    given = [(sent[i // 100], i % 100, repr(float(truth[i]))) for i in range(300)]  # the last request unlabelled
    given.append((str(uuid.uuid4()), 0, "5.0"))  # a request that was not collected
    manifest = regression_manifest(frame, predicted)
    accuracy = live_accuracy(
        service, given, classes=[], manifest=manifest, since=T0, until=T0 + 3600, bucket_seconds=60
    )
    errors = predicted[:300] - truth[:300]
    assert accuracy.task == "regression" and accuracy.labelled == 300 and accuracy.unmatched == 1
    assert accuracy.mae == pytest.approx(np.abs(errors).mean())
    assert accuracy.rmse == pytest.approx(math.sqrt((errors**2).mean()))
    r2 = 1 - (errors**2).sum() / ((truth[:300] - truth[:300].mean()) ** 2).sum()
    assert accuracy.r2 == pytest.approx(r2)
    assert accuracy.accuracy is None and accuracy.auc is None and accuracy.cv_accuracy is None
    assert (accuracy.cv_mae, accuracy.cv_rmse, accuracy.cv_r2) == (1.5, 2.0, 0.8)
    # Requests 0 (at T0) and 1 (T0 + 100 s) and 2 (T0 + 200 s): buckets of a minute.
    assert [bucket["labelled"] for bucket in accuracy.buckets] == [100, 100, 100]
    assert accuracy.buckets[1]["rmse"] == pytest.approx(math.sqrt((errors[100:200] ** 2).mean()))
    other = live_accuracy(
        service, given, classes=[], manifest=manifest, since=T0, until=T0 + 3600, bucket_seconds=60, deployment="x"
    )
    assert other.labelled == 0 and other.mae is None


def test_live_auc_of_a_multiclass_service_is_the_weighted_one_vs_rest_auc(tmp_path: Path):
    from sklearn.metrics import roc_auc_score

    classes = ["alpha", "beta", "gamma", "delta"]
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=400)})
    proba = rng.dirichlet(np.ones(4), 400)
    predicted = np.array(classes)[proba.argmax(axis=1)]
    truth = np.where(rng.random(400) < 0.6, predicted, rng.choice(classes, 400))
    service = tmp_path / "multi"
    sent = collect(service, frame, predicted, at=T0, classes=classes, proba=proba)
    given = [(sent[i // 100], i % 100, str(truth[i])) for i in range(400)]
    manifest = {"classes": classes, "metrics": {"accuracy": 0.7, "AUC_weighted": 0.8}}
    accuracy = live_accuracy(
        service, given, classes=classes, manifest=manifest, since=T0, until=T0 + 3600, bucket_seconds=3600
    )
    assert accuracy.task == "classification" and accuracy.positive_class is None
    assert accuracy.accuracy == pytest.approx(np.mean(predicted == truth))
    order = sorted(classes)  # sklearn wants its labels sorted, the probabilities' columns in that order
    columns = proba[:, [classes.index(label) for label in order]]
    expected = roc_auc_score(truth, columns, multi_class="ovr", average="weighted", labels=order)
    assert accuracy.auc == pytest.approx(expected) and accuracy.buckets[0]["auc"] == pytest.approx(expected)
    assert (accuracy.cv_accuracy, accuracy.cv_auc_weighted) == (0.7, 0.8)


# --- alert rules --------------------------------------------------------------------------------------------------


def test_an_accuracy_rule_is_refused_for_a_regression_model_and_the_others_are_not():
    assert "accuracy" not in kinds_for_task("regression")
    assert kinds_for_task("classification") == list(KINDS)
    with pytest.raises(InvalidInput, match=r"prices serves a regression model: an accuracy rule .* drift rule"):
        check_kind_for_task(KINDS["accuracy"], "regression", "prices")
    for kind in kinds_for_task("regression"):
        check_kind_for_task(KINDS[kind], "regression", "prices")
    check_kind_for_task(KINDS["accuracy"], "classification", "churn")


# --- telemetry ------------------------------------------------------------------------------------------------------


def test_the_telemetry_summary_keeps_regression_values_apart_from_class_counts(local_backend, monkeypatch):
    from opml.backends.local import services

    writer = TelemetryWriter(local_backend.layout.db, "reg")
    values = [[1.5, 2.5, 3.0], [10.0], [4.0, 6.0]]
    for index, predictions in enumerate(values):  # two minutes: 0 and 1 in the first, 2 in the second
        writer.record(
            at=T0 + 30 * index,
            request_id=f"r{index}",
            status=200,
            latency_ms=1.0,
            records=len(predictions),
            predictions=json.dumps(predictions),
            error=None,
            client=None,
            deployment="blue",
        )
    writer.record(
        at=T0 + 10,
        request_id="c",
        status=200,
        latency_ms=1.0,
        records=3,
        predictions=json.dumps({"yes": 2, "no": 1}),
        error=None,
        client=None,
        deployment="blue",
    )
    writer.close()
    summary = local_backend.services.telemetry_summary("reg", since=T0, bucket_seconds=60, recent=10)
    first, second = summary.buckets
    assert first["values"] == {"count": 4, "mean": pytest.approx(17 / 4), "min": 1.5, "max": 10.0}
    assert second["values"] == {"count": 2, "mean": 5.0, "min": 4.0, "max": 6.0}
    assert first["predictions"] == {"yes": 2, "no": 1} and second["predictions"] == {}  # no "0", "1", ... keys
    assert sorted(summary.predicted_values) == [1.5, 2.5, 3.0, 4.0, 6.0, 10.0]
    events = local_backend.services.telemetry("reg", since=T0)
    reference = summarize_telemetry(events, since=T0, bucket_seconds=60, recent=10)
    assert [b["values"] for b in reference.buckets] == [b["values"] for b in summary.buckets]
    assert sorted(reference.predicted_values) == sorted(summary.predicted_values)
    stats = local_backend.services.deployment_stats("reg", since=T0, until=T0 + 3600)
    assert stats["blue"]["predictions"] == {"yes": 2, "no": 1}
    # A window of more values than are read: every k-th request's; the counts stay exact.
    monkeypatch.setattr(services, "MAX_READ_VALUES", 3)  # 6 values: every 2nd request (by rowid)
    sampled = local_backend.services.telemetry_summary("reg", since=T0, bucket_seconds=60, recent=10)
    assert [b["values"]["count"] for b in sampled.buckets] == [4, 2]
    read = local_backend.store.query("SELECT predictions FROM telemetry WHERE rowid % 2 = 0 AND request_id LIKE 'r%'")
    expected = sorted(value for row in read for value in json.loads(row["predictions"]))
    assert sorted(sampled.predicted_values) == expected and len(expected) < 6


# --- charts ---------------------------------------------------------------------------------------------------------


def test_the_predicted_values_histogram_sets_live_shares_beside_the_training_ones():
    quantiles = dict(zip(QUANTILES, [0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100], strict=True))
    shares = training_shares(quantiles, np.array([0.0, 50.0, 100.0]))  # a uniform 0-100: half in each
    assert shares == pytest.approx([0.5, 0.5])
    live = list(np.linspace(0, 200, 401))
    figure = prediction_histogram_figure(live, {"quantiles": quantiles}, "out-of-fold predictions").to_dict()
    training, recent = figure["data"]
    assert training["name"] == "out-of-fold predictions" and recent["name"] == "live (401 predictions)"
    assert sum(recent["y"]) == pytest.approx(1) and sum(training["y"]) == pytest.approx(1)
    assert sum(y for x, y in zip(recent["x"], recent["y"], strict=True) if x > 100) == pytest.approx(0.5, abs=0.01)
    alone = prediction_histogram_figure(live, None).to_dict()
    assert [trace["name"] for trace in alone["data"]] == ["live (401 predictions)"]
    assert not prediction_histogram_figure([], None).to_dict()["data"]


def test_a_class_mix_of_twelve_classes_draws_the_largest_and_sums_the_rest_as_other():
    from types import SimpleNamespace

    classes = [f"c{i:02d}" for i in range(12)]
    counts = {label: 100 - 5 * i for i, label in enumerate(classes)}
    frame = pd.DataFrame({"time": pd.to_datetime([T0, T0 + 60], unit="s"), "predictions": [counts, counts]})
    balance = {label: 1 / 12 for label in classes}
    figure = prediction_drift_figure(frame, balance).to_dict()
    solid = [trace for trace in figure["data"] if trace.get("showlegend") is not False]
    assert len(solid) == MAX_CLASSES_SHOWN + 1
    assert [trace["name"] for trace in solid][:2] == ["predicted c00", "predicted c01"]
    other = solid[-1]
    assert other["name"] == "predicted other (4 classes)"
    assert other["y"][0] == pytest.approx(sum(counts[c] for c in classes[8:]) / sum(counts.values()))
    dashed = [trace for trace in figure["data"] if trace.get("showlegend") is False]
    assert dashed[-1]["y"][0] == pytest.approx(4 / 12) and dashed[-1]["line"]["color"] == other["line"]["color"]
    few = prediction_drift_figure(frame.assign(predictions=[{"a": 1, "b": 3}] * 2), {"a": 0.5, "b": 0.5})
    assert [t["name"] for t in few.to_dict()["data"] if t.get("showlegend") is not False] == [
        "predicted a",
        "predicted b",
    ]
    stats = [SimpleNamespace(name=name, predictions=counts) for name in ("blue", "green")]
    mix = deployment_class_mix_figure(SimpleNamespace(deployments=stats)).to_dict()
    assert [bar["name"] for bar in mix["data"]][-1] == "other" and len(mix["data"]) == MAX_CLASSES_SHOWN + 1
    assert sum(bar["y"][0] for bar in mix["data"]) == pytest.approx(1)


def test_the_prediction_drift_line_of_twelve_classes_names_the_most_predicted_and_sums_the_rest():
    from opml.monitoring.baseline import FeatureBaseline
    from opml.monitoring.drift import drift_report
    from opml.ui.monitoring import MAX_CLASSES_WORDS, prediction_drift_text

    classes = [f"c{i:02d}" for i in range(12)]
    prediction = FeatureBaseline(
        name="prediction", kind="categorical", categories=tuple(classes), shares=(*[1 / 12] * 12, 0.0), missing=0.0
    )
    baseline = Baseline(
        features=(),
        prediction=prediction,
        prediction_source="prediction_distribution",
        dataset=None,
        training_rows=1200,
    )
    labels = [label for i, label in enumerate(classes) for _ in range(100 - 5 * i)]
    table = pa.table({"at": pa.array([T0] * len(labels), pa.float64()), "output.label": labels})
    text = prediction_drift_text(drift_report(baseline, table))
    assert text.startswith(f"Predicted classes ({len(labels):,} rows) against the out-of-fold predictions")
    assert f"c00 {100 / len(labels):.1%} (training 8.3%)" in text and "c07" in text and "c08" not in text
    rest = sum(100 - 5 * i for i in range(MAX_CLASSES_WORDS, 12)) / len(labels)
    assert f"4 others {rest:.1%} (training 33.3%)" in text and "PSI" in text
