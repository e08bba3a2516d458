"""Fitting an AutoML child's model on all rows and saving it with its manifest: at the end of a run (the best
child) and when someone registers another child (on demand). Registration finds the files here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opml.automl.ensembles import assemble_model, build_model
from opml.automl.learners import fit_threads
from opml.automl.settings import AutoMLSettings, parse_settings
from opml.entities import COMPLETED
from opml.errors import Conflict
from opml.models.artifact import MODEL_FILE, save_model
from opml.models.manifest import build_manifest

DETAILS_FILE = "details.json"


def prepare(frame: pd.DataFrame, label: str, task: str) -> tuple[pd.DataFrame, pd.Series, list[str], np.ndarray]:
    """Features, labels, sorted classes and the target the models learn (rows without a label dropped):
    string labels and their integer codes for classification; for regression, the values as floats (twice)
    and no classes."""
    frame = frame[frame[label].notna()].reset_index(drop=True)
    X = frame.drop(columns=[label])
    if task == "regression":
        y = pd.to_numeric(frame[label]).astype(float)
        return X, y, [], y.to_numpy()
    y = frame[label].astype(str)
    classes = sorted(y.unique())
    codes = y.map({c: i for i, c in enumerate(classes)}).to_numpy()
    return X, y, classes, codes


def refit_parallelism(rows: int, columns: int) -> tuple[int, int]:
    """(threads per member's fit, members fitted at once) of a refit on every row: on small data one thread
    each (see ``fit_threads``), the members side by side on the cores."""
    cores = os.cpu_count() or 1
    threads = fit_threads(rows, columns, cores)
    return threads, cores if threads == 1 else 1


def refit_and_save(
    backend: Any,
    child_id: str,
    *,
    X: pd.DataFrame,
    y: pd.Series,
    classes: list[str],
    codes: np.ndarray,
    settings: AutoMLSettings,
    fitted: list[Any] | None = None,
) -> Path:
    """Fit the child's model on all rows and save it (with its manifest) in the child's outputs; with ``fitted``
    (its members' pipelines, fitted on a holdout's training rows by the search), save those instead."""
    outputs = backend.layout.run_outputs(child_id)
    details = json.loads((outputs / DETAILS_FILE).read_text())
    child = backend.runs.get(child_id)
    algorithm = child.params["algorithm"]
    if fitted is not None:
        model = assemble_model(details["spec"], fitted, classes, algorithm=algorithm)
    else:
        threads, workers = refit_parallelism(len(X), X.shape[1])
        model = build_model(
            details["spec"], X, codes, classes, algorithm=algorithm, n_jobs=threads, seed=settings.seed, workers=workers
        )
    model.prepare_for_serving()
    metrics = backend.runs.metrics(child_id)
    metrics.pop("duration_seconds", None)
    manifest = build_manifest(
        X=X,
        y=y,
        task=settings.task,
        classes=classes,
        algorithm=algorithm,
        run_id=child_id,
        dataset=f"{settings.dataset}:{settings.dataset_version}",
        label_column=settings.label_column,
        primary_metric=settings.primary_metric,
        metrics=metrics,
        threshold=details["spec"].get("threshold"),
        curves=details.get("curves", {}),
    )
    save_model(model, outputs, manifest)
    return outputs


def ensure_model_files(backend: Any, run_id: str) -> tuple[str, Path]:
    """(child run id, folder with model.pkl) for an AutoML child or parent run, refitting on demand.

    A parent run stands for its best child. Children other than the best are
    refitted on all data the first time someone registers them (this blocks).
    """
    run = backend.runs.get(run_id)
    if run.parent_id is None or "best_child_id" in run.progress:  # an AutoML run or pipeline step
        best = run.progress.get("best_child_id")
        if run.run_type in ("automl", "pipeline_step") and best and run.status != COMPLETED:
            raise Conflict(  # canceled or failed: its best model so far was never chosen as the run's
                f"run {run_id} is {run.status.lower()}, not completed, so it has no best model of its own; its best "
                f"child so far, {best}, has one: register that run"
            )
        if run.run_type not in ("automl", "pipeline_step") or not best:
            raise Conflict(f"run {run_id} is not a completed AutoML run with a best model")
        run = backend.runs.get(best)
    outputs = backend.layout.run_outputs(run.id)
    if (outputs / MODEL_FILE).exists():
        return run.id, outputs
    if run.status != COMPLETED or not (outputs / DETAILS_FILE).exists():
        raise Conflict(f"child run {run.id} did not complete, so it has no model to register")
    settings = parse_settings(backend.runs.get(run.parent_id).params)
    frame = backend.load_dataset(settings.dataset, settings.dataset_version)
    X, y, classes, codes = prepare(frame, settings.label_column, settings.task)
    return run.id, refit_and_save(backend, run.id, X=X, y=y, classes=classes, codes=codes, settings=settings)
