"""Fakes of ``BatchEndpointOperations``, ``BatchDeploymentOperations`` and ``ComponentOperations``. STUB."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeBatchEndpointOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud


class FakeBatchDeploymentOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud


class FakeComponentOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
