"""The manifest: what a model expects (input schema), what it predicts, how good it is, where it came from."""

from __future__ import annotations

import math
import platform
from importlib import metadata
from typing import Any

import pandas as pd

import opml
from opml.data.dates import DATE_TIME, is_datetime_column
from opml.data.profile import column_kind

MAX_CATEGORIES_LISTED = 1000
LIBRARIES = ("scikit-learn", "lightgbm", "xgboost-cpu", "flaml", "pandas", "numpy", "joblib")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "opml": opml.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value from a pandas/numpy scalar."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def input_schema(X: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per training column: type, and categories or numeric range, with a typical value; a column of
    dates and times (``opml.data.dates``) is text with ``format: date-time``."""
    schema = []
    for column in X.columns:
        series = X[column]
        kind = column_kind(series)
        entry: dict[str, Any] = {"name": str(column), "type": kind, "nullable": bool(series.isna().any())}
        if kind in ("numeric", "boolean"):
            values = pd.to_numeric(series, errors="coerce")
            entry.update(
                dtype="integer" if pd.api.types.is_integer_dtype(series) else "number",
                min=_plain(values.min()),
                max=_plain(values.max()),
                default=_plain(values.median()),
            )
        else:
            counts = series.dropna().astype(str).value_counts()
            entry.update(
                dtype="string",
                categories=[str(v) for v in counts.index[:MAX_CATEGORIES_LISTED]],
                default=str(counts.index[0]) if len(counts) else "",
            )
            if is_datetime_column(series):  # any date or time is expected, not only those seen in training
                entry["format"] = DATE_TIME
        schema.append(entry)
    return schema


def example_records(schema: list[dict[str, Any]], count: int = 2) -> list[dict[str, Any]]:
    """Records as a client would send them, made from the input schema, never copied from the training
    data (``swagger.json`` is served without a key): each numeric column at its median, each categorical
    column at its most frequent category in the first record, its next ones in the others."""
    records = []
    for index in range(count):
        record: dict[str, Any] = {}
        for column in schema:
            if column["type"] in ("numeric", "boolean"):
                value = column.get("default")
                if value is not None and column.get("dtype") == "integer":
                    value = round(value)
                record[column["name"]] = value
            else:
                categories = column.get("categories") or [column.get("default", "")]
                record[column["name"]] = categories[min(index, len(categories) - 1)]
        records.append(record)
    return records


QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)  # of regression labels and predictions


def value_summary(values: Any) -> dict[str, Any]:
    """Mean, standard deviation and quantiles of numbers (a regression label or its predictions)."""
    numbers = pd.Series(values, dtype=float).dropna()
    return {
        "mean": _plain(numbers.mean()),
        "std": _plain(numbers.std()),
        "quantiles": {str(q): _plain(numbers.quantile(q)) for q in QUANTILES},
    }


def _predicted_shares(classes: list[str], confusion_matrix: list[list[int]] | None) -> dict[str, float] | None:
    if not confusion_matrix:
        return None
    columns = [sum(row[j] for row in confusion_matrix) for j in range(len(classes))]
    total = sum(columns)
    return {c: n / total for c, n in zip(classes, columns, strict=True)} if total else None


def build_manifest(
    *,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    classes: list[str],
    algorithm: str,
    run_id: str,
    dataset: str,
    label_column: str,
    primary_metric: str,
    metrics: dict[str, float],
    threshold: float | None,
    curves: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The baseline of prediction drift comes from the out-of-fold ``curves`` (``opml.automl.metrics``): for
    classification ``prediction_distribution``, the share of each class the model predicts (the confusion
    matrix's columns); for regression ``prediction_summary``, the quantiles of its predicted values. A
    regression manifest has no classes; ``label_summary`` describes its label's values."""
    curves = curves or {}
    schema = input_schema(X)
    if task == "regression":
        outcome: dict[str, Any] = {
            "format": "opml.automl.OpmlRegressor/1",
            "task": "regression",
            "algorithm": algorithm,
            "label_column": label_column,
            "classes": [],
            "label_summary": value_summary(y),
        }
        if curves.get("predicted_quantiles"):
            outcome["prediction_summary"] = {"quantiles": curves["predicted_quantiles"]}
    else:
        balance = y.astype(str).value_counts(normalize=True)
        predicted = _predicted_shares(classes, curves.get("confusion_matrix"))
        outcome = {
            "format": "opml.automl.OpmlClassifier/1",
            "task": "classification",
            "algorithm": algorithm,
            "label_column": label_column,
            "classes": classes,
            "label_distribution": {c: float(balance.get(c, 0.0)) for c in classes},
            **({"prediction_distribution": predicted} if predicted else {}),
        }
    return {
        **outcome,
        "threshold": threshold,
        "input_schema": schema,
        "example": example_records(schema),
        "primary_metric": primary_metric,
        "metrics": metrics,
        "source_run": run_id,
        "dataset": dataset,
        "training_rows": len(X),
        "libraries": library_versions(),
    }
