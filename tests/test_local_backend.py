"""The Backend contract, run against the local backend for real (SQLite + agent processes)."""

import pytest

from opml.backends.local import LocalBackend
from tests.contract.backend_contract import BackendContract


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend(self, local_backend: LocalBackend) -> LocalBackend:
        return local_backend

    @pytest.fixture
    def executor(self, agent):
        return agent
