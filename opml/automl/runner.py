"""The ``automl`` run type: guardrails, search, ensembles, refit of the best model.

Every trial and ensemble becomes a child run (``<parent>_<n>``) the moment it
starts, with its algorithm, hyperparameters, featurization, metrics, duration,
feature importance and curves; the parent's progress says how far the run is.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from opml.automl.duplicates import duplicate_groups, grouped_folds
from opml.automl.ensembles import single_spec, stack_ensemble, voting_ensemble
from opml.automl.guardrails import run_guardrails
from opml.automl.learners import LEARNERS
from opml.automl.metrics import curves, is_regression, regression_curves, score_for_ranking
from opml.automl.plan import ValidationPlan, featurized_width, plan_validation
from opml.automl.refit import DETAILS_FILE, ensure_model_files, prepare, refit_and_save, refit_parallelism
from opml.automl.search import Search, SearchData, Trial
from opml.automl.selection import Candidate, choose_in_time
from opml.automl.settings import AutoMLSettings, check_data, checked_params, parse_settings
from opml.automl.target import LogTarget, choose_target
from opml.entities import CANCELED, COMPLETED, FAILED, FINALIZING, RUNNING
from opml.files import write_private_file
from opml.runtypes.context import RunContext, RunFailed

GUARDRAILS_FILE = "guardrails.json"
# A refit estimated this far past the time left still counts as fitting (see choose_in_time): the larger of
# 2 s and 5 % of the timeout.
REFIT_SLACK_SECONDS = 2.0
REFIT_SLACK_SHARE = 0.05


def make_folds(
    settings: AutoMLSettings, codes: np.ndarray, X: pd.DataFrame | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds or one validation split, stratified by class for classification (a holdout:
    see ``stratified_holdout``); with the features ``X`` of a table of many copied rows, copies of a row stay on
    one side of every split (``opml.automl.duplicates``)."""
    index = np.zeros(len(codes))
    folds, size, seed = settings.n_cross_validations, settings.validation_size, settings.seed
    groups = duplicate_groups(X, codes) if X is not None else None
    if groups is not None:
        grouped = grouped_folds(codes, groups, folds=folds, size=size, regression=settings.regression, seed=seed)
        if grouped is not None:
            return grouped
    if settings.regression:
        splitter = (
            KFold(folds, shuffle=True, random_state=seed)
            if folds
            else ShuffleSplit(1, test_size=size, random_state=seed)
        )
    elif folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        return [stratified_holdout(codes, size, seed)]
    return list(splitter.split(index, codes))


def stratified_holdout(codes: np.ndarray, size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, holdout rows): stratified by class over the classes of at least 2 rows, whose every
    one keeps rows in the training part; a class of a single row (a rare class in the search's sample) is
    trained on, never held out (scikit-learn's stratified split refuses it). When the holdout cannot hold a
    row of every class (fewer rows than classes), the split is a plain shuffle, and the models fit on the
    classes their training rows have (``opml.automl.present_classes``)."""
    counts = np.bincount(codes)
    single = counts[codes] < 2
    rows = np.flatnonzero(~single)
    try:
        splitter = StratifiedShuffleSplit(1, test_size=size, random_state=seed)
        ((train, valid),) = splitter.split(np.zeros(len(rows)), codes[rows])
    except ValueError:  # more classes than holdout (or training) rows
        ((train, valid),) = ShuffleSplit(1, test_size=size, random_state=seed).split(rows)
    return np.concatenate([rows[train], np.flatnonzero(single)]), rows[valid]  # as scikit-learn's, plus singles


def search_sample(plan: ValidationPlan, target: np.ndarray, classification: bool, seed: int) -> np.ndarray:
    """The rows the search uses: all of them, or a seeded sample of ``plan.search_rows`` (stratified by class
    for classification, so that every class keeps its share)."""
    rows = np.arange(len(target))
    if not plan.sampled:
        return rows
    from sklearn.model_selection import train_test_split

    sample, _ = train_test_split(
        rows, train_size=plan.search_rows, random_state=seed, stratify=target if classification else None
    )
    return np.sort(sample)


def model_curves(y: np.ndarray, predictions: np.ndarray, classes: list[str], threshold: float | None) -> dict:
    """The charts' data of a model's out-of-fold predictions, for its task."""
    if is_regression(predictions):
        return regression_curves(y, predictions)
    return curves(y, predictions, classes, threshold)


def write_json(path: Path, value: Any) -> None:
    write_private_file(path, json.dumps(value, default=float).encode())


class AutoMLRunType:
    name = "automl"

    def validate(self, params: dict[str, Any], backend: Any) -> dict[str, Any]:
        return checked_params(params, backend)

    def execute(self, context: RunContext) -> None:
        AutoMLJob(context).run()

    def model_files(self, host: Any, run_id: str) -> tuple[str, Path]:
        """(child run id, folder with model.pkl) of an AutoML run (its best child) or of one child."""
        return ensure_model_files(host, run_id)


class AutoMLJob:
    def __init__(self, context: RunContext):
        self.context = context
        self.parent = context.run
        self.settings = parse_settings(context.params)
        # The budget counts from the moment the agent started the run (process start-up included).
        since_start = (datetime.now(UTC) - self.parent.started_at).total_seconds() if self.parent.started_at else 0.0
        self.started = time.monotonic() - max(0.0, since_start)
        self.deadline = self.started + self.settings.timeout_seconds
        self.children: dict[int, str] = {}
        self.best: tuple[float, str, dict] | None = None  # (score, child id, metrics): the top one so far
        self.candidates: list[Candidate] = []  # every completed child, for the final choice of the best
        self.refit_scale = 1.0
        self.refit_workers = 1
        self.members_of: dict[str, list[int]] = {}  # child id -> the trial indices of its members
        self.kept: dict[int, Any] = {}  # trial index -> its fitted pipeline (a holdout's search keeps the best)
        self.refit_seconds: dict[int, float] = {}  # trial index -> about how long its refit on every row takes
        self.target: LogTarget | None = None  # regression: the models learn log(label)

    # -- child runs ---------------------------------------------------------------------

    def _child_id(self, index: int) -> str:
        return f"{self.parent.id}_{index}"

    def _start_child(self, index: int, algorithm: str, params: dict[str, Any]) -> str:
        child = self.context.start_child(
            run_id=self._child_id(index),
            run_type="automl",
            params={"algorithm": algorithm, **params},
            display_name=algorithm,
            status=RUNNING,
        )
        self.children[index] = child.id
        return child.id

    def _end_child(self, child_id: str, metrics: dict[str, float], details: dict[str, Any], oof: np.ndarray) -> None:
        self.context.log_metrics(metrics, run_id=child_id)
        write_json(self.context.outputs_of(child_id) / DETAILS_FILE, details)
        self.context.finish(child_id, COMPLETED)
        members = details["spec"]["members"]
        self.members_of[child_id] = [member["trial"] for member in members]
        refit = sum(self.refit_seconds.get(member["trial"], 0.0) for member in members)
        self.candidates.append(Candidate(child_id, metrics, oof, details["spec"].get("threshold"), refit))
        score = score_for_ranking(self.settings.primary_metric, metrics.get(self.settings.primary_metric))
        if self.best is None or score > self.best[0]:
            self.best = (score, child_id, metrics)
        self._progress()

    def _progress(self, **extra: Any) -> None:
        best = self.best
        self.context.set_progress(
            elapsed_seconds=round(time.monotonic() - self.started, 1),
            timeout_seconds=self.settings.timeout_seconds,
            iterations_done=len(self.children),
            max_iterations=self.settings.max_iterations,
            best_child_id=best[1] if best else None,
            best_metric=best[2].get(self.settings.primary_metric) if best else None,
            primary_metric=self.settings.primary_metric,
            **extra,
        )

    # -- phases -------------------------------------------------------------------------

    def run(self) -> None:
        settings = self.settings
        self._progress(phase="loading data")
        frame = self.context.load_dataset(settings.dataset, settings.dataset_version)
        check_data(settings, frame)
        dropped = int(frame[settings.label_column].isna().sum())
        X, y, classes, codes = prepare(frame, settings.label_column, settings.task)
        del frame
        target = f"classes {classes}" if classes else f"values from {codes.min():g} to {codes.max():g}"
        self.context.log(f"{len(X):,} rows, {X.shape[1]} features, {settings.task}: {target}")
        plan = plan_validation(settings, len(X), featurized_width(X), len(classes))
        self.target, target_note = choose_target(settings.primary_metric, codes) if settings.regression else (None, "")
        notes = [*plan.notes, target_note] if target_note else list(plan.notes)
        for note in notes:
            self.context.log(note)
        if notes:
            self.context.set_progress(notes=notes)
        # The search's settings: the plan's validation (the run's own settings are kept as submitted).
        settings = dataclasses.replace(
            settings, n_cross_validations=plan.n_cross_validations, validation_size=plan.validation_size
        )

        self._progress(phase="guardrails")
        guardrails = [
            g.to_dict()
            for g in run_guardrails(
                X,
                y,
                codes,
                task=settings.task,
                n_cross_validations=settings.n_cross_validations,
                validation_size=settings.validation_size,
                missing_labels=dropped,
                validation_notes=plan.notes,
            )
        ]
        write_json(self.context.outputs_of(self.parent.id) / GUARDRAILS_FILE, guardrails)
        self.context.set_progress(guardrails=[{k: g[k] for k in ("name", "status")} for g in guardrails])

        rows = search_sample(plan, codes, not settings.regression, settings.seed)
        searched_X = X.iloc[rows].reset_index(drop=True) if plan.sampled else X
        folds = make_folds(settings, codes[rows], searched_X)
        # After a holdout of every row, the models the search validated are kept as they are (``_refit_best``);
        # a search on a sample refits its best on every row.
        keep = len(folds) == 1 and not plan.sampled
        data = SearchData(searched_X, codes[rows], classes, folds, target=self.target, keep_models=keep)
        self.refit_scale = len(X) / len(rows)  # a refit on every row costs this many times a fit on the sample
        self.refit_workers = refit_parallelism(len(X), X.shape[1])[1]
        self._progress(phase="searching")
        search = Search(
            data,
            algorithms=settings.algorithms,
            metric=settings.primary_metric,
            max_iterations=settings.max_iterations,
            max_concurrent=settings.max_concurrent_iterations,
            deadline=self.deadline,
            early_stopping=settings.enable_early_stopping,
            featurize=settings.featurization == "auto",
            seed=settings.seed,
            on_trial_start=self._trial_started,
            on_trial_end=lambda trial: self._trial_ended(trial, data),
            should_stop=self.context.cancel_requested,
            reserve_seconds=self._reserve,
        )
        trials = search.run()
        if self.context.cancel_requested():  # trials in flight stopped: no ensembles, no refit
            self.context.log("canceled: the search stopped")
            return
        if not trials:  # the deadline came before the first trial started (a timeout of seconds)
            minutes = settings.experiment_timeout_minutes
            raise RunFailed(
                f"the experiment timeout ({minutes:g} minutes) ended before any trial could run: give it more time"
            )
        if not any(t.ok for t in trials):
            raise RunFailed("every trial failed; see the child runs for their errors")

        self.context.set_status(FINALIZING)
        self._progress(phase="ensembles")
        self._ensembles(trials, data)
        self.kept = {t.index: t.fitted for t in trials if t.fitted is not None}
        self._choose_best(data)
        self._refit_best(X, y, classes, codes)
        self._progress(phase="done")

    def _estimate_refit(self, trial: Trial, data: SearchData) -> None:
        """Keep about how long refitting ``trial`` on every row takes: one fold's share of its time (folds fitted
        at once shared it), scaled from a fold's training rows (and the search's sample) to every row."""
        train_rows = len(data.folds[0][0])
        per_fit = trial.duration * trial.fold_workers / len(data.folds)
        self.refit_seconds[trial.index] = per_fit * len(data.y) / train_rows * self.refit_scale

    def _reserve(self, trials: list[Trial]) -> float:
        """Seconds to keep for ensembles and the final refit: the refit of the best few trials (an ensemble's
        members, ``refit_workers`` of them fitted at once), padded, at most 40 % of the time."""
        metric = self.settings.primary_metric
        done = sorted((t for t in trials if t.ok), key=lambda t: -score_for_ranking(metric, t.metrics.get(metric)))
        members = [0.0 if t.fitted is not None else self.refit_seconds.get(t.index, 0.0) for t in done[:8]]
        refit = max([sum(members) / self.refit_workers, *members], default=0.0) * 1.2
        return min(0.4 * self.settings.timeout_seconds, 2.0 + 0.05 * self.settings.timeout_seconds + refit)

    def _trial_started(self, trial: Trial) -> None:
        featurizer = LEARNERS[trial.learner].featurizer(
            featurize=self.settings.featurization == "auto", frequencies=trial.frequencies
        )
        self._start_child(
            trial.index, trial.learner, {"hyperparameters": trial.config, "featurization": featurizer.label()}
        )

    def _trial_ended(self, trial: Trial, data: SearchData) -> None:
        child_id = self.children[trial.index]
        self.context.log_metrics({"duration_seconds": trial.duration}, run_id=child_id)
        if not trial.ok:
            self.context.finish(child_id, CANCELED if trial.stopped else FAILED, trial.error)
            self._progress()
            return
        self._estimate_refit(trial, data)
        mask = data.evaluated
        spec = {**single_spec(trial), **self._spec_extras()}
        details = {
            "spec": spec,
            "feature_importance": trial.importance,
            "curves": model_curves(data.y[mask], trial.oof[mask], data.classes, trial.threshold),
        }
        self._end_child(child_id, trial.metrics, details, trial.oof)

    def _spec_extras(self) -> dict[str, Any]:
        """What every child's spec says beside its members: featurization, and the target its models learn."""
        extras: dict[str, Any] = {"featurize": self.settings.featurization == "auto"}
        if self.target:
            extras["target"] = self.target.to_spec()
        return extras

    def _ensembles(self, trials: list[Trial], data: SearchData) -> None:
        mask, index = data.evaluated, len(trials)
        log_target = data.target is not None
        builders = []
        if self.settings.enable_voting_ensemble:
            builders.append(
                (
                    "VotingEnsemble",
                    lambda: voting_ensemble(trials, data.y, mask, self.settings.primary_metric, log_target),
                )
            )
        if self.settings.enable_stack_ensemble:
            builders.append(
                (
                    "StackEnsemble",
                    lambda: stack_ensemble(
                        trials, data.y, mask, self.settings.primary_metric, self.settings.seed, log_target
                    ),
                )
            )
        by_index = {t.index: t for t in trials}
        for name, build in builders:
            started = time.monotonic()
            result = build()
            if result is None:
                rows = ", and two validated rows of every class" if name == "StackEnsemble" and data.classes else ""
                self.context.log(f"{name}: skipped (needs at least two usable models{rows})")
                continue
            spec = {**result["spec"], **self._spec_extras()}
            members = [self._child_id(m["trial"]) for m in spec["members"]]
            child_id = self._start_child(index, name, {"members": members, "weights": spec.get("weights")})
            importance = _weighted_importance([by_index[m["trial"]] for m in spec["members"]], spec.get("weights"))
            oof = result["oof"]
            details = {
                "spec": spec,
                "feature_importance": importance,
                "curves": model_curves(data.y[mask], oof[mask], data.classes, spec["threshold"]),
            }
            self.context.log_metrics({"duration_seconds": time.monotonic() - started}, run_id=child_id)
            self._end_child(child_id, result["metrics"], details, oof)
            index += 1

    def _kept_members(self, child_id: str) -> list[Any] | None:
        """The fitted pipelines of a child's members when the search kept every one (a holdout), else None."""
        members = self.members_of.get(child_id, [])
        if not members or any(index not in self.kept for index in members):
            return None
        return [self.kept[index] for index in members]

    def _choose_best(self, data: SearchData) -> None:
        for candidate in self.candidates:  # a model kept from the search needs no refit
            if self._kept_members(candidate.child_id) is not None:
                candidate.refit_seconds = 0.0
        left = self.deadline - time.monotonic() - 1.0  # a second for saving the model
        slack = max(REFIT_SLACK_SECONDS, REFIT_SLACK_SHARE * self.settings.timeout_seconds)
        best, reason = choose_in_time(
            self.candidates,
            self.settings.primary_metric,
            data.y,
            data.evaluated,
            left,
            slack=slack,
            log_target=data.target is not None,
        )
        if reason:
            self.context.log(f"best model: {best.child_id} rather than the top one by the primary metric: {reason}")
            self.context.set_progress(best_reason=reason)
        metric = self.settings.primary_metric
        self.best = (score_for_ranking(metric, best.metrics.get(metric)), best.child_id, best.metrics)

    def _refit_best(self, X: pd.DataFrame, y: pd.Series, classes: list[str], codes: np.ndarray) -> None:
        """Save the best model: refitted on every row after cross-validation; after a holdout, the models the
        search validated, as they are (what was measured is what is deployed; a refit on every row would cost
        the time of a search again)."""
        _, child_id, metrics = self.best
        fitted = self._kept_members(child_id)
        self._progress(phase="saving the best model" if fitted is not None else "refitting the best model")
        if fitted is not None:
            self.context.log("best model: kept as validated on the holdout (trained on the other rows), not refitted")
        refit_and_save(
            self.context.backend,
            child_id,
            X=X,
            y=y,
            classes=classes,
            codes=codes,
            settings=self.settings,
            fitted=fitted,
        )
        self.context.log_metrics(metrics)
        self.context.update_progress(child_id, {"best": True})
        self.context.log(
            f"best model: {child_id} ({self.settings.primary_metric} = {metrics[self.settings.primary_metric]:.4f})"
        )


def _weighted_importance(trials: list[Trial], weights: list[float] | None) -> dict[str, float]:
    weights = weights or [1.0] * len(trials)
    total: dict[str, float] = {}
    for weight, trial in zip(weights, trials, strict=True):
        for column, value in trial.importance.items():
            total[column] = total.get(column, 0.0) + weight * value
    norm = sum(total.values()) or 1.0
    return dict(sorted(((c, v / norm) for c, v in total.items()), key=lambda item: -item[1]))


AUTOML = AutoMLRunType()
