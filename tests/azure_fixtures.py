"""Fixtures of the Azure backend over the SDK fakes (a plugin of tests/conftest.py)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from opml.backends.azure import AzureMLBackend
from tests.azure_fakes import FakeCloud, FakeRun, make_fake_sdk
from tests.azure_offline import no_internet  # noqa: F401 (a fixture, offered to every test module)


def write_config(folder: Path, **overrides) -> Path:
    config = {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1", **overrides}
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def cloud() -> FakeCloud:
    cloud = FakeCloud()
    sdk = make_fake_sdk(cloud)
    sdk.ComputeTarget.create(
        sdk.Workspace("sub-1", "rg-1", "ws-1"),
        "cpu-cluster",
        sdk.AmlCompute.provisioning_configuration(vm_size="STANDARD_DS3_V2", max_nodes=4),
    )
    cloud.computes["cpu-cluster"].provisioning_state = "Succeeded"
    return cloud


@pytest.fixture
def azure(cloud: FakeCloud, tmp_path: Path) -> AzureMLBackend:
    sdk = make_fake_sdk(cloud)
    return AzureMLBackend(
        config=write_config(tmp_path), sdk=sdk, auth=sdk.AzureCliAuthentication(), state_dir=tmp_path / "state"
    )


@pytest.fixture
def azure_executor(cloud: FakeCloud):
    """Azure's side: submitted runs execute, deployments become Healthy."""
    stop = threading.Event()

    def loop():
        while not stop.wait(0.05):
            cloud.execute_pending()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield cloud
    stop.set()
    thread.join()


def add_finished_runs(cloud, experiment: str, count: int, *, created: datetime) -> list[FakeRun]:
    """Runs Azure holds (made there, not by opml), one a second from ``created``, each run and finished."""
    runs = []
    for index in range(count):
        run = FakeRun(cloud, experiment, None, run_id=f"{experiment}_{index}")
        moment = created + timedelta(seconds=index)
        run._created = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        run._status = "Completed"
        run._details.update(startTimeUtc=moment.isoformat(), endTimeUtc=(moment + timedelta(minutes=1)).isoformat())
        cloud.runs[run.id] = run
        runs.append(run)
    cloud.experiments.add(experiment)
    return runs


def submit_automl(azure, bank_small_csv, **settings):
    azure.register_dataset(name="bank", source=bank_small_csv)
    params = {"dataset": "bank", "label_column": "y", "experiment_timeout_minutes": 30, **settings}
    return azure.submit_run(experiment="bank-automl", run_type="automl", compute="cpu-cluster", params=params)


PIPELINE_STEPS = [
    {
        "name": "train",
        "type": "automl",
        "settings": {"dataset": "${dataset}", "label_column": "y", "experiment_timeout_minutes": 20},
    },
    {"name": "register", "type": "register_model", "model_name": "bank-model"},
]


def prep_pipeline_steps(tmp_path: Path, prepare: str, output_dataset: str, *, register: bool = False) -> list[dict]:
    """A data-prep step over the dataset ``bank`` (its ``prepare(df)`` returning ``prepare``, an expression of
    ``df``), an AutoML step on its output, and optionally a register step."""
    script = tmp_path / "prep.py"
    script.write_text(f"def prepare(df):\n    return {prepare}\n")
    steps = [
        {
            "name": "prep",
            "type": "data_prep",
            "script": str(script),
            "input_dataset": "bank",
            "output_dataset": output_dataset,
        },
        {"name": "train", "type": "automl", "settings": {"dataset": output_dataset, "label_column": "y"}},
    ]
    if register:
        steps.append({"name": "register", "type": "register_model", "model_name": "bank-model"})
    return steps
