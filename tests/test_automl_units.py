"""AutoML building blocks on crafted data: featurizer, metrics, thresholds, guardrails, settings, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from opml.automl import guardrails
from opml.automl.featurize import TabularFeaturizer, repeated_value_columns
from opml.automl.learners import PACKED_KEY
from opml.automl.metrics import best_threshold, compute_metrics
from opml.automl.settings import check_data, parse_settings
from opml.errors import InvalidInput


@pytest.fixture(scope="module")
def bank_frame(bank_small_csv) -> pd.DataFrame:
    return pd.read_csv(bank_small_csv)


@pytest.mark.parametrize(
    ("encoding", "impute", "scale", "frequencies"),
    [("ordinal", False, False, False), ("onehot", True, True, False), ("ordinal", False, False, True)],
)
def test_records_path_equals_dataframe_path_with_missing_and_unseen(bank_frame, encoding, impute, scale, frequencies):
    X = bank_frame.drop(columns="y")
    featurizer = TabularFeaturizer(encoding=encoding, impute=impute, scale=scale, frequencies=frequencies).fit(X)
    scoring = X.head(300).copy()
    scoring.loc[::3, "job"] = "astronaut"  # unseen category
    scoring.loc[::5, "marital"] = None  # missing category
    scoring.loc[::7, "age"] = np.nan  # missing number
    scoring.loc[::11, "cons.price.idx"] = np.nan  # missing repeated value
    scoring.loc[::13, "cons.price.idx"] = 99.999  # unseen repeated value
    records = scoring.to_dict("records")
    records[1]["campaign"] = "not a number"  # garbage in a numeric field behaves as missing
    scoring.loc[scoring.index[1], "campaign"] = np.nan
    expected = featurizer.transform(scoring)
    assert np.array_equal(featurizer.transform_records(records), expected, equal_nan=True)


def test_repeated_value_columns_are_the_shared_measurements(bank_frame):
    X = bank_frame.drop(columns="y")
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    # Bank Marketing's economic indicators of the month; not age, duration or campaign (integers), and
    # not euribor3m in these 2,000 rows (179 distinct values, more than 5 % of the rows).
    assert repeated_value_columns(X, numeric) == ["emp.var.rate", "cons.price.idx", "cons.conf.idx", "nr.employed"]
    unique = pd.DataFrame({"price": np.arange(1000) + 0.5, "rate": np.tile([0.25, 1.5], 500)})
    assert repeated_value_columns(unique, ["price", "rate"]) == ["rate"]  # every price distinct: no group


def test_frequencies_are_the_share_of_training_rows_with_the_same_value():
    X = pd.DataFrame({"rate": [1.25, 1.25, 1.25, 4.5] * 25 + [np.nan] * 20, "city": ["a", "b"] * 60})
    featurizer = TabularFeaturizer(frequencies=True).fit(X)
    assert list(featurizer.get_feature_names_out()) == ["rate", "city", "rate (frequency)"]
    assert featurizer.source_columns() == ["rate", "city", "rate"]
    rows = featurizer.transform_records(
        [{"rate": 1.25}, {"rate": 4.5}, {"rate": None}, {"rate": 7.75}, {"rate": 1.2500000000000002}]
    )
    # 75 of 120, 25 of 120, missing is a value of its own (20 of 120), never seen -> 0, and a float
    # that differs in its last bit (a CSV round trip) is the same value.
    assert rows[:, -1].tolist() == pytest.approx([75 / 120, 25 / 120, 20 / 120, 0.0, 75 / 120])
    assert TabularFeaturizer(frequencies=False).fit(X).n_features_out_ == 2


def test_target_order_numbers_categories_by_their_class_rate():
    X = pd.DataFrame({"city": ["a"] * 50 + ["b"] * 30 + ["c"] * 20 + ["d"] * 2 + [None] * 5})
    y = np.array(["no"] * 40 + ["yes"] * 10 + ["yes"] * 27 + ["no"] * 3 + ["no"] * 20 + ["yes"] * 2 + ["no"] * 5)
    by_rate = TabularFeaturizer(category_order="target").fit(X, y)
    # Rates of "yes": c 0, a 0.2, b 0.9; d (2 of 2) is shrunk towards the overall 39 %: between a and b.
    assert by_rate.categories_["city"] == ["c", "a", "d", "b"]
    assert by_rate.transform_records([{"city": "b"}, {"city": "zz"}, {"city": None}])[:, 0].tolist() == [3, -1, -1]
    # Without a label, or with three classes, the most frequent category comes first.
    assert TabularFeaturizer(category_order="target").fit(X).categories_["city"] == ["a", "b", "c", "d"]
    three = np.where(np.arange(len(y)) % 3 == 0, "maybe", y)
    assert TabularFeaturizer(category_order="target").fit(X, three).categories_["city"] == ["a", "b", "c", "d"]


def test_featurizers_saved_before_frequencies_and_category_order_still_transform(bank_frame):
    X = bank_frame.drop(columns="y")
    featurizer = TabularFeaturizer().fit(X)
    expected = featurizer.transform(X.head(20))
    for name in ("frequencies", "category_order", "frequencies_", "datetimes", "datetimes_"):  # older pickles lack
        del featurizer.__dict__[name]
    assert np.array_equal(featurizer.transform(X.head(20)), expected)
    assert featurizer.get_params()["category_order"] == "frequency"
    with pytest.raises(ValueError, match="category_order"):
        TabularFeaturizer(category_order="alphabetical").fit(X)


def _flights(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    hours = pd.Timestamp("2013-01-01T05:00:00Z") + pd.to_timedelta(rng.integers(0, 24 * 365, rows), unit="h")
    return pd.DataFrame(
        {
            "time_hour": [h.strftime("%Y-%m-%dT%H:%M:%SZ") for h in hours],  # as a CSV holds them: text
            "day": hours.strftime("%Y-%m-%d"),
            "carrier": rng.choice(["UA", "AA", "B6"], rows),
            "distance": rng.integers(100, 2500, rows),
        }
    )


@pytest.mark.parametrize(("encoding", "impute", "scale"), [("ordinal", False, False), ("onehot", True, True)])
def test_dates_and_times_become_numbers_the_same_from_frames_and_records(encoding, impute, scale):
    X = _flights()
    X.loc[3, "time_hour"] = None
    featurizer = TabularFeaturizer(encoding=encoding, impute=impute, scale=scale).fit(X)
    assert featurizer.datetimes_ == ["time_hour", "day"] and featurizer.categorical_ == ["carrier"]
    names = list(featurizer.get_feature_names_out())
    assert "time_hour (days since 1970)" in names and "day (weekday)" in names and "time_hour" not in names
    assert len(names) == featurizer.n_features_out_ == len(featurizer.source_columns())
    records = X.head(40).to_dict("records")
    records[1]["time_hour"] = "not a date"  # unparseable: missing
    records[2]["time_hour"] = "2013-06-01T12:30:00+02:00"  # another zone: the same instant as 10:30 UTC
    frame = pd.DataFrame(records)
    np.testing.assert_array_equal(featurizer.transform_records(records), featurizer.transform(frame))
    assert len(featurizer.feature_means()) == featurizer.n_features_out_
    if not scale:
        row = dict(zip(names, featurizer.transform_records(records[2:3])[0], strict=True))
        utc = pd.Timestamp("2013-06-01T10:30:00Z")
        assert row["time_hour (days since 1970)"] == pytest.approx(utc.timestamp() / 86400)
        assert (row["time_hour (hour)"], row["time_hour (month)"], row["time_hour (weekday)"]) == (12.5, 6.0, 5.0)
        assert np.isnan(featurizer.transform_records(records[1:2])[0, names.index("time_hour (year)")])
    # A datetime column (read from Parquet, say) gives the same numbers as its text.
    typed = X.assign(time_hour=pd.to_datetime(X["time_hour"]))
    np.testing.assert_allclose(featurizer.transform(typed.head(40)), featurizer.transform(X.head(40)))


def test_records_of_a_datetime_column_with_missing_and_numpy_values_equal_the_frame():
    """Records made from a datetime column (``to_dict("records")``: Timestamps, NaT where missing) or holding
    numpy's datetime64 give what the DataFrame gives."""
    X = _flights()
    typed = X.assign(time_hour=pd.to_datetime(X["time_hour"]), day=pd.to_datetime(X["day"]))
    typed.loc[3, "time_hour"] = pd.NaT
    featurizer = TabularFeaturizer(encoding="onehot", impute=True, scale=True).fit(typed)
    assert featurizer.datetimes_ == ["time_hour", "day"]
    records = typed.head(40).to_dict("records")
    assert records[3]["time_hour"] is pd.NaT
    records[4]["day"] = np.datetime64("2013-07-04")
    records[5]["day"] = np.datetime64("NaT")
    expected = featurizer.transform(typed.head(40).assign(day=[r["day"] for r in records]))
    np.testing.assert_allclose(featurizer.transform_records(records), expected)
    assert np.isfinite(expected).all()  # imputed
    row = TabularFeaturizer(encoding="ordinal", impute=False, scale=False).fit(typed).transform_records(records[4:6])
    assert row[0, -6] == 2013 and row[0, -5] == 7 and np.isnan(row[1, -6])  # day (year), day (month); NaT: missing


def test_text_that_is_not_all_dates_stays_categories_and_featurization_off_keeps_dates_as_text():
    from opml.automl.learners import LEARNERS

    X = _flights()
    X.loc[5, "day"] = "tomorrow"
    featurizer = TabularFeaturizer().fit(X)
    assert featurizer.datetimes_ == ["time_hour"] and "day" in featurizer.categorical_
    off = LEARNERS["LightGBM"].featurizer(featurize=False).fit(X)
    assert off.datetimes_ == [] and off.categorical_ == ["time_hour", "day", "carrier"]


def test_the_featurization_label_says_what_the_featurizer_does():
    from opml.automl.learners import LEARNERS

    forest = LEARNERS["RandomForest"]
    assert forest.featurizer().label() == "ordinal encoding, median imputation"
    assert forest.featurizer(featurize=False).label() == "ordinal encoding, native missing values"
    assert LEARNERS["LightGBM"].featurizer(frequencies=True).label() == (
        "ordinal encoding, native missing values, frequencies of repeated values"
    )
    assert LEARNERS["LogisticRegression"].featurizer().label() == (
        "one-hot encoding, median imputation, standard scaling"
    )


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
    results = {
        g.name: g
        for g in guardrails.run_guardrails(
            X, y, y_codes, task="classification", n_cross_validations=5, validation_size=None
        )
    }
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
    results = guardrails.run_guardrails(
        X, y, y_codes, task="classification", n_cross_validations=3, validation_size=None
    )
    assert [g.status for g in results[1:]] == ["Passed"] * 6


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
        ({"seed": -1}, "seed must be between 0 and 2,147,483,647, got -1"),
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

    assert set(LEARNERS) == set(names.CLASSIFICATION_ALGORITHMS) | set(names.REGRESSION_ALGORITHMS)
    for task in names.TASKS:
        assert all(task in LEARNERS[name].tasks for name in names.algorithms(task))
        assert set(names.primary_metrics(task)) <= set(names.all_metrics(task))
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 200)
    assert set(metrics.compute_metrics(codes, rng.dirichlet(np.ones(3), 200))) == set(names.CLASSIFICATION_METRICS)
    values = rng.normal(size=200)
    assert set(metrics.compute_metrics(values, values + 0.1)) == set(names.REGRESSION_METRICS)


def _portfolio_search(
    budget_seconds: float, X: pd.DataFrame | None = None, y: np.ndarray | None = None, featurize: bool = True
):
    import time

    from sklearn.model_selection import StratifiedKFold

    from opml.automl.search import Search, SearchData

    if X is None:
        rng = np.random.default_rng(5)
        X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y", "z"], 300)})
        y = ((X["a"] + (X["b"] == "x")) > 0.5).astype(int).to_numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return Search(
        SearchData(X=X, y=y, classes=["0", "1"], folds=folds),
        algorithms=["LightGBM"],
        metric="accuracy",
        max_iterations=4,
        max_concurrent=1,
        deadline=time.monotonic() + budget_seconds,
        early_stopping=False,
        featurize=featurize,
        seed=0,
        on_trial_start=lambda trial: None,
        on_trial_end=lambda trial: None,
    )


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


def _busy_days() -> tuple[pd.DataFrame, np.ndarray]:
    """A "rate of the day" shared by the day's rows; the label is mostly 1 on quiet days (few rows)
    whatever their rate: only the rate's frequency tells them apart."""
    rng = np.random.default_rng(3)
    sizes = rng.choice([6, 10, 90, 120], size=30)
    rate = np.repeat(np.round(rng.uniform(0.5, 5.0, size=len(sizes)), 3), sizes)
    quiet = np.repeat(sizes <= 10, sizes)
    y = np.where(rng.random(len(rate)) < 0.9, quiet, ~quiet).astype(int)
    return pd.DataFrame({"rate": rate, "noise": rng.normal(size=len(rate))}), y


def test_portfolio_configurations_are_tried_with_and_without_frequencies_and_the_searcher_keeps_the_better():
    X, y = _busy_days()
    trials = _portfolio_search(60, X, y).run()
    assert all(t.ok for t in trials), [t.error for t in trials]
    assert [(_shape(t), t.frequencies) for t in trials[:2]] == [((100, 31, 0.1), False), ((100, 31, 0.1), True)]
    assert trials[1].metrics["log_loss"] < trials[0].metrics["log_loss"]
    assert [t.frequencies for t in trials[2:]] == [True, True]  # the searcher's trials


def test_without_repeated_values_or_with_featurization_off_there_are_no_frequency_trials():
    trials = _portfolio_search(60).run()  # "a" is continuous: no value repeats
    assert not any(t.frequencies for t in trials)
    X, y = _busy_days()
    assert not any(t.frequencies for t in _portfolio_search(60, X, y, featurize=False).run())


def test_a_member_with_frequencies_is_refit_with_them():
    from opml.automl.ensembles import build_model

    X, y = _busy_days()
    member = {"learner": "LightGBM", "config": {"n_estimators": 50}, "trial": 1}
    spec = {"kind": "voting", "members": [member, {**member, "frequencies": True}], "weights": [1.0, 1.0]}
    model = build_model(spec, X, y, ["0", "1"], algorithm="VotingEnsemble", n_jobs=1, seed=0)
    featurizers = [pipeline.steps[0][1] for pipeline in model.members]
    assert [list(f.frequencies_) for f in featurizers] == [[], ["rate"]]
    records = X.head(50).to_dict("records")
    assert np.allclose(model.predict_proba_records(records), model.predict_proba(X.head(50)))


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
        [
            np.full(45, 0.305),
            np.full(45, 0.295),
            np.linspace(0.33, 0.5, 40),
            np.linspace(0.71, 0.9, 40),
            np.linspace(0.05, 0.25, 40),
        ]
    )
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


@pytest.mark.parametrize(
    "config",
    [
        {"n_estimators": 60, "max_leaves": 31, "grow_policy": "lossguide", "max_depth": 0},
        {"n_estimators": 40, "max_depth": 6, "subsample": 0.8},
    ],
)
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


@pytest.mark.parametrize("n_classes", [3, 7])
def test_the_packed_xgboost_predicts_what_xgboost_predicts_for_many_classes(n_classes):
    import xgboost

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(5)
    X = rng.normal(size=(900, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    edges = np.linspace(-1.2, 1.2, n_classes - 1)
    y = np.digitize(np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) + rng.normal(0, 0.3, 900), edges)
    model = xgboost.XGBClassifier(n_estimators=25, max_depth=4, n_jobs=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(fast_predict_proba(model, X[:60]), model.predict_proba(X[:60]), rtol=0, atol=1e-6)
    assert model.__dict__[PACKED_KEY][1] is not None  # the packed path, not XGBoost's
    assert fast_predict_proba(model, X[:1]).shape == (1, n_classes)


def test_the_packed_xgboost_predicts_what_an_xgboost_regressor_predicts():
    import xgboost

    from opml.automl.learners import fast_predict

    rng = np.random.default_rng(7)
    X = rng.normal(size=(1200, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = 300 + 50 * np.nan_to_num(X[:, 0]) ** 2 + 20 * np.nan_to_num(X[:, 1]) + rng.normal(0, 5, 1200)
    model = xgboost.XGBRegressor(n_estimators=40, max_depth=5, n_jobs=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(fast_predict(model, X[:100]), model.predict(X[:100]), rtol=1e-5)
    assert model.__dict__[PACKED_KEY][1] is not None  # the packed path, not XGBoost's


def test_xgboost_models_the_packed_form_does_not_read_keep_xgboosts_own_prediction():
    import xgboost

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": pd.Categorical(rng.choice(["x", "y", "z"], 600))})
    y = (X["a"] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=20, n_jobs=1, enable_categorical=True, tree_method="hist")
    model.fit(X, y)
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


@pytest.mark.parametrize(
    ("params", "setting", "message"),
    [
        ({"enable_early_stopping": "false"}, "enable_early_stopping", "must be true or false"),
        ({"allowed_algorithms": "LightGBM"}, "allowed_algorithms", "must be a list of algorithm names"),
        ({"blocked_algorithms": [5]}, "blocked_algorithms", "must be a list of algorithm names"),
        ({"max_iterations": float("inf")}, "max_iterations", "must be a number"),
    ],
)
def test_settings_of_the_wrong_type_are_named(params, setting, message):
    from opml.automl.settings import settings_problems

    problems = settings_problems({"dataset": "d", "label_column": "y", **params})
    assert message in problems[setting]


def test_settings_that_are_not_a_mapping_are_refused():
    from opml.automl.settings import settings_problems

    assert "mapping" in settings_problems(None)["settings"]  # type: ignore[arg-type]
    assert settings_problems({"dataset": "d", "label_column": "y", "max_iterations": None}) == {}  # the default


def test_the_portfolio_adds_larger_boosting_configurations_for_large_tables():
    from opml.automl.learners import LARGE_DATA_ROWS, LEARNERS, portfolio_configs, search_space

    for name in ("LightGBM", "XGBoostRegressor"):
        learner = LEARNERS[name]
        _, _, initial = search_space(learner, n_rows=LARGE_DATA_ROWS, n_features=10, n_classes=0)
        small = portfolio_configs(learner, initial, slow=False, rows=LARGE_DATA_ROWS - 1)
        large = portfolio_configs(learner, initial, slow=False, rows=LARGE_DATA_ROWS)
        assert len(large) == len(small) + 1 and large[: len(small)] == small  # the defaults still come first
        leaves = "num_leaves" if name == "LightGBM" else "max_leaves"
        assert large[-1][leaves] > small[0][leaves] and large[-1]["n_estimators"] > small[0]["n_estimators"]
    forest = LEARNERS["RandomForest"]
    assert portfolio_configs(forest, {}, slow=True, rows=10**6) == []


def test_a_holdout_asked_at_submit_reads_back_from_the_stored_settings():
    # A run process reads the settings as submit stored them: folds null beside the holdout (a run with
    # validation_size used to fail there with "not both").
    stored = parse_settings({"dataset": "d", "label_column": "y", "validation_size": 0.2}).to_params()
    assert stored["n_cross_validations"] is None
    settings = parse_settings(stored)
    assert (settings.n_cross_validations, settings.validation_size) == (None, 0.2)
    assert parse_settings({"dataset": "d", "label_column": "y"}).n_cross_validations == 5  # the default


def test_a_binary_xgboost_saved_with_its_packed_form_before_other_objectives_still_predicts():
    """Models saved before the packed form read multiclass and regression models carry a packed form of a
    binary model with no ``objective`` (only binary:logistic was packed then): serving them must still work."""
    import io

    import joblib
    import xgboost

    from opml.automl.learners import fast_predict_proba

    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 4))
    model = xgboost.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1).fit(X, (X[:, 0] > 0).astype(int))
    fast_predict_proba(model, X[:1])  # packs it, as prepare_for_serving does before the model is saved
    del model.__dict__[PACKED_KEY][1].__dict__["objective"]  # what the earlier packed form held
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    loaded = joblib.load(io.BytesIO(buffer.getvalue()))
    np.testing.assert_allclose(fast_predict_proba(loaded, X[:20]), model.predict_proba(X[:20]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast_predict_proba(loaded, X[:1]), model.predict_proba(X[:1]), rtol=0, atol=1e-6)


def test_the_large_table_configurations_come_with_a_holdout_not_with_cross_validation():
    from sklearn.model_selection import KFold

    from opml.automl.learners import LARGE_DATA_CONFIGS, LARGE_DATA_ROWS
    from opml.automl.search import SearchData
    from tests.helpers import make_search

    rows = LARGE_DATA_ROWS + 10
    X = pd.DataFrame({"a": np.arange(rows, dtype=float), "b": np.arange(rows) % 7})
    y = np.arange(rows) * 0.5
    cross_validated = list(KFold(5).split(X))
    holdout = [(np.arange(rows - 1000), np.arange(rows - 1000, rows))]
    for folds, large in ((cross_validated, False), (holdout, True)):
        search = make_search(SearchData(X, y, [], folds), ["LightGBM"], "r2_score", 5)
        leaves = [config["num_leaves"] for config, _ in search.states[0].fixed]
        assert (LARGE_DATA_CONFIGS["lgbm"]["num_leaves"] in leaves) == large and search.large_data == large


def test_the_high_cardinality_guardrail_leaves_columns_of_dates_alone():
    """Dates become numbers (featurize), not their 100 most frequent values: not identifiers or free text."""
    start = pd.Timestamp("2024-01-01")
    X = pd.DataFrame(
        {
            "when": [(start + pd.Timedelta(hours=i)).isoformat() for i in range(300)],
            "id": [f"customer-{i}" for i in range(300)],
        }
    )
    result = guardrails.high_cardinality(X)
    assert result.status == "Alerted" and [d["column"] for d in result.details] == ["id"]


def test_a_column_of_iso_dates_read_at_once_gives_the_numbers_of_each_date_read_alone():
    """The vectorised reading (pandas) and the one-by-one one (serving a single record) must agree to the bit."""
    from opml.automl.featurize import _series_datetime_parts, datetime_parts

    start = pd.Timestamp("1960-03-01T06:15:00")
    columns = [
        [(start + pd.Timedelta(seconds=4567.123456 * i)).isoformat() for i in range(2000)],  # naive, microseconds
        [f"2013-06-{d:02d}T{h:02d}:30:00+02:00" for d in range(1, 29) for h in range(24)],  # one offset
        ["2013-06-01T10:00:00+02:00", "2013-06-02T23:30:00-05:00", "2013-06-03"],  # several: one by one
        ["2013-06-01", "not a date", None, "9999-12-31"],
    ]
    for column in columns:
        together = _series_datetime_parts(pd.Series(column, dtype=object))
        alone = np.array([datetime_parts(value) for value in column])
        np.testing.assert_array_equal(together, alone)
    assert np.isnan(_series_datetime_parts(pd.Series(["not a date"]))).all()
