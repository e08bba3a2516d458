"""The dashboard's door and its audit trail.

``app.py`` calls ``enter`` before any page: with sign-in on (``[auth]`` in the secrets) a visitor who is not
signed in sees only a sign-in button (Streamlit's OpenID Connect ``st.login``), and one whose email is not in
``OPML_ALLOWED_USERS`` only a refusal and a log-out; a dashboard that must not run (``opml.access``) shows why
and nothing else. ``show_access`` then draws who is signed in (and a log-out) or, without sign-in off
loopback, a red banner on every page. Pages reveal keys and tokens through ``secret_toggle`` (off without
sign-in) and record what matters through ``audit`` / ``audit_once``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitAuthError

from opml.access import Access, AccessRefused, is_allowed
from opml.backends.base import Backend
from opml.errors import InvalidInput, OpmlError
from opml.settings import allowed_users
from opml.ui.policy import OFF_WITHOUT_SIGN_IN, actor, dashboard_access, secrets_may_be_shown, user_claims
from opml.ui.workspace import local_workspace

AUDITED = "opml_audited"  # session key: (workspace, action, target) recorded once in this session
SIGN_IN_ERROR = "opml_sign_in_error"  # session key: why st.login refused (a misconfigured [auth])


def enter() -> Access | None:
    """The access mode when this session may see pages; None after drawing why it may not (sign-in page,
    refusal, or a configuration that must not run)."""
    try:
        access = dashboard_access()
    except (AccessRefused, InvalidInput) as exc:
        st.error(f"This dashboard does not run with its current settings: {exc}", icon=":material/block:")
        return None
    if access is not Access.LOGIN:
        return access
    claims = user_claims()
    if not claims.get("is_logged_in"):
        _sign_in_page()
        return None
    if not is_allowed(claims, allowed_users()):
        _refusal_page(claims)
        return None
    return access


def _providers() -> list[str | None]:
    """The OpenID Connect providers of ``[auth]``: None for the section itself, else each ``[auth.NAME]``."""
    auth = st.secrets["auth"]
    named = [name for name, value in auth.items() if isinstance(value, Mapping) and "client_id" in value]
    return ([None] if "client_id" in auth else []) + named


def _sign_in_page() -> None:
    st.title("opml")
    st.write("Sign in to use this dashboard.")
    for provider in _providers():
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        st.button(
            label,
            on_click=_login,
            args=(provider,),
            type="primary",
            icon=":material/login:",
            key=f"access_sign_in_{provider or 'default'}",
        )
    if SIGN_IN_ERROR in st.session_state:
        st.error(f"Sign-in is not configured correctly: {st.session_state.pop(SIGN_IN_ERROR)}", icon=":material/error:")


def _login(provider: str | None) -> None:
    try:
        st.login() if provider is None else st.login(provider)
    except StreamlitAuthError as exc:
        st.session_state[SIGN_IN_ERROR] = str(exc)


def _refusal_page(claims: dict) -> None:
    email = str(claims.get("email") or "This account")[:200]
    st.title("opml")
    if claims.get("email_verified") is False:
        reason = "its identity provider has not verified the email address"
    else:
        reason = "it is not on the list of allowed users (OPML_ALLOWED_USERS)"
    st.error(
        f"{email} may not use this dashboard: {reason}. Ask its operator to add you, or sign in with another account.",
        icon=":material/block:",
    )
    with contextlib.suppress(OpmlError):  # an account's odd email or a busy store must not break this page
        audit_once(local_workspace(), "sign_in_refused", "the dashboard", who=email)
    st.button("Log out", on_click=st.logout, icon=":material/logout:", key="access_log_out")


def show_access(access: Access) -> None:
    """Who is signed in and a log-out (sign-in on), or the red banner (no sign-in off loopback)."""
    if access is Access.LOGIN:
        st.sidebar.caption("Signed in as")
        st.sidebar.text(actor())
        st.sidebar.button("Log out", on_click=st.logout, icon=":material/logout:", key="access_log_out")
    elif access is Access.OPEN:
        st.error(
            "**No sign-in.** This dashboard was started with --allow-unauthenticated: anyone who can reach it can "
            "use it. Revealing keys and tokens and reading paths on this machine are off.",
            icon=":material/warning:",
        )


def secret_toggle(label: str, *, key: str) -> bool:
    """A switch that reveals a key or a token: off, with the reason shown, when the dashboard runs without
    sign-in. True only while it is on and revealing is allowed."""
    allowed = secrets_may_be_shown()
    value = st.toggle(label, value=False, key=key, disabled=not allowed)
    if not allowed:
        st.caption(OFF_WITHOUT_SIGN_IN)
    return bool(value) and allowed


def audit(backend: Backend, action: str, target: str) -> None:
    """Record that this session's user did ``action`` to ``target`` (``Backend.record_audit_event``)."""
    backend.record_audit_event(actor(), action, target)


def audit_once(backend: Backend, action: str, target: str, *, who: str | None = None) -> None:
    """``audit``, once per session: a key stays revealed across the reruns of a page. Call it before showing
    what it records; an event that cannot be recorded raises, so nothing is shown unrecorded."""
    done: set = st.session_state.setdefault(AUDITED, set())
    entry = (repr(backend), action, target)
    if entry not in done:
        backend.record_audit_event(who or actor(), action, target)
        done.add(entry)
