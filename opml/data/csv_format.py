"""Turn CSV bytes into a DataFrame, detecting the delimiter and the decimal mark.

Both the comma-separated Bank Marketing file and its European variant
(``;``-separated, decimal comma) must read to the same typed frame. Every
rejection is an ``InvalidInput`` that says what is wrong with the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd
from pandas.api.types import is_numeric_dtype

from opml.errors import InvalidInput

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16
_MAGIC = {
    b"PK\x03\x04": "a ZIP or Excel (.xlsx) file; export it as CSV first",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) file; export it as CSV first",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip archive; unpack it first",
}


@dataclass(frozen=True)
class CsvFormat:
    delimiter: str
    decimal: str


def _decode_head(content: bytes) -> str:
    head = content[:_SNIFF_BYTES]
    first = content.find(b"\n")
    if 0 <= first < _SNIFF_BYTES:  # a wide table: reach the end of the first data row, whatever its length
        second = content.find(b"\n", first + 1)
        head = content[: max(_SNIFF_BYTES, second + 1 if second >= 0 else len(content))]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InvalidInput(f"this is not a CSV file: it looks like {what}")
    if b"\x00" in head:
        raise InvalidInput("this is not a text CSV file: it contains binary data (NUL bytes)")
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is not UTF-8 text (byte 0x{content[exc.start]:02x} at position {exc.start}); "
            "save it as 'CSV UTF-8' and upload it again"
        ) from None
    # Cut at a line boundary so the sniffer sees whole rows.
    text = head.decode("utf-8-sig", errors="ignore")
    if len(content) > _SNIFF_BYTES:
        if "\n" not in text:
            raise InvalidInput(
                f"the first line is longer than {_SNIFF_BYTES // 1024} KB: a CSV file starts with a header row "
                "naming its columns (is this a CSV file?)"
            )
        text = text[: text.rindex("\n")]
    return text


def _pick_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the header and the next rows into the same number (>1) of fields."""
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for count in counts if count == counts[0])
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    if best is None:
        raise InvalidInput(
            "found only one column: a dataset needs at least two columns separated by a comma, semicolon, tab or '|'"
        )
    return best


def _check_header(header: list[str]) -> None:
    names = [name.strip() for name in header]
    empty = [str(position) for position, name in enumerate(names, start=1) if not name]
    if empty:
        raise InvalidInput(f"column {', '.join(empty)} has no name: every column needs a name in the header row")
    seen: dict[str, int] = {}
    duplicates = []
    for position, name in enumerate(names, start=1):
        if name in seen:
            duplicates.append(f"{name!r} (columns {seen[name]} and {position})")
        seen.setdefault(name, position)
    if duplicates:
        raise InvalidInput(f"duplicate column names: {'; '.join(duplicates)}; rename them so each is unique")
    if all(_looks_numeric(name) for name in names):
        raise InvalidInput(
            "the first row looks like data, not column names (every value is a number); add a header row"
        )


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def sniff_format(content: bytes) -> CsvFormat:
    """Validate the head of ``content`` and detect its delimiter and decimal mark."""
    if not content.strip():
        raise InvalidInput("the file is empty")
    text = _decode_head(content)
    stripped = text.lstrip()
    if stripped.startswith("<"):
        raise InvalidInput("this is not a CSV file: it looks like HTML or XML (is the URL a direct download link?)")
    if stripped.startswith(("{", "[")):
        raise InvalidInput("this is not a CSV file: it looks like JSON")
    lines = [line for line in text.splitlines() if line.strip()][:50]
    delimiter = _pick_delimiter(lines)
    header = next(csv.reader(lines[:1], delimiter=delimiter))
    _check_header(header)
    if len(lines) < 2:
        raise InvalidInput("the file has a header row but no data rows")
    decimal = "."
    if delimiter != ",":
        sample = "\n".join(lines)
        dot = _read_sample(sample, delimiter, ".")
        comma = _read_sample(sample, delimiter, ",")
        if _numeric_columns(comma) > _numeric_columns(dot):
            decimal = ","
    return CsvFormat(delimiter=delimiter, decimal=decimal)


def _malformed(exc: Exception) -> InvalidInput:
    """pandas' parser error as a message that names the line (pandas counts lines from 1, the header too)."""
    message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    message = message.removeprefix("Error tokenizing data. C error: ")
    return InvalidInput(f"the CSV is malformed: {message[:300]}")


def _read_sample(sample: str, delimiter: str, decimal: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(sample), sep=delimiter, decimal=decimal)
    except (pd.errors.ParserError, ValueError) as exc:
        raise _malformed(exc) from None


def _numeric_columns(frame: pd.DataFrame) -> int:
    return sum(1 for column in frame.columns if is_numeric_dtype(frame[column]))


def read_frame(content: bytes, fmt: CsvFormat, *, nrows: int | None = None) -> pd.DataFrame:
    """Parse ``content`` with a known format. Raises InvalidInput on malformed rows."""
    try:
        frame = pd.read_csv(
            io.BytesIO(content),
            sep=fmt.delimiter,
            decimal=fmt.decimal,
            encoding="utf-8-sig",
            nrows=nrows,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _malformed(exc) from None
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def parse_csv(content: bytes) -> tuple[pd.DataFrame, CsvFormat]:
    """Validate and parse a whole CSV file."""
    fmt = sniff_format(content)
    frame = read_frame(content, fmt)
    if frame.empty:
        raise InvalidInput("the file has a header row but no data rows")
    return frame, fmt
