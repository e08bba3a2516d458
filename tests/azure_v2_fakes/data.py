"""Fake of ``DataOperations`` (``MLClient.data``). STUB: to be written."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeDataOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
