"""AutoML building blocks on crafted data: featurizer, metrics, thresholds, guardrails, settings, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from opml.automl import guardrails
from opml.automl.featurize import TabularFeaturizer
from opml.automl.learners import PACKED_KEY
from opml.automl.metrics import best_threshold, compute_metrics
from opml.automl.settings import check_data, parse_settings
from opml.errors import InvalidInput


@pytest.fixture(scope="module")
def bank_frame(bank_small_csv) -> pd.DataFrame:
    return pd.read_csv(bank_small_csv)


@pytest.mark.parametrize(("encoding", "impute", "scale"), [("ordinal", False, False), ("onehot", True, True)])
def test_records_path_equals_dataframe_path_with_missing_and_unseen(bank_frame, encoding, impute, scale):
    X = bank_frame.drop(columns="y")
    featurizer = TabularFeaturizer(encoding=encoding, impute=impute, scale=scale).fit(X)
    scoring = X.head(300).copy()
    scoring.loc[::3, "job"] = "astronaut"  # unseen category
    scoring.loc[::5, "marital"] = None  # missing category
    scoring.loc[::7, "age"] = np.nan  # missing number
    records = scoring.to_dict("records")
    records[1]["campaign"] = "not a number"  # garbage in a numeric field behaves as missing
    scoring.loc[scoring.index[1], "campaign"] = np.nan
    expected = featurizer.transform(scoring)
    assert np.array_equal(featurizer.transform_records(records), expected, equal_nan=True)


def test_onehot_unknown_category_is_all_zeros(bank_frame):
    X = bank_frame.drop(columns="y")
    featurizer = TabularFeaturizer(encoding="onehot").fit(X)
    names = list(featurizer.get_feature_names_out())
    job_columns = [i for i, name in enumerate(names) if name.startswith("job=")]
    row = featurizer.transform_records([{**X.iloc[0].to_dict(), "job": "astronaut"}])
    assert row[0, job_columns].sum() == 0
    known = featurizer.transform_records([X.iloc[0].to_dict()])
    assert known[0, job_columns].sum() == 1


def test_metrics_match_sklearn_and_azure_definitions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    positive = np.clip(y * 0.4 + rng.random(500) * 0.6, 0, 1)
    proba = np.column_stack([1 - positive, positive])
    values = compute_metrics(y, proba, threshold=0.5)
    predicted = (positive >= 0.5).astype(int)
    assert values["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert values["AUC_weighted"] == pytest.approx(skm.roc_auc_score(y, positive))
    recall_macro = skm.recall_score(y, predicted, average="macro")
    assert values["norm_macro_recall"] == pytest.approx((recall_macro - 0.5) / 0.5)
    assert values["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_best_threshold_beats_half_on_imbalanced_scores():
    rng = np.random.default_rng(1)
    y = (rng.random(4000) < 0.1).astype(int)
    positive = np.where(y == 1, 0.15 + 0.3 * rng.random(4000), 0.2 * rng.random(4000))  # below 0.5, all of them
    proba = np.column_stack([1 - positive, positive])
    threshold = best_threshold("accuracy", y, proba)
    tuned = compute_metrics(y, proba, threshold)["accuracy"]
    assert 0.15 <= threshold <= 0.25 and tuned > compute_metrics(y, proba, 0.5)["accuracy"] + 0.05
    assert best_threshold("AUC_weighted", y, proba) is None


def test_guardrails_flag_imbalance_missing_cardinality_duplicates_and_leakage():
    rng = np.random.default_rng(3)
    n = 2000
    y_codes = (rng.random(n) < 0.08).astype(int)
    X = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "leak": y_codes * 5 + rng.normal(scale=0.1, size=n),
            "customer_id": [f"c{i}" for i in range(n)],
            "city": rng.choice(["a", "b", None], size=n),
        }
    )
    X.loc[:99, "noise"] = np.nan
    y = pd.Series(np.where(y_codes == 1, "yes", "no"))
    results = {g.name: g for g in guardrails.run_guardrails(X, y, y_codes, n_cross_validations=5, validation_size=None)}
    assert results["Class balancing detection"].status == "Alerted"
    assert results["Missing feature values imputation"].status == "Done"
    assert {d["column"] for d in results["Missing feature values imputation"].details} == {"noise", "city"}
    assert results["High cardinality feature detection"].details == [{"column": "customer_id", "distinct values": n}]
    leakage = results["Single-feature leakage detection"]
    assert leakage.status == "Alerted" and "leak" in leakage.description and "noise" not in leakage.description
    duplicated = pd.concat([X.head(100)] * 3, ignore_index=True)
    result = guardrails.duplicate_rows(duplicated, pd.Series(["no"] * 300))
    assert result.status == "Alerted" and result.details[0]["duplicate rows"] == 200


def test_guardrails_pass_on_clean_balanced_data():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.choice(["x", "y"], size=600)})
    y_codes = rng.integers(0, 2, 600)
    y = pd.Series(np.where(y_codes == 1, "p", "n"))
    results = guardrails.run_guardrails(X, y, y_codes, n_cross_validations=3, validation_size=None)
    assert [g.status for g in results[1:]] == ["Passed"] * 5


BASE = {"dataset": "bank", "label_column": "y"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"experiment_timeout_minutes": 0}, "positive number"),
        ({"experiment_timeout_minutes": -1}, "positive number"),
        ({"primary_metric": "f2"}, "unknown primary metric"),
        ({"task": "forecasting"}, "not supported"),
        ({"n_cross_validations": 1}, "between 2 and 20"),
        ({"n_cross_validations": 5, "validation_size": 0.2}, "not both"),
        ({"allowed_algorithms": ["DeepNet"]}, "unknown algorithm"),
        (
            {
                "blocked_algorithms": [
                    "LightGBM",
                    "XGBoostClassifier",
                    "ExtremeRandomTrees",
                    "RandomForest",
                    "LogisticRegression",
                ]
            },
            "every algorithm is blocked",
        ),
        ({"max_iterations": 2.5}, "whole number"),
        ({"surprise": 1}, "unknown AutoML setting"),
        ({"label_column": ""}, "label_column is required"),
    ],
)
def test_bad_settings_are_refused(params, message):
    with pytest.raises(InvalidInput, match=message):
        parse_settings({**BASE, **params})


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"a": range(20), "b": range(20)}), "label column 'y' is not in the dataset"),
        (pd.DataFrame({"a": range(20), "y": ["no"] * 20}), "single class"),
        (pd.DataFrame({"a": range(6), "y": ["no", "yes"] * 3}), "too few"),
        (pd.DataFrame({"a": range(30), "y": ["no"] * 28 + ["yes"] * 2}), "fewer than the 5"),
        (pd.DataFrame({"a": [1] * 30, "b": [None] * 30, "y": ["no", "yes"] * 15}), "no usable feature"),
    ],
)
def test_data_that_cannot_train_is_refused(frame, message):
    with pytest.raises(InvalidInput, match=message):
        check_data(parse_settings(BASE), frame)


def test_light_names_match_the_learners_and_metrics():
    from opml.automl import metrics, names
    from opml.automl.learners import LEARNERS

    assert tuple(LEARNERS) == names.ALGORITHMS
    assert set(names.PRIMARY_METRICS) <= set(metrics.ALL_METRICS)


def _portfolio_search(budget_seconds: float):
    import time

    from sklearn.model_selection import StratifiedKFold

    from opml.automl.search import Search, SearchData

    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y", "z"], 300)})
    y = ((X["a"] + (X["b"] == "x")) > 0.5).astype(int).to_numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return Search(
        SearchData(X=X, y=y, classes=["0", "1"], folds=folds), algorithms=["LightGBM"], metric="accuracy",
        max_iterations=4, max_concurrent=1, deadline=time.monotonic() + budget_seconds, early_stopping=False,
        featurize=True, seed=0, on_trial_start=lambda trial: None, on_trial_end=lambda trial: None,
    )  # fmt: skip


def _shape(trial) -> tuple[int, int, float]:
    return trial.config["n_estimators"], trial.config["num_leaves"], round(trial.config["learning_rate"], 3)


def test_library_defaults_are_tried_first_then_the_searcher_takes_over():
    trials = _portfolio_search(budget_seconds=60).run()
    assert len(trials) == 4 and all(t.ok for t in trials), [t.error for t in trials]
    assert _shape(trials[0]) == (100, 31, 0.1)
    # A short budget skips the slow configurations: the searcher proposes the rest.
    assert not {_shape(t) for t in trials[1:]} & {(100, 31, 0.1), (1000, 15, 0.02), (600, 31, 0.02)}


def test_with_two_minutes_or_more_the_slow_configurations_follow_the_defaults():
    trials = _portfolio_search(budget_seconds=600).run()
    assert all(t.ok for t in trials), [t.error for t in trials]
    assert [_shape(t) for t in trials[:3]] == [(100, 31, 0.1), (1000, 15, 0.02), (600, 31, 0.02)]
    assert trials[1].config["colsample_bytree"] == 0.6 and trials[2].config["reg_lambda"] == 5.0
    assert _shape(trials[3]) not in {_shape(t) for t in trials[:3]}


@pytest.mark.parametrize("forest_class", ["RandomForestClassifier", "ExtraTreesClassifier"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_packed_forest_predicts_what_scikit_learn_predicts(forest_class, n_classes):
    from sklearn import ensemble

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(n_classes)
    X = rng.normal(size=(600, 6))
    y = np.digitize(X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(0, 0.5, 600), [-0.5, 0.5][: n_classes - 1])
    forest = getattr(ensemble, forest_class)(n_estimators=30, random_state=0).fit(X, y)
    rows = np.vstack([X[:50], [[3e38, -3e38, 0, 0, 0, 0]], rng.normal(size=(5, 6)) * 10])
    assert np.array_equal(fast_predict_proba(forest, rows), forest.predict_proba(rows))
    assert np.array_equal(fast_predict_proba(forest, rows[:1]), forest.predict_proba(rows[:1]))


def test_best_threshold_prefers_a_plateau_to_a_lone_spike():
    # At 0.30 exactly, 45 positives at 0.305 and 45 negatives at 0.295 are all right: a lone spike that
    # beats the plateau (0.51-0.70) by 5 rows; one step either side loses 45 rows.
    y = np.array([1] * 45 + [0] * 45 + [0] * 40 + [1] * 40 + [0] * 40)
    positive = np.concatenate(
        [np.full(45, 0.305), np.full(45, 0.295), np.linspace(0.33, 0.5, 40), np.linspace(0.71, 0.9, 40),
         np.linspace(0.05, 0.25, 40)]
    )  # fmt: skip
    proba = np.column_stack([1 - positive, positive])
    accuracy = {t: compute_metrics(y, proba, t)["accuracy"] for t in (0.29, 0.3, 0.31, 0.6)}
    assert accuracy[0.3] > accuracy[0.6] > max(accuracy[0.29], accuracy[0.31])
    assert best_threshold("accuracy", y, proba) == pytest.approx(0.53)  # the plateau's start, nearest 0.5


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_linear_fast_path_predicts_what_scikit_learn_predicts(n_classes):
    from sklearn.linear_model import LogisticRegression

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(n_classes)
    X = rng.normal(size=(400, 5))
    y = np.digitize(X[:, 0] - X[:, 1] + rng.normal(0, 0.5, 400), [-0.5, 0.5][: n_classes - 1])
    model = LogisticRegression(max_iter=1000).fit(X, y)
    np.testing.assert_allclose(fast_predict_proba(model, X[:20]), model.predict_proba(X[:20]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("config", [{"n_estimators": 60, "max_leaves": 31, "grow_policy": "lossguide", "max_depth": 0},
                                    {"n_estimators": 40, "max_depth": 6, "subsample": 0.8}])  # fmt: skip
def test_the_packed_xgboost_predicts_what_xgboost_predicts_missing_values_included(config):
    import xgboost

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(4)
    X = rng.normal(size=(1500, 6))
    X[rng.random(X.shape) < 0.15] = np.nan  # XGBoost learners see missing values (no imputation)
    y = ((np.nan_to_num(X[:, 0]) + 2 * np.nan_to_num(X[:, 1]) + rng.normal(0, 0.5, 1500)) > 0).astype(int)
    model = xgboost.XGBClassifier(n_jobs=1, random_state=0, **config).fit(X, y)
    expected = model.predict_proba(X[:200])
    np.testing.assert_allclose(fast_predict_proba(model, X[:200]), expected, rtol=0, atol=1e-6)
    assert model.__dict__[PACKED_KEY][1] is not None  # the packed path, not XGBoost's
    complete = np.nan_to_num(X[:50])
    np.testing.assert_allclose(fast_predict_proba(model, complete), model.predict_proba(complete), rtol=0, atol=1e-6)


def test_multiclass_xgboost_keeps_xgboosts_own_prediction():
    import xgboost

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 4))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = xgboost.XGBClassifier(n_estimators=20, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(fast_predict_proba(model, X[:30]), model.predict_proba(X[:30]), rtol=0, atol=1e-6)
    assert model.__dict__[PACKED_KEY][1] is None


def test_a_refitted_estimator_is_packed_again():
    import xgboost
    from sklearn.ensemble import RandomForestClassifier

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(6)
    X = rng.normal(size=(500, 4))
    first, second = (X[:, 0] > 0).astype(int), (X[:, 1] > 0).astype(int)
    for model in (RandomForestClassifier(n_estimators=10, random_state=0), xgboost.XGBClassifier(n_estimators=10)):
        fast_predict_proba(model.fit(X, first), X[:5])  # packs the first fit
        model.fit(X, second)
        np.testing.assert_allclose(fast_predict_proba(model, X[:50]), model.predict_proba(X[:50]), atol=1e-6)
