"""Computes: named pools that run at most ``max_nodes`` runs at once."""

from __future__ import annotations

import pytest

from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, OperationTimeout
from tests.contract.fixtures import ContractFixtures, python_command


class ComputeContract(ContractFixtures):
    def test_default_compute_exists(self, backend):
        assert "cpu-cluster" in [c.name for c in backend.list_computes()]

    def test_create_get_delete_compute(self, backend):
        created = backend.create_compute(name="big", max_nodes=4)
        assert created.max_nodes == 4 and created.active_runs == 0 and created.queued_runs == 0
        assert backend.get_compute("big").name == "big"
        assert "big" in [c.name for c in backend.list_computes()]
        with pytest.raises(AlreadyExists):
            backend.create_compute(name="big", max_nodes=1)
        backend.delete_compute("big")
        with pytest.raises(NotFound):
            backend.get_compute("big")
        assert "big" not in [c.name for c in backend.list_computes()]

    def test_unknown_compute_is_not_found(self, backend):
        with pytest.raises(NotFound):
            backend.get_compute("nope")
        with pytest.raises(NotFound):
            backend.delete_compute("nope")

    @pytest.mark.parametrize("max_nodes", [0, -1, 65, 1.5, "2", True])
    def test_compute_rejects_bad_max_nodes(self, backend, max_nodes):
        with pytest.raises(InvalidInput, match="max_nodes"):
            backend.create_compute(name="c1", max_nodes=max_nodes)
        assert "c1" not in [c.name for c in backend.list_computes()]

    @pytest.mark.parametrize("name", ["", "../x", "a/b"])
    def test_compute_rejects_bad_names(self, backend, name):
        before = backend.list_computes()
        with pytest.raises(InvalidInput):
            backend.create_compute(name=name, max_nodes=1)
        assert backend.list_computes() == before

    def test_computes_count_their_queued_runs(self, backend):
        backend.create_compute(name="busy", max_nodes=1)
        run = backend.submit_run(experiment="e", run_type="command", compute="busy", params=python_command("pass"))
        assert backend.get_compute("busy").queued_runs == 1
        assert {c.name: c.queued_runs for c in backend.list_computes()}["busy"] == 1
        backend.cancel_run(run.id)
        assert backend.get_compute("busy").queued_runs == 0

    def test_deleting_a_compute_with_queued_runs(self, backend, capabilities):
        backend.create_compute(name="busy", max_nodes=1)
        backend.submit_run(experiment="e", run_type="command", compute="busy", params=python_command("pass"))
        if capabilities.busy_compute_delete_refused:
            with pytest.raises(Conflict):
                backend.delete_compute("busy")
            assert backend.get_compute("busy").name == "busy"
        else:
            backend.delete_compute("busy")
            with pytest.raises(NotFound):
                backend.get_compute("busy")

    def test_creating_a_compute_of_a_vm_size(self, backend, capabilities):
        if capabilities.computes_take_vm_size:
            backend.create_compute(name="sized", max_nodes=2, vm_size="STANDARD_DS3_V2")
            assert backend.get_compute("sized").max_nodes == 2
        else:
            with pytest.raises(InvalidInput, match="vm_size"):
                backend.create_compute(name="sized", max_nodes=2, vm_size="STANDARD_DS3_V2")
            assert "sized" not in [c.name for c in backend.list_computes()]

    def test_a_cluster_keeps_min_nodes_only_on_azure(self, backend, capabilities):
        with pytest.raises(InvalidInput, match="min_nodes must be a whole number from 0 to max_nodes"):
            backend.create_compute(name="warm", max_nodes=2, min_nodes=3)
        if capabilities.computes_take_vm_size:
            created = backend.create_compute(name="warm", max_nodes=2, min_nodes=1)
            assert (created.min_nodes, backend.get_compute("warm").min_nodes) == (1, 1)
        else:
            with pytest.raises(InvalidInput, match="min_nodes applies to Azure ML clusters"):
                backend.create_compute(name="warm", max_nodes=2, min_nodes=1)
            assert "warm" not in [c.name for c in backend.list_computes()]

    def test_new_compute_is_provisioned(self, backend, executor, capabilities):
        created = backend.create_compute(name="big", max_nodes=2)
        assert created.state == ("Creating" if capabilities.computes_provisioned_async else "Succeeded")
        assert backend.wait_for_compute("big", timeout=10, poll_seconds=0.05).state == "Succeeded"

    def test_waiting_for_a_compute_still_provisioning_times_out(self, backend, capabilities):
        backend.create_compute(name="big", max_nodes=2)
        if capabilities.computes_provisioned_async:
            with pytest.raises(OperationTimeout, match="Creating"):
                backend.wait_for_compute("big", timeout=0.2, poll_seconds=0.05)
        else:
            assert backend.wait_for_compute("big", timeout=0.2, poll_seconds=0.05).state == "Succeeded"
