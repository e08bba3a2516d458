"""The SDK v2 backend's training path (computes, datasets, jobs, models) over the fakes of azure-ai-ml: the Backend
contract of each concern, and the entities and requests opml sends Azure (``tests/azure_v2_fakes``)."""

from __future__ import annotations

import pytest

from opml.errors import InvalidInput
from tests.azure_v2_capabilities import AZURE_V2
from tests.azure_v2_fakes.compute import add_cluster
from tests.contract import Capabilities
from tests.contract.computes import ComputeContract


@pytest.fixture
def v2_backend(azure_v2, v2_cloud):
    """The SDK v2 backend over a workspace holding the cluster ``cpu-cluster`` (made in Azure)."""
    add_cluster(v2_cloud, "cpu-cluster", max_instances=4)
    return azure_v2


class V2Fixtures:
    @pytest.fixture
    def backend(self, v2_backend):
        return v2_backend

    @pytest.fixture
    def executor(self, azure_v2_executor):
        return azure_v2_executor

    @pytest.fixture
    def capabilities(self) -> Capabilities:
        return AZURE_V2


class TestV2Computes(V2Fixtures, ComputeContract):
    pass


# -- computes ---------------------------------------------------------------------------------


def test_a_cluster_is_created_as_azure_wants_it(v2_backend, v2_cloud):
    created = v2_backend.create_compute(name="gpu-2", max_nodes=3, vm_size="STANDARD_NC6")
    assert (created.state, created.kind, created.max_nodes) == ("Creating", "AmlCompute", 3)
    [call] = v2_cloud.calls_of("compute.begin_create_or_update")
    cluster = call["compute"]
    assert (cluster.name, cluster.size, cluster.min_instances, cluster.max_instances) == ("gpu-2", "STANDARD_NC6", 0, 3)
    assert cluster._to_rest_object().properties.properties.scale_settings.max_node_count == 3


@pytest.mark.parametrize("name", ["a", "1abc", "abc-", "a" * 17, "a_b"])
def test_compute_names_follow_azures_rule(v2_backend, v2_cloud, name):
    with pytest.raises(InvalidInput, match="2-16"):
        v2_backend.create_compute(name=name, max_nodes=1)
    assert not v2_cloud.calls_of("compute.begin_create_or_update")
