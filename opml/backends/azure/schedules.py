"""opml's recurrences (every N minutes, or a cron expression) as Azure's ``ScheduleRecurrence``.

Azure's recurrence has a frequency and an interval, plus hours, minutes and week days for
daily and weekly schedules. Cron expressions of those shapes translate; others are refused.
"""

from __future__ import annotations

from typing import Any

from opml.errors import InvalidInput

_WEEK_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _numbers(field: str, low: int, high: int, what: str) -> list[int]:
    try:
        values = [int(part) for part in field.split(",")]
    except ValueError:
        raise InvalidInput(f"cron {what} {field!r}: Azure ML schedules take numbers or lists here") from None
    if not all(low <= value <= high for value in values):
        raise InvalidInput(f"cron {what} must be between {low} and {high}, got {field!r}")
    return values


def recurrence_from(sdk: Any, interval_minutes: float | None, cron: str | None) -> tuple[Any, str]:
    """(ScheduleRecurrence, how to show it). Raises InvalidInput naming what Azure cannot express."""
    if (interval_minutes is None) == (cron is None):
        raise InvalidInput("give either an interval in minutes or a cron expression")
    if interval_minutes is not None:
        if isinstance(interval_minutes, bool) or not isinstance(interval_minutes, (int, float)):
            raise InvalidInput(f"interval_minutes must be a number, got {interval_minutes!r}")
        if interval_minutes < 1 or float(interval_minutes) != int(interval_minutes):
            raise InvalidInput("Azure ML schedules run every whole number of minutes (1 or more)")
        minutes = int(interval_minutes)
        return sdk.ScheduleRecurrence(frequency="Minute", interval=minutes), f"every {minutes} minutes"
    fields = str(cron).split()
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*":
        raise InvalidInput(
            f"cron {cron!r}: on Azure ML use 'M H * * *' (daily) or 'M H * * D' (weekly), or an interval"
        )
    minutes = _numbers(fields[0], 0, 59, "minute")
    hours = _numbers(fields[1], 0, 23, "hour")
    if fields[4] == "*":
        return sdk.ScheduleRecurrence(frequency="Day", interval=1, hours=hours, minutes=minutes), cron
    days = [_WEEK_DAYS[day % 7] for day in _numbers(fields[4], 0, 7, "day of week")]
    return sdk.ScheduleRecurrence(frequency="Week", interval=1, hours=hours, minutes=minutes, week_days=days), cron
