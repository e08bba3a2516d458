"""The Backend contract (tests/contract) over the SDK v2 backend and the fakes of azure-ai-ml's operations: the same
suite the local and SDK v1 backends pass, with what v2 does differently named in ``AZURE_V2``."""

from __future__ import annotations

import pytest

from opml.entities import COMPLETED
from tests.azure_fixtures import submit_automl
from tests.azure_v2_capabilities import AZURE_V2
from tests.azure_v2_fakes.compute import add_cluster
from tests.azure_v2_fixtures import ticking
from tests.contract import BackendContract, Capabilities


class TestAzureV2BackendContract(BackendContract):
    @pytest.fixture
    def backend(self, azure_v2, v2_cloud):
        """A workspace holding the cluster ``cpu-cluster`` (made in Azure)."""
        add_cluster(v2_cloud, "cpu-cluster", max_instances=4)
        return azure_v2

    @pytest.fixture
    def executor(self, azure_v2_executor):
        return azure_v2_executor

    @pytest.fixture
    def capabilities(self) -> Capabilities:
        return AZURE_V2

    @pytest.fixture
    def model_runs(self, backend, v2_cloud, bank_small_csv):
        """A finished AutoML job (trained on Azure's ticks, which stop before the test: a test that wants Azure to
        go on takes ``executor``) and two of its trials."""
        with ticking(v2_cloud):
            run = submit_automl(backend, bank_small_csv)
            finished = backend.wait_for_run(run.id, timeout=30, poll_seconds=0.05)
        best = finished.progress["best_child_id"]
        other = next(c.id for c in backend.list_runs(parent_id=run.id) if c.id != best and c.status == COMPLETED)
        return backend, run.id, other
