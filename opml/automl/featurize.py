"""Featurization that lives inside the model: raw columns in, a numeric matrix out.

``TabularFeaturizer`` is a scikit-learn transformer with a second, pandas-free
path: ``transform_records`` maps JSON records straight to the same matrix
(precomputed category codes, dictionary look-ups), which is what makes
single-record scoring take microseconds instead of the ~10 ms a DataFrame
transform costs. Both paths give identical arrays (tested).

With ``frequencies``, numeric columns whose values repeat like a measurement shared by
groups of rows (``repeated_value_columns``) also get the share of training rows with the same
value: how busy that day or place was, which the value alone does not say.

With ``datetimes``, columns of dates and times (a datetime dtype, or text whose every value is an ISO 8601
date or time, as CSV files hold them) become numbers, as Azure ML's featurization does: the instant (days
since 1970, so trees can split on periods) and its calendar parts (year, month, day, weekday, day of year,
hour with minutes as fractions). As text, such a column is thousands of categories of which a few are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from opml.data.dates import as_datetime, instant_days, is_datetime_column
from opml.data.profile import column_kind

MISSING_CODE = -1.0
CATEGORY_ORDERS = ("frequency", "target")
TARGET_ORDER_PRIOR_ROWS = 10  # a category's rate is shrunk towards the overall rate as if by 10 more rows
REPEATED_MAX_DISTINCT_SHARE = 0.05  # at most 5 % as many distinct values as rows
FREQUENCY_DECIMALS = 6  # values equal to 6 decimals are the same value (CSV round trips differ in the last bit)


def _as_float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _as_key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def numeric_columns(X: pd.DataFrame) -> list[str]:
    return [str(c) for c in X.columns if column_kind(X[c]) in ("numeric", "boolean")]


def repeated_value_columns(X: pd.DataFrame, numeric: Sequence[str]) -> list[str]:
    """The numeric columns that look like a measurement shared by groups of rows (an interest rate of
    the day, a regional index): non-integer values, at least two distinct ones, and at most
    ``REPEATED_MAX_DISTINCT_SHARE`` as many distinct values as rows. Counts and ages are integers."""
    chosen = []
    for column in numeric:
        values = pd.to_numeric(X[column], errors="coerce").dropna().astype(float)
        if 1 < values.nunique() <= REPEATED_MAX_DISTINCT_SHARE * len(X) and bool((values % 1 != 0).any()):
            chosen.append(column)
    return chosen


DATETIME_PARTS = ("days since 1970", "year", "month", "day", "weekday", "day of year", "hour")
_NO_DATETIME = (math.nan,) * len(DATETIME_PARTS)


def datetime_parts(value: Any) -> tuple[float, ...]:
    """The numbers of ``DATETIME_PARTS`` of one value (NaN for each when it is not a date or time). A time
    without a zone is taken as UTC for the instant; the calendar parts are as written."""
    moment = as_datetime(value)
    if moment is None:
        return _NO_DATETIME
    return (
        instant_days(moment),
        float(moment.year),
        float(moment.month),
        float(moment.day),
        float(moment.weekday()),
        float(moment.timetuple().tm_yday),
        moment.hour + moment.minute / 60.0,
    )


def _series_datetime_parts(series: pd.Series) -> np.ndarray:
    """(rows, parts) for a column, each distinct value parsed once."""
    codes, distinct = pd.factorize(series)  # missing values get code -1: the last row of the table, NaN
    parts = _vectorised_datetime_parts(distinct)
    if parts is None:
        parts = np.array([datetime_parts(v) for v in distinct], dtype=float).reshape(len(distinct), -1)
    return np.vstack([parts, [_NO_DATETIME]])[codes]


def _vectorised_datetime_parts(distinct: Any) -> np.ndarray | None:
    """``datetime_parts`` of every value at once, when pandas reads them all as ISO 8601 with one offset (or
    none) in its nanosecond range; else None (the values are then parsed one by one). The same numbers as
    ``datetime_parts``: microseconds / 1e6 / 86400 is the float arithmetic of ``datetime.timestamp``. Ten columns
    of 40,000 distinct times took seconds one by one (a probe of issue #21)."""
    values = pd.Series(np.asarray(distinct, dtype=object))
    if len(values) < 2 or not values.map(lambda v: isinstance(v, str) and ("-" in v or ":" in v)).all():
        return None  # what as_datetime reads as text (and datetime objects) goes the exact way
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            moments = pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError, OverflowError):  # not ISO 8601, several offsets, out of range
        return None
    if not pd.api.types.is_datetime64_any_dtype(moments) or moments.isna().any():
        return None
    utc = moments.dt.tz_convert("UTC").dt.tz_localize(None) if moments.dt.tz is not None else moments
    micros = utc.to_numpy(dtype="datetime64[us]").astype(np.int64)
    calendar = moments.dt
    return np.column_stack(
        [
            micros.astype(float) / 1e6 / 86400.0,
            calendar.year.to_numpy(dtype=float),
            calendar.month.to_numpy(dtype=float),
            calendar.day.to_numpy(dtype=float),
            calendar.day_of_week.to_numpy(dtype=float),
            calendar.day_of_year.to_numpy(dtype=float),
            calendar.hour.to_numpy(dtype=float) + calendar.minute.to_numpy(dtype=float) / 60.0,
        ]
    )


def datetime_columns(X: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The ``candidates`` (non-numeric columns) holding dates or times (``opml.data.dates``)."""
    return [column for column in candidates if is_datetime_column(X[column])]


def _ordering_target(y: Any) -> np.ndarray | None:
    """What categories are ordered by: a regression target's values (floats) as they are, a binary one
    as 0/1; None for multiclass codes (no order) or no target."""
    if y is None:
        return None
    values = np.asarray(y)
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(float)
    classes = np.unique(values)
    return (values == classes[1]).astype(float) if len(classes) == 2 else None


def _by_target_rate(values: pd.Series, target: np.ndarray, kept: list[str]) -> list[str]:
    """``kept`` sorted by each category's (shrunk) rate of the second class, or mean value (regression); ties
    keep frequency order."""
    prior = float(target.mean())
    grouped = pd.Series(target, index=values.index).groupby(values.to_numpy()).agg(["sum", "count"])
    rate = (grouped["sum"] + TARGET_ORDER_PRIOR_ROWS * prior) / (grouped["count"] + TARGET_ORDER_PRIOR_ROWS)
    return sorted(kept, key=lambda category: rate[category])  # sorted() is stable


def _frequency_keys(values: np.ndarray) -> list[float | None]:
    """Dictionary keys of numeric values (missing -> None), the same on the DataFrame and records paths."""
    rounded = np.round(values, FREQUENCY_DECIMALS)
    return [None if math.isnan(v) else v for v in rounded.tolist()]


class TabularFeaturizer(TransformerMixin, BaseEstimator):
    """Numeric columns: optional median imputation and standard scaling.
    Categorical columns: ordinal codes (unknown or missing -> -1) or one-hot (unknown -> all zeros),
    keeping the ``max_categories`` most frequent values of each column.
    ``category_order="target"`` numbers the categories of a binary problem by their rate of the second
    class, and of a regression (float ``y``) by their mean value (fit with ``y``): a tree's threshold on the
    codes can then make the best split of the categories in two (Fisher 1958; what LightGBM does inside for
    native categoricals). Otherwise, and for multiclass problems, the most frequent category gets code 0.
    ``frequencies``: one more feature per repeated-value column (see ``repeated_value_columns``), the
    share of training rows with the same value (0 for a value never seen in training).
    ``datetimes``: columns of dates and times give ``DATETIME_PARTS`` as numeric features (imputed and
    scaled as numeric columns are) instead of category codes."""

    def __init__(
        self,
        encoding: str = "ordinal",
        impute: bool = True,
        scale: bool = False,
        max_categories: int = 100,
        frequencies: bool = False,
        category_order: str = "frequency",
        datetimes: bool = True,
    ):
        self.encoding = encoding
        self.impute = impute
        self.scale = scale
        self.max_categories = max_categories
        self.frequencies = frequencies
        self.category_order = category_order
        self.datetimes = datetimes

    # Defaults for featurizers pickled before these parameters existed (scikit-learn's get_params reads them).
    frequencies = False
    category_order = "frequency"
    datetimes = False

    def fit(self, X: pd.DataFrame, y: Any = None) -> TabularFeaturizer:
        if self.category_order not in CATEGORY_ORDERS:
            raise ValueError(f"category_order must be one of {CATEGORY_ORDERS}, got {self.category_order!r}")
        self.columns_ = [str(column) for column in X.columns]
        self.numeric_ = numeric_columns(X)
        others = [c for c in self.columns_ if c not in self.numeric_]
        self.datetimes_ = datetime_columns(X, others) if self.datetimes else []
        self.categorical_ = [c for c in others if c not in self.datetimes_]
        self.medians_, self.means_, self.scales_ = {}, {}, {}
        for column in self.numeric_:
            self._fit_numeric(column, pd.to_numeric(X[column], errors="coerce").astype(float))
        for column in self.datetimes_:
            parts = _series_datetime_parts(X[column])
            for j, name in enumerate(self._part_names(column)):
                self._fit_numeric(name, pd.Series(parts[:, j]))
        self.categories_ = {}
        self.category_shares_: dict[str, list[float]] = {}
        target = _ordering_target(y) if self.category_order == "target" else None
        for column in self.categorical_:
            values = X[column].astype(str).where(X[column].notna(), None)
            counts = values.value_counts()
            kept = [str(v) for v in counts.index[: self.max_categories]]
            self.categories_[column] = kept if target is None else _by_target_rate(values, target, kept)
            self.category_shares_[column] = [float(counts[c]) / max(len(X), 1) for c in self.categories_[column]]
        self.codes_ = {c: {value: i for i, value in enumerate(cats)} for c, cats in self.categories_.items()}
        self.frequencies_: dict[str, dict[float | None, float]] = {}
        if self.frequencies:
            for column in repeated_value_columns(X, self.numeric_):
                keys = _frequency_keys(pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan))
                self.frequencies_[column] = {
                    k: n / len(keys) for k, n in pd.Series(keys, dtype=object).value_counts(dropna=False).items()
                }
        self.n_features_out_ = (
            len(self.numeric_)
            + (len(self.categorical_) if self.encoding == "ordinal" else sum(len(c) for c in self.categories_.values()))
            + len(self.frequencies_)
            + len(DATETIME_PARTS) * len(self.datetimes_)
        )
        return self

    def _fit_numeric(self, name: str, values: pd.Series) -> None:
        """The median, mean and scale of a numeric feature (a column, or a part of a datetime column)."""
        median = values.median()
        self.medians_[name] = 0.0 if pd.isna(median) else float(median)
        filled = values.fillna(self.medians_[name]) if self.impute else values
        self.means_[name] = float(filled.mean()) if filled.notna().any() else 0.0
        std = float(filled.std()) if filled.notna().sum() > 1 else 0.0
        self.scales_[name] = std if std > 0 else 1.0

    @staticmethod
    def _part_names(column: str) -> list[str]:
        return [f"{column} ({part})" for part in DATETIME_PARTS]

    # -- DataFrame path ----------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(X), self.n_features_out_), dtype=np.float64)
        for j, column in enumerate(self.numeric_):
            values = pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            out[:, j] = self._numeric(column, values)
        position = len(self.numeric_)
        for column in self.categorical_:
            series = X[column]
            if column_kind(series) != "categorical":
                series = series.astype(str).where(series.notna(), None)
            codes = self._index(column).get_indexer(series)  # -1 for missing and unseen values
            position = self._put_codes(out, position, column, codes)
        for column in self._frequency_columns():
            values = pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            position = self._put_frequencies(out, position, column, values)
        for column in self._datetime_columns():
            position = self._put_datetimes(out, position, column, _series_datetime_parts(X[column]))
        return out

    def _index(self, column: str) -> pd.Index:
        cache = self.__dict__.setdefault("_indexes", {})
        if column not in cache:
            cache[column] = pd.Index(self.categories_[column], dtype=object)
        return cache[column]

    # -- records path ------------------------------------------------------------------

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The same matrix as ``transform(pd.DataFrame(records))``, without pandas."""
        out = np.zeros((len(records), self.n_features_out_), dtype=np.float64)
        for j, column in enumerate(self.numeric_):
            values = np.array([_as_float(record.get(column)) for record in records], dtype=float)
            out[:, j] = self._numeric(column, values)
        position = len(self.numeric_)
        for column in self.categorical_:
            lookup = self.codes_[column]
            codes = np.array(
                [lookup.get(key, -1) if (key := _as_key(r.get(column))) is not None else -1 for r in records],
                dtype=np.int64,
            )
            position = self._put_codes(out, position, column, codes)
        for column in self._frequency_columns():
            values = np.array([_as_float(record.get(column)) for record in records], dtype=float)
            position = self._put_frequencies(out, position, column, values)
        for column in self._datetime_columns():
            parts = np.array([datetime_parts(record.get(column)) for record in records], dtype=float)
            position = self._put_datetimes(out, position, column, parts.reshape(-1, len(DATETIME_PARTS)))
        return out

    # -- shared ------------------------------------------------------------------------

    def _numeric(self, column: str, values: np.ndarray) -> np.ndarray:
        if self.impute:
            values = np.where(np.isnan(values), self.medians_[column], values)
        if self.scale:
            values = (values - self.means_[column]) / self.scales_[column]
        return values

    def _put_codes(self, out: np.ndarray, position: int, column: str, codes: np.ndarray) -> int:
        """Write integer category codes (-1 = missing or unknown) into ``out`` from column ``position``."""
        if self.encoding == "ordinal":
            out[:, position] = np.where(codes < 0, MISSING_CODE, codes)
            return position + 1
        known = codes >= 0
        out[np.nonzero(known)[0], position + codes[known]] = 1.0
        return position + len(self.categories_[column])

    def config_key(self) -> tuple:
        """Equal for featurizers that fit to the same thing on the same rows (to fit one and share it)."""
        return tuple(sorted(self.get_params().items()))

    def label(self) -> str:
        """What this featurization does, for the leaderboard."""
        steps = ["ordinal encoding" if self.encoding == "ordinal" else "one-hot encoding"]
        steps.append("median imputation" if self.impute else "native missing values")
        if self.scale:
            steps.append("standard scaling")
        if self.frequencies:
            steps.append("frequencies of repeated values")
        if self._datetime_columns():
            steps.append("dates and times as numbers")
        return ", ".join(steps)

    def _frequency_columns(self) -> list[str]:
        # Featurizers pickled before frequencies existed have no ``frequencies_``.
        return list(getattr(self, "frequencies_", {}))

    def _datetime_columns(self) -> list[str]:
        # Featurizers pickled before datetimes existed have no ``datetimes_`` (their dates are categories).
        return list(getattr(self, "datetimes_", []))

    def _put_datetimes(self, out: np.ndarray, position: int, column: str, parts: np.ndarray) -> int:
        for j, name in enumerate(self._part_names(column)):
            out[:, position + j] = self._numeric(name, parts[:, j])
        return position + len(DATETIME_PARTS)

    def _put_frequencies(self, out: np.ndarray, position: int, column: str, values: np.ndarray) -> int:
        table = self.frequencies_[column]
        out[:, position] = [table.get(key, 0.0) for key in _frequency_keys(values)]
        return position + 1

    def feature_means(self) -> np.ndarray:
        """The mean of each output feature over the training rows, from the statistics kept by ``fit``
        (what a linear model's contributions are measured from). Featurizers pickled before the category
        shares were kept measure categories from "no known category" (zeros)."""
        means = [float(self._numeric(column, np.array([self.means_[column]]))[0]) for column in self.numeric_]
        shares_of = getattr(self, "category_shares_", {})
        for column in self.categorical_:
            shares = np.asarray(shares_of.get(column, [0.0] * len(self.categories_[column])), dtype=float)
            if self.encoding == "ordinal":
                means.append(float(np.arange(len(shares)) @ shares + MISSING_CODE * (1.0 - shares.sum())))
            else:
                means.extend(shares.tolist())
        for column in self._frequency_columns():
            means.append(float(sum(share * share for share in self.frequencies_[column].values())))
        for column in self._datetime_columns():
            means.extend(float(self._numeric(n, np.array([self.means_[n]]))[0]) for n in self._part_names(column))
        return np.asarray(means, dtype=float)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.numeric_)
        for column in self.categorical_:
            if self.encoding == "ordinal":
                names.append(column)
            else:
                names.extend(f"{column}={value}" for value in self.categories_[column])
        names.extend(f"{column} (frequency)" for column in self._frequency_columns())
        for column in self._datetime_columns():
            names.extend(self._part_names(column))
        return np.array(names, dtype=object)

    def source_columns(self) -> list[str]:
        """For each output feature, the raw column it comes from (to sum importances per column)."""
        sources = list(self.numeric_)
        for column in self.categorical_:
            sources.extend([column] * (1 if self.encoding == "ordinal" else len(self.categories_[column])))
        sources += self._frequency_columns()
        for column in self._datetime_columns():
            sources.extend([column] * len(DATETIME_PARTS))
        return sources
