"""What this dashboard session may do, from this process's address, secrets and settings (``opml.access``)
and the signed-in user (``st.user``). Decisions only: nothing is drawn here (``opml.ui.access`` draws)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit import config

from opml.access import Access, AccessRefused, decide_access, is_allowed, signed_in_email
from opml.errors import InvalidInput
from opml.settings import allow_unauthenticated, allowed_users, current_user

# Why a switch or a field is off in open mode (--allow-unauthenticated); shown beside it.
OFF_WITHOUT_SIGN_IN = (
    "Off: this dashboard runs without sign-in (--allow-unauthenticated), so anyone who reaches it could use "
    "this. Restart opml with sign-in (README, Security), or on 127.0.0.1 without that flag, to use it."
)


def auth_configured() -> bool:
    """Whether the secrets Streamlit loaded have an ``[auth]`` section (an OpenID Connect provider)."""
    return bool(st.secrets.load_if_toml_exists()) and "auth" in st.secrets


def dashboard_access() -> Access:
    """The access mode of this dashboard (``opml.access.decide_access``). Raises AccessRefused."""
    return decide_access(
        address=config.get_option("server.address"),
        auth_configured=auth_configured(),
        allowed_users=allowed_users(),
        allow_unauthenticated=allow_unauthenticated(),
    )


def user_claims() -> dict[str, Any]:
    """The signed-in user's identity claims (empty when nobody is signed in)."""
    return st.user.to_dict()


def may_enter() -> bool:
    """Whether this session may see the workspace: the dashboard may run, and with sign-in on, its user is
    signed in and on the allow-list (the check is ``opml.access.is_allowed``)."""
    try:
        access = dashboard_access()
    except (AccessRefused, InvalidInput):
        return False
    return access is not Access.LOGIN or is_allowed(user_claims(), allowed_users())


def secrets_may_be_shown() -> bool:
    """Keys and tokens are revealed (and new tokens shown) unless the dashboard runs without sign-in."""
    try:
        return dashboard_access() is not Access.OPEN
    except (AccessRefused, InvalidInput):
        return False


def local_paths_allowed() -> bool:
    """Paths on this machine are read (a dataset file, a prep script, a config.json) unless the dashboard runs
    without sign-in."""
    return secrets_may_be_shown()


def actor() -> str:
    """Who acts in this session, for the audit trail and alias history: the signed-in email; else, on
    loopback, the OS user; without sign-in off loopback, an anonymous visitor and their address."""
    email = signed_in_email(user_claims())
    if email:
        return email
    try:
        anonymous = dashboard_access() is Access.OPEN
    except (AccessRefused, InvalidInput):
        anonymous = True
    if anonymous:
        return f"anonymous from {st.context.ip_address or 'an unknown address'} (no sign-in)"
    return f"{current_user()} (dashboard)"
