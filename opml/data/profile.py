"""Profile a DataFrame once per dataset version: types, missing values, ranges, distributions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from opml.entities import ColumnProfile, DatasetProfile

TOP_VALUES = 50
HISTOGRAM_BINS = 20


def column_kind(series: pd.Series) -> str:
    """ "numeric", "boolean", "datetime" or "categorical" (pandas 3 text columns are ``str``, so: not numeric)."""
    if is_bool_dtype(series):
        return "boolean"
    if is_numeric_dtype(series):
        return "numeric"
    if is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy's histogram of finite values, also where it refuses them: a span that overflows a float (scaled by a
    power of two, which is exact) or one too narrow for the bins' edges to differ (one bin per distinct value)."""
    try:
        return np.histogram(values, bins=HISTOGRAM_BINS)
    except ValueError:
        pass
    exponent = int(np.frexp(np.abs(values).max())[1])
    try:
        counts, edges = np.histogram(np.ldexp(values, -exponent), bins=HISTOGRAM_BINS)
        return counts, np.ldexp(edges, exponent)
    except ValueError:
        edges = np.unique(values)
        if len(edges) > HISTOGRAM_BINS + 1:
            edges = np.unique(np.quantile(edges, np.linspace(0, 1, HISTOGRAM_BINS + 1), method="nearest"))
        return np.histogram(values, bins=edges)


def profile_column(name: str, series: pd.Series) -> ColumnProfile:
    kind = column_kind(series)
    missing = int(series.isna().sum())
    rows = len(series)
    counts = series.value_counts(dropna=True)
    top_values = {str(key): int(count) for key, count in counts.head(TOP_VALUES).items()}
    stats: dict = {}
    if kind == "numeric":
        values = series.dropna().astype(float)
        if len(values):
            finite = values[np.isfinite(values)]
            stats = {
                "min": _finite(values.min()),
                "max": _finite(values.max()),
                "mean": _finite(values.mean()),
                "std": _finite(values.std()) if len(values) > 1 else 0.0,
                "median": _finite(values.median()),
            }
            if len(finite):
                hist_counts, edges = _histogram(finite.to_numpy())
                stats["histogram"] = (tuple(float(edge) for edge in edges), tuple(int(c) for c in hist_counts))
        if len(counts) > TOP_VALUES:
            top_values = {}
    return ColumnProfile(
        name=name,
        dtype=kind,
        missing=missing,
        missing_pct=round(100.0 * missing / rows, 3) if rows else 0.0,
        distinct=int(series.nunique(dropna=True)),
        top_values=top_values,
        **stats,
    )


def profile_frame(frame: pd.DataFrame) -> DatasetProfile:
    return DatasetProfile(
        rows=len(frame),
        columns=tuple(profile_column(str(name), frame[name]) for name in frame.columns),
        duplicate_rows=int(frame.duplicated().sum()),
    )
