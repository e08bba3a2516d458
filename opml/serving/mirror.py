"""Mirror (shadow) traffic: a copy of a request scored by a deployment whose answer is recorded, not returned.

The request handler only appends the already parsed records and the live labels to a queue; the caller's
answer never waits for the shadow. One background thread scores the waiting copies **in batches**: it
collects them for up to ``BATCH_SECONDS`` (or ``BATCH_RECORDS`` records) and predicts them all in one call.
Why: the shadow shares the serving process, so while it predicts, a live request waits for the GIL. Scoring
one copy at a time, a VotingEnsemble shadow held the GIL ~1.2 ms per mirrored request and a client sending
back to back always arrived during it (+0.8-1.0 ms at p50, ``python -m opml.bench rollout``); a batch of
dozens costs about what one record does, so few live requests ever meet it.

At most ``MAX_PENDING_RECORDS`` records wait; more are dropped and counted (``Service.mirror_dropped``): a
slow shadow never builds up memory or delays the live one. Each copy becomes a telemetry row marked
``mirrored`` with how many records it predicted as the live answer did (its agreement) and, as its
latency, how long the batch holding it took to predict; when the live request was collected, its records
go to the service's ``mirrored/`` data too.

Agreement: a classifier's record agrees when the shadow predicts the same label. A regressor's record agrees
when the shadow's predicted value is within ``AGREE_RELATIVE`` (1 %) of the live one, relative to the larger
of the two in magnitude, or within ``AGREE_ABSOLUTE`` (1e-9) of it (``math.isclose``): two equal models
agree on every record, two values on either side of zero never do unless both are tiny.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opml.serving.router import LoadedDeployment
from opml.serving.telemetry import predictions_column
from opml.serving.validation import Payload, RequestError

log = logging.getLogger("opml.serving.mirror")

AGREE_RELATIVE = 0.01
AGREE_ABSOLUTE = 1e-9
MAX_PENDING_RECORDS = 20_000
BATCH_SECONDS = 0.25
BATCH_RECORDS = 2_000


@dataclass
class _Copy:
    shadow: LoadedDeployment
    payload: Payload
    live_labels: list  # the live answer's labels (text), or predicted values (floats) for a regressor
    request_id: str
    at: float
    collect: bool
    client: str | None


class Mirror:
    def __init__(
        self,
        telemetry: Any,
        telemetry_on: Callable[[], bool],
        max_pending_records: int = MAX_PENDING_RECORDS,
        batch_seconds: float = BATCH_SECONDS,
    ):
        self._telemetry = telemetry
        self._telemetry_on = telemetry_on
        self._max_pending = max_pending_records
        self._batch_seconds = batch_seconds
        self._waiting: list[_Copy] = []
        self._pending_records = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stop = False
        self.dropped = 0
        self.answered = 0
        self._thread = threading.Thread(target=self._run, name="mirror", daemon=True)
        self._thread.start()

    def submit(
        self,
        shadow: LoadedDeployment,
        payload: Payload,
        live_labels: Sequence,
        *,
        request_id: str,
        at: float,
        collect: bool,
        client: str | None,
    ) -> bool:
        """Queue the shadow scoring of a live request; False (and counted) when too many records already wait."""
        count = len(payload.records)
        with self._lock:
            if self._stop or self._pending_records + count > self._max_pending:
                self.dropped += 1
                if self._telemetry is not None:  # shown as Service.mirror_dropped
                    self._telemetry.count_mirror_dropped()
                return False
            self._pending_records += count
            self._waiting.append(_Copy(shadow, payload, list(live_labels), request_id, at, collect, client))
            if len(self._waiting) == 1:
                self._arrived.notify()
        return True

    # -- the mirror thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stop:
                    self._arrived.wait()
                if not self._waiting and self._stop:
                    return
            if not self._stop:
                time.sleep(self._batch_seconds)  # let a batch gather
            with self._lock:
                batch, self._waiting = self._waiting[:], []
            try:
                self._score_batch(batch)
            except Exception:  # never let a shadow's failure stop the thread
                log.exception("a batch of %d mirrored request(s) failed", len(batch))
            finally:
                with self._lock:
                    self._pending_records -= sum(len(copy.payload.records) for copy in batch)

    def _score_batch(self, batch: list[_Copy]) -> None:
        by_shadow: dict[int, list[_Copy]] = {}
        for copy in batch:
            by_shadow.setdefault(id(copy.shadow), []).append(copy)
        for copies in by_shadow.values():
            chunk: list[_Copy] = []
            records = 0
            for copy in copies:
                chunk.append(copy)
                records += len(copy.payload.records)
                if records >= BATCH_RECORDS:
                    self._score_together(chunk)
                    chunk, records = [], 0
            if chunk:
                self._score_together(chunk)

    def _score_together(self, copies: list[_Copy]) -> None:
        """One prediction for the records of ``copies`` (one shadow), then a telemetry row per copy."""
        shadow = copies[0].shadow
        valid: list[_Copy] = []
        outcome: dict[int, tuple[int, str | None]] = {}
        for copy in copies:
            try:
                shadow.validator.check(copy.payload.records)
                valid.append(copy)
            except RequestError as exc:  # the shadow's schema refuses what the live deployment took
                outcome[id(copy)] = (exc.status, exc.message)
        started = time.perf_counter()
        labels: list = []
        proba: Any = None
        if valid:
            records = [record for copy in valid for record in copy.payload.records]
            try:
                if shadow.regression:
                    labels = shadow.model.predict_records(records).tolist()
                else:
                    proba = shadow.model.predict_proba_records(records)
                    labels = [str(label) for label in shadow.model.labels_for(proba)]
            except Exception as exc:
                log.exception("deployment %s failed on mirrored requests", shadow.name)
                for copy in valid:
                    outcome[id(copy)] = (500, f"the mirrored deployment failed: {type(exc).__name__}")
                valid = []
        latency_ms = (time.perf_counter() - started) * 1000
        offset = 0
        for copy in copies:
            status, error = outcome.get(id(copy), (200, None))
            mine: list = []
            agreed = None
            if status == 200:
                count = len(copy.payload.records)
                mine = labels[offset : offset + count]
                rows = None if proba is None else proba[offset : offset + count]
                offset += count
                agreed = agreement(mine, copy.live_labels, regression=shadow.regression)
                if copy.collect and shadow.mirror_collection is not None:
                    shadow.mirror_collection.record(
                        request_id=copy.request_id, at=copy.at, records=copy.payload.records, labels=mine, proba=rows
                    )
            self.answered += 1
            self._record(copy, status, error, mine, agreed, latency_ms, shadow.regression)

    def _record(
        self, copy: _Copy, status: int, error: str | None, labels: list, agreed, latency_ms, regression: bool
    ) -> None:
        if self._telemetry is None or not self._telemetry_on():
            return
        self._telemetry.record(
            at=time.time(),
            request_id=copy.request_id,
            status=status,
            latency_ms=latency_ms,
            records=len(copy.payload.records),
            predictions=predictions_column(labels, regression=regression),
            error=error,
            client=copy.client,
            deployment=copy.shadow.name,
            mirrored=True,
            agreed=agreed,
        )

    def close(self) -> None:
        """Score what waits, then stop the thread."""
        with self._lock:
            self._stop = True
            self._arrived.notify()
        self._thread.join(timeout=60)


def agreement(shadow: Sequence, live: Sequence, *, regression: bool) -> int:
    """How many records the shadow predicted as the live answer did (see the module's docstring)."""
    if not regression:
        return sum(a == b for a, b in zip(shadow, live, strict=False))
    return sum(
        isinstance(b, float) and math.isclose(a, b, rel_tol=AGREE_RELATIVE, abs_tol=AGREE_ABSOLUTE)
        for a, b in zip(shadow, live, strict=False)
    )
