"""The Azure backend against Azure ML's SDK v1 itself where it works offline (``tests/azure_offline.py``):
the pipeline graph builder, AutoML's settings validation (run by ``AutoMLStep`` while the graph is built,
ending in the validation request Azure would receive), ``PipelineData`` and ``OutputFileDatasetConfig``.
Fakes stand in only for what crosses the network; nothing leaves loopback. (``ScheduleRecurrence`` is the
real class in every Azure test: the fakes use it, and the fake ``Schedule.create`` validates it as Azure's does.)"""

from __future__ import annotations

import json

import pytest

from opml.backends.azure import AzureMLBackend
from tests.azure_fakes import make_fake_sdk
from tests.azure_fixtures import PIPELINE_STEPS, write_config
from tests.azure_offline import AzureStandIn, offline_workspace, real_pipeline_sdk


@pytest.fixture
def stand_in():
    server = AzureStandIn()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def real(cloud, stand_in, tmp_path, bank_small_csv, no_internet, monkeypatch):
    """An Azure backend whose pipeline parts are the real SDK's, with the dataset ``bank`` registered. The
    working folder is the empty ``tmp_path / "cwd"`` (the SDK writes files to the working folder if let)."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    fakes = make_fake_sdk(cloud)
    fake_backend = AzureMLBackend(
        config=write_config(tmp_path), sdk=fakes, auth=fakes.AzureCliAuthentication(), state_dir=tmp_path / "state"
    )
    fake_backend.register_dataset(name="bank", source=bank_small_csv)
    workspace = offline_workspace(cloud, stand_in)
    return AzureMLBackend(
        config=write_config(tmp_path),
        sdk=real_pipeline_sdk(fakes, workspace, stand_in),
        auth=workspace._auth_object,
        state_dir=tmp_path / "state",
    )


def build(backend: AzureMLBackend, steps, **parameters):
    """opml's pipeline built into a real ``azureml.pipeline.core.Pipeline`` (the graph, not yet uploaded)."""
    pipeline = backend.create_pipeline(name="p", steps=steps, parameters=parameters)
    return backend.pipelines._azure_pipeline(pipeline, {})


def nodes(pipeline) -> dict:
    return {node.name: node for node in pipeline._graph.nodes}


def source_of(node, input_name: str):
    """(producing node, output port name) of a node's input."""
    port = next(p for p in node.inputs if p.name == input_name).incoming_edge.source_port
    return port.node, port.name


def automl_settings(stand_in: AzureStandIn) -> dict:
    """The AutoML settings of the last validation request the graph builder sent to Azure."""
    (_, body), *_ = stand_in.paths("POST", "/validation")[-1:]
    return json.loads(body["amlSettingsJsonString"])


def test_the_real_graph_builder_takes_the_automl_and_register_steps(real, stand_in, tmp_path):
    pipeline = build(real, PIPELINE_STEPS, dataset="bank")
    assert list((tmp_path / "cwd").iterdir()) == []  # the SDK's automl.log goes to opml's state folder
    built = nodes(pipeline)
    assert built.keys() == {"training_data", "train", "register"}  # training_data: the registered dataset
    assert source_of(built["register"], "model_data") == (built["train"], "model_data")  # registers after training
    assert source_of(built["train"], "training_data")[0] is built["training_data"]
    train, register = (built[name]._module_builder._module_def for name in ("train", "register"))
    assert (train._step_type, train.allow_reuse) == ("AutoMLStep", False)
    assert (register._step_type, register.allow_reuse) == ("PythonScriptStep", False)
    settings = automl_settings(stand_in)
    assert settings["experiment_timeout_minutes"] == 20 and settings["primary_metric"] == "accuracy"
    assert settings["compute_target"] == "cpu-cluster" and settings["task_type"] == "classification"
    assert settings["vm_type"] == "STANDARD_DS3_V2"  # read from the compute list, as Azure answers it


def test_the_real_graph_builder_takes_a_prep_step_whose_output_is_a_registered_tabular_dataset(
    real, stand_in, tmp_path
):
    script = tmp_path / "prep.py"
    script.write_text("def prepare(df):\n    return df.dropna()\n")
    steps = [
        {
            "name": "prep",
            "type": "data_prep",
            "script": str(script),
            "input_dataset": "bank",
            "output_dataset": "bank-prepared",
        },
        {"name": "train", "type": "automl", "settings": {"dataset": "bank-prepared", "label_column": "y"}},
        {"name": "register", "type": "register_model", "model_name": "bank-model"},
    ]
    built = nodes(build(real, steps))
    assert {"prep", "train", "register"} <= built.keys()
    producer, port = source_of(built["train"], "training_data")
    assert (producer, port) == (built["prep"], "prepared")  # AutoML trains on the prep step's output
    output = next(p for p in built["prep"].outputs if p.name == "prepared").dataset_output
    assert type(output).__name__ == "OutputTabularDatasetConfig"  # promoted: read as delimited files
    assert output._registration.name == "bank-prepared"  # registered when the step completes
    assert source_of(built["prep"], "raw")[0].name == "raw"  # the input dataset, as a named input
    settings = automl_settings(stand_in)
    assert settings["label_column_name"] == "y"
