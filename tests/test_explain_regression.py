"""Explanations of regression models: contributions + base = the prediction for every learner family and both
ensembles, with and without a log target; TreeSHAP against LightGBM's pred_contrib, XGBoost's own and Shapley
values computed by brute force; the reasons in words; a model trained by a real AutoML run."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import xgboost

from opml.automl.ensembles import build_model
from opml.automl.explain import explain
from opml.automl.learners import LEARNERS, build_estimator
from opml.automl.treeshap import tree_explainer
from opml.reasons import amount_text, top_reasons, value_reason_text

REGRESSORS = {
    "LightGBM": {"n_estimators": 60, "num_leaves": 31},
    "XGBoostRegressor": {"n_estimators": 60, "max_leaves": 64},
    "RandomForest": {"n_estimators": 30, "max_leaves": 400},
    "ExtremeRandomTrees": {"n_estimators": 30, "max_leaves": 400},
    "ElasticNet": {"alpha": 0.01, "l1_ratio": 0.5},
}
TREES = ("LightGBM", "XGBoostRegressor", "RandomForest", "ExtremeRandomTrees")


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """Diamonds-like: a skewed positive price of carat and cut, a depth with missing values, a date, noise."""
    rng = np.random.default_rng(11)
    n = 1500
    frame = pd.DataFrame(
        {
            "carat": np.clip(np.exp(rng.normal(-0.1, 0.5, n)), 0.2, 4.0).round(2),
            "cut": rng.choice(["Fair", "Good", "Ideal"], n),
            "depth": rng.normal(61.5, 1.5, n).round(1),
            "listed": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "noise": rng.normal(size=n),
        }
    )
    frame.loc[rng.random(n) < 0.06, "depth"] = np.nan
    frame.loc[rng.random(n) < 0.04, "cut"] = None
    price = 3000 * frame["carat"] ** 1.6 + frame["cut"].map({"Fair": 0, "Good": 400, "Ideal": 900}).fillna(300)
    price += 40 * (frame["depth"].fillna(61.5) - 61.5) + rng.normal(0, 150, n)
    return frame, np.maximum(price.to_numpy(), 100.0)


def log_target(y: np.ndarray) -> dict:
    return {"transform": "log", "low": float(np.log(y.min()) - math.log(10)), "high": float(np.log(y.max()) + 2.3)}


def records_of(frame: pd.DataFrame) -> list[dict]:
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    records[0]["carat"] = 1e30  # beyond float32's range: clipped like the prediction path
    records[1]["cut"] = "never seen"
    records[2]["listed"] = "not a date"
    return records


def fit(table, spec: dict, *, log: bool = False):
    frame, y = table
    spec = {**spec, "target": log_target(y)} if log else spec
    return build_model(spec, frame, y, [], algorithm=spec["kind"], n_jobs=1, seed=0)


def single(learner: str) -> dict:
    return {"kind": "single", "members": [{"learner": learner, "config": REGRESSORS[learner]}], "weights": [1.0]}


def members() -> list[dict]:
    return [{"learner": name, "config": config} for name, config in REGRESSORS.items()]


# 250 records: XGBoost predicts up to 256 through float64 sums (its own predict sums leaves in float32).
RECORDS = 250


def assert_adds_up(explanations, predicted: np.ndarray) -> None:
    np.testing.assert_allclose(explanations.predictions, predicted, rtol=1e-10)
    total = explanations.base_value + explanations.contributions.sum(axis=1)
    np.testing.assert_allclose(total, predicted, rtol=1e-10)
    if explanations.log_contributions is not None:
        log_total = explanations.log_base_value + explanations.log_contributions.sum(axis=1)
        np.testing.assert_allclose(log_total, np.log(predicted), atol=1e-9)
        assert explanations.log_base_value == pytest.approx(math.log(explanations.base_value), abs=1e-9)


@pytest.mark.parametrize("learner", sorted(REGRESSORS))
def test_contributions_add_up_to_the_predicted_value(table, learner):
    model = fit(table, single(learner))
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    assert_adds_up(explanations, model.predict_records(records))
    assert explanations.exact == "value" and explanations.log_contributions is None
    # carat drives the price: its contributions span thousands (record 0's carat of 1e30 left out); the base is
    # near the mean price
    carat = explanations.contributions[1:, explanations.columns.index("carat")]
    assert carat.max() - carat.min() > 2000
    assert abs(explanations.base_value - table[1].mean()) < 0.1 * table[1].mean()
    document = explanations.record(5)
    assert set(document) == {"prediction", "base_value", "contributions"}
    assert list(document["contributions"]) == explanations.columns == list(table[0].columns)


@pytest.mark.parametrize("learner", sorted(REGRESSORS))
def test_a_log_target_is_explained_exactly_in_log_space_and_rescaled_to_the_value(table, learner):
    model = fit(table, single(learner), log=True)
    assert model.target is not None
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    predicted = model.predict_records(records)
    assert_adds_up(explanations, predicted)
    assert explanations.exact == "log_value"
    # Value-space contributions are the log-space ones scaled by one positive factor per record.
    logs, values = explanations.log_contributions, explanations.contributions
    moved = np.abs(logs).sum(axis=1) > 1e-9
    factor = values[moved].sum(axis=1) / logs[moved].sum(axis=1)
    assert (factor > 0).all()
    np.testing.assert_allclose(values[moved], logs[moved] * factor[:, None], rtol=1e-9, atol=1e-9)
    assert explanations.base_value == pytest.approx(math.exp(explanations.log_base_value))
    document = explanations.record(3)
    assert set(document) == {"prediction", "base_value", "contributions", "log_value"}
    assert sum(document["log_value"]["contributions"].values()) + document["log_value"]["base_value"] == (
        pytest.approx(math.log(document["prediction"]), abs=1e-9)
    )


def test_treeshap_of_a_lightgbm_regressor_is_its_own_pred_contrib_folded_into_columns(table):
    model = fit(table, single("LightGBM"))
    featurizer, estimator = model.members[0].steps[0][1], model.members[0].steps[-1][1]
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    raw = estimator.booster_.predict(featurizer.transform_records(records), pred_contrib=True)
    sources = featurizer.source_columns()
    for column in explanations.columns:
        features = [i for i, source in enumerate(sources) if source == column]
        np.testing.assert_allclose(
            explanations.contributions[:, explanations.columns.index(column)], raw[:, features].sum(axis=1)
        )
    assert len([s for s in sources if s == "listed"]) > 1  # the date's parts fold into one column
    np.testing.assert_allclose(explanations.base_value, raw[0, -1])


def _tree_shapley(trees: list[dict], x: np.ndarray) -> np.ndarray:
    """Exact Shapley values of a sum of trees for one row, by enumerating every coalition (what TreeSHAP computes
    in polynomial time): a coalition's value follows x where it splits on a feature of the coalition and
    averages both children by their covers elsewhere. Each tree: left, right, feature, threshold, value, cover,
    goes_left(x_value, threshold)."""

    def expected(tree: dict, node: int, coalition: frozenset) -> float:
        left, right = tree["left"][node], tree["right"][node]
        if left < 0:
            return tree["value"][node]
        feature = tree["feature"][node]
        if feature in coalition:
            child = left if tree["goes_left"](x[feature], tree["threshold"][node]) else right
            return expected(tree, child, coalition)
        covers = tree["cover"][left], tree["cover"][right]
        total = covers[0] + covers[1]
        return (covers[0] * expected(tree, left, coalition) + covers[1] * expected(tree, right, coalition)) / total

    features = len(x)

    def worth(coalition: frozenset) -> float:
        return sum(expected(tree, 0, coalition) for tree in trees)

    phi = np.zeros(features)
    for i in range(features):
        others = [j for j in range(features) if j != i]
        for size in range(features):
            weight = math.factorial(size) * math.factorial(features - size - 1) / math.factorial(features)
            for chosen in combinations(others, size):
                coalition = frozenset(chosen)
                phi[i] += weight * (worth(coalition | {i}) - worth(coalition))
    return phi


@pytest.fixture(scope="module")
def numbers() -> tuple[np.ndarray, np.ndarray]:
    """Four numeric features (few enough to enumerate every coalition) and a value of three of them."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(800, 4))
    y = 3 * X[:, 0] + np.sin(2 * X[:, 1]) * 2 + X[:, 0] * X[:, 2] + rng.normal(0, 0.1, 800)
    return X, y


def test_treeshap_of_a_converted_regression_forest_is_the_brute_force_shapley_value(numbers):
    X, y = numbers
    forest = build_estimator(
        LEARNERS["RandomForest"], {"n_estimators": 4, "max_leaves": 24}, n_classes=0, n_jobs=1, seed=0
    ).fit(X, y)
    contributions, base = tree_explainer(forest).explain(X[:5])
    np.testing.assert_allclose(contributions.sum(axis=1) + base, forest.predict(X[:5]), rtol=1e-12)
    trees = [
        {
            "left": t.tree_.children_left,
            "right": t.tree_.children_right,
            "feature": t.tree_.feature,
            "threshold": t.tree_.threshold,
            "value": t.tree_.value[:, 0, 0] / len(forest.estimators_),
            "cover": t.tree_.weighted_n_node_samples,
            "goes_left": lambda value, threshold: np.float32(value) <= threshold,
        }
        for t in forest.estimators_
    ]
    for row in range(5):
        np.testing.assert_allclose(contributions[row], _tree_shapley(trees, X[row]), atol=1e-9)
    assert np.abs(contributions[:, 0]).max() > 0.5  # the first feature matters most


def test_treeshap_of_a_converted_xgboost_regressor_is_the_brute_force_shapley_value_and_xgboosts_own(numbers):
    import json

    X, y = numbers
    estimator = build_estimator(
        LEARNERS["XGBoostRegressor"], {"n_estimators": 5, "max_leaves": 16}, n_classes=0, n_jobs=1, seed=0
    ).fit(X, y)
    contributions, base = tree_explainer(estimator).explain(X[:5])
    margin = estimator.get_booster().predict(xgboost.DMatrix(X[:5]), output_margin=True)
    np.testing.assert_allclose(contributions.sum(axis=1) + base, margin, atol=1e-5)  # XGBoost sums in float32
    theirs = estimator.get_booster().predict(xgboost.DMatrix(X[:5]), pred_contribs=True)
    np.testing.assert_allclose(contributions, theirs[:, :-1], atol=1e-4)
    np.testing.assert_allclose(base, theirs[:, -1], atol=1e-4)
    trees = []
    for tree in json.loads(estimator.get_booster().save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]:
        split = np.asarray(tree["split_conditions"], dtype=np.float32)
        trees.append(
            {
                "left": np.asarray(tree["left_children"]),
                "right": np.asarray(tree["right_children"]),
                "feature": np.asarray(tree["split_indices"]),
                "threshold": split,
                "value": split.astype(float),  # a leaf's split condition holds its weight
                "cover": np.asarray(tree["sum_hessian"], dtype=float),
                "goes_left": lambda value, threshold: np.float32(value) < threshold,
            }
        )
    for row in range(5):
        np.testing.assert_allclose(contributions[row], _tree_shapley(trees, X[row]), atol=1e-6)


def test_voting_ensemble_is_the_weighted_mean_of_its_members_contributions(table):
    weights = [3.0, 2.0, 1.0, 1.0, 1.0]
    model = fit(table, {"kind": "voting", "members": members(), "weights": weights})
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    assert_adds_up(explanations, model.predict_records(records))
    singles = [explain(fit(table, single(name)), records) for name in REGRESSORS]
    shares = np.asarray(weights) / sum(weights)
    np.testing.assert_allclose(
        explanations.contributions, sum(w * s.contributions for w, s in zip(shares, singles, strict=True)), rtol=1e-9
    )
    assert explanations.base_value == pytest.approx(sum(w * s.base_value for w, s in zip(shares, singles, strict=True)))


def test_stack_ensemble_is_its_coefficients_times_its_members_contributions(table):
    coef, intercept = [0.5, 0.3, 0.1, 0.05, 0.1], -40.0
    stacker = {"coef": coef, "intercept": intercept, "input": "values"}
    model = fit(table, {"kind": "stack", "members": members(), "stacker": stacker})
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    assert_adds_up(explanations, model.predict_records(records))
    singles = [explain(fit(table, single(name)), records) for name in REGRESSORS]
    np.testing.assert_allclose(
        explanations.contributions, sum(c * s.contributions for c, s in zip(coef, singles, strict=True)), rtol=1e-9
    )
    assert explanations.base_value == pytest.approx(
        intercept + sum(c * s.base_value for c, s in zip(coef, singles, strict=True))
    )


@pytest.mark.parametrize("kind", ["voting", "stack"])
def test_ensembles_of_a_log_target_combine_the_members_values_and_add_up_in_both_spaces(table, kind):
    spec = {"kind": kind, "members": members()}
    if kind == "voting":
        spec["weights"] = [2.0, 1.0, 1.0, 1.0, 1.0]
    else:
        spec["stacker"] = {"coef": [0.6, 0.2, 0.1, 0.05, 0.1], "intercept": 15.0, "input": "values"}
    model = fit(table, spec, log=True)
    records = records_of(table[0].head(RECORDS))
    explanations = explain(model, records)
    assert_adds_up(explanations, model.predict_records(records))
    assert explanations.exact == "value"  # the ensemble combines values: exact there, given its members'
    singles = [explain(fit(table, single(name), log=True), records) for name in REGRESSORS]
    weights = np.asarray(spec["weights"]) / 6.0 if kind == "voting" else np.asarray(spec["stacker"]["coef"])
    np.testing.assert_allclose(
        explanations.contributions, sum(w * s.contributions for w, s in zip(weights, singles, strict=True)), rtol=1e-9
    )
    # the log space has the value space's signs
    same = np.sign(explanations.log_contributions) == np.sign(explanations.contributions)
    assert same.all()


def test_reasons_of_a_regression_name_the_predicted_label_and_the_amount(table):
    model = fit(table, single("LightGBM"))
    records = records_of(table[0].head(20))
    explanations = explain(model, records)
    reasons = explanations.top_reasons(7, records, count=3, label="price")
    row = explanations.contributions[7]
    biggest = explanations.columns[int(np.argmax(np.abs(row)))]
    verb = "raised" if row.max() == row[np.argmax(np.abs(row))] else "lowered"
    assert len(reasons) == 3 and reasons[0].startswith(f"{biggest} = ")
    assert f"{verb} the predicted price by " in reasons[0]
    assert top_reasons(explanations.record(7), records[7], 3, label="price") == reasons
    assert value_reason_text("carat", 1.2, 1234.4, "price") == "carat = 1.2 raised the predicted price by 1,234"
    assert value_reason_text("cut", "Fair", -210.2, "price") == "cut = Fair lowered the predicted price by 210"
    assert value_reason_text("depth", None, -12.345, None) == "depth = missing lowered the prediction by 12.35"
    assert value_reason_text("noise", 0.5, 0.012345, "delay") == "noise = 0.5 raised the predicted delay by 0.0123"
    assert amount_text(-1234567.8) == "-1,234,568" and amount_text(0) == "0"


def test_a_model_trained_by_a_real_automl_run_on_a_skewed_price_is_explained(task_backend):
    """The conftest's regression run learns log(price) (the label is skewed and the metric Spearman's)."""
    model = task_backend.load_model("price-model")
    assert model.target is not None
    frame = task_backend.load_dataset("prices").drop(columns="price")
    records = records_of(frame.head(100))
    explanations = explain(model, records)
    assert_adds_up(explanations, model.predict_records(records))
    assert explanations.exact == ("log_value" if len(model.members) == 1 else "value")
    carat = explanations.contributions[:, explanations.columns.index("carat")]
    # a bigger stone raises the price: the contribution of carat grows with it
    order = np.argsort(frame["carat"].head(100).to_numpy()[3:]) + 3
    assert carat[order[-10:]].mean() > carat[order[:10]].mean() + 1000
