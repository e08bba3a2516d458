"""The leaderboard of an AutoML run: its child runs with their metrics, best first."""

from __future__ import annotations

from typing import Any

from opml.automl.names import all_metrics, default_metric, score_for_ranking
from opml.backends.base import Backend


def _iteration(run_id: str) -> int:
    """The trial number at the end of a child's id (``…_12``); ids without one sort last."""
    suffix = run_id.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else 1_000_000


def leaderboard(backend: Backend, run_id: str) -> list[dict[str, Any]]:
    """One row per child run: id, algorithm, status, every metric of the run's task
    (``opml.automl.names.all_metrics``), duration, featurization and hyperparameters; the best model first
    (for threshold metrics it may not have the top value, see ``opml.automl.selection``), then by the
    parent's primary metric (failed and running children last)."""
    parent = backend.get_run(run_id)
    task = parent.params.get("task", "classification")
    metric = parent.params.get("primary_metric") or default_metric(task)
    names = all_metrics(task)
    best = parent.progress.get("best_child_id")
    rows = []
    for child in backend.list_runs(parent_id=run_id, limit=100_000):
        values = backend.get_run_metrics(child.id)
        row: dict[str, Any] = {
            "run_id": child.id,
            "iteration": _iteration(child.id),
            "algorithm": child.params.get("algorithm", child.display_name),
            "status": child.status,
            "best": child.id == best,
            **{name: values.get(name) for name in names},
            "duration_seconds": values.get("duration_seconds", child.duration_seconds),
            "featurization": child.params.get("featurization", ""),
            "hyperparameters": child.params.get("hyperparameters") or {"members": child.params.get("members")},
            "error": child.error,
        }
        rows.append(row)
    rows.sort(key=lambda r: (not r["best"], -score_for_ranking(metric, r.get(metric)), r["iteration"]))
    return rows
