"""The search: FLAML's CFO searchers propose configurations, opml evaluates them with
cross-validation and keeps every trial's out-of-fold predictions for the ensembles.

Each learner has its own searcher (ask/tell). Learners are tried cheapest first,
each starting with its portfolio (the library's defaults, then low-learning-rate
configurations) before its searcher, then chosen by how good their best trial
is, so that time goes where the score is. When the data has repeated-value columns
(``featurize.repeated_value_columns``), LightGBM and XGBoost try each portfolio configuration
with and without their frequencies, and the searcher keeps the featurization of the
learner's best trial. "Good" is ``search_score``: log-loss
for threshold metrics such as accuracy, the metric itself otherwise. Trials run in a thread pool of
``max_concurrent_iterations`` workers (LightGBM, XGBoost and scikit-learn's
trees release the GIL); searchers are only touched from the calling thread.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from opml.automl.featurize import TabularFeaturizer, numeric_columns, repeated_value_columns
from opml.automl.learners import (
    LARGE_DATA_ROWS,
    LEARNERS,
    FitStopped,
    Learner,
    build_estimator,
    fast_predict,
    fit_threads,
    fit_until,
    portfolio_configs,
    search_space,
)
from opml.automl.metrics import best_threshold, compute_metrics, score_for_ranking, search_score
from opml.automl.model import feature_importance
from opml.automl.present_classes import fit_classes_present
from opml.automl.target import LogTarget

EARLY_STOPPING_TRIALS = 50
EARLY_STOPPING_MIN_BUDGET_SHARE = 0.8  # never stop early before 80 % of the budget
LINEAR_COST_SHARE = 0.2  # a linear model's cost orders it last; its time is about a fifth of that ratio
KEPT_MODELS = 15  # a holdout's fitted models kept for the ensembles (the VotingEnsemble's candidates)
SLOW_CONFIGS_MIN_SECONDS = 120  # below this budget, the portfolio's slow configurations do not pay off


@dataclass
class Trial:
    index: int
    learner: str
    config: dict[str, Any]
    started: float = 0.0
    duration: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None
    frequencies: bool = False  # with the frequencies of repeated values as features
    oof: np.ndarray | None = None
    importance: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    stopped: bool = False  # stopped before it finished (the run's time was up, or it was canceled)
    fold_workers: int = 1  # folds that were fitted at once
    fitted: Pipeline | None = field(default=None, repr=False)  # a holdout's model (``SearchData.keep_models``)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SearchData:
    X: pd.DataFrame
    y: np.ndarray  # integer class codes, or the values to predict (regression)
    classes: list[str]  # empty for regression
    folds: list[tuple[np.ndarray, np.ndarray]]
    target: LogTarget | None = None  # regression: models learn log(y) (see opml.automl.target)
    keep_models: bool = False  # a holdout of every row: trials keep their fitted models (``Search._keep_fitted``)
    _features: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.has_repeated_values = bool(repeated_value_columns(self.X, numeric_columns(self.X)))
        # What the estimators are fitted on; their predictions go back to y's scale with ``values``.
        self.fit_y = self.target.forward(self.y) if self.target else self.y

    def values(self, predictions: np.ndarray) -> np.ndarray:
        """An estimator's predictions on y's scale."""
        return self.target.inverse(predictions) if self.target else predictions

    def fold_features(
        self, learner: Learner, featurize: bool, fold: int, frequencies: bool = False
    ) -> tuple[TabularFeaturizer, Any, Any]:
        """(featurizer fitted on the fold's training rows, training matrix, validation matrix), computed once
        per kind of featurization and fold: trials then only fit estimators."""
        featurizer = learner.featurizer(featurize=featurize, frequencies=frequencies)
        key = (featurizer.config_key(), fold)
        with self._lock:
            if key not in self._features:
                train, valid = self.folds[fold]
                featurizer.fit(self.X.iloc[train], self.y[train])
                self._features[key] = (
                    featurizer,
                    featurizer.transform(self.X.iloc[train]),
                    featurizer.transform(self.X.iloc[valid]),
                )
            return self._features[key]

    @property
    def regression(self) -> bool:
        return not self.classes

    def empty_predictions(self) -> np.ndarray:
        """NaN out-of-fold predictions to fill: values (n,) for regression, probabilities (n, k) otherwise."""
        shape = (len(self.y),) if self.regression else (len(self.y), len(self.classes))
        return np.full(shape, np.nan)

    @property
    def large_table_rows(self) -> int:
        """The rows that call for the large-table configurations: a holdout's (one fit a trial); 0 under
        cross-validation, where five fits of them took a one-minute run on 117,000 flights (2 trials)."""
        return len(self.y) if len(self.folds) == 1 else 0

    @property
    def evaluated(self) -> np.ndarray:
        """Rows that have an out-of-fold prediction (all rows with CV, the holdout otherwise)."""
        mask = np.zeros(len(self.y), dtype=bool)
        for _, valid in self.folds:
            mask[valid] = True
        return mask


def make_pipeline(
    learner: Learner,
    config: dict,
    *,
    n_classes: int,
    n_jobs: int,
    seed: int,
    featurize: bool,
    frequencies: bool = False,
) -> Pipeline:
    featurizer = learner.featurizer(featurize=featurize, frequencies=frequencies)
    estimator = build_estimator(learner, config, n_classes=n_classes, n_jobs=n_jobs, seed=seed)
    return Pipeline([("featurizer", featurizer), ("model", estimator)])


STOPPED = "stopped before it finished: the run's time was up"


def evaluate(
    trial: Trial,
    data: SearchData,
    *,
    metric: str,
    n_jobs: int,
    seed: int,
    featurize: bool,
    stop: Callable[[], bool] = lambda: False,
    fold_workers: int = 1,
) -> Trial:
    """Cross-validate one configuration; fills the trial's metrics, threshold and out-of-fold predictions.
    ``stop`` is checked while models grow: when it says so, the trial ends ``stopped``, without metrics.
    ``fold_workers`` folds are fitted at once (each with ``n_jobs`` threads): the same models, sooner."""
    learner = LEARNERS[trial.learner]
    started = time.monotonic()

    def fit_fold(fold: int) -> tuple[np.ndarray, np.ndarray, Pipeline]:
        featurizer, train_features, valid_features = data.fold_features(learner, featurize, fold, trial.frequencies)
        train, valid = data.folds[fold]
        estimator = build_estimator(learner, trial.config, n_classes=len(data.classes), n_jobs=n_jobs, seed=seed)
        estimator = fit_classes_present(
            estimator, train_features, data.fit_y[train], len(data.classes), lambda e, x, y: fit_until(e, x, y, stop)
        )
        predictions = data.values(fast_predict(estimator, valid_features))
        return valid, predictions, Pipeline([("featurizer", featurizer), ("model", estimator)])

    try:
        oof = data.empty_predictions()
        folds = range(len(data.folds))
        trial.fold_workers = max(1, min(fold_workers, len(folds)))
        if trial.fold_workers > 1:
            with ThreadPoolExecutor(max_workers=trial.fold_workers, thread_name_prefix="fold") as pool:
                fitted = list(pool.map(fit_fold, folds))
        else:
            fitted = [fit_fold(fold) for fold in folds]
        importances = []
        for valid, predictions, pipeline in fitted:
            oof[valid] = predictions
            importances.append(feature_importance([pipeline]))
        if data.keep_models and len(fitted) == 1:  # the model validated on the holdout is the model
            trial.fitted = fitted[0][2]
        mask = data.evaluated
        trial.oof = oof
        trial.threshold = best_threshold(metric, data.y[mask], oof[mask])
        trial.metrics = compute_metrics(data.y[mask], oof[mask], trial.threshold)
        trial.importance = {c: float(np.mean([imp.get(c, 0.0) for imp in importances])) for c in importances[0]}
    except FitStopped:
        trial.error, trial.stopped, trial.metrics = STOPPED, True, {}
    except Exception as exc:  # a crashing configuration is a failed trial, not a failed run
        trial.error = f"{type(exc).__name__}: {exc}"
        trial.metrics = {}
        traceback.print_exc()
    trial.duration = time.monotonic() - started
    return trial


class LearnerState:
    def __init__(self, learner: Learner, data: SearchData, seed: int, slow_configs: bool, featurize: bool):
        from flaml.tune.searcher.blendsearch import CFO

        space, low_cost, initial = search_space(
            learner, n_rows=len(data.y), n_features=data.X.shape[1], n_classes=len(data.classes)
        )
        self.learner = learner
        # Tried first, outside the searcher: FLAML's CFO fails when given several points to evaluate.
        # (configuration, with frequencies?) pairs.
        pair = featurize and data.has_repeated_values and learner.encoding == "ordinal"
        self.fixed = [
            (config, frequencies)
            for config in portfolio_configs(learner, initial, slow=slow_configs, rows=data.large_table_rows)
            for frequencies in ((False, True) if pair else (False,))
        ]
        self.frequencies = False  # the featurization of the learner's best trial, for the searcher's trials
        self.fixed_trials: set[int] = set()
        self.searcher = CFO(metric="loss", mode="min", space=space, low_cost_partial_config=low_cost, seed=seed)
        self.best_score = -np.inf
        self.trials = 0
        self.total_seconds = 0.0
        self.max_seconds = 0.0
        self.exhausted = False

    @property
    def mean_seconds(self) -> float:
        return self.total_seconds / self.trials if self.trials else 0.0


class Search:
    """Runs trials until the time budget, the iteration limit, early stopping or ``should_stop``."""

    def __init__(
        self,
        data: SearchData,
        *,
        algorithms: list[str],
        metric: str,
        max_iterations: int,
        max_concurrent: int,
        deadline: float,
        early_stopping: bool,
        featurize: bool,
        seed: int,
        on_trial_start: Callable[[Trial], None],
        on_trial_end: Callable[[Trial], None],
        should_stop: Callable[[], bool] = lambda: False,
        reserve_seconds: Callable[[list[Trial]], float] = lambda trials: 0.0,
    ):
        self.data = data
        self.metric = metric
        self.log_target = data.target is not None  # steers by the error of logarithms (``optimised_metric``)
        self.max_iterations = max_iterations
        self.max_concurrent = max_concurrent
        self.deadline = deadline
        self.early_stopping = early_stopping
        self.featurize = featurize
        self.seed = seed
        self.on_trial_start = on_trial_start
        self.on_trial_end = on_trial_end
        self.should_stop = should_stop
        self.reserve_seconds = reserve_seconds
        cores = max(1, (os.cpu_count() or 1) // max_concurrent)
        self.n_jobs = fit_threads(len(data.y), data.X.shape[1], cores)
        # Small data fits on one thread: the trial's other cores fit its other folds meanwhile.
        self.fold_workers = cores if self.n_jobs == 1 else 1
        ordered = sorted(algorithms, key=lambda name: LEARNERS[name].cost)
        task = "regression" if data.regression else "classification"
        unfit = [name for name in ordered if task not in LEARNERS[name].tasks]
        if unfit:
            raise ValueError(f"{', '.join(unfit)} cannot learn {task}")
        slow_configs = deadline - time.monotonic() >= SLOW_CONFIGS_MIN_SECONDS
        self.large_data = data.large_table_rows >= LARGE_DATA_ROWS
        self.states = [LearnerState(LEARNERS[name], data, seed, slow_configs, featurize) for name in ordered]
        self.trials: list[Trial] = []
        self._rng = np.random.default_rng(seed)
        self._best = -np.inf
        self._since_improvement = 0
        self._started = time.monotonic()
        self._reserve = 0.0  # the last reserve_seconds, read by trials in flight (a float: safe across threads)
        self._first_cost: float | None = None  # seconds per unit of learner cost of the first finished trial

    def best_trial(self) -> Trial | None:
        done = [t for t in self.trials if t.ok and t.metrics]
        return max(done, key=lambda t: score_for_ranking(self.metric, t.metrics.get(self.metric)), default=None)

    def _remaining(self) -> float:
        self._reserve = self.reserve_seconds(self.trials)
        return self.deadline - time.monotonic() - self._reserve

    def _time_is_up(self) -> bool:
        """Whether trials in flight must stop: canceled, or past the search's share of the time once a model
        exists (the first trial always finishes: a run without a model is worse than a late one)."""
        if self.should_stop():
            return True
        return time.monotonic() > self.deadline - self._reserve and any(t.ok and t.metrics for t in self.trials)

    def _expected_seconds(self, state: LearnerState) -> float:
        """A trial's expected duration: the learner's slowest so far. An untried tree learner may start
        whatever it costs (it stops when the time is up); an untried linear model cannot stop, so it starts
        only if the first trial's duration scaled by its relative cost fits (0 before any trial finished)."""
        if state.trials:
            return state.max_seconds
        if state.learner.stoppable:
            return 0.0
        return (self._first_cost or 0.0) * state.learner.cost * LINEAR_COST_SHARE

    def _pick_learner(self) -> LearnerState | None:
        remaining = self._remaining()
        candidates = [s for s in self.states if not s.exhausted and self._expected_seconds(s) < remaining]
        if not candidates:
            return None
        # Untried learners first; on a large table, the boosters' portfolio (its large configurations) too: a
        # minute is then a few trials, and those are where the good models are.
        untried = [s for s in candidates if s.trials == 0 or (self.large_data and s.fixed)]
        if untried:
            return untried[0]
        ranked = sorted(candidates, key=lambda s: -s.best_score)
        # Better learners first, cheaper learners more often: time goes where improvement is likely.
        weights = np.array([0.5**rank / max(s.mean_seconds, 0.05) ** 0.5 for rank, s in enumerate(ranked)])
        return ranked[int(self._rng.choice(len(ranked), p=weights / weights.sum()))]

    def _next_trial(self) -> tuple[Trial, LearnerState] | None:
        for _ in range(len(self.states) * 2):
            state = self._pick_learner()
            if state is None:
                return None
            index = len(self.trials)
            frequencies = state.frequencies
            if state.fixed:
                config, frequencies = state.fixed.pop(0)
                state.fixed_trials.add(index)
            else:
                config = state.searcher.suggest(str(index))
            if config is None:
                state.exhausted = True
                continue
            trial = Trial(
                index=index,
                learner=state.learner.name,
                config=dict(config),
                started=time.time(),
                frequencies=frequencies,
            )
            self.trials.append(trial)
            return trial, state
        return None

    def _keep_fitted(self) -> None:
        """Keep the fitted models of a holdout's trials an ensemble could use (the best ``KEPT_MODELS`` by the
        search's metric and the best of each learner); let the others go (a forest can take hundreds of MB)."""
        done = sorted(
            (t for t in self.trials if t.fitted is not None),
            key=lambda t: -search_score(self.metric, t.metrics, self.log_target),
        )
        best_of_learner = {}
        for trial in done:
            best_of_learner.setdefault(trial.learner, trial)
        kept = {t.index for t in done[:KEPT_MODELS]} | {t.index for t in best_of_learner.values()}
        for trial in done:
            if trial.index not in kept:
                trial.fitted = None

    def _finish(self, trial: Trial, state: LearnerState) -> None:
        if self._first_cost is None and trial.ok:
            self._first_cost = trial.duration / state.learner.cost
        state.trials += 1
        state.total_seconds += trial.duration
        state.max_seconds = max(state.max_seconds, trial.duration)
        searched = trial.index not in state.fixed_trials
        if trial.ok:
            score = search_score(self.metric, trial.metrics, self.log_target)
            if searched:
                state.searcher.on_trial_complete(
                    str(trial.index), {"loss": -score, "time_total_s": trial.duration, "config": trial.config}
                )
            if score > state.best_score:
                state.best_score, state.frequencies = score, trial.frequencies
            if score > self._best + 1e-6:
                self._best, self._since_improvement = score, 0
            else:
                self._since_improvement += 1
        else:
            if searched:
                state.searcher.on_trial_complete(str(trial.index), None, error=True)
            self._since_improvement += 1
        self._keep_fitted()
        self.on_trial_end(trial)

    def _may_start(self) -> bool:
        if self.should_stop() or len(self.trials) >= self.max_iterations or self._remaining() <= 0:
            return False
        if not self.early_stopping or self._since_improvement < EARLY_STOPPING_TRIALS:
            return True
        used = 1 - (self.deadline - time.monotonic()) / max(self.deadline - self._started, 1e-9)
        return used < EARLY_STOPPING_MIN_BUDGET_SHARE

    def run(self) -> list[Trial]:
        running: dict[Future, tuple[Trial, LearnerState]] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_concurrent, thread_name_prefix="trial")
        try:
            while True:
                while len(running) < self.max_concurrent and self._may_start():
                    picked = self._next_trial()
                    if picked is None:
                        break
                    trial, state = picked
                    self.on_trial_start(trial)
                    future = pool.submit(
                        evaluate,
                        trial,
                        self.data,
                        metric=self.metric,
                        n_jobs=self.n_jobs,
                        seed=self.seed,
                        featurize=self.featurize,
                        stop=self._time_is_up,
                        fold_workers=self.fold_workers,
                    )
                    running[future] = (trial, state)
                    self._reserve = self.reserve_seconds(self.trials)  # with the trial just started
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    trial, state = running.pop(future)
                    self._finish(future.result(), state)
        except BaseException:
            # Interrupted (cancel): do not wait for fits in flight, the process is about to end.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return self.trials
