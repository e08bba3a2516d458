"""The SDK v2 backend's training path (computes, datasets, jobs, models) over the fakes of azure-ai-ml: the Backend
contract of each concern, and the entities and requests opml sends Azure (``tests/azure_v2_fakes``)."""

from __future__ import annotations

import sys

import pytest

from opml.errors import BackendUnavailable, InvalidInput, NotFound
from tests.azure_v2_capabilities import AZURE_V2
from tests.azure_v2_fakes.compute import add_cluster
from tests.azure_v2_fakes.data import add_external_data
from tests.contract import Capabilities
from tests.contract.computes import ComputeContract
from tests.contract.datasets import DatasetContract


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


class TestV2Datasets(V2Fixtures, DatasetContract):
    pass


# -- datasets ---------------------------------------------------------------------------------


def test_a_dataset_is_an_mltable_asset_azure_can_read(v2_backend, v2_cloud, bank_small_csv):
    import yaml

    dataset = v2_backend.register_dataset(name="bank", source=bank_small_csv, tags={"team": "ops"})
    [call] = v2_cloud.calls_of("data.create_or_update")
    data = call["data"]
    assert (data.name, data.type, data.version) == ("bank", "mltable", None)  # Azure numbers it
    assert dataset.version == 1
    assert (
        data.tags["team"] == "ops" and data.tags["opml_sha256"] == dataset.sha256 and data.tags["opml_rows"] == "2000"
    )
    uploaded = {path.rsplit("/", 1)[-1]: body for path, body in v2_cloud.kind("blobs").items()}
    table = yaml.safe_load(uploaded["MLTable"])
    assert table["paths"] == [{"file": "./data.csv"}]
    assert table["transformations"][0]["read_delimited"]["delimiter"] == ","
    assert uploaded["data.csv"].decode().splitlines()[0].startswith("age,")
    assert v2_backend.runs.datasets.training_input("bank", 1)._to_dict() == {
        "type": "mltable",
        "path": "azureml:bank:1",
    }


def test_assets_made_outside_opml_are_listed_when_they_are_tables(v2_backend, v2_cloud, monkeypatch):
    add_external_data(v2_cloud, "sales", "3", type="uri_file", path="azureml://datastores/d/paths/sales.csv")
    add_external_data(v2_cloud, "images", "1", type="uri_folder", path="azureml://datastores/d/paths/img/")
    add_external_data(v2_cloud, "named", "v2", type="mltable", path="azureml://datastores/d/paths/t/")
    assert [(d.name, d.version, d.source) for d in v2_backend.list_datasets()] == [("sales", 3, "Azure ML (uri_file)")]
    with pytest.raises(NotFound, match="uri_folder"):
        v2_backend.get_dataset("images")
    monkeypatch.setitem(sys.modules, "mltable", None)  # not installed
    with pytest.raises(BackendUnavailable, match="pip install mltable"):
        v2_backend.load_dataset("sales")
    with pytest.raises(NotFound, match="mltable"):
        v2_backend.runs.datasets.training_input("sales", 3)
