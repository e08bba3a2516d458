"""Fake of ``ModelOperations`` (``MLClient.models``). STUB: to be written."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeModelOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
