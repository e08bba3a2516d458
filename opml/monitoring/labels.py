"""Ground truth that arrives after a request was scored: labels for (request id, record), checked once here
for every way in (``Backend.add_service_labels``, ``POST /labels`` on the service, the CLI's CSV)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opml.errors import InvalidInput

MAX_LABELS = 100_000  # labels per call (or CSV file)
MAX_RECORD = 9_999  # a request holds at most 10,000 records
MAX_LABEL_CHARS = 200
REQUEST_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CSV_COLUMNS = ("request_id", "label", "record")


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:60]}… ({len(text):,} characters)"


def check_labels(
    labels: object,
    classes: Sequence[str] | None = None,
    *,
    where: Callable[[int], str] | None = None,
    task: str | None = None,
) -> list[tuple[str, int, str]]:
    """``labels`` (a list of ``{"request_id", "label", "record" (optional, default 0)}``) as clean
    (request_id, record, label) tuples. ``where(i)`` names the i-th label in an error (default "label i+1").
    Raises InvalidInput naming the first bad one.

    What a label may be depends on the served model: ``task="regression"``, or ``classes`` given and empty (a
    regression model has no classes), takes numbers: a JSON number or a text that reads as one (a CSV's
    cells are text), finite; the clean label is the number's text (``number_text``), which
    ``opml.monitoring.accuracy`` reads back. Otherwise a label is a class name (text), one of ``classes`` when
    they are given (``None``: any text, for a check before the service is known)."""
    name = where or (lambda index: f"label {index + 1}")
    regression = task == "regression" or (task is None and classes is not None and len(classes) == 0)
    if isinstance(labels, (str, bytes, Mapping)) or not isinstance(labels, Sequence):
        raise InvalidInput('labels must be a list of {"request_id": ..., "label": ..., "record": 0}')
    if not labels:
        raise InvalidInput("no labels given")
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"at most {MAX_LABELS:,} labels per call, got {len(labels):,}: send them in parts")
    known = None if classes is None else {str(c) for c in classes}
    clean = []
    for index, item in enumerate(labels):
        if not isinstance(item, Mapping):
            raise InvalidInput(
                f'{name(index)}: must be an object {{"request_id", "label", "record"}}, got {_quote(item)}'
            )
        unknown = sorted(str(key) for key in item if key not in CSV_COLUMNS)
        if unknown:
            raise InvalidInput(f"{name(index)}: unknown field(s) {', '.join(unknown)}; give request_id, label, record")
        request_id = item.get("request_id")
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise InvalidInput(
                f"{name(index)}: request_id must be the X-Ms-Request-Id of a scoring request "
                f"(a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e), got {_quote(request_id)}"
            )
        record = item.get("record", 0)
        if isinstance(record, bool) or not isinstance(record, int) or not 0 <= record <= MAX_RECORD:
            raise InvalidInput(
                f"{name(index)}: record must be the record's index in its request, 0 to {MAX_RECORD:,}, "
                f"got {_quote(record)}"
            )
        label = item.get("label")
        if regression:
            clean.append((request_id.lower(), record, number_text(label, name(index))))
            continue
        if not isinstance(label, str) or not label or len(label) > MAX_LABEL_CHARS:
            raise InvalidInput(f"{name(index)}: label must be a class name (text), got {_quote(label)}")
        if known is not None and label not in known:
            raise InvalidInput(
                f"{name(index)}: label {_quote(label)} is not a class of the served model ({', '.join(sorted(known))})"
            )
        clean.append((request_id.lower(), record, label))
    return clean


def number_text(label: object, where: str) -> str:
    """A regression label as stored: the shortest text of its float that reads back as the same float."""
    value: float | None = None
    try:
        if isinstance(label, (int, float)) and not isinstance(label, bool):
            value = float(label)
        elif isinstance(label, str) and 0 < len(label.strip()) <= MAX_LABEL_CHARS:
            value = float(label.strip())
    except (ValueError, OverflowError):  # not a number, or an integer beyond a float's range
        value = None
    if value is None or not math.isfinite(value):
        raise InvalidInput(
            f"{where}: the service serves a regression model, so a label is the true value as a number "
            f"(e.g. 1234.5), got {_quote(label)}"
        )
    return repr(value)


def read_labels_csv(data: bytes) -> tuple[list[dict[str, Any]], list[int]]:
    """Labels from a CSV file with the columns ``request_id,label[,record]`` (a header line first), and the
    file line of each, for ``check_labels(..., where=...)``. Raises InvalidInput naming the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the labels file is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise InvalidInput("the labels file is empty; its first line is request_id,label[,record]") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}") from None
    missing = [column for column in ("request_id", "label") if column not in header]
    extra = [column for column in header if column not in CSV_COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        raise InvalidInput(
            f"line 1: the columns must be request_id,label and optionally record, got {','.join(header)[:200]}"
        )
    labels: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(labels) >= MAX_LABELS:
                raise InvalidInput(f"at most {MAX_LABELS:,} labels per file: split it")
            if len(row) != len(header):
                raise InvalidInput(f"line {line}: {len(row)} field(s), the header has {len(header)}")
            values: dict[str, Any] = {column: cell.strip() for column, cell in zip(header, row, strict=True)}
            if "record" in values:
                if not re.fullmatch(r"[0-9]{1,5}", values["record"]):
                    raise InvalidInput(f"line {line}: record must be a whole number from 0, got {values['record']!r}")
                values["record"] = int(values["record"])
            labels.append(values)
            lines.append(line)
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}") from None
    if not labels:
        raise InvalidInput("the labels file has a header but no labels")
    return labels, lines


def name_csv_line(message: str, lines: Sequence[int], file: str) -> str:
    """A message about ``label N`` (how ``check_labels`` names the N-th label) as one about the CSV line it came
    from (``lines`` from ``read_labels_csv``): "FILE, line L: ..."; other messages unchanged."""
    match = re.match(r"label (\d+): (.*)", message, re.DOTALL)
    if match is None or not 1 <= int(match.group(1)) <= len(lines):
        return message
    return f"{file}, line {lines[int(match.group(1)) - 1]}: {match.group(2)}"
