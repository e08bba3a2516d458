"""What the pages show per AutoML task: the guess of a label's task in words, a run's or a model's task, the
metrics a table lists, and the problems of a form's data (``check_data``) by field."""

from __future__ import annotations

from typing import Any

import pandas as pd

from opml.automl.names import CLASSIFICATION, REGRESSION, all_metrics, task_of_metric
from opml.errors import InvalidInput

# The metric shown beside the primary one in compact tables (a run's children, a pipeline's AutoML step).
SECOND_METRIC = {CLASSIFICATION: "AUC_weighted", REGRESSION: "r2_score"}


def run_task(params: dict[str, Any]) -> str:
    """The task of an AutoML run from its parameters (runs from before tasks existed are classification; a
    run without ``task`` whose primary metric is a regression metric is regression)."""
    task = params.get("task")
    if task in (CLASSIFICATION, REGRESSION):
        return task
    return task_of_metric(params.get("primary_metric") or "") or CLASSIFICATION


def model_task(manifest: dict[str, Any]) -> str:
    """The task of a registered model (an old manifest without ``task`` is a classifier)."""
    return REGRESSION if manifest.get("task") == REGRESSION else CLASSIFICATION


def metrics_in_order(task: str, primary: str) -> list[str]:
    """Every metric of ``task``, the primary one first."""
    return (
        [primary, *(m for m in all_metrics(task) if m != primary)]
        if primary in all_metrics(task)
        else list(all_metrics(task))
    )


def compact_metrics(task: str, primary: str) -> list[str]:
    """The primary metric and one other telling one, for tables with room for two (each once: a table with a
    column twice is refused)."""
    second = SECOND_METRIC[task]
    return [primary] if second == primary else [primary, second]


def guess_reason(label: pd.Series) -> tuple[str, str]:
    """(task guessed by ``opml.automl.settings.guess_task``, why in a few words, e.g. "11,602 distinct numbers")."""
    from opml.automl.settings import GUESS_MAX_CLASSES, guess_task
    from opml.data.profile import column_kind

    task = guess_task(label)
    values = label.dropna()
    if values.empty:
        return task, "the column has no values"
    kind = column_kind(values)
    distinct = values.nunique()
    if kind == "boolean":
        return task, "true/false values"
    if kind != "numeric":
        return task, f"{distinct:,} distinct text value{'s' if distinct != 1 else ''}"
    numbers = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if bool((numbers % 1 != 0).any()):
        return task, f"{distinct:,} distinct numbers, with fractions"
    if distinct > GUESS_MAX_CLASSES:
        return task, f"{distinct:,} distinct numbers"
    return task, f"only {distinct:,} distinct whole numbers (codes, such as ratings or 0/1)"


def data_problem(exc: InvalidInput) -> tuple[str, str]:
    """(the setting a ``check_data`` refusal is about, its message), for a form to show it under its field."""
    message = str(exc)
    if message.startswith("experiment_timeout_minutes"):
        return "experiment_timeout_minutes", message
    if "cross-validation folds" in message:
        return "n_cross_validations", message
    if message.startswith("featurization") or "usable feature" in message:
        return "dataset", message
    return "label_column", message


QUANTILE_NAMES = {"0.0": "min", "0.5": "median", "1.0": "max"}


def _quantile_name(key: str) -> str:
    return QUANTILE_NAMES.get(key, f"{float(key):.0%}")


def label_summary_frame(manifest: dict[str, Any]) -> pd.DataFrame:
    """A regression model's label values (``label_summary``) beside its out-of-fold predictions'
    (``prediction_summary``): mean, std and quantiles, one row each."""
    label = manifest.get("label_summary") or {}
    predicted = manifest.get("prediction_summary") or {}
    rows = [
        {"statistic": "mean", "label": label.get("mean"), "predicted": predicted.get("mean")},
        {"statistic": "std", "label": label.get("std"), "predicted": predicted.get("std")},
    ]
    keys = sorted(set(label.get("quantiles", {})) | set(predicted.get("quantiles", {})), key=float)
    for key in keys:
        rows.append(
            {
                "statistic": _quantile_name(key),
                "label": label.get("quantiles", {}).get(key),
                "predicted": predicted.get("quantiles", {}).get(key),
            }
        )
    frame = pd.DataFrame(rows, columns=["statistic", "label", "predicted"])
    return frame if frame["predicted"].notna().any() else frame.drop(columns="predicted")


def class_balance_frame(manifest: dict[str, Any]) -> pd.DataFrame:
    """A classifier's class balance in training (``label_distribution``) beside its out-of-fold predictions'."""
    balance = manifest.get("label_distribution") or {}
    predicted = manifest.get("prediction_distribution") or {}
    classes = [str(c) for c in manifest.get("classes") or balance]
    frame = pd.DataFrame(
        {
            "class": classes,
            "training share": [balance.get(c) for c in classes],
            "predicted share": [predicted.get(c) for c in classes],
        }
    )
    return frame if frame["predicted share"].notna().any() else frame.drop(columns="predicted share")
