"""AutoML's two tasks on small tables: regression metrics, learners, ensembles and models; multiclass metrics;
the task's settings, its guess and the data each task refuses before anything is queued."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from opml.automl import names
from opml.automl.duplicates import duplicate_groups
from opml.automl.ensembles import build_model, single_spec, stack_ensemble, voting_ensemble
from opml.automl.learners import LEARNERS, build_estimator, fast_predict, search_space
from opml.automl.metrics import compute_metrics, metric_value, optimised_metric, regression_curves
from opml.automl.model import OpmlRegressor
from opml.automl.plan import plan_validation
from opml.automl.search import Search, SearchData
from opml.automl.selection import Candidate, choose_best
from opml.automl.settings import automl_params, check_data, guess_task, parse_settings, settings_problems
from opml.errors import InvalidInput
from tests.helpers import make_search


def prices(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A regression table: price grows with size, depends on a category, plus noise and a missing value."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "size": rng.uniform(0.2, 3.0, n),
            "cut": rng.choice(["fair", "good", "ideal"], n),
            "noise": rng.normal(size=n),
        }
    )
    X.loc[3, "size"] = np.nan
    bonus = X["cut"].map({"fair": 0.0, "good": 300.0, "ideal": 700.0}).to_numpy()
    y = 1000 * np.nan_to_num(X["size"].to_numpy(), nan=1.0) ** 1.5 + bonus + rng.normal(0, 50, n)
    return X, y


# -- metrics ------------------------------------------------------------------------------------------


def test_regression_metrics_follow_their_definitions():
    rng = np.random.default_rng(1)
    y = rng.uniform(10, 110, 300)
    predicted = y + rng.normal(0, 5, 300)
    values = compute_metrics(y, predicted)
    assert set(values) == set(names.REGRESSION_METRICS)
    spread = y.max() - y.min()
    rmse = np.sqrt(skm.mean_squared_error(y, predicted))
    assert values["root_mean_squared_error"] == pytest.approx(rmse)
    assert values["normalized_root_mean_squared_error"] == pytest.approx(rmse / spread)
    assert values["normalized_mean_absolute_error"] == pytest.approx(skm.mean_absolute_error(y, predicted) / spread)
    assert values["median_absolute_error"] == pytest.approx(skm.median_absolute_error(y, predicted))
    assert values["r2_score"] == pytest.approx(skm.r2_score(y, predicted))
    assert values["mean_absolute_percentage_error"] == pytest.approx(
        100 * skm.mean_absolute_percentage_error(y, predicted)
    )
    assert 0.95 < values["spearman_correlation"] <= 1.0


def test_regression_metrics_that_are_undefined_are_nan_not_errors():
    y = np.array([-2.0, 0.0, 1.0, 3.0])
    values = compute_metrics(y, np.array([-1.0, 0.5, 1.0, 2.0]))
    assert np.isnan(values["root_mean_squared_log_error"])  # a negative value has no logarithm
    assert values["mean_absolute_percentage_error"] == pytest.approx(100 * np.mean([0.5, 0.0, 1 / 3]))
    assert np.isnan(compute_metrics(y, np.full(4, 1.0))["spearman_correlation"])  # a constant ranks nothing


def test_lower_is_better_for_every_regression_error_only():
    errors = {name for name in names.REGRESSION_METRICS if name.endswith("_error")}
    assert errors and errors <= names.LOWER_IS_BETTER
    assert {"r2_score", "spearman_correlation", "explained_variance"}.isdisjoint(names.LOWER_IS_BETTER)
    assert optimised_metric("spearman_correlation") == "r2_score"
    assert optimised_metric("normalized_mean_absolute_error") == "normalized_mean_absolute_error"
    # Models that learn the label's logarithm are steered by the error of logarithms, not by R² of the label.
    assert optimised_metric("spearman_correlation", log_target=True) == "root_mean_squared_log_error"
    assert optimised_metric("r2_score", log_target=True) == "r2_score"


def test_under_a_log_target_near_ties_in_spearman_go_to_the_smaller_error_of_logarithms():
    """Prices: one model is right about the expensive rows (better R²), the other about every row in relative
    terms (better RMSLE); with equal ranks, a log target's run picks the second, a plain one the first."""
    rng = np.random.default_rng(0)
    y = np.exp(rng.normal(7, 1, 3000))
    relative = y * np.exp(rng.normal(0, 0.05, len(y)))  # 5 % off everywhere
    absolute = y + rng.normal(0, 0.03 * y.std(), len(y))  # the same error everywhere: large on cheap rows
    absolute = np.clip(absolute, 1, None)
    metrics = {name: compute_metrics(y, p) for name, p in (("relative", relative), ("absolute", absolute))}
    assert metrics["absolute"]["r2_score"] > metrics["relative"]["r2_score"]
    assert metrics["relative"]["root_mean_squared_log_error"] < metrics["absolute"]["root_mean_squared_log_error"]
    # As good at ranks (the relative one a hair behind, within one standard error): the rule decides.
    spearman = {"absolute": 0.99, "relative": 0.99 - 1e-5}
    candidates = [
        Candidate(name, {**m, "spearman_correlation": spearman[name]}, p, None)
        for (name, m), p in zip(metrics.items(), (relative, absolute), strict=True)
    ]
    every = np.ones(len(y), dtype=bool)
    assert choose_best(candidates, "spearman_correlation", y, every)[0].child_id == "absolute"
    best, reason = choose_best(candidates, "spearman_correlation", y, every, log_target=True)
    assert best.child_id == "relative" and "root_mean_squared_log_error" in reason


def test_multiclass_metrics_have_weighted_macro_and_micro_forms():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 400)
    proba = rng.dirichlet(np.ones(4), 400)
    proba[np.arange(400), y] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    values = compute_metrics(y, proba)
    predicted = proba.argmax(axis=1)
    for average in ("weighted", "macro", "micro"):
        assert values[f"f1_score_{average}"] == pytest.approx(skm.f1_score(y, predicted, average=average))
        assert values[f"precision_score_{average}"] == pytest.approx(skm.precision_score(y, predicted, average=average))
        assert values[f"recall_score_{average}"] == pytest.approx(skm.recall_score(y, predicted, average=average))
    onehot = np.eye(4)[y]
    assert values["AUC_micro"] == pytest.approx(skm.roc_auc_score(onehot, proba, average="micro"))
    assert values["AUC_macro"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert values["average_precision_score_macro"] == pytest.approx(
        skm.average_precision_score(onehot, proba, average="macro")
    )


def test_macro_averages_leave_out_a_class_neither_true_nor_predicted_as_scikit_learn_does():
    """A holdout without the rare class: its recall is not a 0 in the macro average (the probe's 5/6 of
    balanced accuracy), and recall_score_macro agrees with balanced accuracy and norm_macro_recall."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 5, 500)  # class 5 of 6 never in the holdout
    proba = rng.dirichlet(np.ones(6), 500)
    proba[:, 5] = 0.0
    proba[np.arange(500), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    values = compute_metrics(y, proba)
    predicted = proba.argmax(axis=1)
    for score in ("f1_score", "precision_score", "recall_score"):
        expected = getattr(skm, score)(y, predicted, average="macro")
        assert values[f"{score}_macro"] == pytest.approx(expected)
    assert values["recall_score_macro"] == pytest.approx(values["balanced_accuracy"])
    assert values["norm_macro_recall"] == pytest.approx((values["recall_score_macro"] - 1 / 6) / (1 - 1 / 6))


def test_regression_curves_sample_bin_and_histogram_the_residuals():
    rng = np.random.default_rng(3)
    y = rng.normal(100, 20, 5000)
    predicted = y + rng.normal(0, 5, 5000)
    curves = regression_curves(y, predicted)
    assert len(curves["predicted_vs_true"]["true"]) == 2000
    assert sum(curves["binned"]["count"]) == 5000 and len(curves["binned"]["count"]) == 10
    assert curves["binned"]["predicted_mean"] == sorted(curves["binned"]["predicted_mean"])
    assert sum(curves["residuals"]["counts"]) == 5000
    assert curves["predicted_quantiles"]["0.5"] == pytest.approx(np.median(predicted))


# -- learners, search, ensembles, model ---------------------------------------------------------------


@pytest.mark.parametrize("name", names.REGRESSION_ALGORITHMS)
def test_regression_learners_predict_fast_with_the_same_numbers(name):
    X, y = prices()
    features = X[["size", "noise"]].fillna(1.0).to_numpy()
    learner = LEARNERS[name]
    _, _, initial = search_space(learner, n_rows=len(y), n_features=2, n_classes=0)
    estimator = build_estimator(learner, initial, n_classes=0, n_jobs=1, seed=0).fit(features, y)
    assert "regression" in learner.tasks
    np.testing.assert_allclose(fast_predict(estimator, features[:7]), estimator.predict(features[:7]), rtol=1e-6)
    assert fast_predict(estimator, features).shape == (len(y),)


def test_a_classifier_cannot_join_a_regression_search():
    X, y = prices(60)
    data = SearchData(X, y, [], [(np.arange(40), np.arange(40, 60))])
    with pytest.raises(ValueError, match="LogisticRegression cannot learn regression"):
        Search(
            data,
            algorithms=["LogisticRegression"],
            metric="r2_score",
            max_iterations=1,
            max_concurrent=1,
            deadline=0.0,
            early_stopping=False,
            featurize=True,
            seed=0,
            on_trial_start=lambda trial: None,
            on_trial_end=lambda trial: None,
        )


def _regression_trials(iterations: int = 5):
    """The trials of a regression search of ``iterations`` trials (5: one per algorithm, each tried once
    before any is tried again)."""
    from sklearn.model_selection import KFold

    X, y = prices()
    data = SearchData(X, y, [], list(KFold(3, shuffle=True, random_state=0).split(X)))
    return X, y, data, _search(data, list(names.REGRESSION_ALGORITHMS), "r2_score", iterations)


def _search(data: SearchData, algorithms: list[str], metric: str, iterations: int) -> list:
    """The trials of a search of ``iterations`` trials, with time enough to finish them on a busy machine."""
    return make_search(data, algorithms, metric, iterations).run()


def test_a_regression_search_scores_every_trial_out_of_fold_and_ensembles_beat_or_match_them():
    _X, y, data, trials = _regression_trials()
    done = [t for t in trials if t.ok]
    assert {t.learner for t in done} == set(names.REGRESSION_ALGORITHMS)
    for trial in done:
        assert trial.oof.shape == (len(y),) and not np.isnan(trial.oof).any()
        assert trial.metrics["r2_score"] == pytest.approx(metric_value("r2_score", y, trial.oof))
        assert trial.threshold is None
    assert max(t.metrics["r2_score"] for t in done) > 0.9
    mask = data.evaluated
    voting = voting_ensemble(trials, y, mask, "r2_score")
    stack = stack_ensemble(trials, y, mask, "r2_score", seed=0)
    best_single = max(t.metrics["r2_score"] for t in done)
    assert voting["metrics"]["r2_score"] >= best_single - 1e-9  # greedy selection starts from the best trial
    assert stack["spec"]["stacker"]["input"] == "values" and min(stack["spec"]["stacker"]["coef"]) >= 0
    assert stack["metrics"]["r2_score"] > 0.9


def test_a_regression_model_refits_and_predicts_the_same_numbers_from_frames_and_records():
    X, y, data, trials = _regression_trials(3)
    stack = stack_ensemble(trials, y, data.evaluated, "r2_score", seed=0)
    for spec in (stack["spec"], single_spec(next(t for t in trials if t.ok))):
        model = build_model(spec, X, y, [], algorithm="StackEnsemble", n_jobs=1, seed=0).prepare_for_serving()
        assert isinstance(model, OpmlRegressor) and model.task == "regression" and list(model.classes) == []
        records = X.head(25).to_dict("records")
        from_frame = model.predict(X.head(25))
        np.testing.assert_allclose(model.predict_records(records), from_frame, rtol=1e-9)
        assert skm.r2_score(y, model.predict(X)) > 0.9
        assert set(model.feature_importance()) == set(X.columns)


# -- a class absent from the training rows ---------------------------------------------------------------


def rare_class_table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four classes from two numbers (codes 0, 2, 3 common), class 1 of only two rows."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "kind": rng.choice(["p", "q"], n)})
    codes = np.where(X["x"] > 0, 2, 0) + (X["z"] > 0).to_numpy()
    codes[codes == 1] = 0
    codes[:2] = 1
    return X, codes


def test_a_holdout_is_stratified_over_the_classes_of_two_rows_and_a_single_row_class_is_trained_on():
    from sklearn.model_selection import StratifiedShuffleSplit

    from opml.automl.runner import make_folds, stratified_holdout

    rng = np.random.default_rng(4)
    codes = np.concatenate([np.repeat([0, 1, 2], [600, 300, 100]), [3, 3, 4]])[rng.permutation(1003)]
    train, valid = stratified_holdout(codes, 0.2, seed=0)
    assert sorted([*train, *valid]) == list(range(1003))
    assert set(codes[train]) == {0, 1, 2, 3, 4}  # every class trained on, the single row of class 4 too
    assert 4 not in codes[valid]
    assert [int((codes[valid] == c).sum()) for c in (0, 1, 2)] == [120, 60, 20]  # each common class's 20 %
    # Every class of 2 rows or more: the same split as scikit-learn's, so earlier runs split as they did.
    common = codes[codes < 3]
    expected = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=0).split(np.zeros(1000), common))
    assert [list(part) for part in stratified_holdout(common, 0.2, seed=0)] == [list(part) for part in expected]
    settings = parse_settings(
        automl_params(dataset="d", label_column="y", task="classification", validation_size=0.2, timeout_minutes=1)
    )
    seeded = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=settings.seed).split(common, common))
    assert [list(part) for part in make_folds(settings, common)[0]] == [list(part) for part in seeded]
    # More classes than holdout rows: a plain shuffle, not a refusal.
    many = np.repeat(np.arange(12), 3)
    train, valid = stratified_holdout(many, 0.1, seed=0)
    assert len(valid) == 4 and len(train) == 32


def test_copies_of_a_row_stay_on_one_side_of_every_split_when_many_rows_are_copies():
    """Bank Marketing ten times over scored models on copies of their training rows and chose the one that
    memorised best; a table with a few copies is split as before."""
    from opml.automl.runner import make_folds

    rng = np.random.default_rng(5)
    unique = pd.DataFrame({"a": rng.normal(size=400), "b": rng.choice(list("xyz"), 400)})
    labels = (rng.random(400) < 0.2).astype(int)
    X = pd.concat([unique] * 5, ignore_index=True)  # every row five times: 80 % copies
    codes = np.tile(labels, 5)
    original = np.tile(np.arange(400), 5)  # which distinct row each row copies
    for task, folds, size in (("classification", 5, None), ("classification", None, 0.1), ("regression", None, 0.2)):
        settings = parse_settings(
            automl_params(
                dataset="d",
                label_column="y",
                task=task,
                n_cross_validations=folds,
                validation_size=size,
                timeout_minutes=1,
            )
        )
        splits = make_folds(settings, codes.astype(float) if task == "regression" else codes, X)
        assert len(splits) == (folds or 1)
        for train, valid in splits:
            assert not set(original[train]) & set(original[valid]), (task, folds)  # no copy on both sides
            assert sorted([*train, *valid]) == list(range(2000))
            expected = len(X) / folds if folds else len(X) * size
            assert abs(len(valid) - expected) <= 5, (len(valid), expected)  # whole groups of 5 rows
            if task == "classification":
                assert abs(codes[valid].mean() - codes.mean()) < 0.03  # stratified by class
        if folds:
            assert sorted(np.concatenate([valid for _, valid in splits]).tolist()) == list(range(2000))
    # A label that differs makes a different row; a few copies (1 % or fewer) leave the splits as they were.
    assert duplicate_groups(X, np.arange(2000)) is None
    few = pd.concat([unique, unique.head(4)], ignore_index=True)
    assert duplicate_groups(few, np.concatenate([labels, labels[:4]])) is None
    settings = parse_settings(automl_params(dataset="d", label_column="y", task="classification", timeout_minutes=1))
    few_codes = np.concatenate([labels, labels[:4]])
    assert [v.tolist() for _, v in make_folds(settings, few_codes, few)] == [
        v.tolist() for _, v in make_folds(settings, few_codes)
    ]


def test_every_learner_fits_when_a_class_is_absent_from_the_training_rows():
    """Both rows of class 1 in the holdout: XGBoost refuses labels 0, 2, 3 and the others answer three columns;
    fitted on the classes present, each answers four, class 1's column 0, and the kept model serves so."""
    import pickle

    from opml.automl.ensembles import assemble_model
    from opml.automl.present_classes import PresentClasses

    X, codes = rare_class_table()
    rng = np.random.default_rng(1)
    train = np.flatnonzero((rng.random(len(codes)) < 0.8) & (codes != 1))
    valid = np.setdiff1d(np.arange(len(codes)), train)
    classes = ["a", "b", "c", "d"]
    data = SearchData(X, codes, classes, [(train, valid)], keep_models=True)
    learners = ["XGBoostClassifier", "LightGBM", "RandomForest", "ExtremeRandomTrees", "LogisticRegression"]
    trials = _search(data, learners, "accuracy", len(learners))
    assert {t.learner for t in trials} == set(learners) and all(t.ok for t in trials), [t.error for t in trials]
    for trial in trials:
        proba = trial.oof[valid]
        assert proba.shape == (len(valid), 4) and np.allclose(proba.sum(axis=1), 1.0)
        assert np.all(proba[:, 1] == 0.0)  # never seen in training: probability 0
        assert trial.metrics["accuracy"] > np.bincount(codes[valid]).max() / len(valid)  # beats the majority
        assert isinstance(trial.fitted.steps[-1][1], PresentClasses)
    xgboost = next(t for t in trials if t.learner == "XGBoostClassifier")
    model = assemble_model(single_spec(xgboost), [xgboost.fitted], classes, algorithm="XGBoostClassifier")
    model = pickle.loads(pickle.dumps(model)).prepare_for_serving()
    records = X.iloc[valid[:20]].to_dict("records")
    served = model.predict_proba_records(records)
    np.testing.assert_allclose(served, model.predict_proba(X.iloc[valid[:20]]), rtol=1e-6)
    np.testing.assert_allclose(served, xgboost.oof[valid[:20]], rtol=1e-5, atol=1e-7)
    assert set(model.feature_importance()) <= set(X.columns) and model.feature_importance()
    # With every class in the training rows nothing is wrapped.
    every = np.arange(len(codes))
    whole = SearchData(X, codes, classes, [(every, every)], keep_models=True)
    (plain,) = _search(whole, ["XGBoostClassifier"], "accuracy", 1)
    assert plain.ok and type(plain.fitted.steps[-1][1]).__name__ == "XGBClassifier"


# -- the log target -------------------------------------------------------------------------------------


def skewed_prices(n: int = 500, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Prices that vary by multiples (skewed): log(price) is linear in size and the cut."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"size": rng.uniform(0.3, 4.0, n), "cut": rng.choice(["fair", "good", "ideal"], n)})
    bonus = X["cut"].map({"fair": 0.0, "good": 0.15, "ideal": 0.3}).to_numpy()
    y = np.exp(6 + 1.2 * X["size"].to_numpy() + bonus + rng.normal(0, 0.1, n))
    return X, y


@pytest.mark.parametrize(
    ("metric", "values", "log"),
    [
        ("spearman_correlation", "skewed", True),
        ("normalized_mean_absolute_error", "skewed", True),
        ("root_mean_squared_log_error", "skewed", True),
        ("r2_score", "skewed", False),  # squared error rewards the mean, which exp(mean log) is not
        ("normalized_root_mean_squared_error", "skewed", False),
        ("spearman_correlation", "symmetric", False),
        ("spearman_correlation", "with a zero", False),  # no logarithm of 0
        ("spearman_correlation", "negative", False),
        ("spearman_correlation", "one outlier", False),  # 100..110 and a single 1e9: not skewed
    ],
)
def test_the_models_learn_the_logarithm_of_a_positive_skewed_label_for_metrics_of_ranks_or_ratios(metric, values, log):
    from opml.automl.target import choose_target

    skewed = skewed_prices()[1]
    y = {
        "skewed": skewed,
        "symmetric": np.random.default_rng(0).normal(100, 10, 500),
        "with a zero": np.append(skewed, 0.0),
        "negative": skewed - np.median(skewed),
        "one outlier": np.append(np.random.default_rng(1).uniform(100, 110, 500), 1e9),
    }[values]
    target, note = choose_target(metric, y)
    assert (target is not None) == log
    if log:
        assert "logarithm" in note and metric in note
        np.testing.assert_allclose(target.inverse(target.forward(y)), y, rtol=1e-12)
        # a runaway prediction stays within ten times the prices seen
        assert target.inverse(np.array([1e6, -1e6])).tolist() == pytest.approx([10 * y.max(), y.min() / 10])
    else:
        assert note == ""


def test_a_log_target_search_and_its_models_answer_on_the_labels_scale():

    from sklearn.model_selection import KFold

    from opml.automl.target import choose_target, target_from_spec

    X, y = skewed_prices()
    target, _ = choose_target("spearman_correlation", y)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    logged, plain = SearchData(X, y, [], folds, target=target), SearchData(X, y, [], folds)
    results = {}
    for name, data in (("log", logged), ("raw", plain)):
        results[name] = {t.learner: t for t in _search(data, ["ElasticNet", "LightGBM"], "spearman_correlation", 2)}
    linear = results["log"]["ElasticNet"]
    assert linear.ok and (linear.oof > 0).all()  # prices, not logarithms
    assert np.median(linear.oof) == pytest.approx(np.median(y), rel=0.2)
    # log(price) is linear in the features' logarithms: a linear model of it fits far better than of price
    assert linear.metrics["r2_score"] > 0.9 > results["raw"]["ElasticNet"].metrics["r2_score"]
    spec = {**single_spec(linear), "target": target.to_spec()}
    assert target_from_spec(spec) == target and target_from_spec(single_spec(linear)) is None
    model = build_model(spec, X, y, [], algorithm="ElasticNet", n_jobs=1, seed=0).prepare_for_serving()
    assert model.target == target
    predicted = model.predict_records(X.to_dict("records"))
    np.testing.assert_allclose(model.predict(X), predicted, rtol=1e-9)
    assert skm.r2_score(y, predicted) > 0.9 and (predicted > 0).all()
    refitted = model.fit(X.iloc[:300], y[:300])  # a refit learns log(price) again
    assert skm.r2_score(y[300:], refitted.predict(X.iloc[300:])) > 0.9


# -- settings, guess and refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (np.arange(500) * 1.5, "regression"),  # fractions
        (np.arange(500), "regression"),  # many distinct whole numbers
        (np.array([1, 2, 3, 4, 5] * 100), "classification"),  # a rating
        (np.array([0, 1] * 250), "classification"),
        (np.array(["yes", "no"] * 250), "classification"),
        (np.array([str(i) + "x" for i in range(500)]), "classification"),  # text is never a quantity
    ],
)
def test_the_task_is_guessed_from_the_label(values, task):
    assert guess_task(pd.Series(values)) == task


def test_settings_follow_the_task():
    params = automl_params(dataset="d", label_column="price", task="regression")
    assert params["primary_metric"] == "spearman_correlation"
    settings = parse_settings(params)
    assert settings.regression and settings.algorithms == list(names.REGRESSION_ALGORITHMS)
    assert parse_settings({"dataset": "d", "label_column": "y"}).primary_metric == "accuracy"
    problems = settings_problems({**params, "primary_metric": "AUC_weighted", "allowed_algorithms": ["LightGBM"]})
    assert "classification metric" in problems["primary_metric"] and "allowed_algorithms" not in problems
    problems = settings_problems({**params, "blocked_algorithms": ["XGBoostClassifier"]})
    assert "not regression algorithm(s): XGBoostClassifier" in problems["blocked_algorithms"]


def _settings(**params):
    return parse_settings({"dataset": "d", "label_column": "y", **params})


@pytest.mark.parametrize(
    ("label", "params", "message"),
    [
        (
            ["1.5", "2", "abc", "4"] * 25,
            {"task": "regression"},
            "text values .*'abc'.* choose the task 'classification'",
        ),
        ([7.0] * 100, {"task": "regression"}, r"the same value \(7\) in every row"),
        ([1.0, np.inf] * 50, {"task": "regression"}, "infinite"),
        ([1e300, -1e300, 1.0, 2.0] * 25, {"task": "regression"}, r"as large as 1e\+300.*32-bit.*rescale"),
        (list(np.linspace(1, 2, 100) * 1e-300), {"task": "regression"}, "differ by too little.*32-bit.*rescale"),
        (list(1e10 + np.arange(100) * 1e-4), {"task": "regression"}, "differ by too little.*32-bit.*rescale"),
        ([np.nan] * 100, {"task": "regression"}, "label column 'y' has no values: every row is missing"),
        ([np.nan] * 100, {}, "label column 'y' has no values: every row is missing"),
        (list(range(1000)) * 2, {}, "1,000 distinct values.*choose the task 'regression'"),
        ([f"id{i}" for i in range(1000)] * 2, {}, "1,000 distinct values.*identifier"),
        (["a", "b", "c"] * 40 + ["d"], {}, "class 'd' has 1 row"),
        (  # a holdout has no folds: the message says what a class needs there
            ["a", "b", "c"] * 40 + ["d"],
            {"validation_size": 0.1, "n_cross_validations": None},
            r"class 'd' has 1 row: a class needs at least 2 rows \(one to train on, one to validate\)",
        ),
    ],
)
def test_labels_a_task_cannot_learn_are_refused_with_what_to_do(label, params, message):
    frame = pd.DataFrame({"x": np.arange(len(label)) % 7, "y": label})
    with pytest.raises(InvalidInput, match=message):
        check_data(_settings(**params), frame)


def test_missing_regression_labels_are_left_out_not_refused():
    X, y = prices(100)
    frame = X.assign(y=y)
    frame.loc[:9, "y"] = np.nan
    check_data(_settings(task="regression"), frame)


def test_a_budget_too_small_for_the_data_is_refused_with_the_minimum():
    rows = 300_000
    frame = pd.DataFrame({f"f{i}": np.arange(rows, dtype=float) % (i + 3) for i in range(19)})
    frame["y"] = np.arange(rows) % 97 * 1.5
    with pytest.raises(InvalidInput, match=r"too short for 300,000 rows x 19 columns.*give at least \d"):
        check_data(_settings(task="regression", experiment_timeout_minutes=0.1), frame)
    check_data(_settings(task="regression", experiment_timeout_minutes=2), frame)  # enough


def test_a_budget_counts_the_classes_a_booster_grows_a_tree_for():
    """A first LightGBM trial on 5,000 rows x 3 features took 43 s with 100 classes (3 folds): a 30-second
    run ended after 59 s with one model (36 s on a holdout). Such a run is validated on a holdout, and a budget
    too short for a fit of 100 classes and its refit is refused; with 3 classes the table keeps its folds in 18 s."""
    rows = 5000
    frame = pd.DataFrame({name: np.arange(rows, dtype=float) % (i + 7) for i, name in enumerate("abc")})
    frame["y"] = [f"k{i % 100:03d}" for i in range(rows)]
    with pytest.raises(InvalidInput, match=r"too short for 5,000 rows x 3 columns and 100 classes.*at least 1 min"):
        check_data(_settings(experiment_timeout_minutes=0.5, n_cross_validations=3), frame)
    check_data(_settings(experiment_timeout_minutes=1, n_cross_validations=3), frame)
    plan = plan_validation(_settings(experiment_timeout_minutes=1, n_cross_validations=3), rows, 3, 100)
    assert plan.n_cross_validations is None and "holdout" in plan.notes[0]
    frame["y"] = [f"k{i % 3}" for i in range(rows)]
    check_data(_settings(experiment_timeout_minutes=0.3, n_cross_validations=3), frame)
    assert plan_validation(_settings(experiment_timeout_minutes=0.3, n_cross_validations=3), rows, 3, 3).notes == ()


def _sklearn_metric(name: str, y: np.ndarray, proba: np.ndarray, predicted: np.ndarray) -> float:
    """What scikit-learn says for ``name`` (the reference of opml's one-pass classification metrics)."""
    k = proba.shape[1]
    onehot = np.eye(k)[y]
    if name == "accuracy":
        return skm.accuracy_score(y, predicted)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, predicted)
    if name == "log_loss":
        clipped = np.clip(proba, 1e-15, 1 - 1e-15)
        return skm.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=list(range(k)))
    if name == "matthews_correlation":
        return skm.matthews_corrcoef(y, predicted)
    if name == "norm_macro_recall":
        return (skm.recall_score(y, predicted, average="macro", zero_division=0) - 1 / k) / (1 - 1 / k)
    score, _, average = name.rpartition("_")
    if score == "AUC":
        if k == 2 and average != "micro":
            return skm.roc_auc_score(y, proba[:, 1])
        if average == "micro":
            return skm.roc_auc_score(onehot, proba, average="micro")
        return skm.roc_auc_score(y, proba, multi_class="ovr", average=average, labels=list(range(k)))
    if score == "average_precision_score":
        return skm.average_precision_score(onehot, proba, average=average)
    function = {"f1_score": skm.f1_score, "precision_score": skm.precision_score, "recall_score": skm.recall_score}
    return function[score](y, predicted, average=average, labels=list(range(k)), zero_division=0)


@pytest.mark.parametrize(("classes", "rows", "seed"), [(2, 500, 0), (2, 300, 1), (3, 400, 2), (6, 900, 3)])
def test_one_pass_classification_metrics_equal_scikit_learns(classes, rows, seed):
    from opml.automl.metrics import predict_codes

    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    proba = rng.dirichlet(np.ones(classes), rows)
    proba[np.arange(rows), y] += rng.uniform(0, 0.8, rows)
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 2)  # rounded: many ties, as trees give
    proba /= proba.sum(axis=1, keepdims=True)
    threshold = 0.4 if classes == 2 else None
    values = compute_metrics(y, proba, threshold)
    predicted = predict_codes(proba, threshold)
    for name in names.CLASSIFICATION_METRICS:
        assert values[name] == pytest.approx(_sklearn_metric(name, y, proba, predicted), abs=1e-9), name
