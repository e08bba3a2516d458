"""What a page tells its user: errors as messages (never tracebacks), and messages kept across the rerun an
action triggers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from opml.errors import OpmlError


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show an ``OpmlError`` as a red message instead of a traceback."""
    try:
        yield
    except OpmlError as exc:
        st.error(str(exc), icon=":material/error:")


FLASH = "opml_flash"  # session key: messages to show after the rerun an action triggers


def flash(message: str, kind: str = "success") -> None:
    """Keep a message for the next run of the page (an action that reruns would lose a plain ``st.success``).
    ``kind="toast"`` shows it without moving the page (a switch inside a tab keeps its tab open)."""
    st.session_state.setdefault(FLASH, []).append((kind, message))


def show_flash() -> None:
    """Show, once, the messages actions left with ``flash``."""
    for kind, message in st.session_state.pop(FLASH, []):
        show = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info, "toast": st.toast}
        show[kind](message)


def show_problems(problems: list[str]) -> None:
    for problem in problems:
        st.error(problem, icon=":material/error:")
