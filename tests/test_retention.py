"""Telemetry older than the retention period is pruned by the agent; newer rows stay."""

from __future__ import annotations

import time

from opml.agent.retention import PRUNE_EVERY_SECONDS, Retention
from opml.backends.local import LocalBackend
from opml.settings import get_settings
from tests.helpers import wait_until

DAY = 86_400


def _insert(backend: LocalBackend, ages_in_days: list[float]) -> None:
    now = time.time()
    with backend.store.transaction() as connection:
        connection.executemany(
            """INSERT INTO telemetry (service, at, request_id, status, latency_ms, records, predictions, error,
               client) VALUES ('svc', ?, ?, 200, 1.0, 1, '{}', NULL, '127.0.0.1')""",
            [(now - age * DAY, f"r{i}") for i, age in enumerate(ages_in_days)],
        )


def _ages(backend: LocalBackend) -> list[int]:
    now = time.time()
    return sorted(round((now - row["at"]) / DAY) for row in backend.store.query("SELECT at FROM telemetry"))


def test_rows_past_the_retention_period_go_in_chunks(local_backend: LocalBackend, monkeypatch):
    monkeypatch.setenv("OPML_TELEMETRY_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    _insert(local_backend, [1, 6, 8, 40] + [10] * 25)
    retention = Retention(local_backend)
    assert local_backend.services.prune_telemetry(time.time() - 9 * DAY, chunk=10) == 26  # several chunks
    assert retention.tick() == 1  # the 8-day-old row, at the first tick
    assert _ages(local_backend) == [1, 6]
    _insert(local_backend, [20])
    assert retention.tick() == 0  # not again within the hour
    assert retention.tick(now=time.time() + PRUNE_EVERY_SECONDS) == 1


def test_the_agent_prunes_when_it_starts(local_backend: LocalBackend):
    from opml.agent.launcher import start_agent

    _insert(local_backend, [1, 45])  # the default retention is 30 days
    agent = start_agent(local_backend.path)
    try:
        wait_until(lambda: _ages(local_backend) == [1], timeout=20, what="the agent to prune the 45-day-old row")
    finally:
        agent.terminate()
        agent.wait(timeout=15)


def test_logs_over_the_limit_rotate_and_the_tail_is_read_from_the_end(local_backend: LocalBackend, monkeypatch):
    from opml.files import rotate_log, tail_lines

    monkeypatch.setenv("OPML_LOG_MAX_MB", "1")
    get_settings.cache_clear()
    layout = local_backend.layout
    agent_log = layout.agent_log
    agent_log.parent.mkdir(parents=True, exist_ok=True)
    with agent_log.open("a") as handle:  # a writer that stays open, as the agent's stdout does
        handle.write("".join(f"line {i}\n" for i in range(150_000)))  # ~1.6 MB
        handle.flush()
        assert Retention(local_backend).rotate_logs(time.time()) == ["agent.log"]
        handle.write("after rotation\n")
        handle.flush()
    assert agent_log.read_text() == "after rotation\n"  # appended at the new end, no hole of zeros
    previous = agent_log.with_name("agent.log.1")
    assert tail_lines(previous, 2) == ["line 149998", "line 149999"]
    assert previous.stat().st_mode & 0o077 == 0
    assert not rotate_log(agent_log, 1_000_000)  # small again


def test_service_logs_read_across_a_rotation(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    path = trained_backend.layout.service_log("svc")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_name("svc.log.1").write_text("old 1\nold 2\n")
    path.write_text("new 1\n")
    assert trained_backend.get_service_logs("svc", tail=2) == "old 2\nnew 1"
    assert trained_backend.get_service_logs("svc", tail=1) == "new 1"
