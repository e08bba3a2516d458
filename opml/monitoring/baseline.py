"""The training baseline a service's collected inputs are compared with: small, JSON-able, built once per model.

Per input column of the manifest's ``input_schema``:

- **numeric**: bin edges at the training deciles (the 10th, ..., 90th percentiles of the non-missing values),
  deduplicated, so a column with few distinct values gets fewer bins; a single value holding more than a fifth of
  the rows gets a bin of its own (an extra edge at the next smaller value seen), else a column such as
  ``pdays`` (96 % at 999) would have one bin for everything. Bins are closed on the right and the first
  and last are open-ended: with edges ``e0 < ... < ek`` the bins are ``<= e0``, ``e0 - e1``, ..., ``> ek``, so any
  value, however far from the training range, falls in a bin. Beside the bins: the missing share (null or NaN).
- **categorical** (and anything else the schema does not call numeric or boolean, as the manifest does): the
  share of each of the 50 most frequent training categories, one ``other`` bucket for the rest (a value never
  seen in training also counts as ``other`` when collected), and the missing share.
- **datetime** (a column the schema marks ``format: date-time``, ``opml.data.dates``): numeric over the instant in
  days since 1970 (UTC; the number the featurizer uses), with decile bins as above labelled as dates, so a week
  of new timestamps is a shift of the distribution, not thousands of unseen categories. Beside the bins, the
  share of values that are not dates (none in training, where every value is one; a collected one counts there
  instead of failing) and the missing share.
- **boolean**: the categories ``false`` and ``true``; collected values are read as booleans whether they arrive
  as booleans, numbers (non-zero is true) or text (``true``/``1``/``yes``, ``false``/``0``/``no``; other text
  is ``other``).

**The prediction baseline** is the class balance predicted labels are compared with. It is the manifest's
``prediction_distribution`` (the shares of the labels the model predicted out of fold, cross-validation
predictions with the model's threshold) when the manifest has it, because that is what the model's outputs
looked like on the training data; otherwise the manifest's ``label_distribution`` (the true labels' shares),
which differs from the predictions by the model's errors and its threshold (a model tuned for recall predicts
the rare class more often than it occurs), so a small prediction drift is expected then. ``prediction_source``
says which was used.

For a **regression** model (manifest ``task`` "regression") the prediction baseline is numeric, over the
quantiles of the manifest's ``prediction_summary`` (the out-of-fold predicted values), else of its
``label_summary`` (the true values): the inner quantiles (1 %, 5 %, 10 %, 25 %, 50 %, 75 %, 90 %, 95 %, 99 %)
are the bin edges, so the bins hold 1 %, 4 %, 5 %, 15 %, 25 %, 25 %, 15 %, 5 %, 4 % and 1 % of the training
predictions (the outer two are open-ended: a value beyond the training range is in them, not lost). Quantiles
that coincide (a model that predicts few distinct values) make one edge whose bin holds their shares together.
Prediction drift is then the PSI over these bins, judged on the same scale as a feature's.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from opml.data.dates import DATE_TIME, days_since_epoch
from opml.errors import InvalidInput
from opml.monitoring.accuracy import is_regression

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "opml.monitoring.Baseline/1"
# What the predictions are compared with, in words, by where the prediction baseline came from.
PREDICTION_BASELINE_WORDS = {
    "prediction_distribution": "the out-of-fold predictions of the model's cross-validation",
    "label_distribution": "the training data's label balance",
    "prediction_summary": "the out-of-fold predicted values of the model's cross-validation",
    "label_summary": "the training data's label values",
}
QUANTILES = tuple(q / 10 for q in range(1, 10))  # deciles: at most 10 bins
HEAVY_SHARE = 0.2  # a value holding more than this share of the rows (two deciles) gets a bin of its own
MAX_CATEGORIES = 50
OTHER = "other"
MISSING = "missing"
NOT_A_DATE = "not a date"
DATE_LABEL_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")
BOOLEAN_CATEGORIES = ("false", "true")
TRUE_TEXT = frozenset({"true", "1", "1.0", "yes", "t", "y"})
FALSE_TEXT = frozenset({"false", "0", "0.0", "no", "f", "n"})


def format_edge(value: float, digits: int = 4) -> str:
    return format(value, f".{digits}g")


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins of ``edges``: ``<= e0``, ``e0 - e1``, ..., ``> ek`` (``any value`` without edges);
    more digits where 4 significant ones would make two labels equal."""
    if not edges:
        return ["any value"]
    for digits in (4, 6, 10, 17):
        text = [format_edge(edge, digits) for edge in edges]
        if len(set(text)) == len(text):
            break
    return _labels_between(text)


def date_bin_labels(edges: Sequence[float]) -> list[str]:
    """``bin_labels`` of edges in days since 1970 shown as UTC dates, to the day when that tells them apart (the
    time otherwise). A label shows its edge cut to that precision: an edge half way between two days reads as
    the first day, and a bin closed on the right then holds what its label says for daily data."""
    if not edges:
        return ["any value"]
    moments = [datetime.fromtimestamp(edge * 86400.0, UTC) for edge in edges]
    for pattern in DATE_LABEL_FORMATS:
        text = [moment.strftime(pattern) for moment in moments]
        if len(set(text)) == len(text):
            break
    return _labels_between(text)


def _labels_between(text: Sequence[str]) -> list[str]:
    middle = [f"{low} - {high}" for low, high in itertools.pairwise(text)]
    return [f"<= {text[0]}", *middle, f"> {text[-1]}"]


@dataclass(frozen=True)
class FeatureBaseline:
    """One column's training distribution over its buckets.

    ``shares`` has one entry per bin (numeric: ``len(edges) + 1``), per bin plus the ``not a date`` bucket
    (datetime: ``len(edges) + 2``, edges in days since 1970) or per category plus the ``other`` bucket
    (categorical: ``len(categories) + 1``, ``other`` last); ``missing`` is the missing share. Together they sum
    to 1. ``expected`` is the vector drift is measured on: the shares then the missing share.
    """

    name: str
    kind: str  # "numeric" | "datetime" | "categorical"
    shares: tuple[float, ...]
    missing: float
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    boolean: bool = False

    @property
    def labels(self) -> list[str]:
        """One label per bucket of ``expected``: the bins or categories, ``other``, then ``missing``."""
        if self.kind == "numeric":
            return [*bin_labels(self.edges), MISSING]
        if self.kind == "datetime":
            return [*date_bin_labels(self.edges), NOT_A_DATE, MISSING]
        return [*self.categories, OTHER, MISSING]

    @property
    def not_a_date(self) -> int | None:
        """The index of the ``not a date`` bucket in ``expected`` (None unless a datetime baseline)."""
        return len(self.edges) + 1 if self.kind == "datetime" else None

    @property
    def expected(self) -> np.ndarray:
        return np.array([*self.shares, self.missing], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind in ("numeric", "datetime"):
            data["edges"] = list(self.edges)
        else:
            data["categories"] = list(self.categories)
            if self.boolean:
                data["boolean"] = True
        data.update(shares=list(self.shares), missing=self.missing)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBaseline:
        try:
            kind = data["kind"]
            feature = cls(
                name=str(data["name"]),
                kind=kind,
                shares=tuple(float(share) for share in data["shares"]),
                missing=float(data["missing"]),
                edges=tuple(float(edge) for edge in data.get("edges", ())),
                categories=tuple(str(category) for category in data.get("categories", ())),
                boolean=bool(data.get("boolean", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not a feature baseline ({exc!r}); rebuild the baseline from the model") from exc
        feature.check()
        return feature

    def check(self) -> None:
        """Raise InvalidInput unless the buckets are consistent (a hand-edited or truncated file)."""
        where = f"baseline of column {self.name!r}"
        if self.kind in ("numeric", "datetime"):
            needed = len(self.edges) + (1 if self.kind == "numeric" else 2)
            if len(self.shares) != needed:
                raise InvalidInput(f"{where}: {len(self.edges)} edges need {needed} shares")
            if any(not math.isfinite(e) for e in self.edges) or list(self.edges) != sorted(set(self.edges)):
                raise InvalidInput(f"{where}: the edges must be finite and strictly increasing")
        elif self.kind == "categorical":
            if len(self.shares) != len(self.categories) + 1:
                raise InvalidInput(f"{where}: {len(self.categories)} categories need {len(self.categories) + 1} shares")
            if len(set(self.categories)) != len(self.categories):
                raise InvalidInput(f"{where}: a category is listed twice")
        else:
            raise InvalidInput(f"{where}: kind {self.kind!r} is not 'numeric', 'datetime' or 'categorical'")
        total = sum(self.shares) + self.missing
        if any(not (0.0 <= s <= 1.0) for s in (*self.shares, self.missing)) or abs(total - 1.0) > 1e-6:
            raise InvalidInput(f"{where}: shares must be between 0 and 1 and sum to 1 (they sum to {total:.6g})")


@dataclass(frozen=True)
class Baseline:
    """The training baseline of one model version (see the module docstring for how it is built)."""

    features: tuple[FeatureBaseline, ...]
    prediction: FeatureBaseline | None  # over the classes, or numeric over the predicted values (regression)
    prediction_source: str | None  # "prediction_distribution" | "label_distribution" | "prediction_summary" | ...
    dataset: str | None  # the training dataset version, e.g. "bankmarketing:1"
    training_rows: int

    def feature(self, name: str) -> FeatureBaseline:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise InvalidInput(f"the baseline has no column {name!r}; it has {', '.join(self.names) or 'none'}")

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def outdated_for(self, manifest: Mapping[str, Any]) -> bool:
        """Whether the baseline was built before a rule the manifest now calls for: a column of dates (``format:
        date-time``) kept as categories, as baselines were before dates had bins of their own."""
        dates = {str(c.get("name")) for c in manifest.get("input_schema") or () if c.get("format") == DATE_TIME}
        return any(feature.name in dates and feature.kind != "datetime" for feature in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "dataset": self.dataset,
            "training_rows": self.training_rows,
            "features": [feature.to_dict() for feature in self.features],
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "prediction_source": self.prediction_source,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidInput(f"not an opml baseline (expected format {FORMAT!r}); rebuild it from the model")
        prediction = data.get("prediction")
        features = tuple(FeatureBaseline.from_dict(feature) for feature in data.get("features") or ())
        names = [feature.name for feature in features]
        if len(set(names)) != len(names):
            raise InvalidInput("the baseline lists a column twice; rebuild it from the model")
        return cls(
            features=features,
            prediction=FeatureBaseline.from_dict(prediction) if prediction else None,
            prediction_source=data.get("prediction_source"),
            dataset=data.get("dataset"),
            training_rows=int(data.get("training_rows") or 0),
        )

    @classmethod
    def from_json(cls, text: str) -> Baseline:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"the baseline is not valid JSON ({exc}); rebuild it from the model") from exc
        return cls.from_dict(data)


def decile_edges(finite: np.ndarray) -> np.ndarray:
    """The deduplicated deciles of ``finite``, plus, below each value holding more than a fifth of the rows (the
    deciles collapse on it), the next smaller value seen, so that such a point mass has a bin of its own.

    Each edge is then moved half way to the next value seen above it: it bins the training values as before,
    and a value that differs from a training value in its last digits (93.918 sent as JSON, 93.91799999999999
    parsed from the CSV) lands in the same bin instead of the next one."""
    if not len(finite):
        return np.array([], dtype=np.float64)
    edges = np.quantile(finite, QUANTILES)
    distinct, counts = np.unique(finite, return_counts=True)
    heavy = np.flatnonzero(counts > HEAVY_SHARE * len(finite))
    below = distinct[heavy[heavy > 0] - 1]
    edges = np.unique(np.concatenate([edges, below]))
    above = np.searchsorted(distinct, edges, side="right")  # the first value seen above each edge
    has_above = above < len(distinct)
    lower = distinct[np.maximum(np.searchsorted(distinct, edges, side="right") - 1, 0)]
    middle = lower + (distinct[np.minimum(above, len(distinct) - 1)] - lower) / 2
    return np.unique(np.where(has_above, middle, edges))


def numeric_baseline(name: str, values: np.ndarray) -> FeatureBaseline:
    """Decile edges of the finite values (deduplicated) and the share of each bin, plus the missing share."""
    values = np.asarray(values, dtype=np.float64)
    rows = len(values)
    missing = np.isnan(values)
    present = values[~missing]
    finite = present[np.isfinite(present)]
    edges = decile_edges(finite)
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return FeatureBaseline(
        name=name,
        kind="numeric",
        edges=tuple(float(edge) for edge in edges),
        shares=tuple(float(count) / rows for count in counts) if rows else _empty_shares(len(edges) + 1),
        missing=float(missing.sum()) / rows if rows else 0.0,
    )


def datetime_baseline(name: str, values: Sequence[Any]) -> FeatureBaseline:
    """Decile edges of the instants in days since 1970 (``opml.data.dates.days_since_epoch``: ISO text, datetimes)
    and the share of each bin, then the share of values that are not dates, then the missing share."""
    import pandas as pd

    codes, distinct = pd.factorize(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
    parsed = [days_since_epoch(value) for value in distinct]
    days = np.array([math.nan if d is None else d for d in parsed] + [math.nan], dtype=np.float64)[codes]
    rows = len(days)
    missing = int(np.count_nonzero(codes == -1))  # factorize gives missing values (None, NaN, NaT) the code -1
    dates = days[np.isfinite(days)]
    edges = decile_edges(dates)
    counts = np.bincount(np.searchsorted(edges, dates, side="left"), minlength=len(edges) + 1)
    not_dates = rows - missing - len(dates)
    return FeatureBaseline(
        name=name,
        kind="datetime",
        edges=tuple(float(edge) for edge in edges),
        shares=tuple(float(count) / rows for count in (*counts, not_dates)) if rows else _empty_shares(len(edges) + 2),
        missing=missing / rows if rows else 0.0,
    )


def categorical_baseline(name: str, values: Sequence[Any], *, boolean: bool = False) -> FeatureBaseline:
    """The shares of the 50 most frequent categories (ties by name), the rest as ``other``, and missing."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    distinct = series.value_counts(dropna=False)  # the rows are counted in C, the distinct values here
    rows = int(distinct.sum())
    counts: dict[str, int] = {}
    missing = 0
    for value, count in distinct.items():
        key = boolean_name(value) if boolean else category_name(value)
        if key is None:
            missing += int(count)
        else:
            counts[key] = counts.get(key, 0) + int(count)
    if boolean:
        categories = list(BOOLEAN_CATEGORIES)
    else:
        categories = sorted(counts, key=lambda key: (-counts[key], key))[:MAX_CATEGORIES]
    kept = [counts.get(category, 0) for category in categories]
    other = sum(counts.values()) - sum(kept)
    return FeatureBaseline(
        name=name,
        kind="categorical",
        categories=tuple(categories),
        shares=tuple(count / rows for count in (*kept, other)) if rows else _empty_shares(len(categories) + 1),
        missing=missing / rows if rows else 0.0,
        boolean=boolean,
    )


def _empty_shares(buckets: int) -> tuple[float, ...]:
    # No training rows at all: a uniform baseline keeps the shares summing to 1 (build_baseline refuses this).
    return tuple(1.0 / buckets for _ in range(buckets))


def category_name(value: Any) -> str | None:
    """The category a training value stands for (None for missing): its text, as the collector writes it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    return str(value)


def boolean_name(value: Any) -> str | None:
    """``true``/``false`` for a boolean, a number or a known text; None for missing; ``other`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        if math.isnan(float(value)):
            return None
        return "true" if value else "false"
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    text = str(value).strip().lower()
    if text in TRUE_TEXT:
        return "true"
    if text in FALSE_TEXT:
        return "false"
    return OTHER


def quantile_baseline(name: str, quantiles: Mapping[str, Any], where: str) -> FeatureBaseline:
    """A numeric baseline whose bins are between the inner quantiles ``{"0.01": v, ...}`` (see the module
    docstring). Raises InvalidInput for quantiles that are not probabilities with finite, ordered values."""
    try:
        points = sorted((float(q), float(v)) for q, v in quantiles.items())
    except (TypeError, ValueError, AttributeError):
        raise InvalidInput(f"the manifest's {where} quantiles must map probabilities to numbers") from None
    inner = [(q, v) for q, v in points if 0.0 < q < 1.0]
    if not inner or any(not math.isfinite(v) for _, v in inner):
        raise InvalidInput(f"the manifest's {where} has no finite quantiles between 0 and 1")
    if any(b[1] < a[1] for a, b in itertools.pairwise(inner)):
        raise InvalidInput(f"the manifest's {where} quantiles must not decrease")
    cumulative: dict[float, float] = {}
    for q, v in inner:  # coinciding values: one edge, holding the highest probability at it
        cumulative[v] = max(q, cumulative.get(v, 0.0))
    edges = sorted(cumulative)
    below = [cumulative[edge] for edge in edges]
    shares = [below[0], *(high - low for low, high in itertools.pairwise(below)), 1.0 - below[-1]]
    return FeatureBaseline(
        name=name, kind="numeric", edges=tuple(edges), shares=tuple(max(share, 0.0) for share in shares), missing=0.0
    )


def prediction_baseline(manifest: Mapping[str, Any]) -> tuple[FeatureBaseline | None, str | None]:
    """What predictions are compared with (a class balance, or a regression model's value quantiles), and
    which manifest field it came from."""
    if is_regression(manifest):
        for source in ("prediction_summary", "label_summary"):
            summary = manifest.get(source)
            if isinstance(summary, Mapping) and summary.get("quantiles"):
                return quantile_baseline("prediction", summary["quantiles"], source), source
        return None, None
    for source in ("prediction_distribution", "label_distribution"):
        distribution = manifest.get(source)
        if not distribution:
            continue
        if not isinstance(distribution, Mapping):
            raise InvalidInput(f"the manifest's {source} must map each class to its share")
        classes = [str(label) for label in (manifest.get("classes") or distribution)]
        shares = [float(distribution.get(label, 0.0)) for label in classes]
        total = sum(shares)
        if not all(math.isfinite(share) and share >= 0 for share in shares) or total <= 0:
            raise InvalidInput(f"the manifest's {source} must give each class a share of at least 0")
        feature = FeatureBaseline(
            name="prediction",
            kind="categorical",
            categories=tuple(classes),
            shares=(*(share / total for share in shares), 0.0),
            missing=0.0,
        )
        return feature, source
    return None, None


def build_baseline(training: pd.DataFrame, manifest: Mapping[str, Any]) -> Baseline:
    """The baseline of a model from its training data (the dataset version named by the manifest's ``dataset``)
    and its manifest (``input_schema``; ``prediction_distribution`` or ``label_distribution``, or for regression
    ``prediction_summary`` or ``label_summary``)."""
    import pandas as pd

    schema = manifest.get("input_schema")
    if not isinstance(schema, list) or not schema:
        raise InvalidInput("the model's manifest has no input_schema: drift needs the model's input columns")
    if len(training) == 0:
        raise InvalidInput("the training data has no rows: a baseline needs the data the model was trained on")
    missing = [str(column.get("name")) for column in schema if column.get("name") not in training.columns]
    if missing:
        raise InvalidInput(
            f"the training data lacks the model's input columns {', '.join(missing[:10])}: "
            f"is it the dataset version the model was trained on ({manifest.get('dataset') or 'unknown'})?"
        )
    features = []
    for column in schema:
        name = str(column["name"])
        series = training[name]
        kind = column.get("type")
        if column.get("format") == DATE_TIME:
            features.append(datetime_baseline(name, series))
        elif kind == "numeric":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            features.append(numeric_baseline(name, values))
        else:
            features.append(categorical_baseline(name, series, boolean=kind == "boolean"))
    prediction, source = prediction_baseline(manifest)
    dataset = manifest.get("dataset")
    return Baseline(
        features=tuple(features),
        prediction=prediction,
        prediction_source=source,
        dataset=str(dataset) if dataset else None,
        training_rows=len(training),
    )
