"""The handle every part of the Azure backend works on: the SDK, the signed-in workspace, opml's state folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opml.backends.azure.sdk import AzureSDK
from opml.backends.azure.state import AzureState
from opml.errors import InvalidInput

CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")


def read_config(path: Path) -> dict[str, str]:
    """The workspace coordinates of a portal ``config.json``; InvalidInput names what is wrong."""
    if not path.is_file():
        raise InvalidInput(f"Azure ML config file {path} does not exist (download config.json from the portal)")
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON config file: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"{path} must hold a JSON object with {', '.join(CONFIG_KEYS)}")
    missing = [key for key in CONFIG_KEYS if not isinstance(config.get(key), str) or not config[key].strip()]
    if missing:
        raise InvalidInput(f"{path} is missing {', '.join(missing)}")
    return {key: config[key] for key in CONFIG_KEYS}


@dataclass(frozen=True)
class AzureWorkspace:
    sdk: AzureSDK
    ws: Any  # azureml.core.Workspace
    state: AzureState
    name: str  # the workspace's name, for messages


class AzurePart:
    """One concern of the Azure backend (datasets, computes, runs, ...) over the shared workspace handle."""

    def __init__(self, workspace: AzureWorkspace):
        self.workspace = workspace
        self.sdk = workspace.sdk
        self.ws = workspace.ws
        self.state = workspace.state


def last_scalar(value: Any) -> float | None:
    """The last value of an Azure metric (a number, or the list a metric logged several times becomes)."""
    if isinstance(value, list):
        value = value[-1] if value else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
