"""The handle every part of the Azure backend works on: the SDK, the signed-in workspace, opml's state folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opml.backends.azure.sdk import AzureSDK
from opml.backends.azure_common.state import AzureState


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
