"""The SDK v2 backend's training path (computes, datasets, jobs, models) over the fakes of azure-ai-ml: the entities
and requests opml sends Azure (``tests/azure_v2_fakes``). The Backend contract runs in test_azure_v2_backend.py."""

from __future__ import annotations

import json
import sys

import pytest

from opml.backends.azure_v2.convert import opml_status
from opml.backends.azure_v2.mlflow_rest import rest_base
from opml.entities import COMPLETED, MASK, RUN_STATUSES
from opml.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, Unauthorized
from opml.leaderboard import leaderboard
from tests.azure_fixtures import submit_automl
from tests.azure_v2_fakes import expired_sign_in, http_error
from tests.azure_v2_fakes.compute import add_cluster
from tests.azure_v2_fakes.data import add_external_data


@pytest.fixture
def v2_backend(azure_v2, v2_cloud):
    """The SDK v2 backend over a workspace holding the cluster ``cpu-cluster`` (made in Azure)."""
    add_cluster(v2_cloud, "cpu-cluster", max_instances=4)
    return azure_v2


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
    assert (v2_backend.get_dataset("sales").version, v2_backend.get_dataset("sales").columns) == (3, ())
    with pytest.raises(NotFound, match="mltable"):
        v2_backend.runs.datasets.training_input("sales", 3)


# -- jobs: what opml submits -------------------------------------------------------------------


def submitted_job(cloud):
    [call] = cloud.calls_of("jobs.create_or_update")
    return call["job"]


def test_the_automl_job_carries_a_local_runs_settings(v2_backend, v2_cloud, bank_small_csv):
    from azure.ai.ml.entities._job.automl.tabular.classification_job import ClassificationJob

    run = submit_automl(
        v2_backend,
        bank_small_csv,
        primary_metric="AUC_weighted",
        experiment_timeout_minutes=45,
        max_iterations=20,
        max_concurrent_iterations=6,
        enable_early_stopping=False,
        allowed_algorithms=["LightGBM", "RandomForest"],
        blocked_algorithms=["RandomForest"],
        enable_voting_ensemble=False,
        enable_stack_ensemble=True,
        validation_size=0.2,
    )
    job = submitted_job(v2_cloud)
    assert isinstance(job, ClassificationJob)
    assert (job.compute, job.experiment_name, job.target_column_name) == ("cpu-cluster", "bank-automl", "y")
    assert job.training_data._to_dict() == {"type": "mltable", "path": "azureml:bank:1"}
    assert json.loads(job.tags["opml_params"])["primary_metric"] == "AUC_weighted"
    note = json.loads(job.tags["opml_notes"])[0]
    assert "6 concurrent iterations" in note and "at most 4 nodes" in note
    rest = job._to_rest_object().as_dict()["properties"]
    task = rest["taskDetails"]
    assert (rest["jobType"], rest["experimentName"], task["taskType"]) == ("AutoML", "bank-automl", "Classification")
    assert task["primaryMetric"] == "AUCWeighted" and task["targetColumnName"] == "y"
    assert task["trainingData"] == {"uri": "azureml:bank:1", "jobInputType": "mltable"}
    assert task["validationDataSize"] == 0.2 and "nCrossValidations" not in task
    limits = task["limitSettings"]
    assert (limits["timeout"], limits["maxTrials"], limits["maxConcurrentTrials"]) == ("PT45M", 20, 6)
    assert limits["enableEarlyTermination"] is False
    training = task["trainingSettings"]
    assert training["allowedTrainingAlgorithms"] == ["LightGBM", "RandomForest"]
    assert training["blockedTrainingAlgorithms"] == ["RandomForest"]
    assert (training["enableVoteEnsemble"], training["enableStackEnsemble"]) == (False, True)
    assert task["featurizationSettings"]["mode"] == "auto"
    assert run.status == "Queued" and run.run_type == "automl" and run.progress["primary_metric"] == "AUC_weighted"


def test_cross_validation_and_featurization_off_reach_the_job(v2_backend, v2_cloud, tmp_path):
    rows = "\n".join(f"{i},{i % 7},{'yes' if i % 3 else 'no'}" for i in range(60))
    csv = tmp_path / "numeric.csv"
    csv.write_text(f"a,b,y\n{rows}\n")
    v2_backend.register_dataset(name="numbers", source=csv)
    params = {"dataset": "numbers", "label_column": "y", "experiment_timeout_minutes": 15, "featurization": "off"}
    params["n_cross_validations"] = 3
    v2_backend.submit_run(experiment="e", run_type="automl", compute="cpu-cluster", params=params)
    task = submitted_job(v2_cloud)._to_rest_object().as_dict()["properties"]["taskDetails"]
    assert task["nCrossValidations"] == {"value": 3, "mode": "Custom"} and "validationDataSize" not in task
    assert task["featurizationSettings"]["mode"] == "off"
    assert task["limitSettings"]["timeout"] == "PT15M"
    assert "allowedTrainingAlgorithms" not in task["trainingSettings"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"experiment_timeout_minutes": 10}, "at least 15"),
        ({"experiment_timeout_minutes": 20.5}, "whole number"),
        ({"max_iterations": 1001}, "at most 1,000"),
    ],
)
def test_azures_automl_limits_are_checked_before_submitting(v2_backend, v2_cloud, bank_small_csv, settings, message):
    with pytest.raises(InvalidInput, match=message):
        submit_automl(v2_backend, bank_small_csv, **settings)
    assert not v2_cloud.calls_of("jobs.create_or_update")


def test_an_algorithm_azure_lacks_is_refused(v2_backend):
    params = {"label_column": "y", "primary_metric": "accuracy", "allowed_algorithms": ["NoSuchModel"]}
    params |= {"experiment_timeout_minutes": 30, "max_iterations": 5}
    with pytest.raises(InvalidInput, match="no algorithm NoSuchModel"):
        v2_backend.runs.automl_job(params, "cpu-cluster", training_input=object())


def test_a_command_job_runs_the_command_with_its_environment_masked_in_tags(v2_backend, v2_cloud, tmp_path):
    from azure.ai.ml.entities import CommandJob

    (tmp_path / "train.py").write_text("print('hi')\n")
    params = {"command": ["python", "train.py", "--name", "a b"], "cwd": str(tmp_path), "env": {"TOKEN": "s3cret"}}
    run = v2_backend.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=params)
    job = v2_cloud.kind("jobs")[run.id]
    assert isinstance(job, CommandJob)
    assert job.command == "python train.py --name 'a b'"
    assert job.environment == "azureml:AzureML-sklearn-1.5@latest"
    assert job.environment_variables == {"TOKEN": "s3cret"} and str(job.code) == str(tmp_path)
    assert "s3cret" not in json.dumps(job.tags) and json.loads(job.tags["opml_params"])["env"] == {"TOKEN": MASK}
    assert run.params["env"] == {"TOKEN": MASK}


def test_a_finished_command_jobs_outputs_are_read(v2_backend, v2_cloud, azure_v2_executor):
    code = "import json, os; os.makedirs('outputs'); json.dump({'ok': 1}, open('outputs/details.json', 'w'))"
    run = v2_backend.submit_run(
        experiment="e", run_type="command", compute="cpu-cluster", params={"command": [sys.executable, "-c", code]}
    )
    assert v2_backend.wait_for_run(run.id, timeout=30, poll_seconds=0.05).status == COMPLETED
    assert v2_backend.get_run_output(run.id, "details.json") == {"ok": 1}
    assert v2_backend.get_run_output(run.id, "other.json") is None
    assert len(v2_cloud.calls_of("jobs.download")) == 1  # a finished job's files are downloaded once


# -- progress and metrics through MLflow's REST API -------------------------------------------


@pytest.fixture
def finished_automl(v2_backend, azure_v2_executor, bank_small_csv):
    run = submit_automl(v2_backend, bank_small_csv)
    return v2_backend.wait_for_run(run.id, timeout=30, poll_seconds=0.05)


def test_progress_and_leaderboard_come_from_child_jobs_and_mlflow(v2_backend, v2_cloud, finished_automl):
    progress = finished_automl.progress
    assert progress["iterations_done"] == 3 and progress["best_child_id"] == f"{finished_automl.id}_2"
    assert progress["best_metric"] == pytest.approx(0.86)
    children = v2_backend.list_runs(parent_id=finished_automl.id)
    assert f"{finished_automl.id}_setup" not in [c.id for c in children]  # not a trial
    assert {c.experiment for c in children} == {"bank-automl"}  # not the experiment's id the SDK gives
    assert {c.run_type for c in children} == {"automl"}
    assert {c.params["algorithm"] for c in children} == {"LightGBM", "LogisticRegression", "RandomForest"}
    board = leaderboard(v2_backend, finished_automl.id)
    assert board[0]["run_id"] == progress["best_child_id"]
    child = v2_backend.get_run(progress["best_child_id"])
    assert child.parent_id == finished_automl.id and child.experiment == "bank-automl"
    assert child.started_at and child.ended_at


def test_mlflow_requests_carry_an_arm_token_and_the_parent_filter(v2_backend, v2_cloud, finished_automl):
    search = v2_cloud.calls_of("mlflow.runs/search")[-1]
    assert search["headers"]["Authorization"] == "Bearer token-for https://management.azure.com/.default"
    assert search["body"]["filter"] == f"tags.mlflow.parentRunId = '{finished_automl.id}'"
    assert search["body"]["experiment_ids"] == ["exp-bank-automl"]
    assert v2_cloud.calls_of("mlflow.experiments/get-by-name")[0]["params"] == {"experiment_name": "bank-automl"}
    gets = v2_cloud.calls_of("mlflow.runs/get")
    assert {"run_id": finished_automl.id} in [call["params"] for call in gets]
    assert len(v2_cloud.calls_of("workspaces.get")) == 1  # the tracking URI is asked for once


def test_mlflow_children_are_read_page_after_page(v2_backend, v2_cloud, finished_automl, monkeypatch):
    from opml.backends.azure_v2 import mlflow_rest

    monkeypatch.setattr(mlflow_rest, "PAGE_SIZE", 2)  # 4 children (3 trials, the setup child): 2 pages
    before = len(v2_cloud.calls_of("mlflow.runs/search"))
    children = v2_backend.list_runs(parent_id=finished_automl.id)
    pages = v2_cloud.calls_of("mlflow.runs/search")[before:]
    assert [page["body"].get("page_token") for page in pages] == [None, "2"]
    assert all(page["body"]["max_results"] == 2 for page in pages)
    assert all(child.started_at for child in children) and len(children) == 3  # every trial's MLflow run found


def test_the_tracking_uri_becomes_the_rest_address():
    uri = "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/r/workspaces/w"
    assert (
        rest_base(uri) == "https://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/r/workspaces/w"
    )
    assert rest_base("http://127.0.0.1:5000/mlflow/v1.0/x/") == "http://127.0.0.1:5000/mlflow/v1.0/x"


@pytest.mark.parametrize(
    ("status", "error", "advice"),
    [(401, Unauthorized, "az login"), (403, Unauthorized, "role"), (503, BackendUnavailable, "try again")],
)
def test_mlflow_refusals_are_opml_errors(v2_backend, v2_cloud, finished_automl, status, error, advice):
    v2_cloud.refuse("mlflow.runs/get", http_error(status, "the tracking server refused"))
    with pytest.raises(error, match=f"the tracking server refused.*{advice}"):
        v2_backend.get_run_metrics(finished_automl.id)


def test_a_run_mlflow_does_not_know_yet_has_no_metrics(v2_backend, v2_cloud, finished_automl):
    v2_cloud.refuse("mlflow.runs/get", http_error(404, "Run not found"))
    assert v2_backend.get_run_metrics(finished_automl.id) == {}


@pytest.mark.parametrize(
    ("operation", "failure", "error"),
    [
        ("jobs.get", http_error(404, "Job x not found"), NotFound),
        ("jobs.get", http_error(401, "Token expired"), Unauthorized),
        ("jobs.get", expired_sign_in(), Unauthorized),
        ("data.get", http_error(403, "AuthorizationFailed"), Unauthorized),
        ("models.list", http_error(401, "Token expired"), Unauthorized),
    ],
)
def test_a_refused_lookup_is_not_shown_as_not_found(v2_backend, v2_cloud, operation, failure, error):
    v2_cloud.refuse(operation, failure)
    lookup = {
        "jobs.get": lambda: v2_backend.get_run("bank-automl_1"),
        "data.get": lambda: v2_backend.get_dataset("bank"),
        "models.list": lambda: v2_backend.get_model("bank-model"),
    }[operation]
    with pytest.raises(error):
        lookup()


@pytest.mark.parametrize("status", [400, 409])
def test_a_quota_refusal_is_a_conflict(v2_backend, v2_cloud, status):
    quota = "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota"
    v2_cloud.refuse("compute.begin_create_or_update", http_error(status, quota, "OperationNotAllowed"))
    with pytest.raises(Conflict, match="quota increase"):
        v2_backend.create_compute(name="big", max_nodes=40)


# -- models -----------------------------------------------------------------------------------


def test_the_best_trials_mlflow_model_is_registered_with_its_lineage(v2_backend, v2_cloud, finished_automl):
    best = finished_automl.progress["best_child_id"]
    model = v2_backend.register_model(name="bank-model", run_id=finished_automl.id, tags={"team": "ops"})
    [call] = v2_cloud.calls_of("models.create_or_update")
    sent = call["model"]
    assert (sent.type, sent.version) == ("mlflow_model", None)
    assert sent.path == f"azureml://jobs/{best}/outputs/artifacts/outputs/mlflow-model"
    assert sent.properties["opml_run_id"] == best and sent.properties["opml_dataset"] == "bank:1"
    assert sent.properties["opml_algorithm"] == "RandomForest"
    assert (model.run_id, model.dataset, model.primary_metric) == (best, "bank:1", "accuracy")
    assert model.metrics["accuracy"] == pytest.approx(0.86) and model.tags == {"team": "ops"}
    schema = json.loads(sent.properties["opml_input_schema"])  # what a new deployment's schema is compared with
    columns = {column["name"]: column["type"] for column in schema}
    assert "y" not in columns and len(columns) == len(v2_backend.get_dataset("bank").columns) - 1
    assert (columns["age"], columns["job"]) == ("numeric", "categorical")
    trial = v2_backend.register_model(name="other", run_id=f"{finished_automl.id}_0")  # any completed trial
    assert trial.run_id == f"{finished_automl.id}_0" and trial.dataset == "bank:1"
    with pytest.raises(Conflict, match="not an AutoML trial"):
        v2_backend.register_model(name="setup", run_id=f"{finished_automl.id}_setup")


def test_a_served_model_is_not_deleted(v2_backend, v2_cloud, finished_automl):
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    model = v2_backend.register_model(name="bank-model", run_id=finished_automl.id)
    arm_id = v2_cloud.kind("models")[("bank-model", "1")].id
    v2_cloud.kind("online_endpoints")["bank"] = ManagedOnlineEndpoint(name="bank", auth_mode="key")
    v2_cloud.kind("online_deployments")[("bank", "blue")] = ManagedOnlineDeployment(
        name="blue", endpoint_name="bank", model=arm_id, instance_type="Standard_DS3_v2", instance_count=1
    )
    with pytest.raises(Conflict, match="bank/blue"):
        v2_backend.delete_model("bank-model", model.version)
    assert not v2_cloud.calls_of("models.archive")
    del v2_cloud.kind("online_deployments")[("bank", "blue")]
    v2_backend.delete_model("bank-model", model.version)
    assert v2_cloud.calls_of("models.archive") == [{"name": "bank-model", "version": "1", "label": None}]
    with pytest.raises(NotFound):
        v2_backend.get_model("bank-model", 1)


def test_a_model_downloads_as_its_mlflow_folder(v2_backend, finished_automl):
    v2_backend.register_model(name="bank-model", run_id=finished_automl.id)
    path = v2_backend.download_model("bank-model")
    assert path.name == "model.pkl" and {p.name for p in path.parent.iterdir()} >= {"MLmodel", "model.pkl"}
    assert path.parent.name == "mlflow-model"
    with pytest.raises(BackendUnavailable, match="managed online endpoint"):
        v2_backend.load_model("bank-model")


@pytest.mark.parametrize(
    ("azure", "opml"),
    [
        ("NotStarted", "NotStarted"),
        ("Queued", "Queued"),
        ("Starting", "Preparing"),
        ("Provisioning", "Preparing"),
        ("Preparing", "Preparing"),
        ("Running", "Running"),
        ("NotResponding", "Running"),
        ("Paused", "Running"),
        ("Finalizing", "Finalizing"),
        ("CancelRequested", "CancelRequested"),
        ("Completed", "Completed"),
        ("Failed", "Failed"),
        ("Canceled", "Canceled"),
        ("Unknown", "Queued"),
        (None, "Queued"),
    ],
)
def test_every_v2_job_status_is_one_of_opmls(azure, opml):
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus  # the statuses Azure's API knows

    assert azure is None or azure in {status.value for status in JobStatus}
    assert opml_status(azure) == opml and opml in RUN_STATUSES


def test_best_child_takes_a_job_name(v2_backend, finished_automl):
    assert v2_backend.runs.best_child(finished_automl.id).name == finished_automl.progress["best_child_id"]


def test_no_v2_job_status_is_left_unmapped():
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus

    assert {opml_status(status.value) for status in JobStatus} <= set(RUN_STATUSES)


def test_a_child_jobs_run_type_follows_its_parent():
    from azure.ai.ml.entities._job.base_job import _BaseJob

    from opml.backends.azure_v2.jobs import run_type_of

    step = _BaseJob(name="p_step", properties={"azureml.nodeid": "a1b2"})
    assert run_type_of(step) == run_type_of(_BaseJob(name="s"), "pipeline") == "pipeline_step"
    assert run_type_of(_BaseJob(name="t", properties={"runTemplate": "automl_child"})) == "automl"
    assert run_type_of(_BaseJob(name="c")) == "command"


def test_the_best_trial_azure_names_is_the_best_child(v2_backend, v2_cloud, finished_automl):
    assert v2_cloud.kind("mlflow_tags")[finished_automl.id] == {"automl_best_child_run_id": f"{finished_automl.id}_2"}
    v2_cloud.kind("mlflow_tags")[finished_automl.id] = {"automl_best_child_run_id": f"{finished_automl.id}_0"}
    progress = v2_backend.get_run(finished_automl.id).progress
    assert progress["best_child_id"] == f"{finished_automl.id}_0" and progress["best_metric"] == pytest.approx(0.80)


def test_automl_training_data_must_be_a_registered_mltable(v2_backend, v2_cloud):
    """The fake refuses what Azure refuses: opml cannot hand AutoML a uri_file or a missing asset."""
    add_external_data(v2_cloud, "sales", "1", type="uri_file", path="azureml://datastores/d/paths/sales.csv")
    with pytest.raises(NotFound, match="mltable"):
        v2_backend.runs.datasets.training_input("sales", 1)
    params = {"label_column": "y", "primary_metric": "accuracy", "experiment_timeout_minutes": 20}
    params |= {"max_iterations": 5, "max_concurrent_iterations": 1, "enable_early_stopping": True}
    params |= {"n_cross_validations": 3}
    job = v2_backend.runs.automl_job(params, "cpu-cluster", v2_backend.sdk.Input(type="mltable", path="azureml:gone:1"))
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError, match="gone"):
        v2_backend.client.jobs.create_or_update(job)
