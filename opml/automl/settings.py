"""AutoML settings, mirroring Azure ML's ``AutoMLConfig``, and their validation against the data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opml.automl.learners import LEARNERS
from opml.automl.metrics import PRIMARY_METRICS
from opml.data.profile import column_kind
from opml.errors import InvalidInput

TASKS = ("classification",)


@dataclass(frozen=True)
class AutoMLSettings:
    dataset: str
    label_column: str
    dataset_version: int | None = None
    task: str = "classification"
    primary_metric: str = "accuracy"
    experiment_timeout_minutes: float = 15.0
    max_iterations: int = 100
    max_concurrent_iterations: int = 1
    n_cross_validations: int | None = 5
    validation_size: float | None = None
    enable_early_stopping: bool = True
    featurization: str = "auto"
    allowed_algorithms: tuple[str, ...] = ()
    blocked_algorithms: tuple[str, ...] = ()
    enable_voting_ensemble: bool = True
    enable_stack_ensemble: bool = True
    seed: int = 42

    @property
    def timeout_seconds(self) -> float:
        return self.experiment_timeout_minutes * 60.0

    @property
    def algorithms(self) -> list[str]:
        allowed = self.allowed_algorithms or tuple(LEARNERS)
        return [name for name in allowed if name not in self.blocked_algorithms]

    def to_params(self) -> dict[str, Any]:
        params = dataclasses.asdict(self)
        params["allowed_algorithms"] = list(self.allowed_algorithms)
        params["blocked_algorithms"] = list(self.blocked_algorithms)
        return params


def _shown(number: float) -> str:
    """2147483647 as 2,147,483,647 (not 2.14748e+09), 0.5 as 0.5."""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:g}"


def _number(params: dict, name: str, kind: type, low: float, high: float, default: Any) -> Any:
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if kind is int and float(value) != int(value):
        raise InvalidInput(f"{name} must be a whole number, got {value}")
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {_shown(low)} and {_shown(high)}, got {_shown(value)}")
    return kind(value)


def parse_settings(params: dict[str, Any]) -> AutoMLSettings:
    """Settings from submitted parameters, each field checked on its own (no data needed)."""
    known = {field.name for field in dataclasses.fields(AutoMLSettings)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidInput(f"unknown AutoML setting(s): {', '.join(unknown)}")
    for name in ("dataset", "label_column"):
        if not isinstance(params.get(name), str) or not params[name].strip():
            raise InvalidInput(f"{name} is required")
    task = params.get("task", "classification")
    if task not in TASKS:
        raise InvalidInput(f"task {task!r} is not supported; choose one of: {', '.join(TASKS)}")
    metric = params.get("primary_metric", "accuracy")
    if metric not in PRIMARY_METRICS:
        raise InvalidInput(f"unknown primary metric {metric!r}; choose one of: {', '.join(PRIMARY_METRICS)}")
    timeout = params.get("experiment_timeout_minutes", 15.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidInput(f"experiment_timeout_minutes must be a positive number of minutes, got {timeout!r}")
    if timeout > 24 * 60:
        raise InvalidInput("experiment_timeout_minutes must be at most 1440 (one day)")
    folds = _number(params, "n_cross_validations", int, 2, 20, 5)
    validation_size = _number(params, "validation_size", float, 0.05, 0.5, None)
    if validation_size is not None and "n_cross_validations" not in params:
        folds = None
    if (folds is None) == (validation_size is None):
        raise InvalidInput("give either n_cross_validations or validation_size, not both")
    featurization = params.get("featurization", "auto")
    if featurization not in ("auto", "off"):
        raise InvalidInput(f"featurization must be 'auto' or 'off', got {featurization!r}")
    allowed = tuple(params.get("allowed_algorithms") or ())
    blocked = tuple(params.get("blocked_algorithms") or ())
    unknown_algorithms = sorted(a for a in {*allowed, *blocked} if a not in LEARNERS)
    if unknown_algorithms:
        raise InvalidInput(f"unknown algorithm(s): {', '.join(unknown_algorithms)}; known: {', '.join(LEARNERS)}")
    version = params.get("dataset_version")
    settings = AutoMLSettings(
        dataset=params["dataset"].strip(),
        label_column=params["label_column"],
        dataset_version=None if version is None else _number(params, "dataset_version", int, 1, 10**9, None),
        task=task,
        primary_metric=metric,
        experiment_timeout_minutes=float(timeout),
        max_iterations=_number(params, "max_iterations", int, 1, 10_000, 100),
        max_concurrent_iterations=_number(params, "max_concurrent_iterations", int, 1, 64, 1),
        n_cross_validations=folds,
        validation_size=validation_size,
        enable_early_stopping=bool(params.get("enable_early_stopping", True)),
        featurization=featurization,
        allowed_algorithms=allowed,
        blocked_algorithms=blocked,
        enable_voting_ensemble=bool(params.get("enable_voting_ensemble", True)),
        enable_stack_ensemble=bool(params.get("enable_stack_ensemble", True)),
        seed=_number(params, "seed", int, 0, 2**31 - 1, 42),
    )
    if not settings.algorithms:
        raise InvalidInput("every algorithm is blocked: allow at least one")
    return settings


def check_data(settings: AutoMLSettings, frame: pd.DataFrame) -> None:
    """Refuse data that cannot train a classifier, before anything is queued."""
    label = settings.label_column
    if label not in frame.columns:
        raise InvalidInput(f"label column {label!r} is not in the dataset; columns are: {', '.join(frame.columns)}")
    y = frame[label].dropna()
    counts = y.astype(str).value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "nothing"
        raise InvalidInput(f"label column {label!r} has a single class ({only}); classification needs two or more")
    folds = settings.n_cross_validations or 2
    if len(y) < max(folds * 2, 10):
        raise InvalidInput(f"only {len(y)} labelled rows: too few for {folds}-fold cross-validation")
    if counts.min() < folds:
        raise InvalidInput(
            f"class {counts.idxmin()!r} has {counts.min()} row(s), fewer than the {folds} cross-validation folds"
        )
    features = frame.drop(columns=[label])
    usable = [c for c in features.columns if features[c].notna().any() and features[c].nunique(dropna=True) > 1]
    if not usable:
        raise InvalidInput("the dataset has no usable feature: every other column is empty or constant")
    if settings.featurization == "off":
        text = [c for c in usable if column_kind(features[c]) == "categorical"]
        if text:
            raise InvalidInput(f"featurization 'off' needs numeric features only; these are text: {', '.join(text)}")
