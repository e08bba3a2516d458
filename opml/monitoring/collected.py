"""The collected data of a scoring service: where its Parquet files live, which to read, how to read them.

A service with data collection on writes its sampled requests under
``artifacts/services/NAME/collected/<YYYY-MM-DD>/<unix_ms>-<pid>-<seq>.parquet``:
the UTC date of the rows, then the time of the file's first row in milliseconds.
A file holds the rows of one minute at most (``FILE_SPAN_SECONDS``), so its name
says which rows it can hold: from its time to the end of that minute. Choosing
the files of a window reads folder and file names only, never a file.

File schema (one row per record of a request; other modules read it, keep it):

- ``request_id`` (string): the request's ``X-Ms-Request-Id``
- ``record`` (int32): the record's index in its request
- ``at`` (float64): the request's time, unix seconds
- ``deployment`` (string): the deployment that answered (its name; ``MODEL:VERSION`` in files written
  before endpoints held several deployments)
- ``input.<column>`` per column of the model's input schema: float64 for numeric and boolean columns,
  string for the others; null when the record left it out
- ``output.label`` (string): the predicted label (classification)
- ``output.proba.<class>`` (float64) per class (classification)
- ``output.prediction`` (float64): the predicted value (regression: no label, no probabilities). Readers also
  take a regression model's value from ``output.label`` when a file has no ``output.prediction`` (a number,
  or its text): see ``predicted_values``

The answers of mirrored (shadow) requests are kept the same way under ``mirrored/`` instead of
``collected/``: the same request ids, so labels join them too, and never mixed with what callers got.

Files are written under a temporary name (starting with ".") and renamed, so a reader never sees half of
one; ``collected_files`` ignores the temporary names.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

COLLECTED = "collected"
MIRRORED = "mirrored"  # the shadow answers of mirrored requests
FILE_SPAN_SECONDS = 60  # a file holds rows of one minute (of the request time) at most
INPUT_PREFIX = "input."
LABEL_COLUMN = "output.label"
PROBA_PREFIX = "output.proba."
PREDICTION_COLUMN = "output.prediction"  # a regression model's predicted value (float64)
KEY_COLUMNS = ("request_id", "record", "at", "deployment")
_FILE = re.compile(r"^(\d{1,16})-(\d{1,10})-(\d{1,12})\.parquet$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

log = logging.getLogger("opml.monitoring")


def collected_dir(service_dir: Path, folder: str = COLLECTED) -> Path:
    return Path(service_dir) / folder


def day_folder(at: float) -> str:
    """The UTC date folder of a moment (epoch seconds)."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")


def file_name(first_at: float, pid: int, seq: int) -> str:
    return f"{int(first_at * 1000)}-{pid}-{seq}.parquet"


def span_of(path: Path) -> tuple[float, float] | None:
    """(first row's time, end of the minute it is in) of a collected file, from its name; None for another
    file (a temporary one, something a user left)."""
    match = _FILE.match(path.name)
    if match is None:
        return None
    first = int(match.group(1)) / 1000
    return first, (first // FILE_SPAN_SECONDS + 1) * FILE_SPAN_SECONDS


def _day_start(name: str) -> float | None:
    if not _DAY.match(name):
        return None
    try:
        return dt.datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def collected_files(
    service_dir: Path, *, since: float | None = None, until: float | None = None, folder: str = COLLECTED
) -> list[Path]:
    """The service's collected files (``folder``: ``COLLECTED`` or ``MIRRORED``) that may hold rows with
    ``since <= at <= until`` (epoch seconds), oldest first. Chosen by their date folder and file name only
    (cheap: no file is opened). Empty when the service never collected."""
    root = collected_dir(service_dir, folder)
    if not root.is_dir():
        return []
    chosen: list[tuple[float, str, Path]] = []
    for day in root.iterdir():
        start = _day_start(day.name)
        if start is None or not day.is_dir():
            continue
        if since is not None and start + 86_400 <= since:
            continue
        if until is not None and start > until:
            continue
        try:
            paths = list(day.iterdir())
        except FileNotFoundError:  # deleted by retention meanwhile
            continue
        for path in paths:
            span = span_of(path)
            if span is None:
                continue
            first, end = span
            if (since is not None and end <= since) or (until is not None and first > until):
                continue
            chosen.append((first, path.name, path))
    return [path for _, _, path in sorted(chosen)]


def read_collected(
    files: Sequence[Path], columns: Sequence[str] | None = None, *, skipped: list[str] | None = None
) -> pa.Table:
    """The rows of ``files``, concatenated in the order given. ``columns`` picks columns (only those are
    read from disk); a column a file lacks (an older file, before the model's schema changed) is null in
    that file's rows. Files that vanished meanwhile (retention) are skipped; a file that cannot be read
    (cut short by a crash or a full disk, not Parquet) is left out and its path appended to ``skipped``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in files:
        try:
            if columns is None:
                table = pq.read_table(path)
            else:
                present = set(pq.read_schema(path).names)
                table = pq.read_table(path, columns=[c for c in columns if c in present])
        except FileNotFoundError:
            continue
        except (OSError, pa.ArrowException) as exc:
            log.warning("collected file %s cannot be read and is left out: %s", path, exc)
            if skipped is not None:
                skipped.append(str(path))
            continue
        tables.append(table)
    if not tables:
        return pa.table({name: pa.array([], pa.null()) for name in columns or ()})
    combined = pa.concat_tables(tables, promote_options="permissive")
    if columns is None:
        return combined
    for name in columns:
        if name not in combined.column_names:
            combined = combined.append_column(name, pa.nulls(combined.num_rows))
    return combined.select(list(columns))


def prune_collected(service_dir: Path, older_than: float) -> int:
    """Delete the collected rows (and mirrored answers) older than ``older_than`` (epoch seconds): whole date
    folders that ended before it, and in the boundary day the files whose minute ended before it. Returns the
    files deleted."""
    return sum(_prune(collected_dir(service_dir, folder), older_than) for folder in (COLLECTED, MIRRORED))


def _prune(root: Path, older_than: float) -> int:
    if not root.is_dir():
        return 0
    removed = 0
    for day in list(root.iterdir()):
        start = _day_start(day.name)
        if start is None or not day.is_dir():
            continue
        if start + 86_400 <= older_than:
            removed += sum(1 for path in day.iterdir() if span_of(path) is not None)
            shutil.rmtree(day, ignore_errors=True)
            continue
        if start >= older_than:
            continue
        for path in list(day.iterdir()):
            span = span_of(path)
            if span is not None and span[1] <= older_than:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows as flat dicts (column name -> value)."""
    return table.to_pylist()


def predicted_values(table: pa.Table) -> pa.ChunkedArray:
    """A regression service's predicted values (float64) of ``table``'s rows: ``output.prediction``, else
    ``output.label`` read as a number (null where neither holds one). Raises InvalidInput when ``output.label``
    holds text that is not a number (a file of a classifier)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = []
    for name in (PREDICTION_COLUMN, LABEL_COLUMN):
        if name not in table.column_names:
            continue
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        try:
            values.append(pc.cast(column, pa.float64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(
                f"the collected {name} is not a number ({exc}): were these rows collected from a classifier?"
            ) from None
    if not values:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.float64())])
    return values[0] if len(values) == 1 else pc.coalesce(*values)
