"""Live accuracy: the collected outputs of a service joined with the labels that arrived later.

A classifier's labels are class names: the share of right predictions and AUC_weighted (one-vs-rest AUC per
class, weighted by the class's share of the labels, as Azure ML's ``AUC_weighted``). A regression model's
labels are numbers (``opml.monitoring.labels``): mean absolute error, root mean squared error and R² of the
predicted values. Each beside the model's cross-validated figures from its manifest."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.entities import LiveAccuracy
from opml.monitoring.collected import (
    COLLECTED,
    LABEL_COLUMN,
    PREDICTION_COLUMN,
    PROBA_PREFIX,
    collected_files,
    predicted_values,
    read_collected,
)

if TYPE_CHECKING:
    import numpy as np


def is_regression(manifest: Mapping[str, Any]) -> bool:
    """The manifest is a regression model's (a manifest without ``task`` is a classifier's)."""
    return manifest.get("task") == "regression"


def _metric(manifest: Mapping[str, Any], name: str) -> float | None:
    value = (manifest.get("metrics") or {}).get(name)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def cross_validated(manifest: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(accuracy, AUC_weighted) of the model's cross-validation, from its manifest."""
    return _metric(manifest, "accuracy"), _metric(manifest, "AUC_weighted")


def cross_validated_errors(manifest: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(MAE, RMSE, R²) of a regression model's cross-validation, from its manifest (Azure's metric names)."""
    return (
        _metric(manifest, "mean_absolute_error"),
        _metric(manifest, "root_mean_squared_error"),
        _metric(manifest, "r2_score"),
    )


def _auc(truth: Any, scores: Any) -> float | None:
    """ROC AUC of ``scores`` for the boolean ``truth``; None unless both outcomes are present."""
    if truth.all() or not truth.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores))


def weighted_auc(actual: np.ndarray, scores: Mapping[str, np.ndarray]) -> float | None:
    """AUC_weighted of the true labels ``actual`` against each class's probabilities ``scores[class]``: the
    one-vs-rest AUC of each class among the labels, weighted by its share of them (for two classes, the AUC
    of either). None with fewer than two classes among the labels, or a missing probability."""
    import numpy as np

    present, counts = np.unique(actual.astype(str), return_counts=True)
    if len(present) < 2 or any(label not in scores or np.isnan(scores[label]).any() for label in present):
        return None
    areas = [_auc(actual == label, scores[label]) for label in present]
    return float(np.average(areas, weights=counts))


def errors(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """MAE, RMSE and R² of ``predicted`` against ``truth`` (R² None with fewer than two records or constant
    true values, where it is undefined)."""
    import numpy as np

    residuals = predicted - truth
    spread = float(np.sum((truth - truth.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residuals**2)) / spread if len(truth) > 1 and spread > 0 else None
    return {
        "mae": float(np.mean(np.abs(residuals))),
        "rmse": float(math.sqrt(np.mean(residuals**2))),
        "r2": r2,
    }


def live_accuracy(
    service_dir: Path,
    labels: Sequence[tuple[str, int, str]],
    *,
    classes: Sequence[str],
    manifest: Mapping[str, Any],
    since: float,
    until: float,
    bucket_seconds: int,
    deployment: str | None = None,
    folder: str = COLLECTED,
) -> LiveAccuracy:
    """``LiveAccuracy`` of the collected records with ``since <= at <= until`` and ``labels`` (request id,
    record, label: those given since ``since``; a label comes after its request); only those ``deployment``
    answered when given, and from the shadow answers with ``folder=MIRRORED``. The task is the manifest's.
    Only the key, time, prediction and probability columns of the window's files are read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    regression = is_regression(manifest)
    classes = [] if regression else [str(c) for c in classes]
    positive = classes[1] if len(classes) == 2 else None
    columns = ["request_id", "record", "at", LABEL_COLUMN]
    if regression:
        columns.append(PREDICTION_COLUMN)
    else:
        columns += [PROBA_PREFIX + label for label in classes]
    if deployment is not None:
        columns.append("deployment")
    skipped: list[str] = []
    files = collected_files(service_dir, since=since, until=until, folder=folder)
    table = read_collected(files, columns, skipped=skipped)
    if deployment is not None and table.num_rows:
        answered = table.column("deployment").cast(pa.string())  # all null (older files): matches nothing
        table = table.filter(pc.fill_null(pc.equal(answered, pa.scalar(deployment, pa.string())), False))
    cv_accuracy, cv_auc = cross_validated(manifest)
    cv_mae, cv_rmse, cv_r2 = cross_validated_errors(manifest)
    figures: dict[str, Any] = {
        "since": since,
        "bucket_seconds": bucket_seconds,
        "positive_class": positive,
        "cv_accuracy": None if regression else cv_accuracy,
        "cv_auc_weighted": None if regression else cv_auc,
        "skipped_files": tuple(skipped),
        "task": "regression" if regression else "classification",
        **({"cv_mae": cv_mae, "cv_rmse": cv_rmse, "cv_r2": cv_r2} if regression else {}),
    }
    empty = LiveAccuracy(labelled=0, correct=0, accuracy=None, auc=None, unmatched=len(labels), buckets=[], **figures)
    if not labels or table.num_rows == 0:
        return empty
    at = table.column("at").to_numpy(zero_copy_only=False)
    table = table.filter(pa.array((at >= since) & (at <= until)))
    truth = pa.table(
        {
            "request_id": pa.array([label[0] for label in labels], pa.string()),
            "record": pa.array([label[1] for label in labels], pa.int32()),
            "truth": pa.array([label[2] for label in labels], pa.string()),
        }
    )
    table = table.set_column(1, "record", table.column("record").cast(pa.int32()))
    for index, field in enumerate(table.schema):  # a column no file had is of type null, which joins refuse
        if pa.types.is_null(field.type):
            kind = pa.string() if field.name in (LABEL_COLUMN, "deployment") else pa.float64()
            table = table.set_column(index, field.name, table.column(index).cast(kind))
    joined = table.join(truth, keys=["request_id", "record"], join_type="inner")
    if joined.num_rows == 0:
        return empty
    times = joined.column("at").to_numpy(zero_copy_only=False)
    keys = (times // bucket_seconds).astype(np.int64)
    if regression:
        return _regression(joined, keys, len(labels), figures)
    predicted = np.array(joined.column(LABEL_COLUMN).to_pylist(), dtype=object)
    actual = np.array(joined.column("truth").to_pylist(), dtype=object)
    right = predicted == actual
    scores = {
        label: joined.column(PROBA_PREFIX + label).to_numpy(zero_copy_only=False).astype(float) for label in classes
    }
    buckets = []
    for key in np.unique(keys):
        members = keys == key
        buckets.append(
            {
                "at": float(key * bucket_seconds),
                "labelled": int(members.sum()),
                "correct": int(right[members].sum()),
                "accuracy": float(right[members].mean()),
                "auc": weighted_auc(actual[members], {label: score[members] for label, score in scores.items()}),
            }
        )
    return LiveAccuracy(
        labelled=len(right),
        correct=int(right.sum()),
        accuracy=float(right.mean()),
        auc=weighted_auc(actual, scores),
        unmatched=len(labels) - len(right),
        buckets=buckets,
        **figures,
    )


def _regression(joined: Any, keys: np.ndarray, given: int, figures: dict[str, Any]) -> LiveAccuracy:
    """MAE, RMSE and R² of the labelled records (``joined``: collected rows with their ``truth``), overall and
    per bucket (``keys``); a record whose prediction was not collected as a number is left out."""
    import numpy as np

    truth = np.array([float(value) for value in joined.column("truth").to_pylist()], dtype=np.float64)
    predicted = predicted_values(joined).to_numpy(zero_copy_only=False).astype(np.float64)
    known = np.isfinite(predicted) & np.isfinite(truth)
    truth, predicted, keys = truth[known], predicted[known], keys[known]
    buckets = [
        {"at": float(key * figures["bucket_seconds"]), "labelled": int((keys == key).sum())}
        | errors(truth[keys == key], predicted[keys == key])
        for key in np.unique(keys)
    ]
    overall = errors(truth, predicted) if len(truth) else {}
    return LiveAccuracy(
        labelled=len(truth),
        correct=0,
        accuracy=None,
        auc=None,
        unmatched=given - len(truth),
        buckets=buckets,
        **overall,
        **figures,
    )
