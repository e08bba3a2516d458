"""Form helpers: the backend's own checks run while the user types, and choices kept across reruns."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from opml.errors import InvalidInput


def field_problems(*checks: tuple[str, Callable[[], object]]) -> list[str]:
    """The messages of the checks that raise ``InvalidInput``, each after its field's label (a form shows
    them and stays unsent). A check is ``(label, callable)``."""
    problems = []
    for label, check in checks:
        try:
            check()
        except InvalidInput as exc:
            problems.append(f"{label}: {exc}")
    return problems


def labelled(problems: dict[str, str], labels: dict[str, str]) -> list[str]:
    """Problems keyed by setting name (``settings_problems``), each after the label of its form field."""
    return [f"{labels.get(name, name)}: {message}" for name, message in problems.items()]


def keep_choice(key: str, options: list, default_index: int = 0) -> None:
    """Keep a selectbox's chosen value across reruns while it is still an option; otherwise choose the
    default (call before the widget with the same ``key``)."""
    if options and st.session_state.get(key) not in options:
        st.session_state[key] = options[min(default_index, len(options) - 1)]


def follow_default(key: str, default: str, defaults: set[str]) -> None:
    """Set a text field to ``default`` while it shows none or another choice's default (``defaults``), such as
    ``<dataset>-automl`` for the dataset chosen before: a name the user typed stays (call before the widget)."""
    current = st.session_state.get(key)
    if current is None or current in defaults:
        st.session_state[key] = default


def web_address(text: str) -> str:
    """What the "Web URL" field holds, refused unless it is an http(s) address: a path typed there would
    read a file of this machine (even where the dashboard turns local paths off)."""
    from opml.data.sources import is_url

    if not is_url(text):
        raise InvalidInput(f"not a web address: {text.strip()[:200]!r}; give an http:// or https:// URL")
    return text.strip()


def offer_all_new(key: str, options: list) -> None:
    """Select every option of a multiselect filter (call before the widget with the same ``key``) unless the user
    narrowed it among these same options: a filter chosen for another run's options (or before more options
    appeared, such as a running AutoML run's new algorithms) would hide what is new."""
    offered = f"{key}__offered"
    if key not in st.session_state or st.session_state.get(offered) != options:
        st.session_state[key] = list(options)
    st.session_state[offered] = list(options)
