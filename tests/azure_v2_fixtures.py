"""Fixtures of the SDK v2 backend over its fakes (a plugin of tests/conftest.py)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from opml.backends.azure_v2 import AzureMLv2Backend
from tests.azure_fixtures import write_config
from tests.azure_v2_fakes import FakeAzureML, make_fake_sdk


@pytest.fixture
def v2_cloud():
    """An empty SDK v2 workspace ``ws-1`` (subscription sub-1, resource group rg-1). Its loopback batch endpoint
    server (started by the first batch endpoint) is closed afterwards."""
    cloud = FakeAzureML()
    yield cloud
    server = getattr(cloud, "batch_server", None)
    if server is not None:
        server.close()


@pytest.fixture
def azure_v2(v2_cloud: FakeAzureML, tmp_path: Path) -> AzureMLv2Backend:
    """The SDK v2 backend over ``v2_cloud``, signed in with DefaultAzureCredential's fake."""
    sdk = make_fake_sdk(v2_cloud)
    return AzureMLv2Backend(
        config=write_config(tmp_path), sdk=sdk, credential=sdk.DefaultAzureCredential(), state_dir=tmp_path / "v2"
    )


@pytest.fixture
def azure_v2_executor(v2_cloud: FakeAzureML):
    """Azure's side: clusters provision, jobs run, deployments become Healthy, one tick every 50 ms."""
    stop = threading.Event()

    def loop():
        while not stop.wait(0.05):
            v2_cloud.execute_pending()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield v2_cloud
    stop.set()
    thread.join()


@contextlib.contextmanager
def ticking(cloud: FakeAzureML):
    """Azure's side every 20 ms, only inside the block."""
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [cloud.execute_pending() for _ in iter(lambda: stop.wait(0.02), True)])
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
