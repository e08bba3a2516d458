"""The workspace as a whole: what it describes, and whether something executes its queued work."""

from __future__ import annotations

from pathlib import Path

from tests.contract.fixtures import ContractFixtures


class WorkspaceContract(ContractFixtures):
    def test_describe_counts_objects(self, backend, bank_small_csv: Path):
        before = backend.describe()
        backend.register_dataset(name="bank", source=bank_small_csv)
        backend.create_compute(name="big", max_nodes=2)
        after = backend.describe()
        assert after.backend == backend.kind
        assert after.location.strip()
        assert after.counts["datasets"] == before.counts["datasets"] + 1
        assert after.counts["computes"] == before.counts["computes"] + 1

    def test_agent_status_without_an_executor(self, backend, capabilities):
        status = backend.agent_status()
        assert status.detail.strip()
        if capabilities.runs_in_local_agent:
            assert (status.running, status.pid) == (False, None)
        else:
            assert status.running and status.pid is None

    def test_agent_status_with_an_executor(self, backend, executor, capabilities):
        status = backend.agent_status()
        assert status.running and status.detail.strip()
        if capabilities.runs_in_local_agent:
            assert isinstance(status.pid, int) and str(status.pid) in status.detail
        else:
            assert status.pid is None
