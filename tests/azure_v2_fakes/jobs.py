"""Fakes of ``JobOperations`` (``MLClient.jobs``) and ``WorkspaceOperations`` (``MLClient.workspaces``)."""

from __future__ import annotations

from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeJobOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def list(self, *, parent_job_name: str | None = None, list_view_type: Any = "ActiveOnly", **kwargs: Any) -> Any:
        self.cloud.called("jobs.list", parent_job_name=parent_job_name)
        with self.cloud.lock:
            return list(self.cloud.kind("jobs").values())


class FakeWorkspaceOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
