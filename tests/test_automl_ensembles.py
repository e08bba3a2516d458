"""What the search and the ensembles optimise, and the StackEnsemble's meta-learner input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from opml.automl.ensembles import VOTING_CANDIDATES, build_model, stack_ensemble, voting_ensemble
from opml.automl.metrics import compute_metrics, optimised_metric, search_score
from opml.automl.search import Trial
from opml.automl.selection import Candidate, choose_best, standard_error


def _trial(index: int, learner: str, y: np.ndarray, positive: np.ndarray) -> Trial:
    oof = np.column_stack([1 - positive, positive])
    return Trial(index=index, learner=learner, config={}, metrics=compute_metrics(y, oof, 0.5), oof=oof)


@pytest.fixture
def lucky_and_calibrated() -> tuple[np.ndarray, Trial, Trial, Trial]:
    """A hard 0/1 model that is right a bit more often, and two calibrated models with better log-loss."""
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(int)
    signal = y + rng.normal(0, 0.6, len(y))
    calibrated = expit(2.5 * (signal - 0.5))
    hard = np.where(rng.random(len(y)) < 0.9, y, 1 - y).astype(float)
    other = expit(2.0 * (signal + rng.normal(0, 0.3, len(y)) - 0.5))
    lucky = _trial(0, "LightGBM", y, np.clip(hard, 0.001, 0.999))
    good = _trial(1, "LightGBM", y, calibrated)
    forest = _trial(2, "RandomForest", y, other)
    assert lucky.metrics["accuracy"] > good.metrics["accuracy"]  # the premise
    assert lucky.metrics["log_loss"] > good.metrics["log_loss"]
    return y, lucky, good, forest


def test_threshold_metrics_are_optimised_through_log_loss(lucky_and_calibrated):
    _, lucky, good, _ = lucky_and_calibrated
    assert optimised_metric("accuracy") == "log_loss" and optimised_metric("AUC_weighted") == "AUC_weighted"
    assert search_score("accuracy", good.metrics) > search_score("accuracy", lucky.metrics)
    assert search_score("AUC_weighted", good.metrics) == good.metrics["AUC_weighted"]


def test_stack_members_are_the_best_of_each_algorithm_by_log_loss_for_accuracy(lucky_and_calibrated):
    y, lucky, good, forest = lucky_and_calibrated
    mask = np.ones(len(y), dtype=bool)
    result = stack_ensemble([lucky, good, forest], y, mask, "accuracy", seed=0)
    assert [m["trial"] for m in result["spec"]["members"]] == [good.index, forest.index]
    assert result["spec"]["stacker"]["input"] == "log_odds"
    # Out-of-fold stacking on log-odds is at least as good as its best member on log-loss.
    assert result["metrics"]["log_loss"] <= good.metrics["log_loss"] + 1e-3


def test_voting_candidates_are_the_best_by_log_loss_for_accuracy(lucky_and_calibrated):
    y, _, good, _ = lucky_and_calibrated
    rng = np.random.default_rng(2)
    # More hard 0/1 models with a higher accuracy than the calibrated one than there are candidate places.
    lucky = [
        _trial(index, "RandomForest", y, np.clip(np.where(rng.random(len(y)) < 0.9, y, 1 - y), 0.001, 0.999))
        for index in range(2, 2 + VOTING_CANDIDATES)
    ]
    assert min(t.metrics["accuracy"] for t in lucky) > good.metrics["accuracy"]
    result = voting_ensemble([*lucky, good], y, np.ones(len(y), dtype=bool), "accuracy")
    # By accuracy it would be the last of 16 and no candidate; by log-loss it is the first one.
    assert good.index in [m["trial"] for m in result["spec"]["members"]]


def _stack_spec(stacker: dict) -> dict:
    members = [
        {"learner": "LogisticRegression", "config": {"C": 1.0}, "trial": 0},
        {"learner": "RandomForest", "config": {"n_estimators": 20, "max_leaves": 16}, "trial": 1},
    ]
    return {"kind": "stack", "members": members, "stacker": stacker, "threshold": None}


def test_stacked_models_combine_log_odds_and_older_specs_keep_probabilities():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.choice(["x", "y"], 400)})
    codes = ((X["a"] + (X["b"] == "x") + rng.normal(0, 0.5, 400)) > 0.5).astype(int).to_numpy()
    coefficients = {"coef": [[0.7, 0.4]], "intercept": [-0.2]}

    def fit(stacker: dict):
        return build_model(_stack_spec(stacker), X, codes, ["0", "1"], algorithm="StackEnsemble", n_jobs=1, seed=0)

    new, old = fit({**coefficients, "input": "log_odds"}), fit(coefficients)
    members = np.column_stack([m.predict_proba(X)[:, 1] for m in new.members])
    clipped = np.clip(members, 1e-6, 1 - 1e-6)
    assert np.allclose(new.predict_proba(X)[:, 1], expit(logit(clipped) @ [0.7, 0.4] - 0.2))
    assert np.allclose(old.predict_proba(X)[:, 1], expit(members @ [0.7, 0.4] - 0.2))
    records = X.head(5).to_dict("records")
    assert np.allclose(new.predict_proba_records(records), new.predict_proba(X.head(5)))
    # A model pickled before stack_input existed has no such attribute: it stays on probabilities.
    del old.__dict__["stack_input"]
    assert np.allclose(old.predict_proba(X)[:, 1], expit(members @ [0.7, 0.4] - 0.2))


def _candidate(child_id: str, accuracy: float, log_loss: float, auc: float, oof: np.ndarray) -> Candidate:
    return Candidate(child_id, {"accuracy": accuracy, "log_loss": log_loss, "AUC_weighted": auc}, oof, 0.5)


def test_the_best_is_the_best_log_loss_within_one_standard_error_of_the_top_accuracy():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.3).astype(int)
    right = rng.random(len(y)) < 0.9
    positive = np.where(right == (y == 1), 0.8, 0.2)
    oof = np.column_stack([1 - positive, positive])
    error = standard_error("accuracy", y, oof, 0.5)
    assert 0.004 < error < 0.01  # about sqrt(0.9 * 0.1 / 2000)
    top = _candidate("run_1", 0.900, 0.30, 0.93, oof)
    near = _candidate("run_2", 0.900 - error / 2, 0.25, 0.95, oof)
    far = _candidate("run_3", 0.900 - 2 * error, 0.20, 0.96, oof)
    every = np.ones(len(y), dtype=bool)
    best, reason = choose_best([top, near, far], "accuracy", y, every)
    assert best is near
    assert "within one standard error" in reason and "run_1" in reason and "log_loss" in reason
    assert choose_best([top, far], "accuracy", y, every) == (top, "")
    # Metrics that rank probabilities take the top one as it is.
    assert choose_best([top, near, far], "AUC_weighted", y, every) == (far, "")


def test_with_a_holdout_only_the_evaluated_rows_count():
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.3).astype(int)
    positive = np.where(rng.random(len(y)) < 0.9, y, 1 - y) * 0.6 + 0.2
    evaluated = rng.random(len(y)) < 0.2  # a 20 % validation set: the other rows have no prediction
    oof = np.column_stack([1 - positive, positive])
    oof[~evaluated] = np.nan
    top = _candidate("run_1", 0.900, 0.30, 0.93, oof)
    near = _candidate("run_2", 0.899, 0.25, 0.95, oof)
    best, reason = choose_best([top, near], "accuracy", y, evaluated)
    assert best is near and "within one standard error" in reason
    # The error of 600 rows, not of 3,000: about sqrt(0.9 * 0.1 / 600).
    assert 0.008 < standard_error("accuracy", y[evaluated], oof[evaluated], 0.5) < 0.018


def test_the_reason_shows_numbers_that_differ_when_they_differ():
    """The walk of issue #21 read "its r2_score is better (0.9998 against 0.9998)": equal at four decimals."""
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.3).astype(int)
    positive = np.where((rng.random(len(y)) < 0.9) == (y == 1), 0.8, 0.2)
    oof = np.column_stack([1 - positive, positive])
    top = _candidate("run_1", 0.900, 0.300012, 0.93, oof)
    near = _candidate("run_2", 0.8999, 0.300004, 0.95, oof)
    best, reason = choose_best([top, near], "accuracy", y, np.ones(len(y), dtype=bool))
    assert best is near
    assert "(0.30000 against 0.30001)" in reason, reason  # the first decimal where they part
    assert "accuracy 0.8999 is within one standard error" in reason and "of the top 0.9000 (run_1)" in reason


def test_a_stack_of_many_classes_shares_one_weight_per_member_and_beats_its_best_member():
    """Twelve classes x five members: the full multinomial stacker has 720 weights and its Newton steps took
    about 12 s a fit on 1,200 rows (70 s for the stack, past a 30-second budget); weights shared across
    classes grow with the members, not with the classes squared."""
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    classes, rows = 12, 1200
    y = np.arange(rows) % classes
    trials = []
    learners = ["LightGBM", "XGBoostClassifier", "RandomForest", "ExtremeRandomTrees", "LogisticRegression"]
    for index, (learner, noise) in enumerate(zip(learners, [1.0, 1.3, 1.6, 2.0, 2.5], strict=True)):
        scores = rng.normal(0, noise, (rows, classes))
        scores[np.arange(rows), y] += 2.0
        oof = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        trials.append(Trial(index=index, learner=learner, config={}, metrics=compute_metrics(y, oof), oof=oof))
    mask = np.ones(rows, dtype=bool)
    result = stack_ensemble(trials, y, mask, "accuracy", seed=0)
    coef = np.asarray(result["spec"]["stacker"]["coef"])
    assert coef.shape == (classes, 5 * classes)
    members = coef.reshape(classes, 5, classes)
    weights = members[np.arange(classes), :, np.arange(classes)]  # class k's weight on member j's class k
    assert np.allclose(weights, weights[0])
    assert np.allclose(members.sum(axis=(0, 2)), classes * weights[0])  # and 0 elsewhere
    assert weights[0][0] > weights[0][-1] > 0  # the best member weighs most
    best_member = min(log_loss(y, t.oof) for t in trials)
    assert log_loss(y, result["oof"]) < best_member


def test_no_stack_when_a_class_has_fewer_than_two_validated_rows():
    """A 100-class run validated on a 10% holdout (500 rows) had a class with one holdout row: the stack's
    StratifiedKFold got n_splits=1 and the whole run Failed."""
    rng = np.random.default_rng(0)
    y = np.concatenate([np.arange(300) % 3, [3] * 20])
    mask = np.ones(len(y), dtype=bool)
    mask[301:] = False  # class 3 keeps one validated row (index 300)
    trials = []
    for index, learner in enumerate(["LightGBM", "RandomForest"]):
        oof = rng.dirichlet(np.ones(4), len(y))
        trials.append(Trial(index=index, learner=learner, config={}, metrics=compute_metrics(y, oof), oof=oof))
    assert stack_ensemble(trials, y, mask, "accuracy", seed=0) is None
