"""Fakes of ``JobOperations`` (``MLClient.jobs``) and ``WorkspaceOperations`` (``MLClient.workspaces``). STUB."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeJobOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud


class FakeWorkspaceOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
