"""Dates and times in tabular data: what counts as one, read the same from a DataFrame and from a JSON record.

A CSV holds dates as text; a column is one of dates and times when it has a datetime type or every distinct
value is an ISO 8601 date or time (``2013-01-01``, ``2013-01-01 05:00``, ``2013-01-01T10:00:00Z``). The
featurizer turns such columns into numbers, the model's input schema marks them ``format: date-time``, and
scoring checks a sent value is one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from opml.data.profile import column_kind

DATE_TIME = "date-time"  # the input schema's format of a column of dates and times
EXAMPLE = "2013-06-01T10:00:00Z"


def as_datetime(value: Any) -> datetime | None:
    """A date or time (ISO 8601 text, a datetime, a date or numpy's datetime64), or None (missing, or not one)."""
    if value is pd.NaT:  # a missing datetime (an instance of datetime that has no timestamp)
        return None
    if isinstance(value, datetime):  # pandas' Timestamp too
        return value
    if isinstance(value, np.datetime64):  # what a DataFrame's datetime column gives: a Timestamp (NaT: missing)
        return as_datetime(pd.Timestamp(value))
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and ("-" in value or ":" in value):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def instant_days(moment: datetime) -> float:
    """``moment`` in days since 1970-01-01 UTC; a time without a zone is taken as UTC."""
    instant = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return instant.timestamp() / 86400.0


def days_since_epoch(value: Any) -> float | None:
    """The instant of a date or time (what ``as_datetime`` reads) in days since 1970-01-01 UTC, or None (missing,
    or not a date): the number the featurizer and drift both put on a date."""
    moment = as_datetime(value)
    return None if moment is None else instant_days(moment)


def is_datetime_column(series: pd.Series) -> bool:
    """A datetime type, or text of which every distinct value is a date or time (at least one)."""
    if column_kind(series) == "datetime":
        return True
    if column_kind(series) != "categorical":
        return False
    distinct = series.dropna().unique()
    return bool(len(distinct)) and all(as_datetime(v) is not None for v in distinct)
