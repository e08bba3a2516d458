"""Ensembles built from out-of-fold predictions, and models rebuilt from a stored spec.

VotingEnsemble: greedy ensemble selection with replacement (Caruana et al., 2004)
over the best trials. StackEnsemble: a logistic-regression meta-learner on the
log-odds of the best trial of each algorithm (for regression: a linear regression
with non-negative weights on their predicted values). "Best" is by ``optimised_metric``
(log-loss for threshold metrics such as accuracy). Both are judged on the same out-of-fold rows as
every single trial, so they compete fairly on the leaderboard.

A *spec* is the JSON-able recipe of a model: its members (algorithm + FLAML
configuration), weights or stacker coefficients, and the decision threshold.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from opml.automl.learners import LEARNERS
from opml.automl.metrics import (
    best_threshold,
    compute_metrics,
    is_regression,
    metric_value,
    optimised_metric,
    score_for_ranking,
    search_score,
)
from opml.automl.model import OpmlClassifier, OpmlRegressor, stack_features
from opml.automl.search import KEPT_MODELS, Trial, make_pipeline
from opml.automl.target import target_from_spec

VOTING_CANDIDATES = KEPT_MODELS  # a holdout's search keeps the fitted models of these
VOTING_ROUNDS = 25
STACK_MEMBERS = 5
# Above this many weights (members x classes x classes) the multinomial stacker's Newton steps take seconds each
# (12 s a fit for 5 members x 12 classes on 1,200 rows; its Hessian grows as the square): the stacker then shares
# one weight per member across the classes.
STACK_FULL_WEIGHTS = 300


def _selection_score(metric: str, y: np.ndarray, proba: np.ndarray, log_target: bool) -> float:
    """What greedy selection maximises (see ``optimised_metric``)."""
    name = optimised_metric(metric, log_target)
    return score_for_ranking(name, metric_value(name, y, proba))


def _ranked(trials: list[Trial], metric: str, log_target: bool) -> list[Trial]:
    done = [t for t in trials if t.ok and t.oof is not None]
    return sorted(done, key=lambda t: -search_score(metric, t.metrics, log_target))


def _member(trial: Trial) -> dict[str, Any]:
    member = {"learner": trial.learner, "config": trial.config, "trial": trial.index}
    if trial.frequencies:
        member["frequencies"] = True
    return member


def voting_ensemble(
    trials: list[Trial], y: np.ndarray, mask: np.ndarray, metric: str, log_target: bool = False
) -> dict | None:
    """(spec, out-of-fold probabilities) of the greedy VotingEnsemble, or None with fewer than two trials."""
    candidates = _ranked(trials, metric, log_target)[:VOTING_CANDIDATES]
    if len(candidates) < 2:
        return None
    target = y[mask]
    predictions = [t.oof[mask] for t in candidates]
    counts = np.zeros(len(candidates), dtype=int)
    total = np.zeros_like(predictions[0])
    history: list[tuple[float, np.ndarray]] = []
    for step in range(1, VOTING_ROUNDS + 1):
        scores = [_selection_score(metric, target, (total + p) / step, log_target) for p in predictions]
        chosen = int(np.argmax(scores))
        counts[chosen] += 1
        total += predictions[chosen]
        history.append((scores[chosen], counts.copy()))
    best_counts = max(history, key=lambda item: item[0])[1]
    used = [i for i in range(len(candidates)) if best_counts[i] > 0]
    if len(used) < 2:
        return None
    weights = [float(best_counts[i]) for i in used]
    oof = np.full_like(candidates[0].oof, np.nan)
    oof[mask] = sum(w * predictions[i] for w, i in zip(weights, used, strict=True)) / sum(weights)
    spec = {"kind": "voting", "members": [_member(candidates[i]) for i in used], "weights": weights}
    return _finish(spec, oof, y, mask, metric)


def stack_ensemble(
    trials: list[Trial], y: np.ndarray, mask: np.ndarray, metric: str, seed: int, log_target: bool = False
) -> dict | None:
    """The StackEnsemble over the best trial of each algorithm, or None with fewer than two algorithms or (for
    classification) a class with fewer than two validated rows."""
    best_per_learner: dict[str, Trial] = {}
    for trial in _ranked(trials, metric, log_target):
        best_per_learner.setdefault(trial.learner, trial)
    members = list(best_per_learner.values())[:STACK_MEMBERS]
    if len(members) < 2:
        return None
    target = y[mask]
    oof = np.full_like(members[0].oof, np.nan)
    if is_regression(members[0].oof):
        features = np.column_stack([t.oof[mask] for t in members])
        folds = KFold(n_splits=5, shuffle=True, random_state=seed)
        meta = LinearRegression(positive=True)
        oof[mask] = cross_val_predict(meta, features, target, cv=folds)
        meta.fit(features, target)
        stacker = {"coef": meta.coef_.tolist(), "intercept": float(meta.intercept_), "input": "values"}
    else:
        classes = members[0].oof.shape[1]
        smallest = int(np.bincount(target, minlength=classes).min())
        if smallest < 2:  # a holdout of many classes: the stacker could not be cross-validated (nor learn them all)
            return None
        features = stack_features([t.oof[mask] for t in members])
        folds = StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
        if classes > 2 and len(members) * classes * classes > STACK_FULL_WEIGHTS:
            meta = SharedWeightStacker(members=len(members), classes=classes)
        else:
            # Newton-Cholesky converges in a few iterations where lbfgs took 100 s on 5 classes x 50,000 rows.
            meta = LogisticRegression(C=1.0, max_iter=1000, solver="newton-cholesky")
        oof[mask] = cross_val_predict(meta, features, target, cv=folds, method="predict_proba")
        meta.fit(features, target)
        stacker = {"coef": meta.coef_.tolist(), "intercept": meta.intercept_.tolist(), "input": "log_odds"}
    spec = {"kind": "stack", "members": [_member(t) for t in members], "stacker": stacker}
    return _finish(spec, oof, y, mask, metric)


class SharedWeightStacker(ClassifierMixin, BaseEstimator):
    """A multinomial logistic regression on the members' log-probabilities in which class k's score is
    ``sum_j w_j * log p_j(k) + b_k``: one weight per member, shared by the classes (a weighted geometric mean,
    sharpened or softened), and one intercept per class. Its ``coef_`` (classes, members x classes) is that of a
    ``LogisticRegression`` on the same features, so a stored spec rebuilds the same way; it is fitted with
    members + classes parameters instead of members x classes squared. L2 penalty as ``LogisticRegression(C)``."""

    def __init__(self, members: int = 2, classes: int = 3, C: float = 1.0):
        self.members, self.classes, self.C = members, classes, C

    def fit(self, X: np.ndarray, y: np.ndarray) -> SharedWeightStacker:
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        self.classes_ = np.arange(self.classes)
        rows, m = len(X), self.members
        logs = X.reshape(rows, m, self.classes)
        truth = np.zeros((rows, self.classes))
        truth[np.arange(rows), y] = 1.0

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            weights, intercept = theta[:m], theta[m:]
            log_p = log_softmax(np.einsum("nmk,m->nk", logs, weights) + intercept, axis=1)
            error = np.exp(log_p) - truth
            value = -float((log_p * truth).sum()) * self.C + 0.5 * float(weights @ weights)
            gradient = np.concatenate(
                [np.einsum("nmk,nk->m", logs, error) * self.C + weights, error.sum(axis=0) * self.C]
            )
            return value, gradient

        start = np.concatenate([np.full(m, 1.0 / m), np.zeros(self.classes)])
        theta = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
        weights, intercept = theta[:m], theta[m:]
        self.coef_ = np.zeros((self.classes, m * self.classes))
        for member in range(m):
            self.coef_[self.classes_, member * self.classes + self.classes_] = weights[member]
        self.intercept_ = intercept
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(np.asarray(X, dtype=float) @ self.coef_.T + self.intercept_, axis=1))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def _finish(spec: dict, oof: np.ndarray, y: np.ndarray, mask: np.ndarray, metric: str) -> dict:
    threshold = best_threshold(metric, y[mask], oof[mask])
    spec["threshold"] = threshold
    return {"spec": spec, "oof": oof, "metrics": compute_metrics(y[mask], oof[mask], threshold)}


def single_spec(trial: Trial) -> dict:
    return {"kind": "single", "members": [_member(trial)], "weights": [1.0], "threshold": trial.threshold}


def _stacker(spec: dict, n_classes: int) -> LogisticRegression:
    stacker = LogisticRegression()
    stacker.coef_ = np.asarray(spec["stacker"]["coef"], dtype=float)
    stacker.intercept_ = np.asarray(spec["stacker"]["intercept"], dtype=float)
    stacker.classes_ = np.arange(n_classes)
    return stacker


def build_model(
    spec: dict,
    X: pd.DataFrame,
    y: np.ndarray,
    classes: list[str],
    *,
    algorithm: str,
    n_jobs: int,
    seed: int,
    workers: int = 1,
) -> OpmlClassifier | OpmlRegressor:
    """Fit the model a spec describes on all of ``X`` (the refit after the search); no ``classes``: a
    regressor of the values ``y``. ``workers`` members are fitted at once (each with ``n_jobs`` threads)."""
    featurize = spec.get("featurize", True)
    target = target_from_spec(spec) if not classes else None
    fitted = target.forward(y) if target else y  # what the estimators learn (featurizers see y itself)
    members = []
    fits = []
    featurizers: dict[tuple, Any] = {}  # members with the same featurization share one fitted featurizer
    for member in spec["members"]:
        pipeline = make_pipeline(
            LEARNERS[member["learner"]],
            member["config"],
            n_classes=len(classes),
            n_jobs=n_jobs,
            seed=seed,
            featurize=featurize,
            frequencies=member.get("frequencies", False),
        )
        featurizer = pipeline.steps[0][1]
        key = featurizer.config_key()
        if key not in featurizers:
            featurizers[key] = featurizer.fit(X, y)
        pipeline.steps[0] = ("featurizer", featurizers[key])
        fits.append((pipeline.steps[-1][1], key))
        members.append(pipeline)
    features = {key: featurizer.transform(X) for key, featurizer in featurizers.items()}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(fits))), thread_name_prefix="refit") as pool:
        list(pool.map(lambda fit: fit[0].fit(features[fit[1]], fitted), fits))
    return assemble_model(spec, members, classes, algorithm=algorithm)


def assemble_model(
    spec: dict, members: list[Pipeline], classes: list[str], *, algorithm: str
) -> OpmlClassifier | OpmlRegressor:
    """The model a spec describes from its members, already fitted (in the spec's order): by ``build_model``,
    or in the search itself (a holdout's models, kept)."""
    if not classes:
        stack = spec.get("stacker") if spec["kind"] == "stack" else None
        return OpmlRegressor(
            members,
            weights=spec.get("weights"),
            stacker=(stack["coef"], stack["intercept"]) if stack else None,
            algorithm=algorithm,
            target=target_from_spec(spec),
        )
    stacker = _stacker(spec, len(classes)) if spec["kind"] == "stack" else None
    return OpmlClassifier(
        members,
        classes,
        weights=spec.get("weights"),
        stacker=stacker,
        threshold=spec.get("threshold"),
        algorithm=algorithm,
        # Specs written before log-odds stacking have no "input": their coefficients are for probabilities.
        stack_input=spec["stacker"].get("input", "probabilities") if stacker is not None else "probabilities",
    )
