"""Mirror (shadow) traffic: a copy of a request scored by a deployment whose answer is recorded, not returned.

The request handler only hands the already parsed records and the live labels to one background thread;
the caller's answer never waits for the shadow. At most ``MAX_PENDING`` copies wait; more are dropped and
counted (``Service.mirror_dropped``; a slow shadow model never builds up memory or delays the live one).
Each shadow answer becomes a telemetry row marked ``mirrored`` with how many records it predicted as the
live answer did (its agreement), and, when the live request was collected, a row set in the service's
``mirrored/`` data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from opml.serving.router import LoadedDeployment
from opml.serving.validation import Payload, RequestError

log = logging.getLogger("opml.serving.mirror")

MAX_PENDING = 64


class Mirror:
    def __init__(self, telemetry: Any, telemetry_on: Callable[[], bool], max_pending: int = MAX_PENDING):
        self._telemetry = telemetry
        self._telemetry_on = telemetry_on
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror")
        self.dropped = 0
        self.answered = 0

    def submit(
        self,
        shadow: LoadedDeployment,
        payload: Payload,
        live_labels: Sequence[str],
        *,
        request_id: str,
        at: float,
        collect: bool,
        client: str | None,
    ) -> bool:
        """Queue the shadow scoring of a live request; False (and counted) when too many already wait."""
        with self._lock:
            if self._pending >= self._max_pending:
                self.dropped += 1
                if self._telemetry is not None:  # shown as Service.mirror_dropped
                    self._telemetry.count_mirror_dropped()
                return False
            self._pending += 1
        self._executor.submit(self._run, shadow, payload, list(live_labels), request_id, at, collect, client)
        return True

    def _run(self, shadow, payload, live_labels, request_id, at, collect, client) -> None:
        try:
            self._score(shadow, payload, live_labels, request_id, at, collect, client)
        except Exception:  # never let a shadow's failure stop the thread
            log.exception("mirrored request %s failed", request_id)
        finally:
            with self._lock:
                self._pending -= 1

    def _score(self, shadow, payload, live_labels, request_id, at, collect, client) -> None:
        started = time.perf_counter()
        status, error, labels, agreed = 200, None, [], None
        try:
            shadow.validator.check(payload.records)
            proba = shadow.model.predict_proba_records(payload.records)
            labels = [str(label) for label in shadow.model.labels_for(proba)]
            agreed = sum(mine == theirs for mine, theirs in zip(labels, live_labels, strict=False))
        except RequestError as exc:  # the shadow's schema refuses what the live deployment took
            status, error = exc.status, exc.message
        except Exception as exc:
            status, error = 500, f"the mirrored deployment failed: {type(exc).__name__}"
            log.exception("deployment %s failed on a mirrored request", shadow.name)
        latency_ms = (time.perf_counter() - started) * 1000
        self.answered += 1
        if status == 200 and collect and shadow.mirror_collection is not None:
            shadow.mirror_collection.record(
                request_id=request_id, at=at, records=payload.records, labels=labels, proba=proba
            )
        if self._telemetry is not None and self._telemetry_on():
            self._telemetry.record(
                at=time.time(),
                request_id=request_id,
                status=status,
                latency_ms=latency_ms,
                records=len(payload.records),
                predictions=orjson.dumps(Counter(labels)).decode(),
                error=error,
                client=client,
                deployment=shadow.name,
                mirrored=True,
                agreed=agreed,
            )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
