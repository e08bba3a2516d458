"""What the Monitoring page does besides drawing: its windows, labels stored from an uploaded CSV file, and the
alert-rule form's checks (the backend's own, run as the user types)."""

from __future__ import annotations

import json
from typing import Any

from opml.errors import InvalidInput

# Windows the Monitoring page offers: (seconds looked back, seconds per live-accuracy bucket).
MONITORING_WINDOWS = {
    "Last hour": (3_600, 300),
    "Last 24 hours": (86_400, 3_600),
    "Last 7 days": (7 * 86_400, 6 * 3_600),
}


def store_label_file(backend: Any, service: str, data: bytes, file: str) -> int:
    """Store the ground-truth labels of a CSV file (``request_id,label[,record]``) for ``service``, all or none;
    returns how many were stored. Raises InvalidInput naming the file's line of the first bad label (as
    ``opml services labels`` does), or what the backend raises (NotFound, BackendUnavailable)."""
    from opml.monitoring.labels import check_labels, name_csv_line, read_labels_csv

    try:
        labels, lines = read_labels_csv(data)
    except InvalidInput as exc:
        raise InvalidInput(f"{file}, {exc}" if str(exc).startswith("line ") else f"{file}: {exc}") from None
    check_labels(labels, where=lambda index: f"{file}, line {lines[index]}")
    try:
        return backend.add_service_labels(service, labels)
    except InvalidInput as exc:  # a label that is not a class of the model: the backend names "label N"
        raise InvalidInput(name_csv_line(str(exc), lines, file)) from None


def service_task(backend: Any, service: Any) -> str:
    """The task of the model ``service`` serves ("classification" or "regression"; a manifest without a task is a
    classifier's)."""
    model = backend.get_model(service.model_name, service.model_version)
    return model.manifest.get("task") or "classification"


def rule_kinds(task: str | None = None) -> list[str]:
    """The kinds of alert rule (drift, accuracy, failure_rate, latency_p99, unhealthy); those that apply to a
    model of ``task`` when given (no accuracy rule for a regression model)."""
    from opml.monitoring.rules import KINDS, kinds_for_task

    return list(KINDS) if task is None else kinds_for_task(task)


def prediction_drift_text(report: Any) -> str | None:
    """The prediction drift in one line: the window's predictions against the baseline they are compared with
    (named), with PSI and verdict; None when the model's manifest gives no baseline. A classifier's as its
    class mix (``opml.ui.format.prediction_drift_words``), a regression model's as the share of the window's
    predicted values beyond the outer quantiles (the outer bins' edges), beside the training shares."""
    from opml.monitoring.baseline import PREDICTION_BASELINE_WORDS
    from opml.ui.format import prediction_drift_words

    drift = report.prediction
    if drift is not None and drift.kind != "numeric" and len(drift.labels) > MAX_CLASSES_WORDS + 3:
        return _many_classes_words(report)
    if drift is None or drift.kind != "numeric":
        return prediction_drift_words(report)
    baseline = PREDICTION_BASELINE_WORDS.get(report.prediction_source or "", "the training values")
    measured = "" if drift.psi is None else f": PSI {drift.psi:.3f}, {drift.verdict}"
    if not drift.rows:
        return f"No predicted values in the window to compare with {baseline}."
    low, high = drift.labels[0].removeprefix("<= "), drift.labels[-2].removeprefix("> ")
    return (
        f"Predicted values ({drift.rows:,} rows) against {baseline}, over the {len(drift.labels) - 1} bins between "
        f"their quantiles: {drift.actual[0]:.1%} at most {low} (training {drift.expected[0]:.0%}), "
        f"{drift.actual[-2]:.1%} above {high} (training {drift.expected[-2]:.0%}){measured}."
    )


MAX_CLASSES_WORDS = 8  # classes named in the prediction drift's line; the others are summed


def _many_classes_words(report: Any) -> str:
    """The prediction drift of a classifier of many classes: the ``MAX_CLASSES_WORDS`` most predicted classes
    of the window (beside their training shares), then the others summed."""
    from opml.monitoring.baseline import PREDICTION_BASELINE_WORDS

    drift = report.prediction
    baseline = PREDICTION_BASELINE_WORDS.get(report.prediction_source or "", "the training class balance")
    measured = "" if drift.psi is None else f": PSI {drift.psi:.3f}, {drift.verdict}"
    buckets = list(zip(drift.labels, drift.actual, drift.expected, strict=True))
    ranked = sorted(buckets, key=lambda bucket: (-bucket[1], -bucket[2], bucket[0]))
    named = ranked[:MAX_CLASSES_WORDS]
    rest = [bucket for bucket in ranked[MAX_CLASSES_WORDS:] if bucket[1] or bucket[2]]
    shares = ", ".join(f"{label} {actual:.1%} (training {expected:.1%})" for label, actual, expected in named)
    others = (
        f", {len(rest)} others {sum(b[1] for b in rest):.1%} (training {sum(b[2] for b in rest):.1%})" if rest else ""
    )
    return f"Predicted classes ({drift.rows:,} rows) against {baseline}: {shares}{others}{measured}."


def default_threshold(kind: str) -> float:
    """The threshold a new rule of ``kind`` starts at: the example its kind gives ("0.2 (a PSI ...)" -> 0.2)."""
    from opml.monitoring.rules import KINDS

    return float(KINDS[kind].example.split()[0])


def threshold_label(kind: str) -> tuple[str, str]:
    """The threshold field's label (with the unit) and help text for a rule of ``kind``."""
    from opml.monitoring.rules import KINDS

    spec = KINDS[kind]
    unit = {"": "PSI" if kind == "drift" else "fraction", "%": "%", "ms": "ms", "min": "minutes"}[spec.unit]
    verb = "above" if spec.above else "below"
    return f"Threshold ({unit})", f"Fires when the {spec.measure} is {verb} this; e.g. {spec.example}."


def kind_label(kind: str) -> str:
    """A rule kind as the form's picker shows it: "drift: feature drift (PSI) above the threshold"."""
    from opml.monitoring.rules import KINDS

    spec = KINDS[kind]
    return f"{kind}: {spec.measure} {'above' if spec.above else 'below'} the threshold"


def parameter_lines(text: str) -> dict[str, Any]:
    """Pipeline parameters written one ``name=value`` per line (a value that reads as JSON is that value, so
    ``timeout_minutes=5`` is a number); blank lines are skipped. Raises InvalidInput naming the line."""
    values: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"line {number}: {line.strip()[:100]!r} must look like name=value")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw.strip()
    return values


def rule_problems(
    *,
    kind: str,
    threshold: float,
    window_minutes: float,
    for_minutes: float,
    webhook_url: str,
    name: str,
    parameters_text: str,
    declared: dict[str, Any] | None,
    task: str | None = None,
    service: str = "the service",
) -> list[str]:
    """Every problem of the alert-rule form, in words, from the checks ``Backend.create_alert_rule`` runs
    (``declared``: the parameters of the chosen published pipeline, None without one; ``task``: that of the
    model ``service`` serves, when known)."""
    from opml.monitoring.rules import (
        KINDS,
        MAX_FOR_MINUTES,
        MAX_WINDOW_MINUTES,
        check_kind_for_task,
        check_minutes,
        check_rule_name,
        check_threshold,
        check_webhook_url,
    )
    from opml.pipelines.spec import check_assignments
    from opml.ui.forms import field_problems

    spec = KINDS[kind]
    checks = [
        ("Kind", lambda: check_kind_for_task(spec, task or "classification", service)),
        (threshold_label(kind)[0], lambda: check_threshold(spec, threshold)),
        ("Window (minutes)", lambda: check_minutes(window_minutes, "the window", low=1, high=MAX_WINDOW_MINUTES)),
        ("For (minutes)", lambda: check_minutes(for_minutes, "the wait", low=0, high=MAX_FOR_MINUTES)),
        ("Webhook URL", lambda: check_webhook_url(webhook_url.strip() or None)),
        ("Name", lambda: check_rule_name(name, spec, threshold)),
    ]
    if declared is not None:
        checks.append(("Parameters", lambda: check_assignments(declared, parameter_lines(parameters_text))))
    elif parameters_text.strip():
        checks.append(("Parameters", lambda: _no_parameters()))
    return field_problems(*checks)


def _no_parameters() -> None:
    raise InvalidInput("parameters go with a published pipeline to trigger: choose one, or leave them empty")
