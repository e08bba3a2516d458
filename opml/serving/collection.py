"""Data collection of a scoring service (opt-in, like Azure's model data collection): off the request path,
in bounded memory.

The request handler only appends the request's validated records, labels and
probabilities to an in-memory queue (``record`` never blocks). A writer thread
builds Arrow tables from them and writes Parquet files (see
``opml.monitoring.collected`` for the layout and the schema) every
``FLUSH_SECONDS`` or ``FLUSH_ROWS`` rows, and on ``close``. For a regression model (no classes) the
prediction column (``output.label``) holds the predicted value as float64 and there are no
``output.proba.*`` columns. What a user should know
(rows written, dropped, the last error) is kept in ``collection.json``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opml.files import PRIVATE_FILE, make_private_dir, write_private_file
from opml.monitoring.collected import (
    COLLECTED,
    FILE_SPAN_SECONDS,
    INPUT_PREFIX,
    LABEL_COLUMN,
    PROBA_PREFIX,
    collected_dir,
    day_folder,
    file_name,
)

log = logging.getLogger("opml.serving.collection")

FLUSH_SECONDS = 5.0
FLUSH_ROWS = 10_000
MAX_QUEUED_ROWS = 100_000  # records waiting for the writer; more are dropped and counted
MAX_ERROR = 300

NUMERIC_TYPES = ("numeric", "boolean")
# File numbers shared by the writers of one process (one per deployment write into the same folders).
_FILE_NUMBERS = itertools.count(1)


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


class CollectionWriter:
    """Collects the inputs and outputs of scored requests into Parquet files, in bounded memory.

    ``record`` never blocks: past ``MAX_QUEUED_ROWS`` waiting records it drops the request's records and
    counts them. The writer thread survives any error (a batch the disk refuses is counted as dropped, not
    retried). ``close`` writes what is left.
    """

    def __init__(
        self,
        service_dir: Path,
        *,
        deployment: str,
        input_schema: Sequence[Mapping[str, Any]],
        classes: Sequence[str],
        task: str | None = None,
        status_path: Path | None = None,
        folder: str = COLLECTED,
        flush_seconds: float = FLUSH_SECONDS,
        flush_rows: int = FLUSH_ROWS,
        max_queued_rows: int = MAX_QUEUED_ROWS,
    ):
        self.root = collected_dir(service_dir, folder)
        self.deployment = deployment
        self.status_path = status_path
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.max_queued_rows = max_queued_rows
        self._inputs = [(str(c["name"]), c.get("type") in NUMERIC_TYPES) for c in input_schema]
        self._classes = [str(c) for c in classes]
        # A regressor (no classes) writes its predicted values as float64 and no probability columns.
        self.regression = task == "regression" if task is not None else not self._classes
        if self.regression:
            self._classes = []
        self._schema: Any = None  # built by the writer thread (pyarrow is imported when first needed)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued_rows = 0
        self.rows_written = 0
        self.files_written = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._reported: tuple | None = None
        self._stop = threading.Event()
        self._save_status()
        self._thread = threading.Thread(target=self._run, name="collection-writer", daemon=True)
        self._thread.start()

    # -- the request path ----------------------------------------------------------

    def record(
        self, *, request_id: str, at: float, records: Sequence[Mapping[str, Any]], labels: Sequence[str], proba: Any
    ) -> bool:
        """Queue one request's records with their predicted labels and probabilities (rows of ``proba``, one
        per class); for a regressor, ``labels`` are the predicted values and ``proba`` is None. Returns False
        when the queue is full (the records are dropped and counted)."""
        count = len(records)
        with self._lock:
            if self._queued_rows + count > self.max_queued_rows:
                self.dropped += count
                return False
            self._queued_rows += count
        self._queue.put((request_id, at, records, labels, proba))
        return True

    # -- the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple] = []
        rows = 0
        oldest = 0.0
        while True:
            due = oldest + self.flush_seconds - time.monotonic() if pending else 0.25
            timeout = min(0.25, max(0.01, due))  # the stop flag is seen within a quarter second
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is not None:
                if not pending:
                    oldest = time.monotonic()
                pending.append(item)
                rows += len(item[2])
            stopping = self._stop.is_set() and item is None
            if pending and (rows >= self.flush_rows or time.monotonic() - oldest >= self.flush_seconds or stopping):
                self._flush_safely(pending, rows)
                pending, rows = [], 0
            if stopping and self._queue.empty():
                break
        self._save_status()

    def _flush_safely(self, pending: list[tuple], rows: int) -> None:
        with self._lock:
            self._queued_rows -= rows
        try:
            self._flush(pending)
        except Exception as exc:  # a full disk, a value Arrow refuses: count the rows, keep the thread alive
            log.warning("collected batch of %d record(s) lost: %s", rows, exc)
            with self._lock:
                self.dropped += rows
            message = f"{type(exc).__name__}: {exc}"
            self.last_error = message if len(message) <= MAX_ERROR else message[: MAX_ERROR - 1] + "…"
        self._save_status()

    def _flush(self, pending: list[tuple]) -> None:
        """Write the pending requests: one file per minute of request time (see ``FILE_SPAN_SECONDS``)."""
        by_minute: dict[int, list[tuple]] = {}
        for item in pending:
            by_minute.setdefault(int(item[1] // FILE_SPAN_SECONDS), []).append(item)
        for minute in sorted(by_minute):
            items = by_minute[minute]
            table = self._table(items)
            first = min(item[1] for item in items)
            self._write(table, first)

    @property
    def schema(self) -> Any:
        """The files' Arrow schema (see ``opml.monitoring.collected``)."""
        if self._schema is None:
            import pyarrow as pa

            self._schema = pa.schema(
                [
                    pa.field("request_id", pa.string()),
                    pa.field("record", pa.int32()),
                    pa.field("at", pa.float64()),
                    pa.field("deployment", pa.string()),
                    *(
                        pa.field(INPUT_PREFIX + name, pa.float64() if numeric else pa.string())
                        for name, numeric in self._inputs
                    ),
                    pa.field(LABEL_COLUMN, self._prediction_type()),
                    *(pa.field(PROBA_PREFIX + name, pa.float64()) for name in self._classes),
                ]
            )
        return self._schema

    def _prediction_type(self) -> Any:
        import pyarrow as pa

        return pa.float64() if self.regression else pa.string()

    def _table(self, items: list[tuple]) -> Any:
        import pyarrow as pa

        request_ids: list[str] = []
        positions: list[int] = []
        times: list[float] = []
        inputs: dict[str, list] = {name: [] for name, _ in self._inputs}
        labels: list = []
        convert_prediction = _as_float if self.regression else str
        probas: list[list[float]] = [[] for _ in self._classes]
        for request_id, at, records, predicted, proba in items:
            count = len(records)
            request_ids.extend([request_id] * count)
            positions.extend(range(count))
            times.extend([at] * count)
            for name, numeric in self._inputs:
                convert = _as_float if numeric else _as_text
                inputs[name].extend(convert(record.get(name)) for record in records)
            labels.extend(convert_prediction(label) for label in predicted)
            for index, column in enumerate(probas):
                column.extend(float(row[index]) for row in proba)
        columns = [
            pa.array(request_ids, pa.string()),
            pa.array(positions, pa.int32()),
            pa.array(times, pa.float64()),
            pa.array([self.deployment] * len(request_ids), pa.string()),
            *(pa.array(inputs[name], pa.float64() if numeric else pa.string()) for name, numeric in self._inputs),
            pa.array(labels, self._prediction_type()),
            *(pa.array(column, pa.float64()) for column in probas),
        ]
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _write(self, table: Any, first_at: float) -> None:
        """Write under a temporary name (owner-only), then rename: a reader never sees half a file."""
        import pyarrow.parquet as pq

        folder = make_private_dir(self.root / day_folder(first_at))
        final = folder / file_name(first_at, os.getpid(), next(_FILE_NUMBERS))
        temp = folder / f".{final.name}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as handle:
                pq.write_table(table, handle, compression="zstd")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        self.rows_written += table.num_rows
        self.files_written += 1

    def _save_status(self) -> None:
        """Write the status file when what it says changed."""
        current = (self.rows_written, self.dropped, self.last_error)
        if self.status_path is None or current == self._reported:
            return
        self._reported = current
        document = {
            "rows": self.rows_written,
            "files": self.files_written,
            "dropped": self.dropped,
            "last_error": self.last_error,
            "updated_at": time.time(),
        }
        try:
            write_private_file(self.status_path, json.dumps(document).encode())
        except OSError as exc:
            log.warning("could not write the collection status (%s)", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
