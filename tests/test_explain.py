"""Explanations: exact TreeSHAP per tree model kind, linear contributions, the ensemble rules, folding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from scipy.special import expit, logit

from opml.automl.ensembles import build_model
from opml.automl.explain import NotExplainable, explain
from opml.automl.featurize import TabularFeaturizer
from opml.automl.learners import LEARNERS, build_estimator
from opml.automl.model import LOG_ODDS_CLIP
from opml.automl.treeshap import tree_explainer
from opml.reasons import reason_text

TREE_CONFIGS = {
    "LightGBM": {"n_estimators": 60, "num_leaves": 31},
    "XGBoostClassifier": {"n_estimators": 60, "max_leaves": 64},
    "RandomForest": {"n_estimators": 30, "max_leaves": 400},
    "ExtremeRandomTrees": {"n_estimators": 30, "max_leaves": 2000},
}


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with missing values and categories, a label that depends on both."""
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "rate": rng.normal(2.0, 1.5, n).round(3),
            "job": rng.choice(["admin", "blue", "tech", "student", "retired"], n),
            "unused": rng.normal(size=n),
        }
    )
    frame.loc[rng.random(n) < 0.08, "rate"] = np.nan
    frame.loc[rng.random(n) < 0.05, "job"] = None
    signal = (
        0.04 * (frame["age"] - 50) - 0.8 * frame["rate"].fillna(0) + frame["job"].isin(["student", "retired"]) * 1.5
    )
    y = (signal + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    return frame, y


def _records(frame: pd.DataFrame) -> list[dict]:
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    records[0]["rate"] = 1e30  # beyond float32's range: clipped like the prediction path
    records[1]["job"] = "never seen"
    return records


def _model(table, spec: dict):
    frame, y = table
    return build_model(spec, frame, y, ["no", "yes"], algorithm=spec["kind"], n_jobs=1, seed=0)


def _single(learner: str, config: dict) -> dict:
    return {"kind": "single", "members": [{"learner": learner, "config": config}], "weights": [1.0], "threshold": 0.5}


@pytest.mark.parametrize("learner", sorted(TREE_CONFIGS))
def test_tree_contributions_add_up_to_the_models_probability(table, learner):
    model = _model(table, _single(learner, TREE_CONFIGS[learner]))
    records = _records(table[0].head(250))  # up to 256 records, XGBoost predicts through float64 sums too
    explanations = explain(model, records)
    expected = model.predict_proba_records(records)[:, 1]
    total = explanations.base_probability + explanations.contributions.sum(axis=1)
    assert np.abs(total - expected).max() < 1e-6
    log_odds = explanations.base_log_odds + explanations.log_odds_contributions.sum(axis=1)
    assert np.abs(log_odds - logit(np.clip(expected, LOG_ODDS_CLIP, 1 - LOG_ODDS_CLIP))).max() < 1e-5
    assert explanations.exact == ("probability" if learner in ("RandomForest", "ExtremeRandomTrees") else "log_odds")
    assert explanations.labels == list(model.predict_records(records))
    # a column the trees never split on contributes nothing, and the used ones do
    assert np.abs(explanations.contributions[:, explanations.columns.index("rate")]).max() > 0.01


@pytest.mark.parametrize("learner", ["RandomForest", "XGBoostClassifier"])
def test_converted_trees_make_the_same_decisions_as_the_original(table, learner):
    """The LightGBM copy of a forest / XGBoost model predicts what the original predicts, row by row."""
    frame, y = table
    estimator = build_estimator(LEARNERS[learner], TREE_CONFIGS[learner], n_classes=2, n_jobs=1, seed=0)
    featurizer = LEARNERS[learner].featurizer().fit(frame, y)
    features = featurizer.transform(frame)
    features[0, 1], features[1, 0] = -1e30, 1e-30  # extreme and tiny values take the same branches
    if learner == "XGBoostClassifier":
        features[2, 1] = np.nan  # and so do missing values (the forest's inputs are imputed)
    estimator.fit(featurizer.transform(frame), y)
    contributions, base = tree_explainer(estimator).explain(features)
    output = contributions.sum(axis=1) + base
    if learner == "RandomForest":
        np.testing.assert_allclose(output, estimator.predict_proba(features)[:, 1], atol=1e-12)
    else:
        margin = estimator.get_booster().predict(xgboost.DMatrix(features), output_margin=True)
        np.testing.assert_allclose(output, margin, atol=1e-5)  # XGBoost sums its leaves in float32


def test_xgboost_contributions_are_xgboosts_own_treeshap(table):
    frame, y = table
    estimator = build_estimator(
        LEARNERS["XGBoostClassifier"], TREE_CONFIGS["XGBoostClassifier"], n_classes=2, n_jobs=1, seed=0
    )
    features = LEARNERS["XGBoostClassifier"].featurizer().fit(frame, y).transform(frame)
    estimator.fit(features, y)
    ours, _ = tree_explainer(estimator).explain(features[:200])
    theirs = estimator.get_booster().predict(xgboost.DMatrix(features[:200]), pred_contribs=True)[:, :-1]
    assert np.abs(ours - theirs).max() < 1e-3  # theirs in float32; ours in float64 with rounded covers
    assert np.abs(ours).max() > 0.1


def test_logistic_regression_contributions_are_coefficients_times_distance_from_the_mean(table):
    model = _model(table, _single("LogisticRegression", {"C": 1.0}))
    records = _records(table[0].head(300))
    records[0]["rate"] = 2.5
    explanations = explain(model, records)
    featurizer, estimator = model.members[0].steps[0][1], model.members[0].steps[-1][1]
    features = featurizer.transform(table[0])
    np.testing.assert_allclose(featurizer.feature_means(), features.mean(axis=0), atol=1e-9)
    decision = estimator.decision_function(featurizer.transform_records(records))
    total = explanations.base_log_odds + explanations.log_odds_contributions.sum(axis=1)
    np.testing.assert_allclose(total, decision, atol=1e-9)
    # "job" is one-hot encoded: its five columns fold into one contribution
    job_columns = [i for i, source in enumerate(featurizer.source_columns()) if source == "job"]
    assert len(job_columns) == 5
    means = featurizer.feature_means()
    expected_job = (
        (featurizer.transform_records(records)[:, job_columns] - means[job_columns]) * estimator.coef_[0][job_columns]
    ).sum(axis=1)
    np.testing.assert_allclose(explanations.log_odds_contributions[:, explanations.columns.index("job")], expected_job)


def _members(spec_kind: str) -> list[dict]:
    return [
        {"learner": "LightGBM", "config": TREE_CONFIGS["LightGBM"]},
        {"learner": "RandomForest", "config": TREE_CONFIGS["RandomForest"]},
        {"learner": "LogisticRegression", "config": {"C": 1.0}},
    ]


def test_voting_ensemble_averages_the_members_probability_contributions(table):
    spec = {"kind": "voting", "members": _members("voting"), "weights": [3.0, 2.0, 1.0], "threshold": 0.4}
    model = _model(table, spec)
    records = _records(table[0].head(300))
    explanations = explain(model, records)
    expected = model.predict_proba_records(records)[:, 1]
    np.testing.assert_allclose(
        explanations.base_probability + explanations.contributions.sum(axis=1), expected, atol=1e-6
    )
    assert explanations.exact == "probability"
    weights = np.array([3.0, 2.0, 1.0]) / 6.0
    singles = []
    for member in spec["members"]:
        single = _model(table, {"kind": "single", "members": [member], "weights": [1.0], "threshold": 0.5})
        singles.append(explain(single, records))
    np.testing.assert_allclose(
        explanations.contributions, sum(w * s.contributions for w, s in zip(weights, singles, strict=True)), atol=1e-9
    )
    np.testing.assert_allclose(
        explanations.base_probability, sum(w * s.base_probability for w, s in zip(weights, singles, strict=True))
    )


def test_stack_ensemble_combines_the_members_log_odds_contributions_by_its_coefficients(table):
    coef, intercept = [0.7, 0.5, 0.2], -0.3
    spec = {
        "kind": "stack",
        "members": _members("stack"),
        "stacker": {"coef": [coef], "intercept": [intercept], "input": "log_odds"},
        "threshold": 0.5,
    }
    model = _model(table, spec)
    records = _records(table[0].head(300))
    explanations = explain(model, records)
    expected = model.predict_proba_records(records)[:, 1]
    assert explanations.exact == "log_odds"
    np.testing.assert_allclose(
        explanations.base_log_odds + explanations.log_odds_contributions.sum(axis=1), logit(expected), atol=1e-6
    )
    np.testing.assert_allclose(
        explanations.base_probability + explanations.contributions.sum(axis=1), expected, atol=1e-6
    )
    singles = [
        explain(_model(table, {"kind": "single", "members": [m], "weights": [1.0], "threshold": 0.5}), records)
        for m in spec["members"]
    ]
    # members whose own space is log-odds enter unchanged (LightGBM, logistic regression)
    np.testing.assert_allclose(
        explanations.base_log_odds,
        intercept + sum(c * s.base_log_odds for c, s in zip(coef, singles, strict=True)),
        atol=1e-9,
    )
    # Record 0's rate of 1e30 drives the logistic regression's log-odds past the clip the stacker applies, so
    # its contributions are scaled down to the clipped value; on the other records the rule is plain.
    lightgbm_only = explanations.log_odds_contributions - coef[1] * singles[1].log_odds_contributions
    lightgbm_only -= coef[2] * singles[2].log_odds_contributions
    np.testing.assert_allclose(lightgbm_only[1:], coef[0] * singles[0].log_odds_contributions[1:], atol=1e-6)
    assert abs(explanations.log_odds_contributions[0, explanations.columns.index("rate")]) < 50


def test_older_stacks_on_probabilities_add_up_in_probability(table):
    spec = {
        "kind": "stack",
        "members": _members("stack")[:2],
        "stacker": {"coef": [[2.0, 1.5]], "intercept": [-2.0]},  # no "input": stacked on probabilities
        "threshold": 0.5,
    }
    model = _model(table, spec)
    records = _records(table[0].head(200))
    explanations = explain(model, records)
    expected = model.predict_proba_records(records)[:, 1]
    np.testing.assert_allclose(
        explanations.base_probability + explanations.contributions.sum(axis=1), expected, atol=1e-6
    )
    assert expit(explanations.base_log_odds) == pytest.approx(explanations.base_probability)


def test_multiclass_models_are_refused_with_a_reason(table):
    frame, y = table
    classes = np.where(y == 1, 2, frame["age"].to_numpy() > 50).astype(int)
    model = build_model(
        _single("LightGBM", TREE_CONFIGS["LightGBM"]), frame, classes, ["a", "b", "c"], algorithm="x", n_jobs=1, seed=0
    )
    with pytest.raises(NotExplainable, match="binary"):
        explain(model, _records(frame.head(3)))


def test_reasons_in_words_name_the_value_and_the_direction(table):
    model = _model(table, _single("LightGBM", TREE_CONFIGS["LightGBM"]))
    records = _records(table[0].head(20))
    explanations = explain(model, records)
    reasons = explanations.top_reasons(5, records, count=3)
    row = explanations.contributions[5]
    biggest = explanations.columns[int(np.argmax(np.abs(row)))]
    assert len(reasons) == 3 and reasons[0].startswith(f"{biggest} = ")
    assert reason_text("duration", 371, 0.2149, "yes") == "duration = 371 raised P(yes) by 0.21"
    assert reason_text("rate", None, -0.05, "yes") == "rate = missing lowered P(yes) by 0.05"
    assert reason_text("age", 41, -0.00042, "yes") == "age = 41 lowered P(yes) by 0.0004"  # not "by 0.00"
    document = explanations.record(5)
    assert set(document["contributions"]) == set(explanations.columns)
    assert document["prediction"] in ("no", "yes") and document["positive_class"] == "yes"


def test_feature_means_match_the_training_features_for_every_encoding(table):
    frame, y = table
    for featurizer in (
        TabularFeaturizer(encoding="ordinal", impute=True, frequencies=True, category_order="target"),
        TabularFeaturizer(encoding="onehot", impute=True, scale=True),
    ):
        featurizer.fit(frame, y)
        np.testing.assert_allclose(featurizer.feature_means(), featurizer.transform(frame).mean(axis=0), atol=1e-9)
