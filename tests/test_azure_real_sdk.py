"""The Azure backend against Azure ML's SDK v1 itself where it works offline (``tests/azure_offline.py``):
the pipeline graph builder, AutoML's settings validation (run by ``AutoMLStep`` while the graph is built,
ending in the validation request Azure would receive), ``PipelineData`` and ``OutputFileDatasetConfig``, the run
history's listings, and an ACI service's deployment configuration and listing (its tags).
Fakes stand in only for what crosses the network; nothing leaves loopback. (``ScheduleRecurrence`` is the
real class in every Azure test: the fakes use it, and the fake ``Schedule.create`` validates it as Azure's does.)"""

from __future__ import annotations

import json

import pytest

from opml.backends.azure import AzureMLBackend
from tests.azure_fakes import make_fake_sdk
from tests.azure_fixtures import PIPELINE_STEPS, prep_pipeline_steps, write_config
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


def test_the_real_graph_builder_takes_a_regression_automl_step(real, stand_in):
    """AutoMLStep validates a regression step's settings as Azure will (its metric and model names are the
    regression ones): the validation request carries them as opml sent them."""
    settings = {
        "dataset": "${dataset}",
        "label_column": "duration",
        "task": "regression",
        "primary_metric": "r2_score",
        "allowed_algorithms": ["XGBoostRegressor", "ElasticNet"],
        "experiment_timeout_minutes": 20,
    }
    steps = [{**PIPELINE_STEPS[0], "settings": settings}, PIPELINE_STEPS[1]]
    built = nodes(build(real, steps, dataset="bank"))
    sent = automl_settings(stand_in)
    assert (sent["task_type"], sent["primary_metric"], sent["label_column_name"]) == (
        "regression",
        "r2_score",
        "duration",
    )
    assert sorted(sent["whitelist_models"]) == ["ElasticNet", "XGBoostRegressor"]
    assert source_of(built["register"], "model_data") == (built["train"], "model_data")


def test_the_real_graph_builder_takes_a_prep_step_whose_output_is_a_registered_tabular_dataset(
    real, stand_in, tmp_path
):
    steps = prep_pipeline_steps(tmp_path, "df.dropna()", "bank-prepared", register=True)
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


# -- the run history: listings and conversions over the SDK's own Experiment and Run ---------------------------


def run_dto(run_id: str, run_type: str, status: str, second: int, *, parent: str | None = None, **fields) -> dict:
    """A RunDto as Azure's run history answers it (JSON): created at ``second``, started then unless queued."""
    started = status not in ("NotStarted", "Queued")
    return {
        "runId": run_id,
        "rootRunId": parent or run_id,
        "parentRunId": parent,
        "experimentId": "bank-id",
        "runNumber": second,
        "status": status,
        "runType": run_type,
        "createdUtc": f"2026-11-30T12:00:{second:02d}.123456Z",
        "startTimeUtc": f"2026-11-30T12:01:{second:02d}.000Z" if started else None,
        "endTimeUtc": f"2026-11-30T12:05:{second:02d}.000Z" if status in ("Completed", "Failed") else None,
        "target": "cpu-cluster",
        "tags": {},
        "properties": {},
        **fields,
    }


RUNS = [
    run_dto("bank_1", "azureml.scriptrun", "Completed", 1, tags={"owner": "ana"}, displayName="Smoke test"),
    run_dto(
        "bank_2",
        "azureml.scriptrun",
        "Failed",
        2,
        tags={"owner": "bob"},
        error={"error": {"code": "UserError", "message": "Execution failed: exited with status code 3"}},
    ),
    run_dto("bank_3", "automl", "Completed", 3, parent="bank_1", tags={"owner": "ana"}),  # a run its SDK class GETs
    run_dto("bank_4", "azureml.scriptrun", "Queued", 4, tags={"owner": "ana", "opml_params": '{"command": ["x"]}'}),
]


@pytest.fixture
def history(cloud, stand_in, tmp_path, no_internet):
    """An Azure backend whose ``Experiment`` and ``Run`` are the SDK's, over a run history the stand-in answers:
    experiments "bank" (``RUNS``) and "empty" (none), each run's details (RunDetailsDto) and empty log folders."""
    from dataclasses import replace
    from types import SimpleNamespace

    from opml.backends.azure.sdk import load_sdk

    def runs_query(path: str, body: dict) -> dict:
        experiment = path.split("/experiments/")[1].split("/")[0]
        found = [dto for dto in RUNS if experiment == "bank"]
        if "ParentRunId eq null" in (body or {}).get("filter", ""):
            found = [dto for dto in found if dto["parentRunId"] is None]
        return {"value": sorted(found, key=lambda dto: dto["startTimeUtc"] or "", reverse=True)}

    def details(path: str, body: dict) -> dict:
        dto = next(dto for dto in RUNS if dto["runId"] == path.split("/")[-2])
        fields = ("runId", "target", "status", "startTimeUtc", "endTimeUtc", "error", "properties")
        return {**{name: dto.get(name) for name in fields}, "logFiles": {}}

    stand_in.answers.update(
        {
            "/experiments:query": {
                "value": [{"experimentId": "bank-id", "name": "bank"}, {"experimentId": "e", "name": "empty"}]
            },
            "/runs:query": runs_query,
            "/details": details,
            "/user_logs": {"value": []},
            "/system_logs": {"value": []},
            **{f"/runs/{dto['runId']}": dto for dto in RUNS},  # a run fetched by id
        }
    )
    workspace = offline_workspace(cloud, stand_in)
    real, fakes = load_sdk(), make_fake_sdk(cloud)
    sdk = replace(
        fakes,
        Workspace=SimpleNamespace(from_config=lambda path=None, auth=None, **kwargs: workspace),
        Experiment=real.Experiment,
        Run=real.Run,
    )
    return AzureMLBackend(
        config=write_config(tmp_path), sdk=sdk, auth=workspace._auth_object, state_dir=tmp_path / "state"
    )


def asked(stand_in) -> list[str]:
    """What was asked of Azure since the last ``clear()``: method and path, the workspace's prefix aside."""
    return [f"{method} {path.split('?')[0].split('/ws-1/')[-1]}" for method, path, _ in stand_in.requests]


def test_a_listing_the_sdk_rehydrates_gets_automl_pipeline_and_step_runs_one_by_one(history, stand_in):
    """What opml's listings avoid, in the SDK itself: Experiment.get_runs and get_children build each run in its SDK
    class, and AutoMLRun, PipelineRun, StepRun and HyperDriveRun are built from the run id alone (the RunHistory
    facade GETs a run it is given no RunDto of); Run.list(_rehydrate_runs=False) builds Runs from the listing."""
    import inspect

    from azureml._run_impl.run_history_facade import RunHistoryFacade
    from azureml.core import Experiment, Run
    from azureml.core.script_run import ScriptRun
    from azureml.pipeline.core.run import PipelineRun, StepRun
    from azureml.train.automl.run import AutoMLRun
    from azureml.train.hyperdrive import HyperDriveRun

    assert "run_dto if run_dto is not None else self.run.get_run()" in inspect.getsource(RunHistoryFacade.__init__)
    for factory in (AutoMLRun._from_run_dto, PipelineRun._from_dto, StepRun._from_dto, HyperDriveRun._from_run_dto):
        assert "_run_dto=" not in inspect.getsource(factory), factory
    assert "_run_dto=run_dto" in inspect.getsource(ScriptRun._from_run_dto)
    assert "_run_dto=run_dto" in inspect.getsource(Run._dto_to_run)

    bank = next(experiment for experiment in Experiment.list(history.ws) if experiment.name == "bank")
    stand_in.requests.clear()
    assert sorted(run.id for run in bank.get_runs(include_children=True)) == ["bank_1", "bank_2", "bank_3", "bank_4"]
    assert asked(stand_in) == ["POST experiments/bank/runs:query", "GET experimentids/bank-id/runs/bank_3"]
    stand_in.requests.clear()
    listed = list(Run.list(bank, include_children=True, _rehydrate_runs=False))
    assert [type(run) for run in listed] == [Run] * 4
    assert asked(stand_in) == ["POST experiments/bank/runs:query"]


def test_experiment_names_and_search_ask_azure_for_listings_only(history, stand_in):
    """Over the SDK's own classes: the names cost the experiment list and a page of runs each, a search the same
    listings (no run fetched, no details, no parent), and it finds what the generic search finds converting each
    run (details and two log folders a run)."""
    from opml.backends.base import Backend
    from opml.runsearch import RunQuery, parse

    stand_in.requests.clear()
    assert history.list_experiments() == ["bank"]
    listings = ["POST experiments:query", "POST experiments/bank/runs:query", "POST experiments/empty/runs:query"]
    assert asked(stand_in) == listings

    stand_in.requests.clear()
    page = history.search_runs(filter="tags.owner = 'ana'", top_level_only=False)
    assert asked(stand_in) == listings
    assert [run.id for run in page.runs] == ["bank_4", "bank_3", "bank_1"] and page.total == 3
    queued, child, smoke = page.runs
    assert (queued.status, queued.started_at, queued.params) == ("Queued", None, {"command": ["x"]})
    assert (child.run_type, child.parent_id, child.progress) == ("automl", "bank_1", {})
    assert (smoke.display_name, smoke.compute, smoke.run_type, smoke.status) == (
        "Smoke test",
        "cpu-cluster",
        "command",
        "Completed",
    )
    assert smoke.created_at.isoformat() == "2026-11-30T12:00:01.123456+00:00"
    failed = history.search_runs(filter="status = 'Failed'").runs[0]
    assert failed.error == "Execution failed: exited with status code 3" and failed.ended_at.minute == 5

    stand_in.requests.clear()
    generic = Backend._search_runs(history, RunQuery(parse("tags.owner = 'ana'"), top_level_only=False))
    assert generic == page
    assert len(asked(stand_in)) == len(listings) + 3 * len(RUNS)  # each run: its details, two log folders


# -- web services: the deployment tag travels as Azure's kvTags ------------------------------------------------


def aci_service(name: str, tags: dict | None, model: str) -> dict:
    """An ACI web service as Azure's model management service lists it (JSON), serving ``model``."""
    model_name, version = model.split(":")
    return {
        "computeType": "ACI",
        "createdTime": "2026-11-30T12:00:00.000000+00:00",
        "updatedTime": "2026-11-30T12:05:00.000000+00:00",
        "description": "",
        "kvTags": tags,
        "name": name,
        "properties": {},
        "state": "Healthy",
        "error": None,
        "appInsightsEnabled": False,
        "authEnabled": True,
        "cname": None,
        "containerResourceRequirements": {"cpu": 1, "cpuLimit": 1, "memoryInGB": 2, "memoryInGBLimit": 2, "gpu": 0},
        "location": "westeurope",
        "publicIp": None,
        "scoringUri": f"http://{name}.westeurope.azurecontainer.io/score",
        "sslCertificate": None,
        "sslEnabled": False,
        "sslKey": None,
        "models": [
            {
                "id": model,
                "name": model_name,
                "version": int(version),
                "createdTime": "2026-11-30T11:00:00.000000+00:00",
                "createdBy": {},
                "description": "",
                "mimeType": "application/octet-stream",
                "framework": "Custom",
                "frameworkVersion": None,
                "kvTags": {},
                "properties": {},
                "unpack": False,
                "url": "aml://asset/bank-model",
                "experimentName": "bank",
                "runId": "bank_1",
                "datasets": [],
            }
        ],
    }


def test_the_deployment_tag_goes_to_azure_and_comes_back_as_the_deployment_name(
    cloud, stand_in, tmp_path, no_internet, azure, azure_executor, bank_small_csv
):
    """The real deployment configuration, given what opml gives the fake one, sends the tag in the create
    request (kvTags); the real ``Webservice.list`` reads kvTags from Azure's answer, and opml shows the tagged
    service's one deployment by that name and an untagged one's as "default"."""
    from dataclasses import replace
    from types import SimpleNamespace

    from opml.backends.azure.sdk import load_sdk
    from tests.azure_fixtures import submit_automl

    run = submit_automl(azure, bank_small_csv)
    azure.wait_for_run(run.id, timeout=30)
    azure.register_model(name="bank-model", run_id=run.id)
    azure.deploy_model(name="bank-svc", model_name="bank-model", deployment_name="green")
    given = cloud.last_call("Model.deploy")["deployment_config"]  # the fake's: the keywords opml passed
    real = load_sdk()
    configuration = real.AciWebservice.deploy_configuration(**given)
    assert configuration._build_create_payload("bank-svc", {"name": "image"})["kvTags"] == {"opml_deployment": "green"}

    stand_in.answers["/services"] = {
        "value": [
            aci_service("bank-svc", {"opml_deployment": "green"}, "bank-model:1"),
            aci_service("studio-svc", None, "bank-model:1"),
        ]
    }
    workspace = offline_workspace(cloud, stand_in)
    sdk = replace(
        make_fake_sdk(cloud),
        Workspace=SimpleNamespace(from_config=lambda path=None, auth=None, **kwargs: workspace),
        Webservice=real.Webservice,
    )
    backend = AzureMLBackend(
        config=write_config(tmp_path), sdk=sdk, auth=workspace._auth_object, state_dir=tmp_path / "s"
    )
    (green,) = backend.list_deployments("bank-svc")
    assert (green.name, green.model, green.traffic, green.state) == ("green", "bank-model:1", 100, "Healthy")
    assert [d.name for d in backend.list_deployments("studio-svc")] == ["default"]
    assert [type(s).__name__ for s in real.Webservice.list(workspace)] == ["AciWebservice", "AciWebservice"]
    assert stand_in.paths("GET", "/services")  # Azure's listing answered these, not a fake
