"""Secrets that authenticate callers: service keys and workspace tokens. 32 random bytes each, compared in
constant time against every candidate, never logged."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable


def new_key() -> str:
    """A new key or token: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_matches(candidate: str | None, keys: Iterable[str]) -> bool:
    """True when ``candidate`` equals one of ``keys``; every key is compared, in constant time."""
    return matching_name(candidate, ((key, key) for key in keys)) is not None


def matching_name(candidate: str | None, named_keys: Iterable[tuple[str, str]]) -> str | None:
    """The name of the ``(name, key)`` pair whose key equals ``candidate``, or None. Every key is compared, in
    constant time, whether one matched or not."""
    if candidate is None:
        return None
    given = candidate.encode()
    matched = None
    for name, key in named_keys:
        if hmac.compare_digest(given, key.encode()):
            matched = name
    return matched
