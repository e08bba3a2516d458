"""What the agent keeps bounded over time: telemetry rows older than the retention period, each service's
collected data older than its own retention (``collection_retention_days``), and log files (its own and the
scoring services') larger than ``OPML_LOG_MAX_MB``."""

from __future__ import annotations

import logging
import time

from opml.backends.local.backend import LocalBackend
from opml.files import rotate_log
from opml.monitoring.collected import prune_collected
from opml.settings import get_settings

log = logging.getLogger("opml.agent")

PRUNE_EVERY_SECONDS = 3600.0
ROTATE_EVERY_SECONDS = 10.0


class Retention:
    """Prunes telemetry and collected data at the agent's first tick and hourly; rotates logs at most every
    10 s."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self._pruned_at: float | None = None
        self._rotated_at: float | None = None

    def tick(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self.rotate_logs(now)
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return 0
        self._pruned_at = now
        days = get_settings().telemetry_retention_days
        removed = self.backend.services.prune_telemetry(now - days * 86_400)
        if removed:
            log.info("pruned %d telemetry rows older than %d days", removed, days)
        self.prune_collected(now)
        return removed

    def prune_collected(self, now: float) -> dict[str, int]:
        """Delete each service's collected files older than its retention; returns the files deleted per
        service (those that lost any). A service whose settings cannot be read is skipped (logged)."""
        removed: dict[str, int] = {}
        for service in self.backend.list_services():
            try:
                count = prune_collected(
                    self.backend.layout.service_dir(service.name), now - service.collection_retention_days * 86_400
                )
            except OSError as exc:
                log.warning("could not prune the collected data of %s: %s", service.name, exc)
                continue
            if count:
                removed[service.name] = count
                log.info(
                    "deleted %d collected file(s) of %s older than %d days",
                    count,
                    service.name,
                    service.collection_retention_days,
                )
        return removed

    def rotate_logs(self, now: float) -> list[str]:
        """Rotate the logs over the size limit; returns their names."""
        if self._rotated_at is not None and now - self._rotated_at < ROTATE_EVERY_SECONDS:
            return []
        self._rotated_at = now
        layout = self.backend.layout
        limit = get_settings().log_max_mb * 1_000_000
        logs = [layout.agent_log, *sorted((layout.logs / "services").glob("*.log"))]
        rotated = [path.name for path in logs if rotate_log(path, limit)]
        if rotated:
            log.info("rotated %s (over %d MB)", ", ".join(rotated), limit // 1_000_000)
        return rotated
