"""Evaluating alert rules: a step of the agent's tick, at most once per ``EVALUATE_SECONDS``.

Each enabled rule is read (its signal over its window), judged against its threshold and recorded:

- the condition holds: it is pending from the first evaluation that saw it; once it has held for the rule's
  ``for_minutes`` and no alert of the rule is Firing, one is fired (stored, POSTed to the rule's webhook,
  and the rule's published pipeline triggered with the trigger "Alert");
- the condition does not hold, or there is nothing to judge (too few requests, no collected data): the
  pending time is forgotten and a Firing alert is resolved (and POSTed).

A rule whose evaluation raises is logged and noted on the rule; the others go on. The signals of drift
and accuracy rules come from ``opml.monitoring.signals`` and are arguments, so that they can be given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from opml.backends.local.backend import LocalBackend
from opml.entities import Alert, AlertRule
from opml.errors import NotFound, OpmlError
from opml.monitoring import signals
from opml.monitoring.rules import KINDS, MIN_REQUESTS
from opml.monitoring.webhook import WebhookSender

log = logging.getLogger("opml.agent")

EVALUATE_SECONDS = 60.0
MAX_DESCRIPTION = 200  # characters of the alert's message in the pipeline run's description

DriftSignal = Callable[[LocalBackend, str, float], "tuple[str, float] | None"]
AccuracySignal = Callable[[LocalBackend, str, float], "float | None"]


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: nothing to judge
    note: str  # the reading in words


def _minutes(value: float) -> str:
    return f"{value:g} min"


TELEMETRY_KINDS = ("failure_rate", "latency_p99")  # rules that read the service's request telemetry
TELEMETRY_OFF = "App Insights telemetry is off for this service, so no requests are recorded: switch it on"


def read_signal(
    backend: LocalBackend, rule: AlertRule, now: float, drift: DriftSignal, accuracy: AccuracySignal
) -> Reading:
    """What ``rule`` watches, measured at ``now`` over its window."""
    since = now - rule.window_minutes * 60
    window = f"in the last {_minutes(rule.window_minutes)}"
    if rule.kind in TELEMETRY_KINDS and not backend.get_service(rule.service).app_insights_enabled:
        return Reading(None, TELEMETRY_OFF)
    if rule.kind == "failure_rate":
        requests, failed = backend.services.window_counts(rule.service, since=since, until=now)
        if requests < MIN_REQUESTS:
            return Reading(None, f"{requests} request(s) {window}: a failure rate is judged from {MIN_REQUESTS}")
        rate = 100.0 * failed / requests
        return Reading(rate, f"{failed:,} of {requests:,} requests failed ({rate:.1f} %) {window}")
    if rule.kind == "latency_p99":
        requests, _ = backend.services.window_counts(rule.service, since=since, until=now)
        if not requests:
            return Reading(None, f"no requests {window}")
        p99 = backend.services.window_percentile(rule.service, since=since, until=now, quantile=0.99, requests=requests)
        return Reading(p99, f"p99 latency {p99:,.1f} ms over {requests:,} requests {window}")
    if rule.kind == "unhealthy":
        state, since_when = backend.services.not_healthy_since(rule.service)
        if since_when is None:
            return Reading(0.0, f"{state}")
        minutes = max(0.0, (now - since_when) / 60)
        return Reading(minutes, f"{state} for {minutes:,.1f} min")
    if rule.kind == "drift":
        found = drift(backend, rule.service, since)
        if found is None:
            return Reading(None, signals.NO_COLLECTED_DATA)
        feature, psi = found
        return Reading(float(psi), f"most drifted feature {feature}: PSI {psi:.3f} {window}")
    if rule.kind == "accuracy":
        share = accuracy(backend, rule.service, since)
        if share is None:
            return Reading(None, signals.NO_LABELS)
        return Reading(float(share), f"live accuracy {share:.1%} {window}")
    raise ValueError(f"unknown alert kind {rule.kind!r}")


def webhook_document(alert: Alert, rule: AlertRule) -> dict:
    """The JSON POSTed to a rule's webhook when it fires and when it resolves."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    kind = KINDS[alert.kind]
    return {
        "rule": {"id": rule.id, "name": alert.rule_name},
        "service": alert.service,
        "kind": alert.kind,
        "state": alert.state,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "fired_at": moment(alert.fired_at),
        "resolved_at": moment(alert.resolved_at),
        "alert_id": alert.id,
        "run_id": alert.run_id,
        "summary": f"[{alert.state}] {alert.service}: {kind.condition(alert.threshold)} ({kind.words(alert.value)})",
    }


def _fire(backend: LocalBackend, rule: AlertRule, reading: Reading, now: float, sender: WebhookSender | None):
    kind = KINDS[rule.kind]
    message = f"{kind.measure} {kind.words(reading.value)} is {'above' if kind.above else 'below'} " + (
        f"{rule.threshold:g}{' ' + kind.unit if kind.unit else ''}: {reading.note}"
    )
    alert = backend.alerts.fire(rule, value=reading.value, message=message, now=now, webhook=bool(rule.webhook_url))
    if alert is None:
        return None
    log.warning("alert %s fired: %s on %s: %s", alert.id, rule.name, rule.service, message)
    if rule.pipeline:
        try:
            run = backend.trigger_published_pipeline(
                rule.pipeline,
                experiment=rule.experiment or "alerts",
                parameters=rule.pipeline_parameters,
                trigger="Alert",
                description=f"alert {rule.name} on {rule.service}: {message}"[:MAX_DESCRIPTION],
            )
        except OpmlError as exc:  # a disabled or deleted pipeline: the alert says so
            log.warning("alert %s: the published pipeline %s was not triggered: %s", alert.id, rule.pipeline, exc)
            backend.alerts.set_run(alert.id, None, str(exc))
        else:
            log.info("alert %s started pipeline run %s", alert.id, run.id)
            backend.alerts.set_run(alert.id, run.id)
        alert = backend.alerts.alert(alert.id)
    if rule.webhook_url and sender is not None:
        sender.submit(alert.id, rule.webhook_url, webhook_document(alert, rule))
    return alert


def _resolve(backend: LocalBackend, rule: AlertRule, firing: Alert, reading: Reading, now: float, sender):
    alert = backend.alerts.resolve(firing.id, now=now, note=reading.note, webhook=bool(rule.webhook_url))
    if alert is None:
        return None
    log.info("alert %s resolved: %s on %s: %s", alert.id, rule.name, rule.service, reading.note)
    if rule.webhook_url and sender is not None:
        sender.submit(alert.id, rule.webhook_url, webhook_document(alert, rule))
    return alert


def evaluate_rule(
    backend: LocalBackend,
    rule: AlertRule,
    now: float,
    *,
    sender: WebhookSender | None,
    drift: DriftSignal,
    accuracy: AccuracySignal,
) -> Alert | None:
    """Judge one rule at ``now``; the alert it fired or resolved, if any."""
    reading = read_signal(backend, rule, now, drift, accuracy)
    kind = KINDS[rule.kind]
    firing = backend.alerts.firing(rule.id)
    if reading.value is not None and kind.breached(reading.value, rule.threshold):
        pending = rule.pending_since.timestamp() if rule.pending_since else now
        waited = now - pending
        changed = None
        if firing is None and waited >= rule.for_minutes * 60 - 1e-3:  # the stored time is to the microsecond
            changed = _fire(backend, rule, reading, now, sender)
        elif firing is None:
            reading = Reading(reading.value, f"{reading.note}; fires after {_minutes(rule.for_minutes)}")
        backend.alerts.record_evaluation(rule.id, now, reading.note, pending)
        return changed
    backend.alerts.record_evaluation(rule.id, now, reading.note, None)
    return _resolve(backend, rule, firing, reading, now, sender) if firing is not None else None


def evaluate_alerts(
    backend: LocalBackend,
    now: float | None = None,
    *,
    sender: WebhookSender | None = None,
    drift: DriftSignal = signals.max_feature_drift,
    accuracy: AccuracySignal = signals.live_accuracy,
) -> list[Alert]:
    """Evaluate every enabled rule at ``now`` (epoch seconds; default the clock); the alerts fired or
    resolved. A rule whose evaluation fails is logged and noted; the others are evaluated."""
    now = time.time() if now is None else now
    changed = []
    for alert, rule in backend.alerts.resolutions_to_send():  # rules disabled since the last evaluation
        backend.alerts.set_webhook_status(alert.id, "queued", taking_resolution=True)
        if sender is not None:
            sender.submit(alert.id, rule.webhook_url, webhook_document(alert, rule))
    for rule in backend.alerts.rules(enabled_only=True):
        try:
            alert = evaluate_rule(backend, rule, now, sender=sender, drift=drift, accuracy=accuracy)
        except NotFound as exc:  # the service went away between the listing and the reading
            log.info("alert rule %s: %s", rule.id, exc)
            continue
        except Exception as exc:
            log.exception("alert rule %s (%s on %s) could not be evaluated", rule.id, rule.kind, rule.service)
            try:
                backend.alerts.record_evaluation(rule.id, now, f"evaluation failed: {exc}"[:500], None)
            except Exception:
                log.exception("alert rule %s: could not record the failure", rule.id)
            continue
        if alert is not None:
            changed.append(alert)
    return changed


class AlertEvaluator:
    """The agent's alerting: evaluates the rules at most once per ``period`` seconds and owns the webhook
    sender (whose outcomes it stores on the alerts)."""

    def __init__(self, backend: LocalBackend, *, period: float = EVALUATE_SECONDS):
        self.backend = backend
        self.period = period
        self.sender = WebhookSender(backend.alerts.set_webhook_status)
        self._last = float("-inf")

    def tick(self) -> list[Alert]:
        if time.monotonic() - self._last < self.period:
            return []
        self._last = time.monotonic()
        return evaluate_alerts(self.backend, sender=self.sender)

    def close(self) -> None:
        self.sender.close(timeout=5.0)
