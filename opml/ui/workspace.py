"""The workspace a dashboard session shows: local (its agent started once per dashboard process) or an Azure ML
workspace chosen in the sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from opml.backends.base import Backend
from opml.errors import OpmlError
from opml.settings import autostart_agent, default_workspace
from opml.ui.policy import OFF_WITHOUT_SIGN_IN, local_paths_allowed, may_enter


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
SDK_CHOICE = "opml_workspace_sdk"  # session key: {config.json path: "v2" or "v1"}
SDK_LABELS = {"v2": "SDK v2 (azure-ai-ml)", "v1": "SDK v1 (azureml-core, past end of support)"}


@st.cache_resource(show_spinner="Connecting to Azure ML…")
def _open_azure(config: str, sdk: str) -> Backend:
    from opml.workspace import open_workspace

    return open_workspace(config=config, sdk=sdk)


def chosen_sdk(config: str) -> str:
    """The SDK this session opens ``config`` with: what it chose in the sidebar, else ``default_sdk``."""
    from opml.workspace import default_sdk

    chosen = st.session_state.setdefault(SDK_CHOICE, {})
    if config not in chosen:
        try:
            chosen[config] = default_sdk(config)
        except OpmlError:  # $OPML_AZURE_SDK names no SDK: v2, and opening says nothing more
            chosen[config] = "v2"
    return chosen[config]


LOCAL = "local"
RELABEL = "opml_workspace_relabel"  # session key: the SDK changed, the Workspace selector shows it on the next run


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
    if st.session_state.pop(RELABEL, False):
        # The browser keeps the text a keyed selectbox showed when only its options' labels change (the SDK in
        # "Azure ML (v2): ..."): setting its value anew makes it redraw the option with its new label.
        st.session_state["workspace_select"] = current
    chosen = st.sidebar.selectbox(
        "Workspace",
        options,
        index=options.index(current),
        format_func=lambda option: (
            "Local" if option == LOCAL else f"Azure ML ({chosen_sdk(option)}): {Path(option).parent.name}/config.json"
        ),
        key="workspace_select",
    )
    if current != LOCAL and chosen == current:
        sdk = chosen_sdk(current)
        picked = st.sidebar.radio(
            "Azure ML SDK",
            list(SDK_LABELS),
            index=list(SDK_LABELS).index(sdk),
            format_func=SDK_LABELS.get,
            key=f"workspace_sdk_{current}",
            help="the SDK this workspace is opened with: v2 is the supported path (managed online endpoints, AutoML "
            "v2 jobs, batch endpoints); v1 keeps what opml made through it (ACI services, published pipelines)",
        )
        if picked != sdk:
            st.session_state[SDK_CHOICE][current] = picked
            st.session_state[RELABEL] = True
            st.rerun()
    with st.sidebar.expander("Open an Azure ML workspace"):
        paths = local_paths_allowed()  # a path typed here is read on this machine
        typed = st.text_input(
            "Path of config.json",
            key="workspace_config_path",
            help="the file Azure ML Studio downloads, e.g. ~/Downloads/config.json",
            disabled=not paths,
        )
        if not paths:
            st.caption(OFF_WITHOUT_SIGN_IN)
        if st.button("Open", key="workspace_config_open", disabled=not paths) and paths and typed.strip():
            chosen = str(Path(typed.strip()).expanduser())
    if chosen != current:
        st.session_state[WORKSPACE_CHOICE] = chosen
        st.rerun()


def local_workspace() -> Backend:
    """The local workspace of this dashboard process (its agent's), whatever the session shows."""
    return _open(str(default_workspace()))


SIGN_IN_TRIED = "opml_workspace_sign_in"  # session key: {"<sdk>:<config.json path>": None (signed in) or the error}


def _check_sign_in(backend: Backend, key: str) -> None:
    """Ask for a token once a session and workspace, and raise what refused it (again, until "Try again").

    SDK v2 opens a workspace without asking Azure anything (SDK v1 fails right there), so without this a missing
    sign-in or network surfaced as a traceback on whichever page asked Azure first, after DefaultAzureCredential
    had tried its whole chain (~10 s), on every click."""
    tried = st.session_state.setdefault(SIGN_IN_TRIED, {})
    if key not in tried:
        try:
            backend.auth_header()
            tried[key] = None
        except OpmlError as exc:
            tried[key] = exc
    if tried[key] is not None:
        raise tried[key]


def get_backend() -> Backend:
    """The workspace this dashboard shows: an Azure ML one when chosen, else the local one (whose
    agent is started once per dashboard process when missing). A session that may not see it (not signed
    in, not allowed: ``app.py`` has told it so) stops here, whatever page runs."""
    _leave_legacy_pages_mode()
    if not may_enter():
        st.stop()
    config = st.session_state.get(WORKSPACE_CHOICE, _default_choice())
    if config != LOCAL:
        sdk = chosen_sdk(config)
        try:
            backend = _open_azure(config, sdk)
            _check_sign_in(backend, f"{sdk}:{config}")
            return backend
        except OpmlError as exc:
            st.error(f"The Azure ML workspace of {config} cannot be opened: {exc}. Showing the local workspace.")
            if st.button("Try again", key="workspace_retry", icon=":material/refresh:"):
                st.session_state.get(SIGN_IN_TRIED, {}).pop(f"{sdk}:{config}", None)
                st.rerun()
    path = str(default_workspace())
    backend = _open(path)
    if backend.kind == "local" and autostart_agent():
        try:
            _ensure_agent(str(backend.path))
        except OpmlError as exc:
            st.warning(f"The agent is not running: {exc}")
    return backend
