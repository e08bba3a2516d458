"""Glue between Streamlit pages and ``opml``: the cached backend and error display.

Pages import this module and call the backend; they never touch SQL or an SDK.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import streamlit as st

from opml.backends.base import Backend
from opml.errors import OpmlError
from opml.settings import default_workspace


@st.cache_resource(show_spinner=False)
def _open(path: str) -> Backend:
    from opml.workspace import open_workspace

    return open_workspace(path)


@st.cache_resource(show_spinner="Starting the agent…")
def _ensure_agent(path: str) -> str:
    from opml.backends.local.launcher import start_agent

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
    from opml.workspace import AZURE_CONFIG_VARIABLE

    return os.environ.get(AZURE_CONFIG_VARIABLE) or LOCAL


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
        typed = st.text_input("Path of config.json", key="workspace_config_path", placeholder="~/azure/config.json")
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
    if backend.kind == "local" and os.environ.get("OPML_AUTOSTART_AGENT", "1") != "0":
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


def status_label(status: str) -> str:
    """Status text for tables (kept plain: emoji fonts are not on every machine)."""
    return status


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def computes_frame(computes: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Name": c.name,
                "Kind": c.kind,
                "State": c.state,
                "Max nodes": c.max_nodes,
                "Active runs": c.active_runs,
                "Queued runs": c.queued_runs,
            }
            for c in computes
        ]
    )


def pipeline_runs_frame(runs: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Run": r.id,
                "Pipeline": r.display_name,
                "Status": status_label(r.status),
                "Trigger": r.params.get("trigger"),
                "Experiment": r.experiment,
                "Created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "Duration": format_seconds(r.duration_seconds),
            }
            for r in runs
        ]
    )


def runs_frame(runs: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Run": r.id,
                "Experiment": r.experiment,
                "Type": r.run_type,
                "Status": status_label(r.status),
                "Compute": r.compute,
                "Created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "Duration": format_seconds(r.duration_seconds),
                "Error": r.error or "",
            }
            for r in runs
        ]
    )
