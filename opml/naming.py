"""Validation of the names users give to things (datasets, computes, experiments, ...)."""

from __future__ import annotations

import re

from opml.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: object, what: str) -> str:
    """Return ``name`` stripped, or raise InvalidInput saying which characters are allowed."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} name is required")
    name = name.strip()
    shown = repr(name) if len(name) <= 80 else f"{name[:60]!r}... ({len(name):,} characters)"
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidInput(f"{what} name {shown} must not contain '/', '\\' or '..'")
    if not _NAME.match(name):
        raise InvalidInput(
            f"{what} name {shown} is not valid: use 1-64 letters (a-z, A-Z), digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_tags(tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidInput("tags must be a mapping of names to values")
    clean = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput("tag names must be non-empty text")
        if isinstance(value, (dict, list, tuple, set)):
            raise InvalidInput(f"tag {key.strip()[:60]!r}: a value is text or a number, not {type(value).__name__}")
        clean[key.strip()] = "" if value is None else str(value)
    return clean


MAX_NODES_LIMIT = 64


def check_max_nodes(max_nodes: object) -> int:
    """A compute's size: a whole number of nodes, 1 to 64."""
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
        raise InvalidInput(f"max_nodes must be a whole number, got {max_nodes!r}")
    if not 1 <= max_nodes <= MAX_NODES_LIMIT:
        raise InvalidInput(f"max_nodes must be between 1 and {MAX_NODES_LIMIT}, got {max_nodes}")
    return max_nodes


def check_port(port: object) -> int | None:
    """A service port: None (pick a free one) or 1024-65535."""
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise InvalidInput(f"port must be a number between 1024 and 65535 (or automatic), got {port!r}")
    return port


MIN_INTERVAL_MINUTES = 1
MAX_INTERVAL_MINUTES = 525_600


def check_recurrence(interval_minutes: object, cron: object) -> tuple[float | None, str | None]:
    """A schedule's recurrence: a finite number of minutes from 1 (NaN and Infinity refused by the range),
    or a valid cron expression of 5 fields that fires (not both)."""
    if (interval_minutes is None) == (cron is None):
        raise InvalidInput("give either an interval in minutes or a cron expression")
    if interval_minutes is not None:
        if (
            isinstance(interval_minutes, bool)
            or not isinstance(interval_minutes, (int, float))
            or not MIN_INTERVAL_MINUTES <= interval_minutes <= MAX_INTERVAL_MINUTES
        ):
            raise InvalidInput(
                f"the interval must be a number of minutes from {MIN_INTERVAL_MINUTES} (as on Azure ML) to "
                f"{MAX_INTERVAL_MINUTES:,} (a year), got {interval_minutes!r}"
            )
        return float(interval_minutes), None
    from croniter import croniter

    example = "(e.g. '0 6 * * *' for 06:00 every day)"
    if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise InvalidInput(f"not a valid cron expression of 5 fields: {cron!r} {example}")
    try:
        croniter(cron).get_next(float)
    except Exception:  # croniter's own error for an expression that never comes (30 February)
        raise InvalidInput(f"the cron expression {cron!r} never fires {example}") from None
    return None, cron


_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def check_alias(alias: object) -> str:
    """A model alias such as ``champion``: a letter, then letters, digits, '_' or '-' (not ``latest``, not
    ``v<number>``, which would read as versions)."""
    if alias is not None and not isinstance(alias, str):
        raise InvalidInput(f"an alias is a name (text), got {alias!r}")
    if not isinstance(alias, str) or not alias.strip():
        raise InvalidInput("alias name is required")
    alias = alias.strip()
    if not _ALIAS.match(alias):
        raise InvalidInput(
            f"alias {alias!r} is not valid: use 1-64 letters, digits, '_' or '-', starting with a letter"
        )
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InvalidInput(f"alias {alias!r} would read as a version; choose another name (e.g. champion)")
    return alias


MAX_VERSION = 10**9


def check_version(version: object, what: str = "model") -> int:
    """A version number as users give it: a whole number from 1 (not a boolean, not a float)."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise InvalidInput(f"{what} version must be a whole number from 1 to {MAX_VERSION:,}, got {version!r}")
    return version


def check_lineage(lineage: object) -> str | None:
    """Where a dataset's bytes came from, as recorded: printable text of at most 500 characters."""
    if lineage is None:
        return None
    if not isinstance(lineage, str) or not lineage.strip():
        raise InvalidInput(f"lineage must be text, got {lineage!r}")
    if len(lineage) > 500 or not lineage.isprintable():
        raise InvalidInput("lineage must be printable text of at most 500 characters (no line breaks or controls)")
    return lineage.strip()


MAX_RETENTION_DAYS = 3650


def check_sampling_rate(rate: object) -> float:
    """A data-collection sampling rate: the share of requests collected, 0 < rate <= 1."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:  # NaN fails too
        raise InvalidInput(
            f"the sampling rate must be a number above 0 and at most 1 (1 = every request), got {rate!r}"
        )
    return float(rate)


def check_retention_days(days: object) -> int:
    """How many days collected data is kept: a whole number from 1 to 3,650."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"retention must be a whole number of days from 1 to {MAX_RETENTION_DAYS:,}, got {days!r}")
    return days
