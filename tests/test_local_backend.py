"""The Backend contract, run against the local backend for real (SQLite + agent processes)."""

import pytest

from opml.backends.local import LocalBackend
from tests.contract.backend_contract import BackendContract
from tests.helpers import other_model_run


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend(self, local_backend: LocalBackend) -> LocalBackend:
        return local_backend

    @pytest.fixture
    def executor(self, agent):
        return agent

    @pytest.fixture
    def model_runs(self, trained_backend: LocalBackend, automl_run_id):
        return trained_backend, automl_run_id, other_model_run(trained_backend, automl_run_id)
