"""A pipeline's definition: an optional data-prep step, one AutoML step, an optional register-model step,
and parameters with defaults that step settings reference as ``"${name}"``.

Example::

    {"parameters": {"dataset": "bankmarketing", "experiment_timeout_minutes": 5},
     "steps": [{"name": "prep", "type": "data_prep", "script": "/path/prep.py", "input_dataset": "${dataset}",
                "output_dataset": "bank-prepared"},
               {"name": "train", "type": "automl", "settings": {"dataset": "bank-prepared", "label_column": "y",
                "experiment_timeout_minutes": "${experiment_timeout_minutes}"}},
               {"name": "register", "type": "register_model", "model_name": "bank-model",
                "gate_alias": "champion", "set_alias": "champion"}]}

A data-prep script defines ``prepare(df) -> DataFrame``. The register step's optional quality gate
(``gate_alias``) registers the new model only when it beats the version holding that alias on the AutoML
step's primary metric; ``set_alias`` then points that alias at the new version.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.errors import InvalidInput
from opml.naming import check_alias, check_name

if TYPE_CHECKING:
    from opml.automl.settings import AutoMLLimits

STEP_TYPES = ("data_prep", "automl", "register_model")
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def references(value: Any) -> set[str]:
    if isinstance(value, str) and (match := _REFERENCE.match(value)):
        return {match.group(1)}
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """``value`` with every ``"${name}"`` replaced by the parameter's value (keeping its type)."""
    if isinstance(value, str) and (match := _REFERENCE.match(value)):
        return parameters[match.group(1)]
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    return value


def check_script(path: Any) -> str:
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput("a data_prep step needs 'script': the path of a Python file defining prepare(df)")
    script = Path(path).expanduser()
    if not script.is_file():
        raise InvalidInput(f"data_prep script {script} does not exist")
    try:
        tree = ast.parse(script.read_text(), filename=str(script))
    except SyntaxError as exc:
        raise InvalidInput(f"data_prep script {script} has a syntax error on line {exc.lineno}: {exc.msg}") from None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "prepare" for node in tree.body):
        raise InvalidInput(f"data_prep script {script} must define a function prepare(df) that returns a DataFrame")
    return str(script.resolve())


def check_spec(
    steps: Any, parameters: Any, limits: AutoMLLimits | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Validated (steps, parameters); InvalidInput names the first problem. The AutoML step's settings, with the
    parameters' defaults, must be what the backend's AutoML takes (``limits``: ``Backend.automl_limits``)."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict) or not all(isinstance(k, str) and k for k in parameters):
        raise InvalidInput("parameters must map names to default values")
    for name, value in parameters.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidInput(f"parameter name {name!r} must be letters, digits and '_'")
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidInput(f"parameter {name!r} must default to text, a number or a boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"parameter {name!r} must default to a finite number, got {value}")
    if not isinstance(steps, list) or not steps:
        raise InvalidInput("a pipeline needs steps")
    clean, names = [], set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
            raise InvalidInput(f"step {index} must be an object with 'type' one of: {', '.join(STEP_TYPES)}")
        name = check_name(step.get("name") or step["type"], "step")
        if name in names:
            raise InvalidInput(f"two steps are named {name!r}")
        names.add(name)
        step = {**step, "name": name}
        if step["type"] == "data_prep":
            step["script"] = check_script(step.get("script"))
            step.setdefault("input_dataset", "${dataset}")
            check_name(step.get("output_dataset") or "", "output dataset")
        elif step["type"] == "automl":
            if not isinstance(step.get("settings"), dict):
                raise InvalidInput(f"automl step {name!r} needs 'settings' (the AutoML settings)")
        else:
            check_name(step.get("model_name") or "", "model")
            for option in ("gate_alias", "set_alias"):
                if step.get(option) is not None:
                    step[option] = check_alias(step[option])
        clean.append(step)
    kinds = [s["type"] for s in clean]
    if kinds.count("automl") != 1:
        raise InvalidInput("a pipeline has exactly one automl step")
    order = [k for k in STEP_TYPES if k in kinds]
    if kinds != order or kinds.count("data_prep") > 1 or kinds.count("register_model") > 1:
        raise InvalidInput("steps must be: an optional data_prep, the automl step, an optional register_model")
    undeclared = sorted(references(clean) - set(parameters))
    if undeclared:
        raise InvalidInput(f"steps reference undeclared parameter(s): {', '.join(undeclared)}")
    check_values(clean, dict(parameters), limits)
    return clean, dict(parameters)


def check_values(steps: list[dict[str, Any]], values: dict[str, Any], limits: AutoMLLimits | None = None) -> None:
    """The steps with these parameter values must make a valid AutoML step (a timeout of -1 is refused
    when the run is asked for, not when its step starts), within ``limits`` when given (the backend's: Azure
    ML's AutoML refuses less than 15 minutes). Raises InvalidInput naming the step."""
    from opml.automl.settings import LOCAL_LIMITS, settings_problems

    for step in resolve(steps, values):
        if step["type"] == "automl":
            problems = settings_problems(dict(step["settings"]), limits or LOCAL_LIMITS)
            if problems:
                raise InvalidInput(f"automl step {step['name']!r}: {next(iter(problems.values()))}")


def check_assignments(declared: dict[str, Any], assignments: Any) -> dict[str, Any]:
    """Per-run parameter values: only declared names, same kind of value as the default."""
    if assignments is None:
        return {}
    if not isinstance(assignments, dict):
        raise InvalidInput("ParameterAssignments must be an object of parameter names to values")
    unknown = sorted(set(assignments) - set(declared))
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s): {', '.join(unknown)}; this pipeline takes: {', '.join(sorted(declared)) or 'none'}"
        )
    for name, value in assignments.items():
        default = declared[name]
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidInput(f"parameter {name!r} must be a number, got {value!r}")
        if numeric and not math.isfinite(value):
            raise InvalidInput(f"parameter {name!r} must be a finite number, got {value!r}")
        if isinstance(default, str) and not isinstance(value, str):
            raise InvalidInput(f"parameter {name!r} must be text, got {value!r}")
    return dict(assignments)
