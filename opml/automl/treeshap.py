"""Exact TreeSHAP for every tree model the AutoML builds, through one engine: LightGBM's ``pred_contrib``.

Binary classifiers are explained in their own output space (log-odds for boosting, the positive class's
probability for forests); regressors in their predicted value (``VALUE``: what the estimator predicts, which
is the label's logarithm when the model learns it, see ``opml.automl.target``).

LightGBM members are explained by their own booster. Forests (scikit-learn) and XGBoost members are
converted once into an equivalent LightGBM model (same splits, same leaf values, the node covers as
LightGBM's data counts) and explained by LightGBM's TreeSHAP, which computes in float64. XGBoost's own
``pred_contribs`` computes in float32 and drifts from the prediction on deep trees (a 512-leaf forest
converted to XGBoost summed to within 1e-4 of its probability, LightGBM's to within 1e-12), and the
``shap`` package needs numba/llvmlite (~200 MB) and disagreed with scikit-learn 1.9's trees here.

Both conversions keep every decision: scikit-learn sends ``float32(x) <= threshold`` left, XGBoost
``float32(x) < split``; LightGBM sends ``x <= threshold`` left, so converted models get float32-rounded
inputs and XGBoost's split becomes the float32 just below it. Missing values follow each node's
default direction. Covers must be whole numbers in LightGBM's text format: fractional ones (XGBoost's
hessian sums) are scaled up before rounding, and each parent's cover is the sum of its children's, so
the contributions add up exactly to the converted model's output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

SHAP_KEY = "_opml_shap"  # where an estimator keeps (what it was converted from, its TreeExplainer)
COVER_SCALE_TARGET = 1e9  # fractional covers are scaled so the root's is about this, then rounded
MISSING_NAN = 8  # LightGBM decision_type: missing values are NaN (bits 2-3 = 2)
DEFAULT_LEFT = 2  # LightGBM decision_type: missing values go left
FLOAT32_MAX = np.finfo(np.float32).max
LOG_ODDS, PROBABILITY, VALUE = "log_odds", "probability", "value"  # the output spaces of explainers
# LightGBM regression objectives whose raw score is the prediction (no link function: poisson, gamma and
# tweedie predict exp of it)
IDENTITY_OBJECTIVES = frozenset({"regression", "regression_l1", "huber", "fair", "quantile", "mape"})


@dataclass
class ConvertedTree:
    """One tree in LightGBM's layout: internal nodes 0..k-1, leaves referred to as ``~leaf``."""

    split_feature: list[int]
    threshold: list[float]
    decision_type: list[int]
    left: list[int]
    right: list[int]
    leaf_value: list[float]
    leaf_count: list[int]
    internal_count: list[int]


def _layout(left: np.ndarray, right: np.ndarray) -> tuple[dict[int, int], dict[int, int]]:
    """Node id -> LightGBM index, for internal nodes (in depth-first order from the root) and leaves."""
    internal: dict[int, int] = {}
    leaves: dict[int, int] = {}
    stack = [0]
    while stack:
        node = stack.pop()
        if left[node] < 0:
            leaves[node] = len(leaves)
            continue
        internal[node] = len(internal)
        stack.extend((int(right[node]), int(left[node])))
    return internal, leaves


def _whole_covers(covers: np.ndarray, leaf_nodes: list[int]) -> tuple[dict[int, int], float]:
    """Leaf covers as positive whole numbers (scaled when they are fractional)."""
    values = covers[leaf_nodes].astype(float)
    scale = 1.0
    if not np.allclose(values, np.round(values)) or values.sum() > 2**31 - 1:
        scale = COVER_SCALE_TARGET / max(values.sum(), 1e-300)
    whole = np.maximum(1, np.round(values * scale)).astype(np.int64)
    return dict(zip(leaf_nodes, whole.tolist(), strict=True)), scale


def _convert(
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    default_left: np.ndarray,
    leaf_value: np.ndarray,
    cover: np.ndarray,
) -> ConvertedTree:
    internal, leaves = _layout(left, right)
    leaf_cover, _ = _whole_covers(cover, list(leaves))

    def ref(node: int) -> int:
        return internal[node] if node in internal else ~leaves[node]

    counts: dict[int, int] = dict(leaf_cover)
    for node in sorted(internal, key=lambda n: -internal[n]):  # children come after parents in depth-first order
        counts[node] = counts[int(left[node])] + counts[int(right[node])]
    order = sorted(internal, key=internal.get)
    leaf_order = sorted(leaves, key=leaves.get)
    return ConvertedTree(
        split_feature=[int(feature[n]) for n in order],
        threshold=[float(threshold[n]) for n in order],
        decision_type=[MISSING_NAN | (DEFAULT_LEFT if default_left[n] else 0) for n in order],
        left=[ref(int(left[n])) for n in order],
        right=[ref(int(right[n])) for n in order],
        leaf_value=[float(leaf_value[n]) for n in leaf_order],
        leaf_count=[leaf_cover[n] for n in leaf_order],
        internal_count=[counts[n] for n in order],
    )


def _model_text(trees: list[ConvertedTree], n_features: int) -> str:
    def join(values: list) -> str:
        return " ".join(repr(v) if isinstance(v, float) else str(v) for v in values)

    header = [
        "tree",
        "version=v4",
        "num_class=1",
        "num_tree_per_iteration=1",
        "label_index=0",
        f"max_feature_idx={n_features - 1}",
        "objective=regression",
        "feature_names=" + " ".join(f"f{i}" for i in range(n_features)),
        "feature_infos=" + " ".join(["none"] * n_features),
        "",
    ]
    blocks = []
    for index, tree in enumerate(trees):
        zeros = join([0.0] * len(tree.split_feature))
        blocks += [
            f"Tree={index}",
            f"num_leaves={len(tree.leaf_value)}",
            "num_cat=0",
            f"split_feature={join(tree.split_feature)}",
            f"split_gain={zeros}",
            f"threshold={join(tree.threshold)}",
            f"decision_type={join(tree.decision_type)}",
            f"left_child={join(tree.left)}",
            f"right_child={join(tree.right)}",
            f"leaf_value={join(tree.leaf_value)}",
            f"leaf_weight={join([float(c) for c in tree.leaf_count])}",
            f"leaf_count={join(tree.leaf_count)}",
            f"internal_value={zeros}",
            f"internal_weight={join([float(c) for c in tree.internal_count])}",
            f"internal_count={join(tree.internal_count)}",
            "is_linear=0",
            "shrinkage=1",
            "",
            "",
        ]
    return "\n".join(header + blocks + ["end of trees", ""])


class TreeExplainer:
    """TreeSHAP of one fitted tree model: ``explain(X)`` gives (contributions per feature, expected value)
    in the model's own output space (``space``: "log_odds" for boosting classifiers, "probability" for forest
    classifiers, "value" for regressors)."""

    def __init__(self, booster: Any, *, space: str, constant: float = 0.0, float32_inputs: bool = False):
        self.booster = booster
        self.space = space
        self.constant = constant  # single-leaf trees and XGBoost's base margin: part of the expected value
        self.float32_inputs = float32_inputs

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n x features contributions, n expected values); contributions + expected value = the output."""
        if self.float32_inputs:
            X = np.clip(X, -FLOAT32_MAX, FLOAT32_MAX).astype(np.float32).astype(np.float64)
        if self.booster is None:
            return np.zeros(X.shape), np.full(len(X), self.constant)
        raw = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1), dtype=float)
        return raw[:, :-1], raw[:, -1] + self.constant


def _lightgbm_booster(trees: list[ConvertedTree], n_features: int) -> Any:
    import lightgbm

    if not trees:
        return None
    return lightgbm.Booster(model_str=_model_text(trees, n_features))


def forest_explainer(forest: Any) -> TreeExplainer:
    """A scikit-learn RandomForest / ExtraTrees classifier (binary: the probability of class 1) or regressor
    (one output: its predicted value, the mean of the trees' leaf values)."""
    from sklearn.base import is_regressor

    regression = is_regressor(forest)
    if regression and forest.n_outputs_ != 1:
        raise ValueError("explanations cover forests of one output only")
    trees, constant = [], 0.0
    n_trees = len(forest.estimators_)
    for estimator in forest.estimators_:
        tree = estimator.tree_
        counts = tree.value[:, 0, :]
        if regression:  # a regression tree's node holds the mean of its rows
            leaf_value = counts[:, 0] / n_trees
        else:
            totals = counts.sum(axis=1)
            leaf_value = counts[:, 1] / np.where(totals == 0, 1, totals) / n_trees
        if tree.node_count == 1:
            constant += float(leaf_value[0])
            continue
        missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
        trees.append(
            _convert(
                tree.children_left,
                tree.children_right,
                tree.feature,
                tree.threshold,
                np.asarray(missing_left, dtype=bool),
                leaf_value,
                tree.weighted_n_node_samples,
            )
        )
    booster = _lightgbm_booster(trees, forest.n_features_in_)
    return TreeExplainer(booster, space=VALUE if regression else PROBABILITY, constant=constant, float32_inputs=True)


def xgboost_explainer(estimator: Any) -> TreeExplainer:
    """A binary XGBClassifier (gbtree, numeric splits): log-odds; a squared-error XGBRegressor: its value."""
    booster = estimator.get_booster()
    learner = json.loads(booster.save_raw("json"))["learner"]
    objective = learner["objective"]["name"]
    if objective not in ("binary:logistic", "reg:squarederror") or learner["gradient_booster"]["name"] != "gbtree":
        raise ValueError("explanations cover binary and squared-error XGBoost tree models only")
    base_score = float(learner["learner_model_param"]["base_score"].strip("[]"))
    if objective == "binary:logistic":  # the base score is a probability: the trees add to its log-odds
        space, constant = LOG_ODDS, float(np.log(base_score / (1 - base_score)))
    else:  # the base score is a value
        space, constant = VALUE, base_score
    trees = []
    for tree in learner["gradient_booster"]["model"]["trees"]:
        left, right = np.asarray(tree["left_children"]), np.asarray(tree["right_children"])
        split = np.asarray(tree["split_conditions"], dtype=np.float32)
        if len(left) == 1:
            constant += float(split[0])
            continue
        if any(tree.get("categories_nodes", [])):
            raise ValueError("explanations cover XGBoost models with numeric splits only")
        below = np.nextafter(split, np.float32(-np.inf))  # x < split  <=>  x <= the float32 below it
        trees.append(
            _convert(
                left,
                right,
                np.asarray(tree["split_indices"]),
                below.astype(np.float64),
                np.asarray(tree["default_left"], dtype=bool),
                split.astype(np.float64),  # a leaf's split condition holds its weight
                np.asarray(tree["sum_hessian"], dtype=float),
            )
        )
    n_features = int(learner["learner_model_param"]["num_feature"])
    return TreeExplainer(_lightgbm_booster(trees, n_features), space=space, constant=constant, float32_inputs=True)


def lightgbm_explainer(estimator: Any) -> TreeExplainer:
    """A binary LGBMClassifier (log-odds) or an LGBMRegressor of an objective without a link function (its
    value), by its own booster."""
    from sklearn.base import is_regressor

    if not is_regressor(estimator):
        return TreeExplainer(estimator.booster_, space=LOG_ODDS)
    if estimator.objective_ not in IDENTITY_OBJECTIVES:
        raise ValueError(f"explanations cover LightGBM regressors of a plain objective, not {estimator.objective_!r}")
    return TreeExplainer(estimator.booster_, space=VALUE)


def tree_explainer(estimator: Any) -> TreeExplainer | None:
    """The explainer of a fitted tree model, built once and kept in it; None for models that are not trees."""
    if getattr(estimator, "booster_", None) is not None:
        fitted, build = estimator.booster_, lambda: lightgbm_explainer(estimator)
    elif hasattr(estimator, "get_booster"):
        fitted, build = estimator.get_booster(), lambda: xgboost_explainer(estimator)
    elif hasattr(estimator, "estimators_") and hasattr(estimator, "n_outputs_"):
        fitted, build = estimator.estimators_, lambda: forest_explainer(estimator)
    else:
        return None
    cached = estimator.__dict__.get(SHAP_KEY)
    if cached is None or cached[0] is not fitted:
        cached = estimator.__dict__[SHAP_KEY] = (fitted, build())
    return cached[1]
