"""SDK v2 pipelines, published pipelines (batch endpoints) and schedules (JobSchedules) over the v2 fakes: the
pipeline job graph opml builds, the batch endpoint and deployment, the REST trigger request (AAD header, body) to a
loopback server, the schedules' triggers; the contract modules of pipelines and schedules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from opml.backends.azure_v2 import pipeline_graph
from opml.backends.azure_v2.datasets import mltable_yaml
from opml.backends.azure_v2.pipelines import (
    DEPLOYMENT,
    asset_arm_id,
    data_asset_arm_id,
    default_deployment,
    endpoint_name,
    invoke_body,
)
from opml.entities import ACTIVE, DISABLED
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound, Unauthorized
from tests.azure_v2_fakes import FakeAzureML, http_error
from tests.azure_v2_fakes.batch_server import EXPECTED_TOKEN
from tests.azure_v2_fakes.compute import add_cluster
from tests.azure_v2_fakes.pipeline_jobs import children_of
from tests.azure_v2_fakes.schedules import fire_schedule
from tests.contract.fixtures import TRAINING_STEPS

PREP_SCRIPT = "def prepare(df):\n    return df.dropna()\n"


@pytest.fixture
def v2(azure_v2, v2_cloud: FakeAzureML):
    """The v2 backend with its cluster cpu-cluster."""
    add_cluster(v2_cloud, "cpu-cluster")
    return azure_v2


@pytest.fixture
def bank(v2, bank_small_csv: Path):
    v2.register_dataset(name="bank", source=bank_small_csv)
    return v2


def prep_steps(script: Path) -> list[dict]:
    return [
        {
            "name": "prep",
            "type": "data_prep",
            "script": str(script),
            "input_dataset": "${dataset}",
            "output_dataset": "bank-prepared",
        },
        {
            "name": "train",
            "type": "automl",
            "settings": {"dataset": "bank-prepared", "label_column": "y", "experiment_timeout_minutes": 20},
        },
        {"name": "register", "type": "register_model", "model_name": "bank-model"},
    ]


# -- the pipeline job graph ----------------------------------------------------------------------------------


def test_the_pipeline_job_graph_binds_prep_automl_and_register(bank, v2_cloud, tmp_path):
    script = tmp_path / "prep.py"
    script.write_text(PREP_SCRIPT)
    pipeline = bank.create_pipeline(name="bank-prep", steps=prep_steps(script), parameters={"dataset": "bank"})
    job = bank.pipelines.pipeline_job(pipeline, {}, tags={"opml_pipeline_id": pipeline.id})

    assert type(job).__name__ == "PipelineJob"
    assert list(job.jobs) == ["prep", "train", "register"]
    assert job.settings.default_compute == "cpu-cluster" and job.settings.force_rerun is True
    assert job.inputs["training_data"]._data.type == "mltable"
    assert job.inputs["training_data"]._data.path == "azureml:bank:1"
    assert job.tags == {"opml_pipeline_id": pipeline.id}
    prep, train, register = job.jobs["prep"], job.jobs["train"], job.jobs["register"]
    assert all(node.compute == "cpu-cluster" for node in (prep, train, register))
    # prep: the user's script in a code folder with the runner, reading the pipeline input, writing an mltable
    assert prep.type == "command" and prep.inputs.raw._data._data_binding() == "${{parent.inputs.training_data}}"
    assert prep.outputs.prepared.type == "mltable"
    assert prep.environment == "azureml:AzureML-sklearn-1.5@latest"
    code = Path(prep.code)
    assert (code / "prep.py").read_text() == PREP_SCRIPT
    assert (code / "prep_step.py").read_bytes() == (pipeline_graph.SCRIPTS / "prep_step.py").read_bytes()
    assert "--input ${{inputs.raw}} --output ${{outputs.prepared}}" in prep.command
    # the AutoML node trains on prep's output, its best model declared as an MLflow model
    assert train.type == "automl" and train.task_type.lower() == "classification"
    assert str(train.training_data) == "${{parent.jobs.prep.outputs.prepared}}"
    assert (train.target_column_name, train.primary_metric.lower()) == ("y", "accuracy")
    assert train.limits.timeout_minutes == 20
    assert train.outputs["best_model"].type == "mlflow_model"
    # register: the AutoML node's best model, the model name, the metric and what it was trained on
    assert register.inputs.model._data == "${{parent.jobs.train.outputs.best_model}}"
    assert register.inputs.model_name._data == "bank-model"
    assert register.inputs.dataset._data == "bank-prepared"
    assert (Path(register.code) / "register_step.py").is_file()

    rest = job._to_rest_object().as_dict()["properties"]  # what jobs.create_or_update sends
    assert rest["inputs"]["training_data"] == {"uri": "azureml:bank:1", "jobInputType": "mltable"}
    assert rest["jobs"]["train"]["training_data"] == "${{parent.jobs.prep.outputs.prepared}}"


def test_without_prep_the_automl_node_reads_the_pipeline_input(bank):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    job = bank.pipelines.pipeline_job(pipeline, {}, tags={})
    assert list(job.jobs) == ["train", "register"]
    assert str(job.jobs["train"].training_data) == "${{parent.inputs.training_data}}"
    assert job.jobs["register"].inputs.dataset._data == "bank:1"  # the version trained on, pinned


def test_the_prep_runner_writes_an_mltable_the_automl_node_can_read(tmp_path):
    """prep_step.py, run for real: the input folder's CSV through prepare(df), out as a CSV and its MLTable."""
    source, output = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "bank.csv").write_text("age,y\n30,no\n,yes\n41,yes\n")
    (source / "MLTable").write_text("paths:\n  - file: ./bank.csv\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "prep.py").write_text(PREP_SCRIPT)
    (code / "prep_step.py").write_bytes((pipeline_graph.SCRIPTS / "prep_step.py").read_bytes())
    done = subprocess.run(
        [sys.executable, "prep_step.py", "--input", str(source), "--output", str(output)],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (output / "prepared.csv").read_text().splitlines() == ["age,y", "30.0,no", "41.0,yes"]
    # the transformation Azure's MLTable schema names for CSV (reference-yaml-mltable: read_delimited,
    # read_parquet, read_json_lines, read_delta_lake), as in the MLTable opml registers datasets with
    written = yaml.safe_load((output / "MLTable").read_text())
    registered = yaml.safe_load(mltable_yaml("prepared.csv", multi_line=False))
    assert written["paths"] == registered["paths"]
    assert written["transformations"] == registered["transformations"]


def test_the_prep_runner_tells_the_reader_of_line_breaks_inside_values(tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "notes.csv").write_text('note,y\n"two\nlines",no\none,yes\n')
    code = tmp_path / "code"
    code.mkdir()
    (code / "prep.py").write_text("def prepare(df):\n    return df\n")
    (code / "prep_step.py").write_bytes((pipeline_graph.SCRIPTS / "prep_step.py").read_bytes())
    done = subprocess.run(
        [sys.executable, "prep_step.py", "--input", str(source), "--output", str(output)],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((output / "MLTable").read_text())
    assert written["transformations"] == [
        {
            "read_delimited": {
                "delimiter": ",",
                "encoding": "utf8",
                "header": "all_files_same_headers",
                "support_multi_line": True,
            }
        }
    ]


def test_environment_reference():
    assert pipeline_graph.environment_reference("AzureML-sklearn-1.5") == "azureml:AzureML-sklearn-1.5@latest"
    assert pipeline_graph.environment_reference("azureml:my-env:3") == "azureml:my-env:3"


# -- running ------------------------------------------------------------------------------------------------


def test_a_pipeline_run_submits_the_job_in_its_experiment_and_its_steps_become_child_jobs(bank, v2_cloud):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    run = bank.run_pipeline(pipeline.id, experiment="bank-pipeline")
    (call,) = v2_cloud.calls_of("jobs.create_or_update")
    assert call["experiment_name"] == "bank-pipeline"
    submitted = v2_cloud.kind("jobs")[run.id]
    assert submitted.experiment_name == "bank-pipeline"
    assert submitted.tags["opml_pipeline_id"] == pipeline.id and submitted.tags["opml_trigger"] == "UI"
    assert json.loads(submitted.tags["opml_params"]) == {"pipeline_id": pipeline.id, "parameters": {}}
    v2_cloud.execute_pending()
    assert sorted(child.display_name for child in children_of(v2_cloud, run.id)) == ["register", "train"]
    steps = bank.list_runs(parent_id=run.id)  # the steps, as the dashboard lists them (jobs.list(parent_job_name))
    assert sorted((step.display_name, step.run_type, step.status) for step in steps) == [
        ("register", "pipeline_step", "Running"),
        ("train", "pipeline_step", "Running"),
    ]
    assert {step.experiment for step in steps} == {"bank-pipeline"}
    v2_cloud.execute_pending()
    assert bank.get_run(run.id).status == "Completed"
    assert {step.status for step in bank.list_runs(parent_id=run.id)} == {"Completed"}


def test_an_unknown_dataset_submits_nothing(v2, v2_cloud):
    pipeline = v2.create_pipeline(name="p", steps=TRAINING_STEPS, parameters={"dataset": "nope"})
    with pytest.raises(NotFound, match="nope"):
        v2.run_pipeline(pipeline.id, experiment="e")
    assert v2_cloud.calls_of("jobs.create_or_update") == []


# -- publishing: a batch endpoint ------------------------------------------------------------------------------


def test_publishing_registers_the_component_and_deploys_it_behind_a_batch_endpoint(bank, v2_cloud):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    published = bank.publish_pipeline(pipeline.id, name="Bankmarketing Train", description="d", version="2.0")

    (component_call,) = v2_cloud.calls_of("components.create_or_update")
    component = component_call["component"]
    assert type(component).__name__ == "PipelineComponent"
    assert list(component.jobs) == ["train", "register"] and list(component.inputs) == ["training_data"]
    endpoint = v2_cloud.kind("batch_endpoints")[published.id]
    assert published.id.startswith("bankmarketing-train-") and endpoint.auth_mode == "aad_token"
    assert endpoint.tags["opml_name"] == "Bankmarketing Train" and endpoint.tags["opml_version"] == "2.0"
    assert endpoint.tags["opml_training_data"] == "azureml:bank:1"
    deployment = v2_cloud.kind("batch_deployments")[(published.id, DEPLOYMENT)]
    assert type(deployment).__name__ == "PipelineComponentBatchDeployment"
    assert deployment.component == f"azureml:{component.name}:1"
    assert deployment.settings == {"default_compute": "cpu-cluster", "continue_on_step_failure": "False"}
    assert default_deployment(endpoint) == DEPLOYMENT  # the default deployment, set once deployed
    assert published.endpoint == endpoint.scoring_uri and published.status == ACTIVE
    assert (published.name, published.version, published.pipeline_id) == ("Bankmarketing Train", "2.0", pipeline.id)


def test_endpoint_names_follow_azures_rule():
    for display in ("Bankmarketing Train", "1st pipeline", "x", "a" * 80, "Été / nightly"):
        name = endpoint_name(display)
        assert 3 <= len(name) <= 32 and name[0].isalpha(), name
        assert all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in name), name


def test_disabling_removes_the_default_deployment_and_enabling_sets_it_back(bank, v2_cloud):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    published = bank.publish_pipeline(pipeline.id, name="p")
    assert bank.set_published_pipeline_enabled(published.id, False).status == DISABLED
    endpoint = v2_cloud.kind("batch_endpoints")[published.id]
    assert default_deployment(endpoint) is None and endpoint.tags["opml_status"] == DISABLED
    assert (published.id, DEPLOYMENT) in v2_cloud.kind("batch_deployments")  # kept
    with pytest.raises(Conflict, match="enable it first"):
        bank.trigger_published_pipeline(published.id, experiment="e")
    assert bank.set_published_pipeline_enabled(published.id, True).status == ACTIVE
    assert default_deployment(v2_cloud.kind("batch_endpoints")[published.id]) == DEPLOYMENT


def test_a_refused_deployment_leaves_no_endpoint_behind(bank, v2_cloud):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    quota = http_error(400, "Quota exceeded for cores of the subscription", "QuotaExceeded")
    v2_cloud.refuse("batch_deployments.begin_create_or_update", quota)
    with pytest.raises(Conflict, match="Quota exceeded for cores"):
        bank.publish_pipeline(pipeline.id, name="p")
    assert v2_cloud.kind("batch_endpoints") == {} and bank.list_published_pipelines() == []


def test_batch_endpoints_not_made_by_opml_are_not_published_pipelines(bank, v2_cloud):
    from azure.ai.ml.entities import BatchEndpoint

    bank.client.batch_endpoints.begin_create_or_update(BatchEndpoint(name="model-scoring")).result()
    assert bank.list_published_pipelines() == []
    with pytest.raises(NotFound, match="not opml's"):
        bank.get_published_pipeline("model-scoring")


# -- triggering over REST ------------------------------------------------------------------------------------


@pytest.fixture
def published(bank):
    pipeline = bank.create_pipeline(name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
    return bank.publish_pipeline(pipeline.id, name="Bankmarketing Train", version="1.0")


def test_trigger_posts_to_the_scoring_uri_with_an_azure_ml_token_and_the_batch_body(bank, v2_cloud, published):
    run = bank.trigger_published_pipeline(published.id, experiment="bank-rest", tags={"team": "risk"})
    (request,) = v2_cloud.batch_server.requests
    assert published.endpoint.endswith(request["path"])
    assert request["headers"]["authorization"] == EXPECTED_TOKEN  # an AAD token of https://ml.azure.com
    assert request["headers"]["content-type"] == "application/json"
    assert json.loads(request["body"]) == {
        "properties": {
            "inputData": {
                "training_data": {"jobInputType": "MLTable", "uri": data_asset_arm_id(bank.client, "azureml:bank:1")}
            },
            "properties": {"experimentName": "bank-rest"},
        }
    }
    job = v2_cloud.kind("jobs")[run.id]  # the job the endpoint started
    assert job.experiment_name == "bank-rest"
    # Azure refuses to update a fetched pipeline job (InputBindings "cannot be changed"): opml does not try, and
    # shows the run with what it keeps of it
    assert v2_cloud.calls_of("jobs.create_or_update") == []
    assert (run.run_type, run.experiment, run.params) == (
        "pipeline",
        "bank-rest",
        {"pipeline_id": published.pipeline_id, "parameters": {"dataset": "bank"}},
    )
    assert run.tags == {"team": "risk"}
    assert [r.id for r in bank.list_pipeline_runs(published_pipeline_id=published.id)] == [run.id]
    assert [r.tags for r in bank.list_pipeline_runs(pipeline_id=published.pipeline_id)] == [{"team": "risk"}]
    fetched = bank.get_run(run.id)  # a run asked for by id carries what opml keeps too
    assert (fetched.params, fetched.tags) == (run.params, {"team": "risk"})
    v2_cloud.execute_pending()
    assert sorted(child.display_name for child in children_of(v2_cloud, run.id)) == ["register", "train"]


def test_the_body_is_what_the_sdk_sends_for_batch_endpoints_invoke():
    """``invoke_body`` against what ``batch_endpoints.invoke`` sends: its ``_resolve_input`` turns the data asset
    ``azureml:bank:3`` into the asset's ARM id (``OperationOrchestrator.get_asset_arm_id``), then BatchJobSchema
    serializes the inputs."""
    from azure.ai.ml import Input
    from azure.ai.ml._schema._deployment.batch.batch_job import BatchJobSchema
    from azure.ai.ml._scope_dependent_operations import OperationScope
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY, PARAMS_OVERRIDE_KEY, AzureMLResourceType
    from azure.ai.ml.operations._operation_orchestrator import OperationOrchestrator

    scope = OperationScope("sub", "rg", "ws")
    orchestrator = OperationOrchestrator(operation_container=None, operation_scope=scope, operation_config=None)
    resolved = orchestrator.get_asset_arm_id("bank:3", AzureMLResourceType.DATA)  # what _resolve_input sets
    sdk_inputs = {"training_data": Input(type="mltable", path=resolved), "n": Input(type="string", default="5")}
    overrides = [{"input_data": sdk_inputs}, {"properties": {"experimentName": "e"}}]
    expected = BatchJobSchema(context={BASE_PATH_CONTEXT_KEY: Path("."), PARAMS_OVERRIDE_KEY: overrides}).load({})
    client = SimpleNamespace(subscription_id="sub", resource_group_name="rg", workspace_name="ws")
    ours = invoke_body(
        "e", {"training_data": {"type": "mltable", "path": data_asset_arm_id(client, "azureml:bank:3")}, "n": 5}
    )
    assert ours == {"properties": expected}
    assert expected["inputData"]["training_data"]["uri"].endswith("/workspaces/ws/data/bank/versions/3")


def test_the_batch_endpoint_refuses_the_short_form_of_a_data_asset(bank, v2_cloud, published):
    """What ``batch_endpoints.invoke`` never sends (it resolves the short form first) is not what opml sends."""
    import requests

    token = bank.auth_header()["Authorization"]
    body = invoke_body("e", {"training_data": {"type": "mltable", "path": "azureml:bank:1"}})
    answer = requests.post(published.endpoint, json=body, headers={"Authorization": token}, timeout=30)
    assert answer.status_code == 400


def test_triggering_with_another_dataset_sends_its_latest_version(bank, v2_cloud, published, bank_small_csv):
    bank.register_dataset(name="bank-2", source=bank_small_csv)
    run = bank.trigger_published_pipeline(published.id, experiment="e", parameters={"dataset": "bank-2"})
    body = json.loads(v2_cloud.batch_server.requests[-1]["body"])
    assert body["properties"]["inputData"]["training_data"]["uri"] == data_asset_arm_id(bank.client, "azureml:bank-2:1")
    assert run.params["parameters"] == {"dataset": "bank-2"}


def test_parameters_fixed_in_the_graph_refuse_other_values(bank, v2_cloud):
    steps = [
        {**TRAINING_STEPS[0], "settings": {**TRAINING_STEPS[0]["settings"], "experiment_timeout_minutes": "${t}"}},
        TRAINING_STEPS[1],
    ]
    pipeline = bank.create_pipeline(name="p", steps=steps, parameters={"dataset": "bank", "t": 20})
    published = bank.publish_pipeline(pipeline.id, name="p")
    with pytest.raises(InvalidInput, match=r"\(t differ\)"):
        bank.trigger_published_pipeline(published.id, experiment="e", parameters={"t": 30})
    bank.trigger_published_pipeline(published.id, experiment="e", parameters={"t": 20.0})  # the published value
    assert len(v2_cloud.batch_server.requests) == 1


def test_a_refused_token_is_unauthorized(bank, v2_cloud, published):
    bank.credential.get_token = lambda *scopes, **kwargs: type("T", (), {"token": "not-azure-ml"})()
    with pytest.raises(Unauthorized, match="HTTP 401"):
        bank.trigger_published_pipeline(published.id, experiment="e")


def test_the_requests_snippet_shown_to_users_triggers_the_endpoint(bank, v2_cloud, published):
    from opml.snippets import pipeline_trigger_snippets

    token = bank.auth_header()["Authorization"].removeprefix("Bearer ")
    body = bank.published_trigger_body(published.id, "pipeline-rest")
    data = data_asset_arm_id(bank.client, "azureml:bank:1")
    assert data.endswith("/data/bank/versions/1")
    assert body == invoke_body("pipeline-rest", {"training_data": {"type": "mltable", "path": data}})
    curl, python = pipeline_trigger_snippets(published.endpoint, token, body)
    assert "Authorization: Bearer" in curl and '"inputData"' in curl
    done = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    job_name = done.stdout.strip()
    assert job_name in v2_cloud.kind("jobs")
    assert v2_cloud.kind("jobs")[job_name].experiment_name == "pipeline-rest"


def test_the_snippets_keep_the_v1_and_local_shape():
    from opml.snippets import pipeline_trigger_snippets

    curl, python = pipeline_trigger_snippets("http://h/PipelineSubmit/1", "tok", {"ExperimentName": "x"})
    assert '-d \'{"ExperimentName": "x"}\'' in curl and "Authorization: Bearer tok" in curl
    assert "json={'ExperimentName': 'x'}" in python and 'print(response.json()["Id"])' in python
    compile(python, "snippet", "exec")


def test_an_unreachable_endpoint_is_backend_unavailable(bank, v2_cloud, published):
    v2_cloud.batch_server.close()  # Azure unreachable
    with pytest.raises(BackendUnavailable, match="cannot reach the batch endpoint"):
        bank.trigger_published_pipeline(published.id, experiment="e")
    del v2_cloud.batch_server  # closed already


def test_an_endpoint_refusing_the_invocation_is_invalid_input_with_azures_message(bank, v2_cloud, published):
    del v2_cloud.kind("batch_deployments")[(published.id, DEPLOYMENT)]  # removed in Azure's portal
    with pytest.raises(InvalidInput, match=r"HTTP 400: .*has no default"):
        bank.trigger_published_pipeline(published.id, experiment="e")


# -- schedules ------------------------------------------------------------------------------------------------


def test_schedules_are_job_schedules_of_the_published_component(bank, v2_cloud, published):
    schedule = bank.create_schedule(published.id, name="every", experiment="bank-sched", interval_minutes=15)
    job_schedule = v2_cloud.kind("schedules")["every"]
    assert type(job_schedule).__name__ == "JobSchedule"
    trigger = job_schedule.trigger
    assert (type(trigger).__name__, trigger.frequency, trigger.interval) == ("RecurrenceTrigger", "minute", 15)
    job = job_schedule.create_job
    deployment = v2_cloud.kind("batch_deployments")[(published.id, DEPLOYMENT)]  # as opml sent it
    assert type(job).__name__ == "PipelineJob" and job.component.startswith("/subscriptions/")
    assert job.component == asset_arm_id(bank.client, "components", deployment.component)
    assert job.component.endswith(f"/components/{deployment.component.split(':')[1]}/versions/1")
    assert job.experiment_name == "bank-sched" and job.settings.default_compute == "cpu-cluster"
    assert job.inputs["training_data"]._data.path == "azureml:bank:1"
    assert job.tags["opml_published_id"] == published.id and job.tags["opml_trigger"] == "Schedule"
    assert (schedule.id, schedule.recurrence, schedule.status) == ("every", "every 15 minutes", ACTIVE)

    nightly = bank.create_schedule(published.id, name="nightly", experiment="e", cron="30 6 * * 1-5")
    cron = v2_cloud.kind("schedules")["nightly"].trigger
    assert (type(cron).__name__, cron.expression) == ("CronTrigger", "30 6 * * 1-5")
    assert nightly.recurrence == "30 6 * * 1-5"


def test_pause_resume_and_delete_go_through_disable(bank, v2_cloud, published):
    bank.create_schedule(published.id, name="s", experiment="e", interval_minutes=60)
    assert bank.set_schedule_paused("s", True).status == "Paused"
    assert v2_cloud.kind("schedules")["s"].is_enabled is False
    assert bank.set_schedule_paused("s", False).status == ACTIVE
    bank.delete_schedule("s")  # enabled: disabled first, as Azure requires
    operations = [name for name, _ in v2_cloud.calls if name.startswith("schedules.begin")]
    assert operations[-2:] == ["schedules.begin_disable", "schedules.begin_delete"]
    assert "s" not in v2_cloud.kind("schedules")


def test_a_schedule_name_in_use_is_refused_rather_than_replaced(bank, v2_cloud, published):
    bank.create_schedule(published.id, name="s", experiment="e", interval_minutes=60)
    with pytest.raises(AlreadyExists):
        bank.create_schedule(published.id, name="s", experiment="other", cron="0 1 * * *")
    assert v2_cloud.kind("schedules")["s"].create_job.experiment_name == "e"


def test_a_schedule_fires_a_pipeline_job_in_its_experiment(bank, v2_cloud, published):
    bank.create_schedule(published.id, name="s", experiment="bank-sched", interval_minutes=60)
    fire_schedule(v2_cloud, "s")
    fired = [job for job in v2_cloud.kind("jobs").values() if job.tags.get("opml_trigger") == "Schedule"]
    assert [job.experiment_name for job in fired] == ["bank-sched"]
    assert [run.id for run in bank.list_pipeline_runs(published_pipeline_id=published.id)] == [fired[0].name]


# -- the dashboard ----------------------------------------------------------------------------------------------


def test_the_pipelines_page_shows_the_batch_endpoint_and_its_request(bank, published, monkeypatch, tmp_path):
    from tests.test_pages import page

    monkeypatch.setenv("OPML_AZURE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setattr("opml.ui.workspace._open_azure", lambda config, sdk: bank)
    at = page("pages/pipelines.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [block.value for block in at.code]
    assert published.endpoint in shown
    assert any('"inputData"' in code and "/data/bank/versions/1" in code and "<your-token>" in code for code in shown)
    assert any('print(response.json()["name"])' in code for code in shown)
