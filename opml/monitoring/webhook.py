"""Webhooks of alerts: JSON POSTed off the agent's tick, in bounded memory, retried, outcome recorded.

``WebhookSender.submit`` never blocks: it puts the delivery on a bounded queue (past ``MAX_QUEUED`` the
delivery is not attempted and says so). One worker thread posts each with ``opml.data.download.post_json``
(the dataset downloads' address rules: no link-local or cloud-metadata address, checked after DNS
resolution and again on the connected socket), ``TIMEOUT_SECONDS`` per attempt, and retries a failed one
after each of ``RETRY_DELAYS`` (a refused address is not retried: it would be refused again). The outcome,
in words, goes to the ``record`` callback (the agent stores it on the alert as ``webhook_status``) and to
the log, which names only the URL's scheme and host: a webhook's path often carries a secret token.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opml.errors import InvalidInput
from opml.monitoring.rules import shown_url

log = logging.getLogger("opml.monitoring.webhook")

MAX_QUEUED = 100
TIMEOUT_SECONDS = 5.0
RETRY_DELAYS = (2.0, 10.0)  # seconds before the second and third attempts

Recorder = Callable[[str, str], None]  # (alert id, outcome in words)


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    url: str
    document: dict[str, Any]


class WebhookSender:
    def __init__(
        self,
        record: Recorder,
        *,
        timeout: float = TIMEOUT_SECONDS,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        max_queued: int = MAX_QUEUED,
    ):
        self._record = record
        self.timeout = timeout
        self.retry_delays = retry_delays
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=max_queued)
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)
        self._thread.start()

    def submit(self, alert_id: str, url: str, document: dict[str, Any]) -> bool:
        """Queue a delivery; False (and recorded as not sent) when the queue is full or the sender closed."""
        if self._stop.is_set():
            self._safe_record(alert_id, "not sent: the agent was stopping")
            return False
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(Delivery(alert_id, url, document))
        except queue.Full:
            self._done()
            self._safe_record(alert_id, f"not sent: {self._queue.maxsize} webhook deliveries were already waiting")
            log.warning("alert %s: webhook to %s not sent (queue full)", alert_id, shown_url(url))
            return False
        return True

    def drain(self, timeout: float) -> bool:
        """Wait until every queued delivery has ended (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued within ``timeout`` seconds, then stop the worker (retries are cut short)."""
        self.drain(timeout)
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=1.0)

    # -- the worker ------------------------------------------------------------------------

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                outcome = self._deliver(delivery)
                self._safe_record(delivery.alert_id, outcome)
            except Exception:  # the worker outlives any error
                log.exception("alert %s: webhook delivery failed unexpectedly", delivery.alert_id)
            finally:
                self._done()

    def _deliver(self, delivery: Delivery) -> str:
        from opml.data.download import post_json

        shown = shown_url(delivery.url)
        attempts = 1 + len(self.retry_delays)
        problem, made = "", 0
        for attempt in range(attempts):
            if attempt and self._stop.wait(self.retry_delays[attempt - 1]):
                break
            made += 1
            try:
                status = post_json(delivery.url, delivery.document, timeout=self.timeout, shown=shown)
            except InvalidInput as exc:
                problem = str(exc)
                if str(exc).startswith("refused to post"):
                    log.warning("alert %s: webhook %s", delivery.alert_id, problem)
                    return f"refused: {problem}"
            else:
                if 200 <= status < 300:
                    log.info("alert %s: webhook to %s answered HTTP %d", delivery.alert_id, shown, status)
                    return f"delivered to {shown} (HTTP {status}, attempt {attempt + 1})"
                problem = f"{shown} answered HTTP {status}"
            log.warning("alert %s: webhook attempt %d of %d failed: %s", delivery.alert_id, made, attempts, problem)
        return f"failed after {made} attempt(s): {problem}"

    def _safe_record(self, alert_id: str, outcome: str) -> None:
        try:
            self._record(alert_id, outcome)
        except Exception:  # e.g. the store busy: the outcome is in the log
            log.exception("alert %s: could not record the webhook outcome (%s)", alert_id, outcome)
