"""The algorithms AutoML searches, under Azure ML's names, with FLAML's search spaces.

FLAML supplies each algorithm's hyperparameter space, its cheap starting point
and the translation of a configuration into the library's parameters; opml
builds the real estimator (LightGBM, XGBoost, scikit-learn) from those.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from opml.automl.featurize import TabularFeaturizer


@dataclass(frozen=True)
class Learner:
    name: str  # Azure ML's algorithm name
    flaml_class: str  # class in flaml.automl.model
    flaml_name: str  # FLAML's short name (its zero-shot portfolio is keyed by it)
    encoding: str  # "ordinal" or "onehot"
    impute: bool
    scale: bool
    cost: float  # relative cost, cheapest first

    def featurizer(self) -> TabularFeaturizer:
        return TabularFeaturizer(encoding=self.encoding, impute=self.impute, scale=self.scale)

    def featurization_label(self) -> str:
        steps = ["ordinal encoding" if self.encoding == "ordinal" else "one-hot encoding"]
        steps.append("median imputation" if self.impute else "native missing values")
        if self.scale:
            steps.append("standard scaling")
        return ", ".join(steps)


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        Learner("LightGBM", "LGBMEstimator", "lgbm", "ordinal", impute=False, scale=False, cost=1.0),
        Learner(
            "XGBoostClassifier", "XGBoostSklearnEstimator", "xgboost", "ordinal", impute=False, scale=False, cost=1.6
        ),
        Learner(
            "ExtremeRandomTrees", "ExtraTreesEstimator", "extra_tree", "ordinal", impute=True, scale=False, cost=1.9
        ),
        Learner("RandomForest", "RandomForestEstimator", "rf", "ordinal", impute=True, scale=False, cost=2.0),
        Learner("LogisticRegression", "LRL2Classifier", "lrl2", "onehot", impute=True, scale=True, cost=25.0),
    )
}


def _flaml_class(learner: Learner) -> Any:
    from flaml.automl import model as flaml_models

    return getattr(flaml_models, learner.flaml_class)


def _task(n_classes: int) -> Any:
    from flaml.automl.task.factory import task_factory

    return task_factory("binary" if n_classes == 2 else "multiclass")


def search_space(learner: Learner, *, n_rows: int, n_features: int, n_classes: int) -> tuple[dict, dict, dict]:
    """(space, low-cost partial config, initial config) for FLAML's searcher."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = _flaml_class(learner).search_space(data_size=(n_rows, n_features), task=_task(n_classes))
    space = {name: spec["domain"] for name, spec in raw.items()}
    low_cost = {name: spec["low_cost_init_value"] for name, spec in raw.items() if "low_cost_init_value" in spec}
    initial = {name: spec["init_value"] for name, spec in raw.items() if "init_value" in spec}
    return space, low_cost, initial


WARM_START_LEARNERS = ("LightGBM", "XGBoostClassifier")

# The libraries' own defaults, in FLAML's search-space names: strong, cheap starting points that FLAML's
# low-cost start (4 trees of 4 leaves) takes many trials to grow into. LightGBM: 100 trees of 31 leaves,
# learning rate 0.1; XGBoost: 100 trees of depth 6 (64 leaves), learning rate 0.3.
LIBRARY_DEFAULTS: dict[str, dict[str, Any]] = {
    "LightGBM": {"n_estimators": 100, "num_leaves": 31},
    "XGBoostClassifier": {"n_estimators": 100, "max_leaves": 64, "learning_rate": 0.3},
}


def library_default_config(learner: Learner, initial: dict[str, Any]) -> list[dict[str, Any]]:
    """The library's default configuration over FLAML's initial values, or nothing for other learners."""
    if learner.name not in LIBRARY_DEFAULTS:
        return []
    return [{**initial, **LIBRARY_DEFAULTS[learner.name]}]


def zero_shot_configs(learner: Learner, X: Any, y: Any) -> list[dict[str, Any]]:
    """FLAML's data-dependent starting configurations (its zero-shot portfolio), in search-space names."""
    if learner.name not in WARM_START_LEARNERS:
        return []
    from flaml.default import suggest_config

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suggested = suggest_config("classification", X, y, learner.flaml_name, k=1)
    except Exception:  # the portfolio is a bonus: a failure here only means a cold start
        return []
    return [dict(item["hyperparameters"]) for item in suggested]


def build_estimator(learner: Learner, config: dict[str, Any], *, n_classes: int, n_jobs: int, seed: int) -> Any:
    """The library estimator for one configuration."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = _flaml_class(learner)(task=_task(n_classes), **config)
    params = dict(wrapper.params)
    estimator_class = wrapper.estimator_class
    params.pop("n_jobs", None)
    params.pop("nthread", None)
    if learner.name == "LightGBM":
        params.update(n_jobs=n_jobs, random_state=seed, verbose=-1)
    elif learner.name in ("XGBoostClassifier", "RandomForest", "ExtremeRandomTrees"):
        params.update(n_jobs=n_jobs, random_state=seed)
    elif learner.name == "LogisticRegression":
        params.update(random_state=seed, max_iter=1000)
    return estimator_class(**params)


def _forest_tables(forest: Any) -> list[tuple[Any, np.ndarray]]:
    """Per tree: (the tree, its leaves' class probabilities), computed once per fitted forest."""
    tables = forest.__dict__.get("_opml_tables")
    if tables is None:
        tables = []
        for tree in forest.estimators_:
            values = tree.tree_.value[:, 0, :]
            totals = values.sum(axis=1, keepdims=True)
            tables.append((tree.tree_, values / np.where(totals == 0, 1, totals)))
        forest.__dict__["_opml_tables"] = tables
    return tables


def _forest_proba(forest: Any, X: np.ndarray) -> np.ndarray:
    """scikit-learn's forest predict_proba (the mean of the trees' leaf probabilities) without its
    per-call overhead: 10x faster for one record, same numbers."""
    limit = np.finfo(np.float32).max  # beyond it every split compares the same; casting would make inf
    rows = np.ascontiguousarray(np.clip(X, -limit, limit), dtype=np.float32)
    total = np.zeros((len(X), len(forest.classes_)))
    for tree, table in _forest_tables(forest):
        total += table[tree.apply(rows)]
    return total / len(forest.estimators_)


def fast_predict_proba(estimator: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities, bypassing wrapper overhead for small inputs (same numbers as predict_proba)."""
    n_classes = len(estimator.classes_)
    if len(X) <= 256:
        if hasattr(estimator, "estimators_") and hasattr(estimator, "n_outputs_") and estimator.n_outputs_ == 1:
            return _forest_proba(estimator, X)
        booster = getattr(estimator, "booster_", None)
        if booster is not None:  # LightGBM
            raw = booster.predict(X, num_threads=1)
            return np.column_stack([1 - raw, raw]) if n_classes == 2 else raw
        if hasattr(estimator, "get_booster"):  # XGBoost
            raw = estimator.get_booster().inplace_predict(X)
            return np.column_stack([1 - raw, raw]) if n_classes == 2 and raw.ndim == 1 else raw
    return estimator.predict_proba(X)


def set_single_threaded(estimator: Any) -> None:
    """Prediction on small inputs is fastest with one thread (OpenMP start-up dominates otherwise)."""
    if hasattr(estimator, "n_jobs"):
        with contextlib.suppress(ValueError):
            estimator.set_params(n_jobs=1)
    if hasattr(estimator, "get_booster"):
        estimator.get_booster().set_param({"nthread": 1})
