"""Alerts on scoring services: each kind fires and resolves, for_minutes, no duplicates, disabled rules,
webhooks to a loopback receiver, a failing webhook, an alert starting a pipeline run, the CLI and Overview.

Telemetry is written by the scoring services' own writer (``TelemetryWriter``) into the real workspace
database; service states by the supervisor's own repository call. The drift and accuracy signals, whose
data does not exist in this workspace yet, are given to the evaluator as plain functions (its seam).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opml.agent.alerts import evaluate_alerts
from opml.backends.local import LocalBackend
from opml.entities import FIRING, HEALTHY, RESOLVED, UNHEALTHY
from opml.errors import InvalidInput
from opml.monitoring import signals
from opml.monitoring.webhook import WebhookSender
from opml.serving.telemetry import TelemetryWriter
from tests.helpers import free_port, wait_until
from tests.test_cli import opml
from tests.test_pages import page

SERVICE = "svc"


@pytest.fixture
def backend(trained_backend: LocalBackend, automl_run_id) -> LocalBackend:
    """A workspace with a deployed service (no agent: its state is what the test writes)."""
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name=SERVICE, model_name="bank-model", app_insights_enabled=True)
    return trained_backend


def record(backend: LocalBackend, requests: list[tuple[float, int, float]]) -> None:
    """Record requests (at, status, latency ms) as a scoring service does."""
    writer = TelemetryWriter(backend.layout.db, SERVICE)
    for index, (at, status, latency) in enumerate(requests):
        writer.record(
            at=at,
            request_id=f"r{index}-{at}",
            status=status,
            latency_ms=latency,
            records=1,
            predictions='{"no": 1}',
            error=None if status < 400 else "bad input",
            client="127.0.0.1",
        )
    writer.close()


def alerts(backend: LocalBackend, **filters) -> list:
    return backend.list_alerts(SERVICE, **filters)


# -- each kind fires and resolves ----------------------------------------------------------------


def test_failure_rate_fires_once_and_resolves(backend):
    rule = backend.create_alert_rule(SERVICE, kind="failure_rate", threshold=10, window_minutes=10)
    now = time.time()
    record(backend, [(now - 60 + i, 500 if i % 5 == 0 else 200, 3.0) for i in range(30)])  # 6 of 30 fail
    (fired,) = evaluate_alerts(backend, now)
    assert (fired.state, fired.rule_id, fired.kind, fired.value, fired.threshold) == (
        FIRING,
        rule.id,
        "failure_rate",
        20.0,
        10.0,
    )
    assert "failure rate 20.0 % is above 10 %" in fired.message and "6 of 30 requests failed" in fired.message
    assert evaluate_alerts(backend, now + 30) == []  # still firing: no second alert
    assert [a.id for a in alerts(backend)] == [fired.id]
    later = now + 11 * 60  # the failures have left the window; good traffic came
    record(backend, [(later - 100 + i, 200, 3.0) for i in range(40)])
    (resolved,) = evaluate_alerts(backend, later)
    assert resolved.id == fired.id and resolved.state == RESOLVED
    assert resolved.resolved_at.timestamp() == pytest.approx(later)
    assert "resolved: 0 of 40 requests failed (0.0 %) in the last 10 min" in resolved.message
    assert evaluate_alerts(backend, later + 60) == []
    assert [(a.id, a.state) for a in alerts(backend)] == [(fired.id, RESOLVED)]


def test_request_rules_say_so_when_telemetry_is_off(backend):
    from opml.agent.alerts import TELEMETRY_OFF

    rules = [
        backend.create_alert_rule(SERVICE, kind="failure_rate", threshold=10),
        backend.create_alert_rule(SERVICE, kind="latency_p99", threshold=1),
    ]
    now = time.time()
    record(backend, [(now - 60 + i, 500, 30.0) for i in range(30)])  # rows written before telemetry went off
    backend.update_service(SERVICE, app_insights_enabled=False)
    assert evaluate_alerts(backend, now) == []
    assert {r.id: r.note for r in backend.list_alert_rules()} == {rule.id: TELEMETRY_OFF for rule in rules}
    backend.update_service(SERVICE, app_insights_enabled=True)
    assert len(evaluate_alerts(backend, now)) == 2


def test_a_failure_rate_is_not_judged_from_a_few_requests(backend):
    rule = backend.create_alert_rule(SERVICE, kind="failure_rate", threshold=10)
    now = time.time()
    record(backend, [(now - 10 + i, 500, 3.0) for i in range(5)])  # 100 % of 5
    assert evaluate_alerts(backend, now) == []
    (listed,) = backend.list_alert_rules(SERVICE)
    assert listed.id == rule.id and listed.note == "5 request(s) in the last 60 min: a failure rate is judged from 20"
    assert listed.evaluated_at.timestamp() == pytest.approx(now)


def test_latency_p99_fires_on_the_windows_nearest_rank_and_resolves_without_requests(backend):
    backend.create_alert_rule(SERVICE, kind="latency_p99", threshold=50, window_minutes=5)
    now = time.time()
    record(backend, [(now - 120 + i, 200, float(100 - i)) for i in range(100)])  # latencies 1..100 ms
    record(backend, [(now - 3600, 200, 5000.0)])  # long before the window
    (fired,) = evaluate_alerts(backend, now)
    assert fired.value == 99.0 and "p99 latency 99.0 ms is above 50 ms" in fired.message
    (resolved,) = evaluate_alerts(backend, now + 10 * 60)
    assert resolved.state == RESOLVED and resolved.message.endswith("resolved: no requests in the last 5 min")


@pytest.mark.parametrize("size", [1, 2, 99, 100, 101, 1000])
def test_the_windows_percentile_is_the_nearest_rank_of_its_requests(backend, size):
    import random

    from opml.backends.base import nearest_rank

    rng = random.Random(size)
    now = time.time()
    inside = [(now - 500 + i * 0.1, 200, float(rng.randint(1, 50))) for i in range(size)]  # ties included
    record(backend, [*inside, (now - 700, 200, 1e6), (now + 5, 200, 1e6)])  # before and after the window
    requests, failed = backend.services.window_counts(SERVICE, since=now - 600, until=now)
    assert (requests, failed) == (size, 0)
    for quantile in (0.5, 0.95, 0.99, 1.0):
        found = backend.services.window_percentile(
            SERVICE, since=now - 600, until=now, quantile=quantile, requests=requests
        )
        assert found == nearest_rank([latency for _, _, latency in inside], quantile)


def test_unhealthy_counts_from_when_the_service_stopped_being_healthy(backend):
    rule = backend.create_alert_rule(SERVICE, kind="unhealthy", threshold=5)
    deployed = time.time()  # a new service is Transitioning: not Healthy since its deployment
    assert evaluate_alerts(backend, deployed + 60) == []
    assert backend.list_alert_rules()[0].note.startswith("Transitioning for 1.0 min")
    (fired,) = evaluate_alerts(backend, deployed + 6 * 60)
    assert fired.rule_id == rule.id and 5 < fired.value < 6.1
    backend.services.set_state(SERVICE, HEALTHY)
    (resolved,) = evaluate_alerts(backend, time.time())
    assert resolved.state == RESOLVED and resolved.message.endswith("resolved: Healthy")
    backend.services.set_state(SERVICE, UNHEALTHY, error="crashed")
    left = time.time()
    backend.services.set_state(SERVICE, UNHEALTHY, error="crashed again")  # still the same spell
    assert evaluate_alerts(backend, left + 4 * 60) == []
    (again,) = evaluate_alerts(backend, left + 5.5 * 60)
    assert again.id != fired.id and again.state == FIRING and "Unhealthy for 5.5 min" in again.message


def test_drift_and_accuracy_rules_read_their_signals(backend):
    drift_rule = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2, window_minutes=30)
    accuracy_rule = backend.create_alert_rule(SERVICE, kind="accuracy", threshold=0.8)
    now = time.time()
    assert evaluate_alerts(backend, now) == []  # this workspace collects nothing yet: quiet, and says why
    notes = {r.kind: r.note for r in backend.list_alert_rules()}
    assert notes == {"drift": signals.NO_COLLECTED_DATA, "accuracy": signals.NO_LABELS}
    assert notes["drift"].startswith("no collected data yet") and notes["accuracy"] == "no ground-truth labels yet"

    asked = []

    def drifted(backend_, service, since):
        asked.append((service, since))
        return ("euribor3m", 0.45)

    fired = evaluate_alerts(backend, now, drift=drifted, accuracy=lambda *_: 0.7)
    assert asked == [(SERVICE, now - 30 * 60)]
    by_rule = {a.rule_id: a for a in fired}
    assert by_rule[drift_rule.id].value == 0.45 and "most drifted feature euribor3m: PSI 0.450" in (
        by_rule[drift_rule.id].message
    )
    assert by_rule[accuracy_rule.id].value == 0.7 and "live accuracy 0.700 is below 0.8" in (
        by_rule[accuracy_rule.id].message
    )
    resolved = evaluate_alerts(backend, now + 60, drift=lambda *_: ("age", 0.05), accuracy=lambda *_: None)
    assert {(a.rule_id, a.state) for a in resolved} == {(drift_rule.id, RESOLVED), (accuracy_rule.id, RESOLVED)}
    assert next(a for a in resolved if a.rule_id == accuracy_rule.id).message.endswith("no ground-truth labels yet")


# -- for_minutes, disabled rules, failures -----------------------------------------------------


def test_for_minutes_waits_until_the_condition_has_held_that_long(backend):
    rule = backend.create_alert_rule(SERVICE, kind="accuracy", threshold=0.9, for_minutes=5)
    now = time.time()
    low = {"accuracy": lambda *_: 0.5}
    assert evaluate_alerts(backend, now, **low) == []
    (pending,) = backend.list_alert_rules()
    assert pending.pending_since.timestamp() == pytest.approx(now) and pending.note.endswith("fires after 5 min")
    assert evaluate_alerts(backend, now + 4 * 60, **low) == []
    assert evaluate_alerts(backend, now + 4.5 * 60, accuracy=lambda *_: 0.95) == []  # recovered: the wait restarts
    assert backend.list_alert_rules()[0].pending_since is None
    assert evaluate_alerts(backend, now + 5 * 60, **low) == []
    assert evaluate_alerts(backend, now + 9 * 60, **low) == []
    (fired,) = evaluate_alerts(backend, now + 10 * 60, **low)
    assert fired.rule_id == rule.id and fired.fired_at.timestamp() == pytest.approx(now + 600)


def test_a_disabled_rule_does_nothing_and_disabling_resolves(backend):
    rule = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2)
    high = {"drift": lambda *_: ("age", 0.9)}
    backend.set_alert_rule_enabled(rule.id, False)
    now = time.time()
    assert evaluate_alerts(backend, now, **high) == [] and alerts(backend) == []
    assert backend.list_alert_rules()[0].note == "disabled"
    backend.set_alert_rule_enabled(rule.id, True)
    (fired,) = evaluate_alerts(backend, now, **high)
    backend.set_alert_rule_enabled(rule.id, False)
    (resolved,) = alerts(backend)
    assert (
        resolved.id == fired.id and resolved.state == RESOLVED and "resolved: the rule was disabled" in resolved.message
    )
    rule2 = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2)
    evaluate_alerts(backend, now, **high)
    backend.delete_alert_rule(rule2.id)
    assert [a.state for a in alerts(backend)] == [RESOLVED, RESOLVED]  # kept, resolved
    assert alerts(backend, state=FIRING) == []


def test_a_rule_whose_evaluation_fails_does_not_stop_the_others(backend):
    broken = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2)
    working = backend.create_alert_rule(SERVICE, kind="accuracy", threshold=0.8)

    def explode(*_):
        raise RuntimeError("drift store unreadable")

    (fired,) = evaluate_alerts(backend, time.time(), drift=explode, accuracy=lambda *_: 0.1)
    assert fired.rule_id == working.id
    notes = {r.id: r.note for r in backend.list_alert_rules()}
    assert notes[broken.id] == "evaluation failed: drift store unreadable"


# -- webhooks ---------------------------------------------------------------------------------


class Receiver:
    """A loopback HTTP server recording what is POSTed to it, answering with ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[tuple[str, dict, dict]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def sender(backend) -> Iterator[WebhookSender]:
    sender = WebhookSender(backend.alerts.set_webhook_status, timeout=2, retry_delays=(0.05, 0.05))
    yield sender
    sender.close(timeout=5)


def test_the_webhook_gets_the_firing_and_the_resolution(backend, receiver, sender):
    rule = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2, webhook_url=receiver.url, name="drift!")
    now = time.time()
    (fired,) = evaluate_alerts(backend, now, sender=sender, drift=lambda *_: ("age", 0.31))
    assert fired.webhook_status == "queued"
    assert sender.drain(10)
    ((path, headers, document),) = receiver.received
    assert path == "/hooks/T0KEN" and headers["Content-Type"] == "application/json"
    assert document == {
        "rule": {"id": rule.id, "name": "drift!"},
        "service": SERVICE,
        "kind": "drift",
        "state": FIRING,
        "value": 0.31,
        "threshold": 0.2,
        "message": fired.message,
        "fired_at": fired.fired_at.isoformat(),
        "resolved_at": None,
        "alert_id": fired.id,
        "run_id": None,
        "summary": "[Firing] svc: feature drift (PSI) above 0.2 (0.310)",
    }
    status = alerts(backend)[0].webhook_status
    assert status.startswith(f"delivered to http://127.0.0.1:{receiver.server.server_address[1]}/… (HTTP 200")
    assert "T0KEN" not in status  # the path (often a secret) is never shown
    (resolved,) = evaluate_alerts(backend, now + 60, sender=sender, drift=lambda *_: ("age", 0.01))
    assert sender.drain(10)
    assert [d["state"] for _, _, d in receiver.received] == [FIRING, RESOLVED]
    last = receiver.received[-1][2]
    assert last["resolved_at"] == resolved.resolved_at.isoformat() and last["message"] == resolved.message
    assert alerts(backend)[0].webhook_status.startswith("delivered")


def test_disabling_a_firing_rule_sends_the_resolution_through_the_agent(backend, receiver, sender):
    rule = backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2, webhook_url=receiver.url)
    now = time.time()
    evaluate_alerts(backend, now, sender=sender, drift=lambda *_: ("age", 0.31))
    backend.set_alert_rule_enabled(rule.id, False)  # from the dashboard or the CLI: no sender there
    # The Firing delivery may finish after the rule was disabled (it did once in CI): its status must not
    # erase the resolution still to send.
    assert sender.drain(10)
    (resolved,) = alerts(backend)
    assert resolved.state == RESOLVED and resolved.message.endswith("resolved: the rule was disabled")
    assert evaluate_alerts(backend, now + 60, sender=sender) == []  # the agent's next evaluation sends it
    assert sender.drain(10)
    assert [d["state"] for _, _, d in receiver.received] == [FIRING, RESOLVED]
    assert receiver.received[-1][2]["message"] == resolved.message
    assert alerts(backend)[0].webhook_status.startswith("delivered")
    evaluate_alerts(backend, now + 120, sender=sender)
    assert sender.drain(10) and len(receiver.received) == 2  # sent once


def test_a_failing_webhook_is_retried_recorded_and_does_not_break_evaluation(backend, sender):
    failing = Receiver(status=500)
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    try:
        backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2, webhook_url=failing.url)
        backend.create_alert_rule(SERVICE, kind="accuracy", threshold=0.8, webhook_url=closed)
        fired = evaluate_alerts(
            backend, time.time(), sender=sender, drift=lambda *_: ("age", 1.0), accuracy=lambda *_: 0
        )
        assert len(fired) == 2
        assert sender.drain(20)
        assert len(failing.received) == 3  # the first attempt and two retries
    finally:
        failing.close()
    statuses = {a.kind: a.webhook_status for a in alerts(backend)}
    assert statuses["drift"].startswith("failed after 3 attempt(s): http://127.0.0.1:")
    assert statuses["drift"].endswith("answered HTTP 500")
    assert statuses["accuracy"].startswith("failed after 3 attempt(s): could not post to")
    assert "no HTTP answer" in statuses["accuracy"]
    assert {a.state for a in alerts(backend)} == {FIRING}


def test_a_refused_webhook_address_is_refused_without_connecting(backend, sender):
    """The rule's checks refuse a metadata address given as an IP; one reached through a name is refused
    after resolution, before connecting (the loopback guard of the test session would fail a connection
    to it with another message)."""
    with pytest.raises(InvalidInput, match="it is a cloud metadata address"):
        backend.create_alert_rule(SERVICE, kind="drift", threshold=0.2, webhook_url="http://169.254.169.254/x")
    recorded = []
    direct = WebhookSender(lambda alert_id, outcome: recorded.append((alert_id, outcome)), retry_delays=(0.05,))
    try:
        direct.submit("a1", "http://169.254.169.254/latest/meta-data/", {"x": 1})
        direct.submit("a2", "http://[fe80::1]:8080/hook", {"x": 1})
        assert direct.drain(10)
    finally:
        direct.close()
    assert dict(recorded) == {
        "a1": "refused: refused to post to http://169.254.169.254/…: 169.254.169.254 is a cloud metadata address "
        "(169.254.169.254)",
        "a2": "refused: refused to post to http://[fe80::1]:8080/…: fe80::1 is a link-local address (fe80::1)",
    }


def test_a_full_webhook_queue_is_recorded_not_waited_for():
    release = threading.Event()
    recorded = []

    def slow_record(alert_id, outcome):
        if alert_id == "a1":  # the worker is busy with the first delivery
            release.wait(10)
        recorded.append((alert_id, outcome))

    sender = WebhookSender(slow_record, max_queued=1, retry_delays=())
    try:
        closed = f"http://127.0.0.1:{free_port()}/hook"
        assert sender.submit("a1", closed, {})
        wait_until(lambda: sender._queue.empty(), what="the worker taking the first delivery")
        assert sender.submit("a2", closed, {})
        started = time.monotonic()
        assert not sender.submit("a3", closed, {})
        assert time.monotonic() - started < 1
    finally:
        release.set()
        sender.close()
    assert ("a3", "not sent: 1 webhook deliveries were already waiting") in recorded


# -- retraining -------------------------------------------------------------------------------

TINY_PIPELINE = [
    {
        "name": "train",
        "type": "automl",
        "settings": {
            "dataset": "${dataset}",
            "label_column": "y",
            "experiment_timeout_minutes": 0.25,
            "max_iterations": 2,
            "n_cross_validations": 2,
        },
    }
]


def test_an_alert_starts_the_published_pipeline_with_the_trigger_alert(backend):
    """End to end: the agent evaluates the rule on its first tick, fires, triggers the published pipeline,
    and runs it to completion; the run's trigger is "Alert", shown so by the CLI."""
    from opml.agent.launcher import start_agent

    pipeline = backend.create_pipeline(name="retrain", steps=TINY_PIPELINE, parameters={"dataset": "bank"})
    published = backend.publish_pipeline(pipeline.id, name="Retrain Bank")
    with pytest.raises(InvalidInput, match=r"unknown parameter\(s\): nope; this pipeline takes: dataset"):
        backend.create_alert_rule(
            SERVICE, kind="failure_rate", threshold=5, pipeline=published.id, pipeline_parameters={"nope": 1}
        )
    rule = backend.create_alert_rule(
        SERVICE, kind="failure_rate", threshold=5, pipeline=published.id, pipeline_parameters={"dataset": "bank"}
    )
    assert rule.experiment == "Retrain-Bank" and rule.pipeline_parameters == {"dataset": "bank"}
    now = time.time()
    record(backend, [(now - 30 + i, 400 if i < 10 else 200, 2.0) for i in range(25)])
    agent = start_agent(backend.path, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        alert = wait_until(lambda: next(iter(backend.list_alerts(SERVICE, state=FIRING)), None), timeout=60)
        run_id = wait_until(lambda: backend.alerts.alert(alert.id).run_id, timeout=30, what="the alert's run")
        run = backend.wait_for_run(run_id, timeout=240)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    assert run.status == "Completed", run.error
    assert run.params["trigger"] == "Alert" and run.params["published_pipeline_id"] == published.id
    assert run.experiment == "Retrain-Bank" and run.params["parameters"] == {"dataset": "bank"}
    assert run.display_name.startswith("alert failure rate above 5 % on svc: failure rate 40.0 % is above 5 %")
    assert [r.id for r in backend.list_pipeline_runs(published_pipeline_id=published.id)] == [run_id]
    listing = opml("pipelines", "runs", "--published", published.id, workspace=backend.path)
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()[:2]
    assert "TRIGGER" in header and run_id in row and " Alert " in row


# -- surfaces -----------------------------------------------------------------------------------


def test_cli_alert_rules_and_alerts(backend, tmp_path: Path):
    ws = backend.path
    added = opml(
        "services", "alert-rule", "add", SERVICE, "--kind", "latency_p99", "--threshold", "250",
        "--window-minutes", "15", "--webhook", "https://hooks.example.com/services/SECRET", workspace=ws,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    rule_id = added.stdout.split()[2]
    assert added.stdout.strip() == f"alert rule {rule_id} on svc: p99 latency above 250 ms"
    listed = opml("services", "alert-rules", SERVICE, workspace=ws)
    assert listed.returncode == 0 and rule_id in listed.stdout and "https://hooks.example.com/…" in listed.stdout
    assert "SECRET" not in listed.stdout
    as_json = json.loads(opml("--json", "services", "alert-rules", SERVICE, workspace=ws).stdout)
    assert [(r["id"], r["kind"], r["threshold"], r["window_minutes"]) for r in as_json] == [
        (rule_id, "latency_p99", 250.0, 15.0)
    ]
    disabled = opml("services", "alert-rule", "disable", rule_id, workspace=ws)
    assert disabled.returncode == 0 and "is disabled" in disabled.stdout
    assert opml("services", "alert-rule", "enable", rule_id, workspace=ws).stdout.endswith("is enabled\n")
    bad = opml("services", "alert-rule", "add", SERVICE, "--kind", "accuracy", "--threshold", "85", workspace=ws)
    assert bad.returncode != 0 and "0.85 for 85 %" in bad.stderr
    orphan = opml("services", "alert-rule", "add", SERVICE, "--kind", "drift", "--threshold", "0.2", "--param", "a=1",
                  workspace=ws)  # fmt: skip
    assert orphan.returncode != 0 and "--param and --experiment go with --pipeline" in orphan.stderr

    now = time.time()
    record(backend, [(now - 50 + i, 200, 400.0) for i in range(30)])
    evaluate_alerts(backend, now)
    shown = opml("services", "alerts", SERVICE, workspace=ws)
    assert shown.returncode == 0, shown.stderr
    header, row = shown.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATE", "RULE"] and "Firing" in row and "400.0 ms" in row
    (document,) = json.loads(opml("--json", "services", "alerts", SERVICE, "--state", "Firing", workspace=ws).stdout)
    assert (document["state"], document["value"], document["rule_id"]) == (FIRING, 400.0, rule_id)
    assert json.loads(opml("--json", "services", "alerts", SERVICE, "--state", "Resolved", workspace=ws).stdout) == []
    missing = opml("services", "alerts", "nope", workspace=ws)
    assert missing.returncode != 0 and "no service named 'nope'" in missing.stderr
    deleted = opml("services", "alert-rule", "delete", rule_id, workspace=ws)
    assert deleted.returncode == 0 and backend.list_alert_rules() == []
    assert opml("services", "alert-rule", "delete", rule_id, workspace=ws).returncode != 0


def test_overview_shows_firing_alerts_only_when_some_fire(backend):
    at = page("pages/overview.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Firing alerts" not in [s.value for s in at.subheader]
    backend.create_alert_rule(SERVICE, kind="latency_p99", threshold=100, name="slow scoring")
    now = time.time()
    record(backend, [(now - 50 + i, 200, 180.0) for i in range(30)])
    (fired,) = evaluate_alerts(backend, now)
    at = page("pages/overview.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Firing alerts" in [s.value for s in at.subheader]
    table = next(df.value for df in at.dataframe if "Rule" in df.value.columns)
    assert table.to_dict("records") == [
        {
            "Service": SERVICE,
            "Rule": "slow scoring",
            "Value": "180.0 ms",
            "Threshold": "> 100.0 ms",
            "Since (UTC)": fired.fired_at.strftime("%Y-%m-%d %H:%M:%S"),
            "Message": fired.message,
        }
    ]
    evaluate_alerts(backend, now + 2 * 3600)  # no requests in the window: resolved
    at = page("pages/overview.py").run()
    assert "Firing alerts" not in [s.value for s in at.subheader]


def test_the_agent_evaluates_as_often_as_its_setting_says(tmp_path: Path, monkeypatch):
    from opml.agent.scheduler import Agent

    workspace = LocalBackend(tmp_path / "ws")
    monkeypatch.delenv("OPML_ALERT_EVALUATE_SECONDS", raising=False)
    assert Agent(workspace).alerts.period == 60
    monkeypatch.setenv("OPML_ALERT_EVALUATE_SECONDS", "5")
    assert Agent(workspace).alerts.period == 5
    for bad in ("0", "2.5", "3601", "soon"):
        monkeypatch.setenv("OPML_ALERT_EVALUATE_SECONDS", bad)
        with pytest.raises(InvalidInput, match="OPML_ALERT_EVALUATE_SECONDS must be"):
            Agent(workspace)
