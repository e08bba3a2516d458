"""AutoML settings, mirroring Azure ML's ``AutoMLConfig``, and their validation against the data."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opml.automl.names import (
    CLASSIFICATION,
    CLASSIFICATION_ALGORITHMS,
    REGRESSION,
    REGRESSION_ALGORITHMS,
    TASKS,
    algorithms,
    default_metric,
    primary_metrics,
    task_of_metric,
)
from opml.automl.plan import check_budget, featurized_width
from opml.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

MAX_CLASSES = 100  # more distinct labels than this is rarely classification (a quantity, an identifier)
GUESS_MAX_CLASSES = 20  # a numeric label with more distinct values than this is guessed to be a quantity


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
    def regression(self) -> bool:
        return self.task == REGRESSION

    @property
    def algorithms(self) -> list[str]:
        allowed = self.allowed_algorithms or algorithms(self.task)
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
    value = params.get(name)
    if value is None:  # not given (or null): the default
        value = default
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if kind is int and float(value) != int(value):
        raise InvalidInput(f"{name} must be a whole number, got {value}")
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {_shown(low)} and {_shown(high)}, got {_shown(value)}")
    return kind(value)


@dataclass(frozen=True)
class AutoMLLimits:
    """What a backend's AutoML takes within the settings' own bounds (``Backend.automl_limits``): the local
    backend takes them all; Azure ML's AutoML runs at least 15 minutes, counted in whole minutes, at most 1,000
    iterations, and one iteration per node of its cluster."""

    where: str = "this workspace"
    min_timeout_minutes: float = 0.0
    whole_minutes: bool = False
    max_iterations: int = 10_000
    one_node_per_iteration: bool = False

    def problems(self, params: dict[str, Any]) -> dict[str, str]:
        """The settings this backend refuses, by name (values the settings' own checks refuse are theirs)."""
        problems = {}
        timeout = params.get("experiment_timeout_minutes", 15.0)
        if _is_number(timeout) and timeout < self.min_timeout_minutes:
            problems["experiment_timeout_minutes"] = (
                f"experiment_timeout_minutes must be at least {_shown(self.min_timeout_minutes)} on {self.where} "
                f"({self.where}'s minimum is {_shown(self.min_timeout_minutes)} minutes), got {_shown(timeout)}"
            )
        elif _is_number(timeout) and self.whole_minutes and not float(timeout).is_integer():
            problems["experiment_timeout_minutes"] = (
                f"experiment_timeout_minutes must be a whole number on {self.where}, which counts the timeout in "
                f"whole minutes; got {_shown(timeout)}"
            )
        iterations = params.get("max_iterations", 100)
        if _is_number(iterations) and iterations > self.max_iterations:
            problems["max_iterations"] = (
                f"max_iterations must be at most {_shown(self.max_iterations)} on {self.where}: its AutoML runs "
                f"at most {_shown(self.max_iterations)} iterations, got {_shown(iterations)}"
            )
        return problems

    def check(self, params: dict[str, Any]) -> None:
        """Raises InvalidInput with the first problem."""
        problems = self.problems(params)
        if problems:
            raise InvalidInput(next(iter(problems.values())))

    def concurrency_note(self, concurrent: int, compute: str, max_nodes: int) -> str | None:
        """What to know when more iterations are asked to run at once than the compute runs (not an error)."""
        if not self.one_node_per_iteration or concurrent <= max_nodes:
            return None
        return (
            f"{concurrent} concurrent iterations asked, but {compute} has at most {max_nodes} nodes: {self.where} "
            f"runs one iteration per node, so at most {max_nodes} run at once and the others wait for a node"
        )


LOCAL_LIMITS = AutoMLLimits()


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _required_text(name: str) -> Callable[[dict], str]:
    def check(params: dict) -> str:
        if not isinstance(params.get(name), str) or not params[name].strip():
            raise InvalidInput(f"{name} is required")
        return params[name].strip() if name == "dataset" else params[name]

    return check


def _timeout(params: dict) -> float:
    timeout = params.get("experiment_timeout_minutes", 15.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise InvalidInput(f"experiment_timeout_minutes must be a positive number of minutes, got {timeout!r}")
    if timeout > 24 * 60:
        raise InvalidInput("experiment_timeout_minutes must be at most 1440 (one day)")
    return float(timeout)


def _task(params: dict) -> str:
    task = params.get("task", CLASSIFICATION)
    if task not in TASKS:
        raise InvalidInput(f"task {task!r} is not supported; choose one of: {', '.join(TASKS)}")
    return task


def _known_task(params: dict) -> str:
    """The run's task when it is valid (for the checks that depend on it), classification otherwise."""
    task = params.get("task", CLASSIFICATION)
    return task if task in TASKS else CLASSIFICATION


def _primary_metric(params: dict) -> str:
    task = _known_task(params)
    metric = params.get("primary_metric", default_metric(task))
    if metric in primary_metrics(task):
        return metric
    other = task_of_metric(metric) if isinstance(metric, str) else None
    if other and other != task and metric in primary_metrics(other):
        choices = ", ".join(primary_metrics(task))
        raise InvalidInput(f"primary metric {metric!r} is a {other} metric; for {task} choose one of: {choices}")
    raise InvalidInput(f"unknown primary metric {metric!r}; choose one of: {', '.join(primary_metrics(task))}")


def _algorithms(name: str) -> Callable[[dict], tuple[str, ...]]:
    def check(params: dict) -> tuple[str, ...]:
        given = params.get(name) or ()
        if isinstance(given, str) or not isinstance(given, (list, tuple)):
            raise InvalidInput(f"{name} must be a list of algorithm names, got {given!r}")
        chosen = tuple(given)
        if not all(isinstance(a, str) for a in chosen):
            raise InvalidInput(f"{name} must be a list of algorithm names, got {list(chosen)!r}")
        task = _known_task(params)
        known = algorithms(task)
        unknown = sorted(a for a in chosen if a not in known)
        if unknown:
            other = CLASSIFICATION_ALGORITHMS if task == REGRESSION else REGRESSION_ALGORITHMS
            kind = f"not {task} algorithm(s)" if set(unknown) <= set(other) else "unknown algorithm(s)"
            raise InvalidInput(f"{kind}: {', '.join(unknown)}; {task} algorithms are: {', '.join(known)}")
        return chosen

    return check


def _featurization(params: dict) -> str:
    featurization = params.get("featurization", "auto")
    if featurization not in ("auto", "off"):
        raise InvalidInput(f"featurization must be 'auto' or 'off', got {featurization!r}")
    return featurization


def _flag(name: str) -> Callable[[dict], bool]:
    def check(params: dict) -> bool:
        value = params.get(name, True)
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false, got {value!r}")
        return value

    return check


# Each setting checked on its own, so that a form can show every problem at once.
_FIELD_CHECKS: dict[str, Callable[[dict], Any]] = {
    "dataset": _required_text("dataset"),
    "label_column": _required_text("label_column"),
    "dataset_version": lambda p: _number(p, "dataset_version", int, 1, 10**9, None),
    "task": _task,
    "primary_metric": _primary_metric,
    "experiment_timeout_minutes": _timeout,
    "max_iterations": lambda p: _number(p, "max_iterations", int, 1, 10_000, 100),
    "max_concurrent_iterations": lambda p: _number(p, "max_concurrent_iterations", int, 1, 64, 1),
    "n_cross_validations": lambda p: _number(p, "n_cross_validations", int, 2, 20, 5),
    "validation_size": lambda p: _number(p, "validation_size", float, 0.05, 0.5, None),
    "enable_early_stopping": _flag("enable_early_stopping"),
    "featurization": _featurization,
    "allowed_algorithms": _algorithms("allowed_algorithms"),
    "blocked_algorithms": _algorithms("blocked_algorithms"),
    "enable_voting_ensemble": _flag("enable_voting_ensemble"),
    "enable_stack_ensemble": _flag("enable_stack_ensemble"),
    "seed": lambda p: _number(p, "seed", int, 0, 2**31 - 1, 42),
}


def automl_params(
    *,
    dataset: str,
    label_column: str,
    dataset_version: int | None = None,
    task: str = CLASSIFICATION,
    primary_metric: str | None = None,
    timeout_minutes: float = 15.0,
    max_iterations: int = 100,
    max_concurrent_iterations: int = 1,
    n_cross_validations: int | None = 5,
    validation_size: float | None = None,
    allowed_algorithms: list[str] | None = None,
    blocked_algorithms: list[str] | None = None,
    ensembles: bool = True,
    early_stopping: bool = True,
) -> dict[str, Any]:
    """The parameters of an AutoML run from what a form or a command line asks (a validation split replaces
    cross-validation when given; no ``primary_metric``: the task's default). The dashboard and the CLI build
    them here; ``settings_problems`` checks them."""
    params: dict[str, Any] = {
        "dataset": dataset,
        "label_column": label_column,
        "task": task,
        "primary_metric": primary_metric if primary_metric is not None else default_metric(task),
        "experiment_timeout_minutes": timeout_minutes,
        "max_iterations": max_iterations,
        "max_concurrent_iterations": max_concurrent_iterations,
        "enable_voting_ensemble": ensembles,
        "enable_stack_ensemble": ensembles,
        "enable_early_stopping": early_stopping,
    }
    if dataset_version is not None:
        params["dataset_version"] = dataset_version
    if validation_size is not None:
        params["validation_size"] = validation_size
    else:
        params["n_cross_validations"] = n_cross_validations
    if allowed_algorithms:
        params["allowed_algorithms"] = list(allowed_algorithms)
    if blocked_algorithms:
        params["blocked_algorithms"] = list(blocked_algorithms)
    return params


def settings_problems(params: dict[str, Any], limits: AutoMLLimits = LOCAL_LIMITS) -> dict[str, str]:
    """Every problem of submitted settings, by setting name (empty when they are valid), the ``limits`` of the
    backend they are for included. No data needed."""
    if not isinstance(params, dict):
        return {"settings": f"AutoML settings are a mapping of setting names to values, got {params!r}"}
    problems = {name: f"unknown AutoML setting {name!r}" for name in sorted(set(params) - set(_FIELD_CHECKS))}
    values = {}
    for name, check in _FIELD_CHECKS.items():
        try:
            values[name] = check(params)
        except InvalidInput as exc:
            problems[name] = str(exc)
    if "n_cross_validations" in values and "validation_size" in values:
        if values["validation_size"] is not None and params.get("n_cross_validations") is None:
            values["n_cross_validations"] = None
        if (values["n_cross_validations"] is None) == (values["validation_size"] is None):
            problems["validation_size"] = "give either n_cross_validations or validation_size, not both"
    if not problems:
        allowed = values["allowed_algorithms"] or algorithms(values["task"])
        if not [a for a in allowed if a not in values["blocked_algorithms"]]:
            problems["blocked_algorithms"] = "every algorithm is blocked: allow at least one"
    return {**limits.problems(params), **problems}


def parse_settings(params: dict[str, Any]) -> AutoMLSettings:
    """Settings from submitted parameters. Raises InvalidInput with the first problem."""
    problems = settings_problems(params)
    if problems:
        raise InvalidInput(next(iter(problems.values())))
    values = {name: check(params) for name, check in _FIELD_CHECKS.items()}
    # A holdout asked without folds (absent, or null as stored settings hold it): no cross-validation.
    if values["validation_size"] is not None and params.get("n_cross_validations") is None:
        values["n_cross_validations"] = None
    return AutoMLSettings(**values)


def checked_params(params: dict[str, Any], workspace: Any) -> dict[str, Any]:
    """The parameters an AutoML run is queued with: the settings checked, then the dataset found in the
    workspace (its version pinned) and its data checked. The local run type and the Azure backend both call
    this. Raises InvalidInput or NotFound."""
    settings = parse_settings(params)
    dataset = workspace.get_dataset(settings.dataset, settings.dataset_version)
    check_data(settings, workspace.load_dataset(dataset.name, dataset.version))
    return {**settings.to_params(), "dataset_version": dataset.version}


def guess_task(label: pd.Series) -> str:
    """The task a label column most likely asks for: regression for numbers with many distinct values (or
    fractions), classification for text, booleans and numeric codes with few values (ratings, 0/1)."""
    from opml.data.profile import column_kind

    values = label.dropna()
    if column_kind(values) != "numeric" or values.empty:
        return CLASSIFICATION
    numbers = _numbers(values)
    fractional = bool((numbers % 1 != 0).any())
    return REGRESSION if fractional or numbers.nunique() > GUESS_MAX_CLASSES else CLASSIFICATION


def _numbers(values: pd.Series) -> pd.Series:
    """The values that are numbers, as floats (the others dropped)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").dropna().astype(float)


def check_data(settings: AutoMLSettings, frame: pd.DataFrame) -> None:
    """Refuse data that cannot train a model of the settings' task, before anything is queued."""
    label = settings.label_column
    if label not in frame.columns:
        raise InvalidInput(f"label column {label!r} is not in the dataset; columns are: {', '.join(frame.columns)}")
    y = frame[label].dropna()
    if y.empty:
        raise InvalidInput(f"label column {label!r} has no values: every row is missing")
    if settings.regression:
        _check_regression_label(label, y)
    else:
        _check_classification_label(label, y)
    folds = settings.n_cross_validations or 2
    if len(y) < max(folds * 2, 10):
        raise InvalidInput(f"only {len(y)} labelled rows: too few for {folds}-fold cross-validation")
    if not settings.regression:
        _check_class_sizes(settings, y)
    features = frame.drop(columns=[label])
    _check_features(settings, features)
    classes = 0 if settings.regression else int(y.astype(str).nunique())
    check_budget(settings, len(y), features.shape[1], classes, width=featurized_width(features))


def _check_classification_label(label: str, y: pd.Series) -> None:
    counts = y.astype(str).value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "nothing"
        raise InvalidInput(f"label column {label!r} has a single class ({only}); classification needs two or more")
    if len(counts) > MAX_CLASSES:
        numeric = len(_numbers(y)) == len(y)
        advice = (
            "its values are numbers: to predict a quantity, choose the task 'regression'"
            if numeric
            else "is it an identifier or free text? Choose a label with fewer classes"
        )
        raise InvalidInput(
            f"label column {label!r} has {len(counts):,} distinct values: too many classes for classification "
            f"(at most {MAX_CLASSES}); {advice}"
        )


def _check_class_sizes(settings: AutoMLSettings, y: pd.Series) -> None:
    counts = y.astype(str).value_counts()
    folds = settings.n_cross_validations or 2
    if counts.min() < folds:
        smallest = int(counts.min())
        if not settings.n_cross_validations:  # a holdout: a class needs a row to train on and one to validate
            raise InvalidInput(
                f"class {counts.idxmin()!r} has {smallest} row: a class needs at least 2 rows (one to train on, "
                "one to validate): add rows of that class or remove it"
            )
        fewer = f", or use at most {smallest} folds" if smallest >= 2 else " (a class needs at least 2 rows)"
        raise InvalidInput(
            f"class {counts.idxmin()!r} has {smallest} row(s), fewer than the {folds} cross-validation folds: "
            f"add rows of that class or remove them{fewer}"
        )


def _check_regression_label(label: str, y: pd.Series) -> None:
    import numpy as np

    numbers = _numbers(y)
    if len(numbers) < len(y):
        text = [str(v) for v in y[_not_numbers(y)].astype(str).unique()[:3]]
        raise InvalidInput(
            f"label column {label!r} has text values ({', '.join(repr(t) for t in text)}): regression predicts "
            "numbers; to predict categories, choose the task 'classification'"
        )
    values = numbers.to_numpy()
    if not np.isfinite(values).all():
        raise InvalidInput(f"label column {label!r} has infinite values: regression needs finite numbers")
    if numbers.nunique() < 2:
        only = f"{values[0]:g}"
        raise InvalidInput(f"label column {label!r} has the same value ({only}) in every row: nothing to predict")
    # LightGBM and XGBoost learn from 32-bit floats: beyond their range XGBoost fails every trial and the errors
    # overflow; values that become one 32-bit number give a "perfect" model of a constant.
    largest = float(np.abs(values).max())
    if largest > np.finfo(np.float32).max:
        raise InvalidInput(
            f"label column {label!r} has values as large as {largest:.3g}: the learners keep numbers as 32-bit "
            f"floats (at most {np.finfo(np.float32).max:.3g}); rescale the label (e.g. divide it by {largest:.0e})"
        )
    if len(np.unique(values.astype(np.float32))) < 2:
        raise InvalidInput(
            f"label column {label!r} has values that differ by too little (from {values.min():.17g} to "
            f"{values.max():.17g}) to tell apart as the learners' 32-bit floats: rescale the label (e.g. subtract "
            "its mean and divide by its standard deviation)"
        )


def _not_numbers(values: pd.Series) -> pd.Series:
    """True where a (non-missing) value is not a number."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").isna()


def _check_features(settings: AutoMLSettings, features: pd.DataFrame) -> None:
    from opml.data.profile import column_kind

    usable = [c for c in features.columns if features[c].notna().any() and features[c].nunique(dropna=True) > 1]
    if not usable:
        raise InvalidInput("the dataset has no usable feature: every other column is empty or constant")
    if settings.featurization == "off":
        text = [c for c in usable if column_kind(features[c]) == "categorical"]
        if text:
            raise InvalidInput(f"featurization 'off' needs numeric features only; these are text: {', '.join(text)}")
