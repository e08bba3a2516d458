"""Why a model answered as it did: per-record contributions of the raw input columns.

Every explanation gives, per record, the contribution of each raw input column to the probability of
the positive class and to its log-odds, with a base value (what the model says of an average training
record) such that ``base + sum(contributions)`` is the model's output in that space (to float rounding).

How each part is computed:

- **Members.** Tree models by exact TreeSHAP (``opml.automl.treeshap``: LightGBM's ``pred_contrib``;
  forests and XGBoost converted to LightGBM first). LightGBM and XGBoost explain their log-odds, forests
  their probability (the mean of the trees' leaf probabilities). Logistic regression is linear in its
  log-odds: a feature contributes ``coef * (x - training mean)`` (exact SHAP for a linear model with
  independent features). Contributions of encoded features (one-hot columns, a category's code, a
  value's frequency) are summed into the raw column they come from.
- **The other space.** A member's contributions in its own space are exact; in the other space they
  are scaled by one factor per record so that they add up to the output there
  (``(p - p_base) / (z - z_base)`` between probability ``p`` and log-odds ``z``): the sizes and signs
  keep their proportions, which is the usual way to read log-odds contributions as probabilities.
- **VotingEnsemble** averages its members' probabilities with the ensemble's weights, so its
  probability contributions are the same weighted average of the members' probability contributions,
  and its base value the weighted average of theirs: exact when the members' are.
- **StackEnsemble** is a logistic regression on the members' log-odds (clipped as the model clips them):
  its log-odds are ``intercept + sum(coef_i * z_i)``, so its log-odds contributions are
  ``sum(coef_i * member i's log-odds contributions)`` and its base value ``intercept + sum(coef_i *
  base_i)``: exact when the members' are. Models saved before log-odds stacking stack probabilities: the
  same rule on the members' probability contributions.

So: for a single LightGBM, XGBoost or logistic regression model and for a StackEnsemble the log-odds
numbers are the exact ones; for a forest and a VotingEnsemble the probability numbers are.

**Regression** (``OpmlRegressor``): the contribution of each raw column to the predicted value, with a base
value such that ``base + sum(contributions)`` is the prediction. Tree members by the same TreeSHAP (their
predicted value), linear members (ElasticNet) by ``coef * (x - training mean)``; a VotingEnsemble is the
weighted mean of its members' contributions, a StackEnsemble (``intercept + sum(coef_i * value_i)``) the
coefficients times its members' contributions, with base ``intercept + sum(coef_i * base_i)``. When the
model learns the label's logarithm (``LogTarget``), each member is explained exactly in log space (clipped
as its prediction is), and its value-space contributions are those scaled, per record, to add up to
``exp(log prediction) - exp(log base)``; the ensemble rules then apply to the values, as the model combines
values. Such explanations also carry the log space (``log_value``), adding up to ``log(prediction)`` from
``log(base)``: exact for a single model, the value-space numbers scaled per record for an ensemble. Scaling
by a positive factor keeps each contribution's sign and their proportions.

Multiclass models are not explained (``NotExplainable``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.base import is_regressor

from opml.automl.model import LOG_ODDS_CLIP, OpmlClassifier, OpmlRegressor
from opml.automl.treeshap import LOG_ODDS, PROBABILITY, VALUE, tree_explainer
from opml.reasons import top_reasons

LOG_VALUE = "log_value"  # a regression model's predicted value in the log space its estimators learn


class NotExplainable(ValueError):
    """The model is not one opml can explain (multiclass, or an estimator without a known rule)."""


@dataclass(frozen=True)
class Explanations:
    """Explanations of n records over the model's raw input ``columns``.

    ``contributions[i, j]``: how much column j moved record i's probability of ``positive_class`` from
    ``base_probability``; ``log_odds_contributions`` the same for its log-odds from ``base_log_odds``.
    ``exact``: the space in which the numbers are exact (see the module's docstring)."""

    columns: list[str]
    classes: list[str]
    positive_class: str
    probabilities: np.ndarray  # n x classes: the model's predict_proba
    labels: list[str]  # the model's predictions (with its threshold)
    base_probability: float
    contributions: np.ndarray
    base_log_odds: float
    log_odds_contributions: np.ndarray
    exact: str

    def record(self, index: int) -> dict[str, Any]:
        """Record ``index`` as JSON: prediction, probabilities, base value and contributions (both spaces)."""
        return {
            "prediction": self.labels[index],
            "probabilities": dict(zip(self.classes, map(float, self.probabilities[index]), strict=True)),
            "positive_class": self.positive_class,
            "base_value": self.base_probability,
            "contributions": dict(zip(self.columns, map(float, self.contributions[index]), strict=True)),
            "log_odds": {
                "base_value": self.base_log_odds,
                "contributions": dict(zip(self.columns, map(float, self.log_odds_contributions[index]), strict=True)),
            },
        }

    def top_reasons(self, index: int, records: Sequence[Mapping[str, Any]], count: int = 3) -> list[str]:
        """The ``count`` largest contributions of record ``index`` in words, largest first:
        "duration = 371 raised P(yes) by 0.21"."""
        return top_reasons(self.record(index), records[index], count)


@dataclass(frozen=True)
class RegressionExplanations:
    """Explanations of n records of a regression model over its raw input ``columns``.

    ``contributions[i, j]``: how much column j moved record i's predicted value from ``base_value``; for a
    model of the label's logarithm, ``log_contributions`` the same for the log of the prediction from
    ``log_base_value`` (both None otherwise). ``exact``: "value" or "log_value" (see the module's docstring)."""

    columns: list[str]
    predictions: np.ndarray  # n: the model's predicted values
    base_value: float
    contributions: np.ndarray
    log_base_value: float | None
    log_contributions: np.ndarray | None
    exact: str

    @property
    def labels(self) -> list[float]:
        """The predicted values, as a regression service records its answers (telemetry, data collection)."""
        return [float(value) for value in self.predictions]

    probabilities = None  # a regression model has no class probabilities

    def record(self, index: int) -> dict[str, Any]:
        """Record ``index`` as JSON: the prediction, the base value and the contributions (and ``log_value``:
        the same in log space, for a model of the label's logarithm)."""
        document: dict[str, Any] = {
            "prediction": float(self.predictions[index]),
            "base_value": self.base_value,
            "contributions": dict(zip(self.columns, map(float, self.contributions[index]), strict=True)),
        }
        if self.log_contributions is not None:
            document[LOG_VALUE] = {
                "base_value": self.log_base_value,
                "contributions": dict(zip(self.columns, map(float, self.log_contributions[index]), strict=True)),
            }
        return document

    def top_reasons(
        self, index: int, records: Sequence[Mapping[str, Any]], count: int = 3, label: str | None = None
    ) -> list[str]:
        """The ``count`` largest contributions of record ``index`` in words, largest first: "carat = 1.2 raised
        the predicted price by 1,234" (``label``: what the model predicts, "price")."""
        return top_reasons(self.record(index), records[index], count, label=label)


@dataclass(frozen=True)
class _Part:
    """One member's explanation in one space: contributions per raw column, a base value, the output."""

    contributions: np.ndarray  # n x columns
    base: float
    output: np.ndarray  # n

    def rescaled(self, base: float, output: np.ndarray) -> _Part:
        """The same contributions scaled, per record, to add up to ``output - base``."""
        total = self.contributions.sum(axis=1)
        target = output - base
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(np.abs(total) > 1e-12, target / total, 0.0)
        return _Part(self.contributions * factor[:, None], base, output)


def _to_probability(part: _Part) -> _Part:
    return part.rescaled(float(expit(part.base)), expit(part.output))


def _to_log_odds(part: _Part) -> _Part:
    clip = (LOG_ODDS_CLIP, 1 - LOG_ODDS_CLIP)
    return part.rescaled(float(logit(np.clip(part.base, *clip))), logit(np.clip(part.output, *clip)))


def _fold(featurizer: Any, contributions: np.ndarray, columns: list[str]) -> np.ndarray:
    """Contributions of encoded features summed into the raw columns they come from."""
    index = {column: j for j, column in enumerate(columns)}
    folded = np.zeros((contributions.shape[0], len(columns)))
    sources = np.array([index[c] for c in featurizer.source_columns()], dtype=np.int64)
    np.add.at(folded.T, sources, contributions.T)
    return folded


def _member_part(member: Any, features: np.ndarray, columns: list[str]) -> tuple[str, _Part]:
    """(space, explanation) of one member in its own exact space."""
    featurizer, estimator = member.steps[0][1], member.steps[-1][1]
    explainer = tree_explainer(estimator)
    if explainer is not None:
        contributions, base = explainer.explain(features)
        folded = _fold(featurizer, contributions, columns)
        return explainer.space, _Part(folded, float(base[0]), base + contributions.sum(axis=1))
    if type(estimator).__name__ == "LogisticRegression" and np.asarray(estimator.coef_).shape[0] == 1:
        coef = np.asarray(estimator.coef_, dtype=float)[0]
        means = featurizer.feature_means()
        contributions = (features - means) * coef
        base = float(estimator.intercept_[0] + coef @ means)
        return LOG_ODDS, _Part(_fold(featurizer, contributions, columns), base, base + contributions.sum(axis=1))
    if is_regressor(estimator) and np.ndim(getattr(estimator, "coef_", None)) == 1:  # ElasticNet: linear in its value
        coef = np.asarray(estimator.coef_, dtype=float)
        means = featurizer.feature_means()
        contributions = (features - means) * coef
        base = float(np.asarray(estimator.intercept_, dtype=float).reshape(-1)[0] + coef @ means)
        return VALUE, _Part(_fold(featurizer, contributions, columns), base, base + contributions.sum(axis=1))
    raise NotExplainable(f"opml cannot explain a {type(estimator).__name__} member")


def _in_space(space: str, part: _Part, wanted: str) -> _Part:
    if space == wanted:
        return part
    return _to_probability(part) if wanted == PROBABILITY else _to_log_odds(part)


def explain(
    model: OpmlClassifier | OpmlRegressor, records: Sequence[Mapping[str, Any]]
) -> Explanations | RegressionExplanations:
    """Explain ``model``'s answers for ``records`` (dicts keyed by input column): a binary classifier's
    (``Explanations``) or a regressor's (``RegressionExplanations``). Raises NotExplainable."""
    if getattr(model, "task", "classification") == "regression":
        return explain_regression(model, records)
    if len(model.classes) != 2:
        raise NotExplainable(
            f"explanations cover binary classification and regression models, not multiclass ones (this model "
            f"has {len(model.classes)} classes)"
        )
    columns = model.input_columns
    features: dict[int, np.ndarray] = {}  # members with the same fitted featurizer share its output
    parts: list[tuple[str, _Part]] = []
    member_probabilities = []
    for member in model.members:
        featurizer = member.steps[0][1]
        if id(featurizer) not in features:
            features[id(featurizer)] = featurizer.transform_records(records)
        space, part = _member_part(member, features[id(featurizer)], columns)
        parts.append((space, part))
        # An explanation adds up to the member's output: its probability needs no second prediction.
        positive = expit(part.output) if space == LOG_ODDS else part.output
        member_probabilities.append(np.column_stack([1 - positive, positive]))

    if model.stacker is not None:
        stacked_on_log_odds = model.stack_input == "log_odds"
        # The stacker is linear in what it is fed (the members' log-odds, or in older models their
        # probabilities) and its own output is log-odds.
        member_space = LOG_ODDS if stacked_on_log_odds else PROBABILITY
        space = LOG_ODDS
        coef = np.asarray(model.stacker.coef_, dtype=float)[0]
        intercept = float(np.asarray(model.stacker.intercept_, dtype=float)[0])
        combined = np.zeros((len(records), len(columns)))
        base = intercept
        for weight, (own_space, part), probability in zip(coef, parts, member_probabilities, strict=True):
            # the member as the stacker sees it: its probability, or its clipped log-odds
            seen = probability[:, 1]
            if stacked_on_log_odds:
                seen = logit(np.clip(seen, LOG_ODDS_CLIP, 1 - LOG_ODDS_CLIP))
            part = _in_space(own_space, part, member_space)
            part = part.rescaled(part.base, seen)
            combined += weight * part.contributions
            base += weight * part.base
        ensemble = _Part(combined, base, base + combined.sum(axis=1))
    else:
        space = PROBABILITY if len(parts) > 1 else parts[0][0]
        weights = np.asarray(model.weights if model.weights is not None else [1.0] * len(parts), dtype=float)
        weights = weights / weights.sum()
        combined = np.zeros((len(records), len(columns)))
        base = 0.0
        for weight, (own_space, part) in zip(weights, parts, strict=True):
            part = _in_space(own_space, part, space)
            combined += weight * part.contributions
            base += weight * part.base
        ensemble = _Part(combined, base, base + combined.sum(axis=1))

    probabilities = model._combine(member_probabilities)
    if space == LOG_ODDS:
        log_odds_part, probability_part = ensemble, _to_probability(ensemble)
    else:
        probability_part, log_odds_part = ensemble, _to_log_odds(ensemble)
    return Explanations(
        columns=columns,
        classes=[str(c) for c in model.classes],
        positive_class=str(model.classes[1]),
        probabilities=probabilities,
        labels=[str(label) for label in model.labels_for(probabilities)],
        base_probability=probability_part.base,
        contributions=probability_part.contributions,
        base_log_odds=log_odds_part.base,
        log_odds_contributions=log_odds_part.contributions,
        exact=space,
    )


def explain_regression(model: OpmlRegressor, records: Sequence[Mapping[str, Any]]) -> RegressionExplanations:
    """Explain a regressor's predicted values for ``records`` (see the module's docstring). Raises
    NotExplainable."""
    columns = model.input_columns
    features: dict[int, np.ndarray] = {}  # members with the same fitted featurizer share its output
    raw: list[_Part] = []  # each member in what its estimator predicts: the value, or its logarithm
    for member in model.members:
        featurizer = member.steps[0][1]
        if id(featurizer) not in features:
            features[id(featurizer)] = featurizer.transform_records(records)
        _, part = _member_part(member, features[id(featurizer)], columns)
        raw.append(part)
    target = model.target
    if target is None:
        logs, values = None, raw
    else:
        # The model clips each member's logarithm before exp (a linear model could run away): so do these.
        low, high = target.low, target.high
        logs = [p.rescaled(float(np.clip(p.base, low, high)), np.clip(p.output, low, high)) for p in raw]
        values = [p.rescaled(float(np.exp(p.base)), np.exp(p.output)) for p in logs]

    if model.stacker is not None:  # intercept + sum(coef_i * value_i)
        coefficients, intercept = model.stacker
        weights, base = np.asarray(coefficients, dtype=float), float(intercept)
    else:  # the weighted mean of the members' values
        weights = np.asarray(model.weights if model.weights is not None else [1.0] * len(values), dtype=float)
        weights, base = weights / weights.sum(), 0.0
    combined = np.zeros((len(records), len(columns)))
    for weight, part in zip(weights, values, strict=True):
        combined += weight * part.contributions
        base += weight * part.base
    # The explanations add up to the members' outputs: the prediction needs no second pass over the trees.
    predictions = model._combine([part.output for part in raw])
    ensemble = _Part(combined, base, predictions)

    log_part, exact = None, VALUE
    if logs is not None and model.stacker is None and len(logs) == 1:
        log_part, exact = logs[0], LOG_VALUE
    elif logs is not None:  # an ensemble combines values: its log space is its values' scaled per record
        floor = float(np.exp(target.low))  # a stack's intercept could take a value below any member's
        log_part = ensemble.rescaled(float(np.log(max(base, floor))), np.log(np.maximum(predictions, floor)))
    return RegressionExplanations(
        columns=columns,
        predictions=predictions,
        base_value=float(base),
        contributions=combined,
        log_base_value=None if log_part is None else log_part.base,
        log_contributions=None if log_part is None else log_part.contributions,
        exact=exact,
    )


def prepare_explainers(model: OpmlClassifier | OpmlRegressor) -> None:
    """Build the members' TreeSHAP explainers now (a converted forest takes up to seconds), so that the
    first explain request does not pay for it. Models that cannot be explained are left as they are."""
    for member in getattr(model, "members", []):
        try:
            tree_explainer(member.steps[-1][1])
        except ValueError:
            continue
