"""Fake of ``ScheduleOperations`` (``MLClient.schedules``). STUB: to be written."""

from __future__ import annotations

from tests.azure_v2_fakes.cloud import FakeAzureML


class FakeScheduleOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
