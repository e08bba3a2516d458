"""The AutoML task of what Azure keeps for opml (a run's parameters, a registered model's properties), for both
SDKs. Runs and models from before opml knew tasks say none: their primary metric tells, else classification."""

from __future__ import annotations

from typing import Any

from opml.automl.names import CLASSIFICATION, TASKS, task_of_metric

TASK_PROPERTY = "opml_task"  # a registered model's task: "classification" or "regression"


def task_of_params(params: dict[str, Any]) -> str:
    """The task of a run's settings (``opml.automl.settings``)."""
    task = params.get("task")
    if task in TASKS:
        return task
    metric = params.get("primary_metric")
    return (task_of_metric(metric) if isinstance(metric, str) else None) or CLASSIFICATION


def model_task(properties: dict[str, Any], tags: dict[str, Any] | None = None) -> str:
    """The task of a registered model: the property opml registers it with (a tag, for a model a pipeline's register
    step registered through MLflow), else its primary metric's task, else classification."""
    tags = tags or {}
    return task_of_params(
        {
            "task": properties.get(TASK_PROPERTY) or tags.get(TASK_PROPERTY),
            "primary_metric": properties.get("opml_primary_metric") or tags.get("opml_primary_metric"),
        }
    )
