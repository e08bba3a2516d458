"""Live accuracy: the collected outputs of a service joined with the labels that arrived later."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opml.entities import LiveAccuracy
from opml.monitoring.collected import COLLECTED, LABEL_COLUMN, PROBA_PREFIX, collected_files, read_collected


def cross_validated(manifest: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(accuracy, AUC_weighted) of the model's cross-validation, from its manifest."""
    metrics = manifest.get("metrics") or {}

    def number(name: str) -> float | None:
        value = metrics.get(name)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    return number("accuracy"), number("AUC_weighted")


def _auc(truth: Any, scores: Any) -> float | None:
    """ROC AUC of ``scores`` for the boolean ``truth``; None unless both outcomes are present."""
    if truth.all() or not truth.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores))


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
    answered when given, and from the shadow answers with ``folder=MIRRORED``. Only the key, time, label
    and positive-class columns of the window's files are read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    positive = str(classes[1]) if len(classes) == 2 else None
    columns = ["request_id", "record", "at", LABEL_COLUMN]
    if positive is not None:
        columns.append(PROBA_PREFIX + positive)
    if deployment is not None:
        columns.append("deployment")
    skipped: list[str] = []
    files = collected_files(service_dir, since=since, until=until, folder=folder)
    table = read_collected(files, columns, skipped=skipped)
    if deployment is not None and table.num_rows:
        answered = table.column("deployment").cast(pa.string())  # all null (older files): matches nothing
        table = table.filter(pc.fill_null(pc.equal(answered, pa.scalar(deployment, pa.string())), False))
    cv_accuracy, cv_auc = cross_validated(manifest)
    empty = LiveAccuracy(
        since=since,
        bucket_seconds=bucket_seconds,
        labelled=0,
        correct=0,
        accuracy=None,
        auc=None,
        unmatched=len(labels),
        buckets=[],
        positive_class=positive,
        cv_accuracy=cv_accuracy,
        cv_auc_weighted=cv_auc,
        skipped_files=tuple(skipped),
    )
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
    joined = table.join(truth, keys=["request_id", "record"], join_type="inner")
    if joined.num_rows == 0:
        return empty
    times = joined.column("at").to_numpy(zero_copy_only=False)
    predicted = np.array(joined.column(LABEL_COLUMN).to_pylist(), dtype=object)
    actual = np.array(joined.column("truth").to_pylist(), dtype=object)
    right = predicted == actual
    scores = None
    if positive is not None:
        scores = joined.column(PROBA_PREFIX + positive).to_numpy(zero_copy_only=False).astype(float)
    buckets = []
    keys = (times // bucket_seconds).astype(np.int64)
    for key in np.unique(keys):
        members = keys == key
        auc = None
        if scores is not None and not np.isnan(scores[members]).any():
            auc = _auc(actual[members] == positive, scores[members])
        buckets.append(
            {
                "at": float(key * bucket_seconds),
                "labelled": int(members.sum()),
                "correct": int(right[members].sum()),
                "accuracy": float(right[members].mean()),
                "auc": auc,
            }
        )
    total_auc = None
    if scores is not None and not np.isnan(scores).any():
        total_auc = _auc(actual == positive, scores)
    return LiveAccuracy(
        since=since,
        bucket_seconds=bucket_seconds,
        labelled=len(right),
        correct=int(right.sum()),
        accuracy=float(right.mean()),
        auc=total_auc,
        unmatched=len(labels) - len(right),
        buckets=buckets,
        positive_class=positive,
        cv_accuracy=cv_accuracy,
        cv_auc_weighted=cv_auc,
        skipped_files=tuple(skipped),
    )
