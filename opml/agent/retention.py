"""What the agent keeps bounded over time: telemetry rows older than the retention period go."""

from __future__ import annotations

import logging
import time

from opml.backends.local.backend import LocalBackend
from opml.settings import get_settings

log = logging.getLogger("opml.agent")

PRUNE_EVERY_SECONDS = 3600.0


class Retention:
    """Prunes at the agent's first tick, then once an hour."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self._last: float | None = None

    def tick(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        if self._last is not None and now - self._last < PRUNE_EVERY_SECONDS:
            return 0
        self._last = now
        days = get_settings().telemetry_retention_days
        removed = self.backend.services.prune_telemetry(now - days * 86_400)
        if removed:
            log.info("pruned %d telemetry rows older than %d days", removed, days)
        return removed
