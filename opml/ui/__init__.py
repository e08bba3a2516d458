"""Glue between Streamlit pages and ``opml``: the cached backend and error display.

Pages import this module and call the backend; they never touch SQL or an SDK.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import streamlit as st

from opml.backends.base import Backend
from opml.errors import InvalidInput, OpmlError
from opml.settings import autostart_agent, default_workspace
from opml.ui.format import computes_frame, format_seconds, pipeline_runs_frame, runs_frame, status_label

__all__ = ["computes_frame", "format_seconds", "pipeline_runs_frame", "runs_frame", "status_label"]


@st.cache_resource(show_spinner=False)
def _open(path: str) -> Backend:
    from opml.workspace import open_workspace

    return open_workspace(path)


@st.cache_resource(show_spinner="Starting the agent…")
def _ensure_agent(path: str) -> str:
    from opml.agent.launcher import start_agent

    started = start_agent(path)
    return "started" if started else "running"


def _leave_legacy_pages_mode() -> None:
    """Route every page through app.py's ``st.navigation``.

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until
    ``st.navigation`` has run once; if the first request after start-up is a sub-page
    URL, that page would render with an auto-generated sidebar instead of ours.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


WORKSPACE_CHOICE = "opml_workspace_choice"  # session key: "local", or the path of an Azure ML config.json


@st.cache_resource(show_spinner="Connecting to Azure ML…")
def _open_azure(config: str) -> Backend:
    from opml.workspace import open_workspace

    return open_workspace(config=config)


LOCAL = "local"


def _default_choice() -> str:
    """The Azure workspace named by $OPML_AZURE_CONFIG (``opml up --config``), else the local one."""
    from opml.workspace import chosen_config

    return chosen_config() or LOCAL


def workspace_selector() -> None:
    """Sidebar: the workspace this dashboard shows, local or an Azure ML ``config.json``."""
    from opml.workspace import azure_config_candidates

    st.session_state.setdefault(WORKSPACE_CHOICE, _default_choice())
    options = [LOCAL, *(str(path) for path in azure_config_candidates())]
    current = st.session_state[WORKSPACE_CHOICE]
    if current not in options:
        options.append(current)
    chosen = st.sidebar.selectbox(
        "Workspace",
        options,
        index=options.index(current),
        format_func=lambda option: "Local" if option == LOCAL else f"Azure ML: {Path(option).parent.name}/config.json",
        key="workspace_select",
    )
    with st.sidebar.expander("Open an Azure ML workspace"):
        typed = st.text_input(
            "Path of config.json",
            key="workspace_config_path",
            help="the file Azure ML Studio downloads, e.g. ~/Downloads/config.json",
        )
        if st.button("Open", key="workspace_config_open") and typed.strip():
            chosen = str(Path(typed.strip()).expanduser())
    if chosen != current:
        st.session_state[WORKSPACE_CHOICE] = chosen
        st.rerun()


def get_backend() -> Backend:
    """The workspace this dashboard shows: an Azure ML one when chosen, else the local one (whose
    agent is started once per dashboard process when missing)."""
    _leave_legacy_pages_mode()
    config = st.session_state.get(WORKSPACE_CHOICE, _default_choice())
    if config != LOCAL:
        try:
            return _open_azure(config)
        except OpmlError as exc:
            st.error(f"The Azure ML workspace of {config} cannot be opened: {exc}. Showing the local workspace.")
    path = str(default_workspace())
    backend = _open(path)
    if backend.kind == "local" and autostart_agent():
        try:
            _ensure_agent(str(backend.path))
        except OpmlError as exc:
            st.warning(f"The agent is not running: {exc}")
    return backend


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


def keep_choice(key: str, options: list, default_index: int = 0) -> None:
    """Keep a selectbox's chosen value across reruns while it is still an option; otherwise choose the
    default (call before the widget with the same ``key``)."""
    if options and st.session_state.get(key) not in options:
        st.session_state[key] = options[min(default_index, len(options) - 1)]


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


def show_problems(problems: list[str]) -> None:
    for problem in problems:
        st.error(problem, icon=":material/error:")


def actor() -> str:
    """Who acts from this dashboard, for records such as alias history."""
    from opml.settings import current_user

    return f"{current_user()} (dashboard)"


def version_label(model) -> str:
    """A model version for pickers: its number, aliases and primary metric."""
    aliases = f" · {', '.join(model.aliases)}" if model.aliases else ""
    value = model.metrics.get(model.primary_metric)
    metric = f" · {model.primary_metric} {value:.4f}" if value is not None else ""
    return f"v{model.version}{aliases}{metric}"


PRODUCTION_ALIAS = "champion"  # the alias that marks the version meant for production


def production_version(versions: list) -> int:
    """The version a deploy form starts with: the one aliased ``champion``, else the newest."""
    for model in versions:
        if PRODUCTION_ALIAS in model.aliases:
            return model.version
    return max(model.version for model in versions)


def registered_versions(backend: Backend, name: str) -> set[int]:
    """Versions of a model name registered so far (none when the name is new): after a registration, a
    version already in this set means the content was identical and nothing new was registered."""
    try:
        return {model.version for model in backend.list_models(name)}
    except OpmlError:
        return set()
