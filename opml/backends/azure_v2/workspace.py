"""The handle every part of the SDK v2 backend works on: the SDK, the ``MLClient``, the credential, opml's state
folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opml.backends.azure_common.state import AzureState
from opml.backends.azure_v2.sdk import AzureV2SDK


@dataclass
class AzureV2Workspace:
    sdk: AzureV2SDK
    client: Any  # azure.ai.ml.MLClient
    credential: Any  # an azure-core TokenCredential
    state: AzureState
    name: str  # the workspace's name, for messages
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def mlflow_tracking_uri(self) -> str:
        """``azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/...``: where runs' metrics are read
        (one request, the first time)."""
        if "mlflow" not in self._cache:
            self._cache["mlflow"] = self.client.workspaces.get(self.name).mlflow_tracking_uri
        return self._cache["mlflow"]


class AzureV2Part:
    """One concern of the SDK v2 backend (datasets, computes, jobs, ...) over the shared workspace handle."""

    def __init__(self, workspace: AzureV2Workspace):
        self.workspace = workspace
        self.sdk = workspace.sdk
        self.client = workspace.client
        self.state = workspace.state
