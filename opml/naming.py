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
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidInput(f"{what} name {name!r} must not contain '/', '\\' or '..'")
    if not _NAME.match(name):
        raise InvalidInput(
            f"{what} name {name!r} is not valid: use 1-64 letters, digits, '_', '.' or '-', "
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
        clean[key.strip()] = "" if value is None else str(value)
    return clean
