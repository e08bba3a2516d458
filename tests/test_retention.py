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
