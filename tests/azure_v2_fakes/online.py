"""Fakes of ``OnlineEndpointOperations`` and ``OnlineDeploymentOperations``. STUB: to be written."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeOnlineEndpointOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud


class FakeOnlineDeploymentOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
