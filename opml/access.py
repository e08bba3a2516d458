"""Who may use the dashboard: the access policy, decided the same way by ``opml up`` (before anything
starts) and by the dashboard itself (on every script run).

- **local**: the dashboard listens on a loopback address and no sign-in is configured: one user, the
  machine's owner, as always.
- **login**: the Streamlit secrets have an ``[auth]`` section (an OpenID Connect provider for
  ``st.login``): everyone signs in, on any address, and only the emails of ``OPML_ALLOWED_USERS`` get in.
- **open**: ``--allow-unauthenticated`` (``OPML_ALLOW_UNAUTHENTICATED=1``): no sign-in, and the dashboard
  stops revealing keys and tokens and reading paths on this machine; every page shows a red banner.

Any other address without ``[auth]`` and without ``--allow-unauthenticated`` is refused (``AccessRefused``):
a dashboard that reveals endpoint keys and the owner's REST token is never put on a network by accident.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from opml.errors import InvalidInput

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class Access(enum.Enum):
    LOCAL = "local"
    LOGIN = "login"
    OPEN = "open"


class AccessRefused(InvalidInput):
    """The dashboard must not start (or show anything) with this configuration; the message says why and
    what to do."""


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine can reach: 127.0.0.0/8, ::1, ``localhost``. An empty address
    (Streamlit's default: every interface), a Unix socket or any other name is not."""
    if not address:
        return False
    text = address.strip().strip("[]").lower()
    if text in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def parse_allowed_users(text: str | None) -> frozenset[str]:
    """The emails of ``OPML_ALLOWED_USERS``: separated by commas, semicolons or white space, compared
    without regard to case. Raises InvalidInput for an entry that is not an email address."""
    entries = (text or "").replace(",", " ").replace(";", " ").split()
    emails = set()
    for entry in entries:
        local, at, domain = entry.partition("@")
        if not at or not local or "." not in domain or not entry.isprintable() or len(entry) > 254:
            raise InvalidInput(f"OPML_ALLOWED_USERS: {entry[:80]!r} is not an email address")
        emails.add(entry.lower())
    return frozenset(emails)


def decide_access(
    *, address: str | None, auth_configured: bool, allowed_users: Iterable[str], allow_unauthenticated: bool
) -> Access:
    """The access mode of a dashboard listening on ``address``; AccessRefused when it must not start."""
    if auth_configured:
        if allow_unauthenticated:
            raise AccessRefused(
                "--allow-unauthenticated (OPML_ALLOW_UNAUTHENTICATED) contradicts the [auth] section of the "
                "dashboard's secrets.toml, which turns sign-in on: drop one of them"
            )
        if not frozenset(allowed_users):
            raise AccessRefused(
                "sign-in is configured ([auth] in secrets.toml) but OPML_ALLOWED_USERS is empty: set it to the "
                "emails of the people who may use the dashboard, e.g. OPML_ALLOWED_USERS=ada@example.com"
            )
        return Access.LOGIN
    if allow_unauthenticated:
        return Access.OPEN
    if is_loopback(address):
        return Access.LOCAL
    raise AccessRefused(
        f"the dashboard would listen on {address or 'every interface'} without sign-in: anyone who reaches it "
        "could read endpoint keys and the workspace's REST token. Configure OpenID Connect sign-in (an [auth] "
        "section in .streamlit/secrets.toml, or opml up --secrets FILE) and OPML_ALLOWED_USERS (see the README's "
        "Security section), listen on 127.0.0.1, or pass --allow-unauthenticated to start anyway with keys, "
        "tokens and local paths switched off"
    )


def signed_in_email(user: Mapping[str, Any]) -> str | None:
    """The email of a signed-in user's identity claims (``st.user``), lower-cased; None when the user is not
    signed in, has no email, or the provider says the email is not verified."""
    if not user.get("is_logged_in"):
        return None
    email = user.get("email")
    if not isinstance(email, str) or "@" not in email or user.get("email_verified") is False:
        return None
    return email.strip().lower()


def is_allowed(user: Mapping[str, Any], allowed_users: Iterable[str]) -> bool:
    """Whether the signed-in ``user`` (identity claims) is on the allow-list."""
    email = signed_in_email(user)
    return email is not None and email in frozenset(allowed_users)
