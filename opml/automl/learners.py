"""The algorithms AutoML searches, under Azure ML's names, with FLAML's search spaces.

FLAML supplies each algorithm's hyperparameter space, its cheap starting point
and the translation of a configuration into the library's parameters; opml
builds the real estimator (LightGBM, XGBoost, scikit-learn) from those.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from opml.automl.featurize import TabularFeaturizer
from opml.automl.present_classes import PresentClasses, unwrapped


@dataclass(frozen=True)
class Learner:
    name: str  # Azure ML's algorithm name
    flaml_class: str  # class in flaml.automl.model
    flaml_name: str  # FLAML's short name (its zero-shot portfolio is keyed by it)
    encoding: str  # "ordinal" or "onehot"
    impute: bool
    scale: bool
    cost: float  # relative cost, cheapest first
    tasks: tuple[str, ...] = ("classification", "regression")
    stoppable: bool = True  # its fit can stop part-way (``fit_until``): trees and ElasticNet; not lbfgs

    def featurizer(self, *, featurize: bool = True, frequencies: bool = False) -> TabularFeaturizer:
        """The learner's featurization; ``featurize=False`` (featurization "off"): no imputation, scaling,
        frequencies or dates as numbers (text stays categories)."""
        return TabularFeaturizer(
            encoding=self.encoding,
            impute=self.impute and featurize,
            scale=self.scale and featurize,
            frequencies=frequencies and featurize,
            category_order="target" if self.encoding == "ordinal" else "frequency",
            datetimes=featurize,
        )


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        Learner("LightGBM", "LGBMEstimator", "lgbm", "ordinal", impute=False, scale=False, cost=1.0),
        *(
            # One XGBoost learner per task under Azure's two names, the same FLAML space and featurization.
            Learner(name, "XGBoostSklearnEstimator", "xgboost", "ordinal", False, False, 1.6, tasks=(task,))
            for name, task in (("XGBoostClassifier", "classification"), ("XGBoostRegressor", "regression"))
        ),
        Learner(
            "ExtremeRandomTrees", "ExtraTreesEstimator", "extra_tree", "ordinal", impute=True, scale=False, cost=1.9
        ),
        Learner("RandomForest", "RandomForestEstimator", "rf", "ordinal", impute=True, scale=False, cost=2.0),
        Learner(
            "LogisticRegression",
            "LRL2Classifier",
            "lrl2",
            "onehot",
            impute=True,
            scale=True,
            cost=25.0,
            tasks=("classification",),
            stoppable=False,
        ),
        Learner(
            "ElasticNet",
            "ElasticNetEstimator",
            "enet",
            "onehot",
            impute=True,
            scale=True,
            cost=3.0,
            tasks=("regression",),
        ),
    )
}


def _flaml_class(learner: Learner) -> Any:
    from flaml.automl import model as flaml_models

    return getattr(flaml_models, learner.flaml_class)


def _task(n_classes: int) -> Any:
    """FLAML's task for a problem of ``n_classes`` classes; 0 classes is regression (opml's convention:
    a regression problem has no classes)."""
    from flaml.automl.task.factory import task_factory

    return task_factory("regression" if n_classes == 0 else "binary" if n_classes == 2 else "multiclass")


def search_space(learner: Learner, *, n_rows: int, n_features: int, n_classes: int) -> tuple[dict, dict, dict]:
    """(space, low-cost partial config, initial config) for FLAML's searcher."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = _flaml_class(learner).search_space(data_size=(n_rows, n_features), task=_task(n_classes))
    space = {name: spec["domain"] for name, spec in raw.items()}
    low_cost = {name: spec["low_cost_init_value"] for name, spec in raw.items() if "low_cost_init_value" in spec}
    initial = {name: spec["init_value"] for name, spec in raw.items() if "init_value" in spec}
    return space, low_cost, initial


# Configurations tried before the searchers take over, in FLAML's search-space names. First the
# library's own defaults: strong and cheap, where FLAML's low-cost start (4 trees of 4 leaves) takes many
# trials to grow. Then, when the budget allows, the slow-and-steady settings that win most tabular
# benchmarks: a low learning rate with many small, column-subsampled trees. On four Bank Marketing
# splits the LightGBM ones beat the defaults by 0.001-0.0015 of out-of-fold AUC, and every configuration
# a 5-minute search had found. FLAML's data-dependent zero-shot configurations are not used: there
# they were worse than the defaults (AUC 0.944 against 0.947) and XGBoost's took 110 of 300 seconds.
LIBRARY_DEFAULTS: dict[str, dict[str, Any]] = {
    # LightGBM: 100 trees of 31 leaves, learning rate 0.1; XGBoost: 100 trees of depth 6 (64 leaves), 0.3.
    "lgbm": {"n_estimators": 100, "num_leaves": 31},
    "xgboost": {"n_estimators": 100, "max_leaves": 64, "learning_rate": 0.3},
}
SLOW_CONFIGS: dict[str, list[dict[str, Any]]] = {  # by FLAML's name: the same for classification and regression
    "lgbm": [
        {
            "n_estimators": 1000,
            "num_leaves": 15,
            "learning_rate": 0.02,
            "colsample_bytree": 0.6,
            "min_child_samples": 40,
        },
        {
            "n_estimators": 600,
            "num_leaves": 31,
            "learning_rate": 0.02,
            "colsample_bytree": 0.5,
            "min_child_samples": 50,
            "reg_lambda": 5.0,
        },
    ],
    "xgboost": [
        {
            "n_estimators": 600,
            "max_leaves": 31,
            "learning_rate": 0.03,
            "subsample": 0.8,
            "colsample_bytree": 0.7,
            "min_child_weight": 2.0,
        },
    ],
}


# On large tables, boosting needs more capacity than the defaults: on 262,000 flights (arr_delay, a 10 %
# holdout, held-out Spearman on 65,000 other rows, quiet machine, 2 threads) LightGBM's 100 trees of 31 leaves
# reached 0.454 (2 s), 300 trees of 127 leaves 0.545 (4 s), 600 of 127 0.557 (6 s), 600 of 255 0.560 (8 s)
# and 1,000 of 127 0.559 (14 s); XGBoost's 200 of 127 leaves 0.529 (4 s), 400 of 127 0.543 (5.5 s) and 300 of
# 255 0.555 (7 s). A one-minute search starting from FLAML's 4-tree configurations gets nowhere near.
LARGE_DATA_ROWS = 100_000
LARGE_DATA_CONFIGS: dict[str, dict[str, Any]] = {
    "lgbm": {"n_estimators": 600, "num_leaves": 255, "learning_rate": 0.1},
    "xgboost": {"n_estimators": 300, "max_leaves": 255, "learning_rate": 0.1},
}


def portfolio_configs(learner: Learner, initial: dict[str, Any], *, slow: bool, rows: int = 0) -> list[dict[str, Any]]:
    """The configurations to try first for ``learner``, over FLAML's initial values: the library's
    defaults, then on ``LARGE_DATA_ROWS`` rows or more a larger one, then (``slow``) the low-learning-rate
    ones. Nothing for learners without a portfolio."""
    configs = [LIBRARY_DEFAULTS[learner.flaml_name]] if learner.flaml_name in LIBRARY_DEFAULTS else []
    if rows >= LARGE_DATA_ROWS and learner.flaml_name in LARGE_DATA_CONFIGS:
        configs.append(LARGE_DATA_CONFIGS[learner.flaml_name])
    if slow:
        configs += SLOW_CONFIGS.get(learner.flaml_name, [])
    return [{**initial, **config} for config in configs]


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
    elif learner.name in ("XGBoostClassifier", "XGBoostRegressor", "RandomForest", "ExtremeRandomTrees"):
        params.update(n_jobs=n_jobs, random_state=seed)
    elif learner.name == "LogisticRegression":
        params.update(random_state=seed, max_iter=1000)
    elif learner.name == "ElasticNet":
        params.update(random_state=seed, max_iter=5000)
    return estimator_class(**params)


SINGLE_THREAD_CELLS = 1_000_000  # below this many rows x columns, one thread fits fastest


def fit_threads(rows: int, columns: int, available: int) -> int:
    """Threads for one fit: one on small data, where synchronising threads costs more than they save (and
    much more on a busy machine: a LightGBM trial on 4,000 rows took 5-19 s with 2 threads against 1-2 s
    with one, while other processes used the cores), else the ``available`` ones."""
    return 1 if rows * max(columns, 1) < SINGLE_THREAD_CELLS else max(1, available)


class FitStopped(Exception):
    """A fit stopped before it finished because its caller asked (``fit_until``)."""


FOREST_CHUNK = 16  # trees grown between two checks of a forest's stop condition


def fit_until(estimator: Any, X: Any, y: Any, stop: Callable[[], bool]) -> Any:
    """Fit ``estimator``, checking ``stop`` between boosting rounds (LightGBM, XGBoost) or batches of
    ``FOREST_CHUNK`` trees (forests, grown with warm start: the same trees as one fit) or ``LINEAR_CHUNK``
    coordinate-descent passes (ElasticNet, warm-started); raises FitStopped when it says so. A logistic
    regression (lbfgs) fits in one go."""
    if getattr(estimator, "booster_", None) is not None or type(estimator).__module__.startswith("lightgbm"):

        def check(_env: Any) -> None:
            if stop():
                raise FitStopped

        return estimator.fit(X, y, callbacks=[check])
    if hasattr(estimator, "get_xgb_params"):
        import xgboost

        class Check(xgboost.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if stop():
                    raise FitStopped
                return False

        estimator.set_params(callbacks=[Check()])
        try:
            return estimator.fit(X, y)
        finally:
            estimator.set_params(callbacks=None)
    if hasattr(estimator, "warm_start") and hasattr(estimator, "n_estimators"):
        total = estimator.n_estimators
        estimator.set_params(warm_start=True)
        try:
            for grown in range(min(FOREST_CHUNK, total), total + FOREST_CHUNK, FOREST_CHUNK):
                estimator.set_params(n_estimators=min(grown, total))
                estimator.fit(X, y)
                if grown < total and stop():
                    raise FitStopped
        finally:
            estimator.set_params(warm_start=False, n_estimators=total)
        return estimator
    if type(estimator).__name__ == "ElasticNet":
        return _fit_coordinate_descent_until(estimator, X, y, stop)
    return estimator.fit(X, y)


LINEAR_CHUNK = 20  # coordinate-descent passes between two checks of an ElasticNet's stop condition


def _fit_coordinate_descent_until(estimator: Any, X: Any, y: Any, stop: Callable[[], bool]) -> Any:
    """An ElasticNet fitted ``LINEAR_CHUNK`` passes at a time, each chunk warm-started from the last one's
    coefficients, until it converges (fewer passes than asked) or reaches its ``max_iter``: one fit took 22 s
    on 236,000 flights and could not stop. The convergence warnings of the chunks are not the fit's."""
    from sklearn.exceptions import ConvergenceWarning

    total = estimator.max_iter
    done = 0
    estimator.set_params(warm_start=True)
    try:
        while True:
            estimator.set_params(max_iter=min(LINEAR_CHUNK, total - done))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X, y)
            done += estimator.n_iter_
            if estimator.n_iter_ < estimator.max_iter or done >= total:
                return estimator
            if stop():
                raise FitStopped
    finally:
        estimator.set_params(warm_start=False, max_iter=total)


PACKED_KEY = "_opml_fast"  # where an estimator keeps (what it was packed from, its packed form or None)


class PackedForest:
    """All trees of a fitted scikit-learn forest in flat arrays, walked one level at a time for every
    tree at once: a record costs ~depth numpy steps instead of one ``tree.apply`` call per tree."""

    def __init__(self, forest: Any):
        regression = is_regressor(forest)
        children, features, thresholds, values, roots = [], [], [], [], []
        offset, depth = 0, 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            nodes = np.arange(tree.node_count)
            leaf = tree.children_left < 0
            # A leaf is its own child on both sides: walking past it stays put, so every walk takes
            # the same number of steps.
            left = np.where(leaf, nodes, tree.children_left) + offset
            right = np.where(leaf, nodes, tree.children_right) + offset
            children.append(np.column_stack([left, right]))
            features.append(np.where(leaf, 0, tree.feature))
            thresholds.append(np.where(leaf, np.inf, tree.threshold))
            counts = tree.value[:, 0, :]
            if regression:  # a regression tree's leaf holds the mean of its rows
                values.append(counts)
            else:
                totals = counts.sum(axis=1, keepdims=True)
                values.append(counts / np.where(totals == 0, 1, totals))
            roots.append(offset)
            offset += tree.node_count
            depth = max(depth, tree.max_depth)
        self.children = np.concatenate(children)
        self.feature, self.threshold = np.concatenate(features), np.concatenate(thresholds)
        self.value = np.concatenate(values)
        self.roots, self.depth = np.asarray(roots), depth

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The mean of the trees' leaf probabilities (scikit-learn's predict_proba, same numbers); for a
        regression forest, one column: the mean of the trees' leaf values (its predict)."""
        limit = np.finfo(np.float32).max  # beyond it every split compares the same; casting would make inf
        # scikit-learn compares float32 features with float64 thresholds.
        rows = np.clip(X, -limit, limit).astype(np.float32)
        nodes = np.broadcast_to(self.roots, (len(rows), len(self.roots)))
        row_index = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            right = rows[row_index, self.feature[nodes]] > self.threshold[nodes]
            nodes = self.children[nodes, right.view(np.int8)]
        return self.value[nodes].mean(axis=1)


def _packed(estimator: Any, fitted: Any, build: Callable[[], Any]) -> Any:
    """The packed form of ``estimator``, built once and kept in it (it is saved with the model). ``fitted``
    is the object a fit replaces (a forest's tree list, XGBoost's booster): a refitted estimator is
    packed again instead of predicting with its old trees."""
    cached = estimator.__dict__.get(PACKED_KEY)
    if cached is None or cached[0] is not fitted:
        cached = estimator.__dict__[PACKED_KEY] = (fitted, build())
    return cached[1]


def _forest_proba(forest: Any, X: np.ndarray) -> np.ndarray:
    return _packed(forest, forest.estimators_, lambda: PackedForest(forest)).predict_proba(X)


class PackedXGBoost:
    """An XGBoost model's trees (gbtree, numeric splits; binary, multiclass softprob or squared-error
    regression) in flat arrays, walked like ``PackedForest``: XGBoost's own single-row prediction costs
    ~0.2 ms of call overhead plus ~1 us per tree."""

    OBJECTIVES = ("binary:logistic", "multi:softprob", "reg:squarederror")
    # Packed forms saved with models before the other objectives (their ``base_margin`` is the log-odds).
    objective = "binary:logistic"

    def __init__(self, booster: Any):
        import json

        learner = json.loads(booster.save_raw("json"))["learner"]
        trees = learner["gradient_booster"]["model"]["trees"]
        children, features, thresholds, default_left, leaf_values, roots = [], [], [], [], [], []
        offset, depth = 0, 0
        for tree in trees:
            left, right = np.asarray(tree["left_children"]), np.asarray(tree["right_children"])
            nodes = np.arange(len(left))
            leaf = left < 0
            children.append(np.column_stack([np.where(leaf, nodes, left), np.where(leaf, nodes, right)]) + offset)
            features.append(np.where(leaf, 0, np.asarray(tree["split_indices"])))
            split = np.asarray(tree["split_conditions"], dtype=np.float32)
            # XGBoost goes left when the value is below the split; a leaf's "split" holds its weight.
            thresholds.append(np.where(leaf, np.float32(np.inf), split))
            default_left.append(np.where(leaf, True, np.asarray(tree["default_left"], dtype=bool)))
            leaf_values.append(np.where(leaf, split.astype(np.float64), 0.0))
            roots.append(offset)
            offset += len(left)
            depth = max(depth, _depth(left, right))
        self.children = np.concatenate(children)
        self.feature, self.threshold = np.concatenate(features), np.concatenate(thresholds)
        self.default_left, self.leaf_value = np.concatenate(default_left), np.concatenate(leaf_values)
        self.roots, self.depth = np.asarray(roots), depth
        self.objective = learner["objective"]["name"]
        n_classes = int(learner["learner_model_param"]["num_class"])
        base_score = np.asarray(learner["learner_model_param"]["base_score"].strip("[]").split(","), dtype=float)
        if self.objective == "multi:softprob":
            # Which class each tree adds to (one tree per class per round), and one starting margin per class
            # (XGBoost 3 estimates them from the classes' shares).
            tree_class = np.asarray(learner["gradient_booster"]["model"]["tree_info"], dtype=int)
            self.class_of_tree = np.eye(n_classes)[tree_class]
            self.base_margin = np.broadcast_to(base_score, (n_classes,)).copy()
        elif self.objective == "binary:logistic":  # the base score is a probability: its log-odds
            self.base_margin = float(np.log(base_score[0] / (1 - base_score[0])))
        else:  # squared error: the base score is a value
            self.base_margin = float(base_score[0])

    @classmethod
    def supports(cls, booster: Any) -> bool:
        """gbtree models of the objectives above with numeric splits only; others keep XGBoost's own path."""
        import json

        learner = json.loads(booster.save_config())["learner"]
        return (
            learner["objective"]["name"] in cls.OBJECTIVES
            and learner["gradient_booster"]["name"] == "gbtree"
            and booster.num_boosted_rounds() > 0
            and not booster.feature_types  # no categorical features
        )

    def _leaves(self, X: np.ndarray) -> np.ndarray:
        """Each row's leaf value in every tree (rows, trees)."""
        rows = X.astype(np.float32)
        nodes = np.broadcast_to(self.roots, (len(rows), len(self.roots)))
        row_index = np.arange(len(rows))[:, None]
        missing = bool(np.isnan(rows).any())
        for _ in range(self.depth):
            values = rows[row_index, self.feature[nodes]]
            go_right = ~(values < self.threshold[nodes])  # NaN compares False: right, unless...
            if missing:  # ...the split sends missing values left
                go_right &= ~(np.isnan(values) & self.default_left[nodes])
            nodes = self.children[nodes, go_right.view(np.int8)]
        return self.leaf_value[nodes]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """A regressor's values (n,), or a classifier's probabilities (n, 2) or (n, k): XGBoost's numbers."""
        leaves = self._leaves(X)
        if self.objective == "multi:softprob":
            from scipy.special import softmax

            return softmax(self.base_margin + leaves @ self.class_of_tree, axis=1)
        margin = self.base_margin + leaves.sum(axis=1)
        if self.objective == "reg:squarederror":
            return margin
        positive = 1.0 / (1.0 + np.exp(-margin))
        return np.column_stack([1 - positive, positive])


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    depth, level = 0, [0]
    while True:
        level = [child for node in level for child in (left[node], right[node]) if child >= 0]
        if not level:
            return depth
        depth += 1


def _xgboost_predict(estimator: Any, X: np.ndarray) -> np.ndarray | None:
    """Values or class probabilities through ``PackedXGBoost``, or None when the model is not one it supports."""
    booster = estimator.get_booster()
    packed = _packed(estimator, booster, lambda: PackedXGBoost(booster) if PackedXGBoost.supports(booster) else None)
    return None if packed is None else packed.predict(X)


def linear_proba(model: Any, X: np.ndarray) -> np.ndarray:
    """A fitted scikit-learn LogisticRegression's predict_proba without its input validation (~0.5 ms
    a call): the sigmoid of the decision for two classes, its softmax (multinomial) for more."""
    from scipy.special import expit, softmax

    decision = X @ model.coef_.T + model.intercept_
    if decision.shape[1] == 1:
        positive = expit(decision[:, 0])
        return np.column_stack([1 - positive, positive])
    return softmax(decision, axis=1)


def is_regressor(estimator: Any) -> bool:
    from sklearn.base import is_regressor as sklearn_is_regressor

    return sklearn_is_regressor(estimator)


def fast_predict(estimator: Any, X: np.ndarray) -> np.ndarray:
    """A fitted estimator's predictions in opml's shapes: predicted values (n,) for a regressor, class
    probabilities (n, k) for a classifier; bypassing wrapper overhead for small inputs (same numbers)."""
    if not is_regressor(estimator):
        return fast_predict_proba(estimator, X)
    if len(X) <= 256:
        if hasattr(estimator, "estimators_") and hasattr(estimator, "n_outputs_") and estimator.n_outputs_ == 1:
            return _forest_proba(estimator, X)[:, 0]
        booster = getattr(estimator, "booster_", None)
        if booster is not None:  # LightGBM
            return booster.predict(X, num_threads=1)
        if hasattr(estimator, "get_booster"):  # XGBoost
            packed = _xgboost_predict(estimator, X)
            return packed if packed is not None else estimator.get_booster().inplace_predict(X)
        if hasattr(estimator, "coef_"):  # a linear model: ElasticNet
            return X @ estimator.coef_ + estimator.intercept_
    return estimator.predict(X)


def fast_predict_proba(estimator: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities, bypassing wrapper overhead for small inputs (same numbers as predict_proba)."""
    if isinstance(estimator, PresentClasses):  # fitted without some classes: their columns are 0
        return estimator.expand(fast_predict_proba(estimator.estimator, X))
    n_classes = len(estimator.classes_)
    if len(X) <= 256:
        if hasattr(estimator, "estimators_") and hasattr(estimator, "n_outputs_") and estimator.n_outputs_ == 1:
            return _forest_proba(estimator, X)
        booster = getattr(estimator, "booster_", None)
        if booster is not None:  # LightGBM
            raw = booster.predict(X, num_threads=1)
            return np.column_stack([1 - raw, raw]) if n_classes == 2 else raw
        if hasattr(estimator, "get_booster"):  # XGBoost
            packed = _xgboost_predict(estimator, X)
            if packed is not None:
                return packed
            raw = estimator.get_booster().inplace_predict(X)
            return np.column_stack([1 - raw, raw]) if n_classes == 2 and raw.ndim == 1 else raw
        if type(estimator).__name__ == "LogisticRegression":
            return linear_proba(estimator, X)
    return estimator.predict_proba(X)


def set_single_threaded(estimator: Any) -> None:
    """Prediction on small inputs is fastest with one thread (OpenMP start-up dominates otherwise)."""
    estimator = unwrapped(estimator)
    if hasattr(estimator, "n_jobs"):
        with contextlib.suppress(ValueError):
            estimator.set_params(n_jobs=1)
    if hasattr(estimator, "get_booster"):
        estimator.get_booster().set_param({"nthread": 1})
