"""Open a workspace: pick the backend by name and import it lazily.

``open_workspace()`` gives the local backend on ``OPML_WORKSPACE`` (or
``~/.opml/workspace``); ``open_workspace(config="config.json")`` gives an
Azure ML backend for the workspace that file names, through SDK v2
(``azure-ai-ml``, the supported path) or SDK v1 (``azureml-core``) as
``sdk=`` or ``default_sdk`` says.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

from opml.backends.base import Backend
from opml.errors import BackendUnavailable, InvalidInput
from opml.settings import azure_config_from_environment, azure_sdk_from_environment, get_settings

# name -> (module, class, what to install when the import fails)
KNOWN_BACKENDS: dict[str, tuple[str, str, str]] = {
    "local": ("opml.backends.local", "LocalBackend", ""),
    "azure": (
        "opml.backends.azure",
        "AzureMLBackend",
        "install the Azure ML SDK v1: pip install -r requirements.txt (azureml-core, azureml-pipeline-core)",
    ),
    "azure-v2": (
        "opml.backends.azure_v2",
        "AzureMLv2Backend",
        "install the Azure ML SDK v2: pip install -r requirements.txt (azure-ai-ml)",
    ),
}

AZURE_SDKS = {"v2": "azure-v2", "v1": "azure"}  # the SDK an Azure workspace is opened with -> its backend


def check_sdk(sdk: str) -> str:
    if sdk not in AZURE_SDKS:
        raise InvalidInput(f"unknown Azure ML SDK {sdk!r}: choose v2 (azure-ai-ml) or v1 (azureml-core)")
    return sdk


def default_sdk(config: str | os.PathLike) -> str:
    """The SDK an Azure workspace opens with when none is named: ``$OPML_AZURE_SDK`` when set; else v1 for a
    workspace opml has already opened with SDK v1 (its state folder exists: its pipelines, aliases and
    profiles are there), and v2, the supported SDK, for a new one."""
    named = azure_sdk_from_environment()
    if named:
        return check_sdk(named)
    try:
        workspace_name = json.loads(Path(config).expanduser().read_text()).get("workspace_name")
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return "v2"  # the backend reports what is wrong with the file
    opened_with_v1 = (
        isinstance(workspace_name, str)
        and workspace_name.strip("./")
        and "/" not in workspace_name
        and (get_settings().workspace / "azure" / workspace_name).is_dir()
    )
    return "v1" if opened_with_v1 else "v2"


def azure_config_candidates() -> list[Path]:
    """Azure ML ``config.json`` files this process can see: ``$OPML_AZURE_CONFIG``, then where
    ``Workspace.from_config()`` looks (``./config.json``, ``./.azureml/config.json``)."""
    found = []
    for candidate in (azure_config_from_environment(), "config.json", ".azureml/config.json"):
        if candidate and Path(candidate).expanduser().is_file():
            path = Path(candidate).expanduser().resolve()
            if path not in found and _looks_like_azure_config(path):
                found.append(path)
    return found


def _looks_like_azure_config(path: Path) -> bool:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and {"subscription_id", "resource_group", "workspace_name"} <= set(data)


def backend_class(name: str) -> type[Backend]:
    if name not in KNOWN_BACKENDS:
        raise InvalidInput(f"unknown backend {name!r}; choose one of: {', '.join(KNOWN_BACKENDS)}")
    module_name, class_name, hint = KNOWN_BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"the {name} backend cannot be loaded ({exc}). {hint}".strip()) from None
    return getattr(module, class_name)


def open_workspace(
    path: str | os.PathLike | None = None,
    *,
    backend: str | None = None,
    config: str | os.PathLike | None = None,
    sdk: str | None = None,
) -> Backend:
    """Open (creating if needed) a local workspace folder, or an Azure ML workspace from ``config`` through
    ``sdk`` ("v2" or "v1"; ``default_sdk`` when None).

    Raises InvalidInput for an unknown backend name or SDK or a bad path, and
    BackendUnavailable when the backend's libraries cannot be imported.
    """
    if backend is None and config:
        backend = AZURE_SDKS[check_sdk(sdk or default_sdk(config))]
    name = backend or "local"
    cls = backend_class(name)
    if name in AZURE_SDKS.values():
        if not config:
            raise InvalidInput(f"the {name} backend needs config=<path to the workspace's config.json>")
        return cls(config=Path(config))
    return cls(path)


def chosen_config(config: str | os.PathLike | None = None) -> str | None:
    """The Azure ML workspace to open, if any: ``config`` when given, else ``$OPML_AZURE_CONFIG``; None means
    the local workspace. The CLI and the dashboard both choose through this."""
    return str(config) if config else azure_config_from_environment()


def open_chosen_workspace(
    path: str | os.PathLike | None = None, *, config: str | os.PathLike | None = None, sdk: str | None = None
) -> Backend:
    """The workspace a command works on: Azure ML when a ``config.json`` is chosen (``chosen_config``), through
    ``sdk`` (``default_sdk`` when None), else the local folder ``path`` (default ``$OPML_WORKSPACE``, else
    ``~/.opml/workspace``)."""
    azure = chosen_config(config)
    return open_workspace(config=azure, sdk=sdk) if azure else open_workspace(path)
