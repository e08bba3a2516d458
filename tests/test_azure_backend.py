"""The Azure ML backend at the SDK boundary: the Backend contract and Azure's own arguments, over fakes
with the real SDK's signatures (``tests/azure_fakes.py``). Azure itself is not reachable from CI."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest

from opml import client
from opml.backends.azure import AzureMLBackend
from opml.backends.azure.auth import make_auth
from opml.backends.azure_common.errors import translate
from opml.entities import COMPLETED, HEALTHY, MASK
from opml.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from opml.leaderboard import leaderboard
from opml.workspace import open_workspace
from tests.azure_fakes import (
    AzureError,
    dataset_error,
    expired_sign_in,
    history_error,
    make_fake_sdk,
    model_error,
    network_error,
    pipelines_error,
)
from tests.azure_fixtures import PIPELINE_STEPS, prep_pipeline_steps, submit_automl, write_config
from tests.contract import BackendContract, Capabilities, python_command

AZURE = Capabilities(
    runs_in_local_agent=False,
    computes_provisioned_async=True,
    computes_take_vm_size=True,
    busy_compute_delete_refused=False,
    models_idempotent_on_content=False,
    loads_models=False,
    services_take_a_port=False,
    service_delete_is_asynchronous=False,
    service_telemetry_recorded=False,
    services_auth_optional=True,
    services_restart_in_place=False,
    service_data_collected=False,
    published_parameters_overridable=False,
    register_step_moves_aliases=False,
    schedules_fired_by_opml=False,
    workspace_tokens=False,
    alert_rules_evaluated_by_opml=False,
    deployments_compared_by_opml=False,
    deployments_sized=False,
    endpoints_hold_deployments=False,
)


class TestAzureBackendContract(BackendContract):
    @pytest.fixture
    def backend(self, azure: AzureMLBackend) -> AzureMLBackend:
        return azure

    @pytest.fixture
    def executor(self, azure_executor):
        return azure_executor

    @pytest.fixture
    def model_runs(self, azure, azure_executor, bank_small_csv):
        run = submit_automl(azure, bank_small_csv)
        finished = azure.wait_for_run(run.id, timeout=30)
        best = finished.progress["best_child_id"]
        other = next(c.id for c in azure.list_runs(parent_id=run.id) if c.id != best and c.status == COMPLETED)
        return azure, run.id, other

    @pytest.fixture
    def capabilities(self) -> Capabilities:
        return AZURE


# -- opening a workspace ---------------------------------------------------------------------


def test_config_problems_are_named(tmp_path, cloud):
    sdk = make_fake_sdk(cloud)
    with pytest.raises(InvalidInput, match="does not exist"):
        AzureMLBackend(config=tmp_path / "missing.json", sdk=sdk, auth=object())
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not a JSON"):
        AzureMLBackend(config=tmp_path / "bad.json", sdk=sdk, auth=object())
    (tmp_path / "partial.json").write_text(json.dumps({"subscription_id": "s"}))
    with pytest.raises(InvalidInput, match="resource_group, workspace_name"):
        AzureMLBackend(config=tmp_path / "partial.json", sdk=sdk, auth=object())


def test_unknown_workspace_keeps_azures_message(tmp_path, cloud):
    with pytest.raises(NotFound, match="Workspace not found: other"):
        AzureMLBackend(config=write_config(tmp_path, workspace_name="other"), sdk=make_fake_sdk(cloud), auth=object())


def test_open_workspace_with_config_gives_the_azure_backend(tmp_path, cloud, monkeypatch):
    monkeypatch.setattr("opml.backends.azure.backend.load_sdk", lambda: make_fake_sdk(cloud))
    monkeypatch.setenv("AZURE_TENANT_ID", "t")
    monkeypatch.setenv("AZURE_CLIENT_ID", "c")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s")
    backend = open_workspace(config=write_config(tmp_path), sdk="v1")
    assert backend.kind == "azure"
    assert "ws-1" in backend.describe().location
    assert "service principal" in backend.agent_status().detail
    assert backend.auth_header() == {"Authorization": "Bearer fake-aad-token-for-FakeServicePrincipalAuthentication"}


@pytest.mark.parametrize(
    ("environ", "cli", "expected"),
    [
        ({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"}, True, "ServicePrincipal"),
        ({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, True, "AzureCli"),
        ({}, False, "InteractiveLogin"),
    ],
)
def test_credentials_are_chosen_like_azures_tools(cloud, environ, cli, expected):
    auth = make_auth(make_fake_sdk(cloud), environ, cli_available=cli)
    assert type(auth).__name__ == f"Fake{expected}Authentication"
    if expected == "ServicePrincipal":
        assert (auth.tenant_id, auth.client_id, auth.secret) == ("t", "c", "s")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("AuthenticationException: AADSTS700082: The refresh token has expired", Unauthorized),
        ("AuthorizationFailed: The client does not have authorization to perform action", Unauthorized),
        (
            "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota",
            Conflict,
        ),
        ("WebserviceException: Service bank already exists", AlreadyExists),
        ("ModelNotFoundException: Model with name x not found", NotFound),
        ("Received bad response from Execution Service: 500", BackendUnavailable),
    ],
)
def test_azure_errors_become_opml_errors_with_azures_message(message, error):
    translated = translate(AzureError(message))
    assert isinstance(translated, error)
    assert message.split(": ", 1)[-1] in str(translated)


@pytest.mark.parametrize(("code", "error"), [(404, NotFound), (403, Unauthorized), (409, AlreadyExists)])
def test_a_model_management_refusal_is_judged_by_its_response_code_not_its_headers(code, error):
    """The SDK writes the model management service's refusals as a report with the response's headers: a header
    value (a Content-Length of 403) decided the error, and the headers were shown to the user."""
    from azureml.exceptions import WebserviceException

    headers = {"Content-Length": "403", "x-ms-request-id": "0a1b", "Date": "Mon, 30 Nov 2026 17:00:00 GMT"}
    content = b'{"code":"Failed","message":"the request was refused"}'
    exc = WebserviceException(  # as azureml/core/webservice/webservice.py writes it
        "Received bad response from Model Management Service:\n"
        f"Response Code: {code}\nHeaders: {headers}\nContent: {content}"
    )
    translated = translate(exc)
    assert type(translated) is error
    assert "the request was refused" in str(translated) and "Content-Length" not in str(translated)


def test_an_sdk_failure_inside_an_operation_is_translated(azure, cloud):
    cloud.fail_next["ComputeTarget.create"] = AzureError(
        "Operation results in exceeding approved standardDSv2Family Cores quota. Current Limit: 10"
    )
    with pytest.raises(Conflict, match=r"Current Limit: 10.*quota increase"):
        azure.create_compute(name="big", max_nodes=8)


# A lookup of each kind: the SDK call it makes, how that call's client reports Azure refusing it, and the lookup.
LOOKUPS = {
    "Run.get": (history_error, lambda azure: azure.get_run("bank-automl_1_0a1b2c")),
    "Dataset.get_by_name": (dataset_error, lambda azure: azure.get_dataset("bank")),
    "Model": (model_error, lambda azure: azure.get_model("bank-model", 2)),
    "PublishedPipeline.get": (pipelines_error, lambda azure: azure.get_published_pipeline("6f1b1c2e-0d5c")),
}


@pytest.mark.parametrize("call", LOOKUPS)
@pytest.mark.parametrize(
    ("failure", "error", "advice"),
    [
        ("expired sign-in", Unauthorized, "az login"),
        (401, Unauthorized, "az login"),
        (403, Unauthorized, "role"),
        ("network", BackendUnavailable, "connection to Azure"),
    ],
)
def test_a_lookup_that_azure_refuses_is_not_shown_as_not_found(azure, cloud, call, failure, error, advice):
    """A lookup used to turn every SDK exception into NotFound ("no run X"): an expired sign-in, a missing role
    or a network failure told the user that the object did not exist. The fakes raise what the SDK raises for
    each (its own exception classes, built by its own code from Azure's answer)."""
    refused, lookup = LOOKUPS[call]
    if failure == "expired sign-in":
        cloud.fail_next[call] = expired_sign_in()
    elif failure == "network":
        cloud.fail_next[call] = network_error()
    else:
        cloud.fail_next[call] = refused(failure, "The access token expiry UTC time is earlier than current UTC time")
    with pytest.raises(error, match=advice) as raised:
        lookup(azure)
    assert not isinstance(raised.value, NotFound)


@pytest.mark.parametrize("call", LOOKUPS)
def test_a_lookup_of_what_azure_does_not_have_is_not_found(azure, call):
    """Still NotFound, naming what was looked up, with Azure's one-line message (not a ServiceException's
    multi-line report of headers and inner exception)."""
    with pytest.raises(NotFound, match=r"^no (run|dataset|model|published pipeline) .*\(Azure ML: [^\n]*\)$"):
        LOOKUPS[call][1](azure)


def test_validation_errors_are_invalid_input():
    """The SDK's validation errors (AutoMLConfig's ConfigException: UserError > BadArgument > ArgumentInvalid,
    a 400 from a service) used to be "backend unavailable"."""
    from azureml.train.automl import AutoMLConfig

    with pytest.raises(Exception) as raised:  # validated locally by the real class
        AutoMLConfig(task="clasification")
    translated = translate(raised.value)
    assert isinstance(translated, InvalidInput)
    assert "Invalid argument(s) 'clasification' specified" in str(translated)
    assert isinstance(translate(history_error(400, "Experiment name 'a b' is invalid")), InvalidInput)


def test_missing_azure_cli_is_not_an_az_login_problem():
    """AzureCliAuthentication without azure-cli in opml's environment: `az login` (what the sign-in rule advised)
    would not help; installing azure-cli or using another credential would."""
    from azureml.exceptions import AuthenticationException

    from opml.backends.azure.auth import azure_cli_installed
    from opml.backends.azure.sdk import load_sdk

    if azure_cli_installed():
        missing = AuthenticationException(
            "azure-cli package is not installed. AzureCliAuthentication requires azure-cli>=2.30.0 to be "
            "installed in the same python environment where azureml-sdk is installed."
        )
    else:
        with pytest.raises(AuthenticationException) as raised:  # the real class, refusing to start
            load_sdk().AzureCliAuthentication()
        missing = raised.value
    translated = translate(missing)
    assert isinstance(translated, BackendUnavailable)
    assert "install azure-cli" in str(translated) and "az login" not in str(translated)


def test_building_the_credential_is_translated_too(tmp_path, cloud, monkeypatch):
    """The credential is built when the backend opens: its failure is an opml error, not a raw SDK exception."""
    from azureml.exceptions import AuthenticationException

    def refuse(sdk):
        raise AuthenticationException("AzureCliAuthentication requires azure-cli>=2.30.0 to be installed")

    monkeypatch.setattr("opml.backends.azure.backend.make_auth", refuse)
    with pytest.raises(BackendUnavailable, match="install azure-cli"):
        AzureMLBackend(config=write_config(tmp_path), sdk=make_fake_sdk(cloud))


# -- datasets and computes ---------------------------------------------------------------------


def test_dataset_is_uploaded_then_registered_with_its_hash(azure, cloud, bank_small_csv):
    """Uploaded with Dataset.File.upload_directory (Datastore.upload_files is deprecated), then read as a table
    from the uploaded path."""
    dataset = azure.register_dataset(name="bank", source=bank_small_csv, tags={"team": "ops"})
    upload = cloud.last_call("Dataset.File.upload_directory")
    datastore, target = upload["target"]
    assert datastore.name == "workspaceblobstore" and target.startswith("opml/datasets/bank/")
    uploaded = [blob for blob in cloud.blobs if blob.startswith(f"{target}/")]
    assert uploaded == [f"{target}/{bank_small_csv.name}"]
    assert cloud.last_call("Dataset.Tabular.from_delimited_files")["path"] == [(datastore, uploaded[0])]
    registered = cloud.last_call("TabularDataset.register")
    assert registered["create_new_version"] is True
    assert registered["tags"]["team"] == "ops" and registered["tags"]["opml_sha256"] == dataset.sha256
    assert dataset.tags == {"team": "ops"}


def test_azure_gets_the_table_opml_parsed_as_plain_csv(azure, cloud):
    """Azure's CSV reader has no decimal comma (and splits quoted line breaks unless told): a ';'-separated
    file with decimal commas became text columns on Azure while opml's profile said numbers. The parsed table
    is uploaded as plain CSV, comma-separated with decimal points, and Azure is told when a field spans lines."""
    content = b'age;balance;note;y\n30;1,5;"first\nline";no\n41;-2,25;plain;yes\n'
    dataset = azure.register_dataset(name="euro", source=content, filename="euro.csv")
    call = cloud.last_call("Dataset.Tabular.from_delimited_files")
    assert (call["separator"], call["support_multi_line"]) == (",", True)
    (_, blob), *_ = call["path"]
    assert cloud.blobs[blob].decode().splitlines()[:2] == ["age,balance,note,y", '30,1.5,"first']
    loaded = azure.load_dataset("euro")
    assert loaded["balance"].tolist() == [1.5, -2.25] and loaded["note"].tolist() == ["first\nline", "plain"]
    assert dataset.sha256 == hashlib.sha256(content).hexdigest() and dataset.delimiter == ";"


def test_only_tabular_datasets_that_load_are_listed(azure, cloud, bank_small_csv):
    """Dataset.get_all answers every registered dataset, file datasets included, as a lazy mapping whose
    entries that do not load are None (reading one raises KeyError): listing crashed on those and showed file
    datasets as tables (which then failed to open). The fake answers with the SDK's own _DatasetDict."""
    from tests.azure_fakes import FakeDatastore, FakeFileDataset

    azure.register_dataset(name="bank", source=bank_small_csv)
    store = FakeDatastore(cloud)
    cloud.datasets["images"] = [FakeFileDataset(cloud, [(store, "/images")], name="images", version=1, tags={})]
    azure.register_dataset(name="broken", source=bank_small_csv)
    cloud.datasets_that_do_not_load.add("broken")
    assert [d.name for d in azure.list_datasets()] == ["bank"]
    with pytest.raises(NotFound, match=r"images is a \w*FileDataset"):
        azure.get_dataset("images")
    again = azure.register_dataset(name="bank", source=bank_small_csv)  # the same bytes: the same version
    assert again.version == 1 and len(cloud.datasets["bank"]) == 1


@pytest.mark.parametrize("refusal", ["expired sign-in", "403"])
def test_datasets_do_not_vanish_from_the_list_when_azure_refuses_their_lookup(azure, cloud, bank_small_csv, refusal):
    """Dataset.get_all's lookup swallows every error (None): datasets vanished from the list when the token had
    expired or the role was missing, and registering the same bytes again made a second version."""
    from tests.azure_fakes import dataset_error, expired_sign_in

    azure.register_dataset(name="bank", source=bank_small_csv)
    cloud.dataset_lookup_errors["bank"] = (
        expired_sign_in() if refusal == "expired sign-in" else dataset_error(403, "The caller has no access")
    )
    with pytest.raises(Unauthorized):
        azure.list_datasets()
    with pytest.raises(Unauthorized):
        azure.register_dataset(name="bank", source=bank_small_csv)
    assert len(cloud.datasets["bank"]) == 1


def test_an_experiment_name_azure_refuses_is_bad_input_before_anything_is_submitted(azure, cloud, pipeline):
    """opml's names allow '.', Azure's experiment names do not: the SDK's refusal read as "Azure ML
    unavailable". Runs, pipeline runs, triggers and schedules are checked before any call."""
    submitted = len(cloud.calls)
    with pytest.raises(InvalidInput, match=r"experiment name 'bank\.v2'.*no '\.'"):
        azure.submit_run(experiment="bank.v2", run_type="command", compute="cpu-cluster", params=python_command(""))
    with pytest.raises(InvalidInput, match="experiment name"):
        azure.run_pipeline(pipeline.id, experiment="bank.v2")
    assert [call for call, _ in cloud.calls[submitted:] if "submit" in call.lower()] == []
    assert (
        azure.submit_run(
            experiment="bank_v2-1", run_type="command", compute="cpu-cluster", params=python_command("")
        ).experiment
        == "bank_v2-1"
    )


def test_compute_provisioning_is_awaited(azure, azure_executor):
    assert azure.create_compute(name="cpu-4", max_nodes=4).state == "Creating"
    assert azure.wait_for_compute("cpu-4", timeout=10, poll_seconds=0.05).state == "Succeeded"


def test_a_busy_compute_is_deleted_by_asking_azure(azure, cloud):
    """opml does not check for runs on a cluster before deleting it: Azure decides, and opml asks it."""
    azure.create_compute(name="busy", max_nodes=1)
    azure.submit_run(experiment="e", run_type="command", compute="busy", params=python_command("pass"))
    azure.delete_compute("busy")
    assert cloud.last_call("ComputeTarget.delete") == {"name": "busy"}


def test_compute_is_an_amlcompute_cluster(azure, cloud):
    compute = azure.create_compute(name="gpu-nodes", max_nodes=6, vm_size="STANDARD_NC6")
    assert cloud.last_call("ComputeTarget.create")["provisioning_configuration"] == {
        "vm_size": "STANDARD_NC6",
        "min_nodes": 0,
        "max_nodes": 6,
    }
    assert (compute.kind, compute.state, compute.max_nodes) == ("AmlCompute", "Creating", 6)
    with pytest.raises(InvalidInput, match="Azure's rule"):
        azure.create_compute(name="under_score", max_nodes=1)


# -- AutoML, leaderboard, models ---------------------------------------------------------------


def test_automl_run_is_submitted_with_the_same_settings_as_locally(azure, cloud, bank_small_csv):
    run = submit_automl(
        azure,
        bank_small_csv,
        primary_metric="AUC_weighted",
        allowed_algorithms=["LightGBM", "RandomForest"],
        n_cross_validations=3,
        max_concurrent_iterations=2,
    )
    settings = cloud.last_call("Experiment.submit")["config"].settings
    assert settings["task"] == "classification"
    assert settings["primary_metric"] == "AUC_weighted"
    assert settings["label_column_name"] == "y"
    assert settings["experiment_timeout_hours"] == 0.5
    assert settings["n_cross_validations"] == 3 and "validation_size" not in settings
    assert settings["allowed_models"] == ["LightGBM", "RandomForest"]
    assert settings["max_concurrent_iterations"] == 2
    assert settings["compute_target"].name == "cpu-cluster"
    assert settings["training_data"].name == "bank" and settings["training_data"].version == 1
    assert settings["enable_voting_ensemble"] is True and settings["enable_stack_ensemble"] is True
    assert run.run_type == "automl" and run.params["primary_metric"] == "AUC_weighted"


def test_bad_automl_settings_are_refused_before_azure_is_asked(azure, cloud, bank_small_csv):
    azure.register_dataset(name="bank", source=bank_small_csv)
    for params, message in [
        ({"dataset": "bank", "label_column": "nope"}, "label column 'nope'"),
        ({"dataset": "bank", "label_column": "y", "primary_metric": "f1"}, "unknown primary metric"),
        ({"dataset": "bank", "label_column": "y", "experiment_timeout_minutes": 0}, "positive"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            azure.submit_run(experiment="e", run_type="automl", compute="cpu-cluster", params=params)
    assert not [call for call, _ in cloud.calls if call == "Experiment.submit"]


def test_children_are_the_leaderboard_and_the_best_is_registered(azure, azure_executor, bank_small_csv):
    run = submit_automl(azure, bank_small_csv)
    finished = azure.wait_for_run(run.id, timeout=30)
    assert finished.status == COMPLETED
    assert finished.progress["iterations_done"] == 5 and finished.progress["best_metric"] == 0.921
    rows = leaderboard(azure, run.id)
    assert [row["accuracy"] for row in rows] == sorted(azure_executor.automl_scores, reverse=True)
    assert rows[0]["algorithm"] == "VotingEnsemble" and rows[0]["best"]
    assert rows[0]["run_id"] == finished.progress["best_child_id"]

    model = azure.register_model(name="bank-model", run_id=run.id, tags={"stage": "test"})
    call = azure_executor.last_call("Run.register_model")
    assert call["run_id"] == rows[0]["run_id"] and call["model_path"] == "outputs/model.pkl"
    assert (model.name, model.version, model.algorithm, model.primary_metric) == (
        "bank-model",
        1,
        "VotingEnsemble",
        "accuracy",
    )
    assert model.metrics["accuracy"] == 0.921 and model.dataset == "bank:1" and model.tags == {"stage": "test"}
    assert [m.version for m in azure.list_models("bank-model")] == [1]
    assert azure.download_model("bank-model").read_bytes() == f"model of {rows[0]['run_id']}".encode()
    with pytest.raises(BackendUnavailable, match="deployed service"):
        azure.load_model("bank-model")


def test_a_running_automl_run_has_no_model_to_register(azure, bank_small_csv):
    run = submit_automl(azure, bank_small_csv)
    with pytest.raises(Conflict, match="no completed model"):
        azure.register_model(name="m", run_id=run.id)


# -- services ---------------------------------------------------------------------------------


@pytest.fixture
def azure_model(azure, azure_executor, bank_small_csv):
    run = submit_automl(azure, bank_small_csv)
    azure.wait_for_run(run.id, timeout=30)
    return azure.register_model(name="bank-model", run_id=run.id)


def test_deploy_is_aci_with_auth_and_the_automl_scoring_script(azure, azure_model, cloud):
    service = azure.deploy_model(name="bank-svc", model_name="bank-model", app_insights_enabled=True)
    assert service.state == "Transitioning" and service.compute_type == "ACI"
    deploy = cloud.last_call("Model.deploy")
    assert deploy["deployment_config"] == {
        "cpu_cores": 1,
        "memory_gb": 2,
        "auth_enabled": True,
        "enable_app_insights": True,
        "description": "",
        "tags": {"opml_deployment": "blue"},  # the name of its one deployment (the default)
    }
    assert deploy["overwrite"] is False and deploy["models"][0].version == 1
    entry = Path(deploy["inference_config"].entry_script)
    assert entry.read_text().startswith("def init()")
    assert deploy["inference_config"].environment == ("environment-of", azure_model.run_id)

    healthy = azure.wait_for_service("bank-svc", timeout=10)
    assert healthy.state == HEALTHY and healthy.auth_enabled and healthy.model == "bank-model:1"
    assert healthy.scoring_uri.endswith("/score") and healthy.swagger_uri.endswith("/swagger.json")
    with pytest.raises(AlreadyExists):
        azure.deploy_model(name="bank-svc", model_name="bank-model")
    with pytest.raises(InvalidInput, match="port"):
        azure.deploy_model(name="other-svc", model_name="bank-model", port=9000)
    with pytest.raises(InvalidInput, match="Azure's rule"):
        azure.deploy_model(name="Bank_Svc", model_name="bank-model")


def test_an_aci_service_is_one_deployment_named_at_deploy(azure, azure_model, cloud):
    """SDK v1's web service serves one model: the endpoint shows it as one deployment taking all traffic, named
    by the tag opml sets at deploy, in the service's own state (so listing and waiting work)."""
    service = azure.deploy_model(name="bank-svc", model_name="bank-model", deployment_name="green")
    assert cloud.last_call("Model.deploy")["deployment_config"]["tags"] == {"opml_deployment": "green"}
    assert cloud.services["bank-svc"].tags == {"opml_deployment": "green"}
    (deployment,) = service.deployments
    assert (deployment.service, deployment.name, deployment.model) == ("bank-svc", "green", "bank-model:1")
    assert (deployment.traffic, deployment.mirror, deployment.state) == (100, 0, "Transitioning")
    assert (service.traffic, service.mirror_traffic) == ({"green": 100}, {"green": 0})
    cloud.execute_pending()
    assert azure.wait_for_deployment("bank-svc", "green", timeout=5).state == HEALTHY
    assert [(d.name, d.state) for d in azure.list_deployments("bank-svc")] == [("green", HEALTHY)]
    with pytest.raises(NotFound, match="no deployment named 'blue'"):
        azure.wait_for_deployment("bank-svc", "blue", timeout=5)
    before = len(cloud.calls)
    with pytest.raises(BackendUnavailable, match="managed online endpoints"):
        azure.create_deployment("bank-svc", name="blue", model_name="bank-model", traffic=10)
    assert [call for call, _ in cloud.calls[before:] if call != "Model"] == []  # nothing asked of Azure


@pytest.mark.parametrize("tags", [None, {}, {"team": "risk"}, {"opml_deployment": "Not A Name"}])
def test_a_service_opml_did_not_tag_shows_a_default_deployment(azure, azure_model, cloud, tags):
    """A web service deployed outside opml (the studio, another script) has no deployment tag, or one edited
    into something that is not a deployment name: its one deployment is called "default"."""
    sdk = make_fake_sdk(cloud)
    model = sdk.Model(sdk.Workspace("sub-1", "rg-1", "ws-1"), name="bank-model", version=1)
    config = sdk.AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, tags=tags)
    sdk.Model.deploy(sdk.Workspace("sub-1", "rg-1", "ws-1"), "studio-svc", [model], deployment_config=config)
    (deployment,) = azure.list_deployments("studio-svc")
    assert (deployment.name, deployment.model, deployment.traffic) == ("default", "bank-model:1", 100)


def test_a_failed_aci_deployment_is_a_failed_deployment(azure, azure_model, cloud):
    cloud.deployment_outcomes["bank-svc"] = ("Failed", {"code": "AciDeploymentFailed", "message": "no quota"})
    azure.deploy_model(name="bank-svc", model_name="bank-model")
    cloud.execute_pending()
    failed = azure.wait_for_deployment("bank-svc", "blue", timeout=5)
    assert (failed.state, failed.error) == ("Failed", "no quota")


@pytest.mark.parametrize("state", ["Failed", "Unhealthy"])
def test_an_aci_deployment_that_could_not_start_shows_azures_error_in_words(azure, azure_model, cloud, state):
    """ACI deployments can end Failed (the container never became ready) or Unhealthy (it crashes after
    starting); the service then carries Azure's error object, whose message and details say why."""
    crash = "Your container application crashed. This may be caused by errors in your scoring file's init()."
    cloud.deployment_outcomes["bank-svc"] = (
        state,
        {
            "code": "AciDeploymentFailed",
            "statusCode": 400,
            "message": "Aci Deployment failed with exception: " + crash,
            "details": [{"code": "CrashLoopBackOff", "message": "Error: ModuleNotFoundError: No module named 'x'"}],
        },
    )
    assert azure.deploy_model(name="bank-svc", model_name="bank-model").state == "Transitioning"
    cloud.execute_pending()
    service = azure.get_service("bank-svc")
    assert service.state == state
    assert service.error.splitlines() == [
        "Aci Deployment failed with exception: " + crash,
        "CrashLoopBackOff: Error: ModuleNotFoundError: No module named 'x'",
    ]
    if state == "Failed":
        assert azure.wait_for_service("bank-svc", timeout=5).state == "Failed"


def test_service_keys_update_logs_and_delete(azure, azure_model, cloud):
    azure.deploy_model(name="bank-svc", model_name="bank-model")
    before = azure.get_service_keys("bank-svc")
    after = azure.regenerate_service_key("bank-svc", "Primary")
    assert after.primary != before.primary and after.secondary == before.secondary
    with pytest.raises(InvalidInput, match="Primary"):
        azure.regenerate_service_key("bank-svc", "Tertiary")

    updated = azure.update_service("bank-svc", app_insights_enabled=True)
    assert cloud.last_call("AciWebservice.update") == {
        "name": "bank-svc",
        "auth_enabled": None,
        "enable_app_insights": True,
    }
    assert updated.app_insights_enabled
    assert azure.get_service_logs("bank-svc", tail=1) == "scoring service ready"
    with pytest.raises(BackendUnavailable, match="Application Insights"):
        azure.get_service_telemetry("bank-svc")
    with pytest.raises(Conflict, match="bank-svc"):
        azure.delete_model("bank-model", 1)
    azure.delete_service("bank-svc")
    with pytest.raises(NotFound):
        azure.get_service("bank-svc")
    azure.delete_model("bank-model", 1)
    assert azure.list_models() == []


# -- pipelines and schedules --------------------------------------------------------------------


@pytest.fixture
def pipeline(azure, bank_small_csv):
    azure.register_dataset(name="bank", source=bank_small_csv)
    return azure.create_pipeline(name="bank-train", steps=PIPELINE_STEPS, parameters={"dataset": "bank"})


def test_pipeline_is_an_automl_step_and_a_register_step(azure, pipeline, cloud, azure_executor):
    assert [p.id for p in azure.list_pipelines()] == [pipeline.id]
    run = azure.run_pipeline(pipeline.id, experiment="bank-pipeline")
    submitted = cloud.last_call("Experiment.submit")
    automl_step, register_step = submitted["config"].steps
    assert automl_step.name == "train" and automl_step.automl_config.settings["experiment_timeout_hours"] == 20 / 60
    assert [o.training_output.type for o in automl_step.outputs] == ["Metrics", "Model"]
    assert register_step.script_name == "register_model.py"
    flags = dict(zip(register_step.arguments[0::2], register_step.arguments[1::2], strict=True))
    assert (flags["--model_name"], flags["--automl_step"], flags["--primary_metric"]) == (
        "bank-model",
        "train",
        "accuracy",
    )
    assert flags["--dataset"] == "bank:1"
    assert flags["--model_path"] is automl_step.outputs[1] and register_step.inputs == [automl_step.outputs[1]]
    finished = azure.wait_for_run(run.id, timeout=30)
    assert finished.run_type == "pipeline" and finished.status == COMPLETED
    steps = azure.list_runs(parent_id=run.id)
    assert sorted(s.display_name for s in steps) == ["register", "train"]
    assert [r.id for r in azure.list_pipeline_runs(pipeline_id=pipeline.id)] == [run.id]
    with pytest.raises(InvalidInput, match="unknown parameter"):
        azure.run_pipeline(pipeline.id, experiment="bank-pipeline", parameters={"nope": 1})


def test_data_prep_output_is_registered_as_the_steps_output_dataset(azure, cloud, bank_small_csv, tmp_path):
    """The prep step's output is promoted to a tabular dataset, registered under ``output_dataset`` when the step
    completes, and is what the AutoML step trains on (it was a plain folder, and ``output_dataset`` was ignored)."""
    azure.register_dataset(name="bank", source=bank_small_csv)
    steps = prep_pipeline_steps(tmp_path, "df[df['age'] >= 40]", "bank-over-40")
    pipeline = azure.create_pipeline(name="prep-train", steps=steps)
    run = azure.run_pipeline(pipeline.id, experiment="bank-pipeline")
    prep, train = cloud.last_call("Experiment.submit")["config"].steps
    assert prep.script_name == "prep_runner.py" and prep.inputs[0][1] == "raw"
    assert (Path(prep.source_directory) / "prep.py").read_text() == Path(steps[0]["script"]).read_text()
    output = prep.outputs[0]
    assert output.registration_name == "bank-over-40" and prep.arguments == ["--output", output]
    assert train.automl_config.settings["training_data"] is output
    cloud.execute_all()
    assert azure.get_run(run.id).status == COMPLETED
    registered = azure.load_dataset("bank-over-40")
    source = pd.read_csv(bank_small_csv)
    assert len(registered) == (source["age"] >= 40).sum() and registered["age"].min() >= 40


def test_scheduled_pipeline_runs_train_again_instead_of_reusing_the_automl_step(azure, pipeline, cloud):
    """Azure reuses a step whose definition did not change, and a dataset fixed at publish time never changes it:
    a reused AutoML step would never see new data. Reuse is off for every step opml builds."""
    azure.run_pipeline(pipeline.id, experiment="bank-pipeline")
    steps = cloud.last_call("Experiment.submit")["config"].steps
    assert [step.allow_reuse for step in steps] == [False, False]


@pytest.mark.parametrize("script", ["register_model.py", "prep_runner.py"])
def test_step_scripts_import_only_what_the_steps_environment_has(script):
    """Steps run in a curated environment (AzureML-sklearn-1.5 by default) with azureml-core and
    azureml-defaults but neither azureml-pipeline-core nor azureml-train-automl-client: a step script that
    imports those dies on import in Azure (the register step did, importing PipelineRun and AutoMLRun)."""
    import ast

    from opml.backends.azure.pipeline_steps import SCRIPTS

    tree = ast.parse((SCRIPTS / script).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    azureml = {name for name in imported if name.split(".")[0] == "azureml"}
    assert azureml and all(name == "azureml.core" or name.startswith("azureml.core.") for name in azureml)


def test_pipeline_register_step_registers_the_best_child_with_its_run(azure, pipeline, cloud):
    """The register step registers through the AutoML step's best child run, so the model keeps a run id
    (needed to deploy it, and its lineage); ``Model.register(workspace, path)`` gave a model without one."""
    run = azure.run_pipeline(pipeline.id, experiment="bank-pipeline")
    cloud.execute_all()
    assert azure.get_run(run.id).status == COMPLETED
    train = next(step for step in cloud.runs[run.id]._children if step.display_name == "train")
    trials = [child for child in train._children if child.properties.get("runTemplate") == "automl_child"]
    best = max(trials, key=lambda child: child._metrics["accuracy"])
    model = azure.get_model("bank-model")
    assert model.run_id == best.id and best.id.startswith(train.id)
    assert model.algorithm == best.properties["run_algorithm"] and model.dataset == "bank:1"
    assert model.metrics["accuracy"] == best._metrics["accuracy"] and model.primary_metric == "accuracy"


def test_publish_trigger_and_rest_contract(azure, pipeline, cloud, azure_executor):
    published = azure.publish_pipeline(pipeline.id, name="Bankmarketing Train", description="d", version="2.0")
    call = cloud.last_call("Pipeline.publish")
    assert (call["name"], call["description"], call["version"]) == ("Bankmarketing Train", "d", "2.0")
    assert published.status == "Active" and published.pipeline_id == pipeline.id
    assert published.endpoint.endswith(f"/PipelineRuns/PipelineSubmit/{published.id}")
    assert [p.id for p in azure.list_published_pipelines()] == [published.id]

    run = azure.trigger_published_pipeline(published.id, experiment="bank-rest")
    assert cloud.last_call("PublishedPipeline.submit")["experiment_name"] == "bank-rest"
    assert azure.wait_for_run(run.id, timeout=30).status == COMPLETED
    assert [r.id for r in azure.list_pipeline_runs(published_pipeline_id=published.id)] == [run.id]
    with pytest.raises(InvalidInput, match=r"published with \(dataset differ\)"):
        azure.trigger_published_pipeline(published.id, experiment="bank-rest", parameters={"dataset": "x"})
    again = azure.trigger_published_pipeline(published.id, experiment="bank-rest", parameters={"dataset": "bank"})
    assert again.id != run.id  # the published values themselves are accepted (the dashboard's form sends them)

    azure.set_published_pipeline_enabled(published.id, False)
    assert azure.get_published_pipeline(published.id).status == "Disabled"
    with pytest.raises(Conflict, match="Disabled"):
        azure.trigger_published_pipeline(published.id, experiment="bank-rest")


def test_rest_trigger_sends_azures_body_with_the_aad_header(azure):
    """opml.client speaks to an Azure endpoint exactly as to a local one: the body Azure documents."""
    received = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received["path"] = self.path
            received["auth"] = self.headers["Authorization"]
            received["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = json.dumps({"Id": "run-1", "Status": "NotStarted"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/pipelines/v1.0/PipelineRuns/PipelineSubmit/p-1"
        answer = client.trigger_pipeline(
            endpoint, azure.auth_header(), experiment="bank-rest", parameters={"dataset": "bank"}
        )
    finally:
        server.shutdown()
    assert answer["Id"] == "run-1"
    assert received["path"].endswith("/PipelineSubmit/p-1")
    assert received["auth"] == "Bearer fake-aad-token-for-FakeAzureCliAuthentication"
    assert received["body"]["ExperimentName"] == "bank-rest"
    assert received["body"]["ParameterAssignments"] == {"dataset": "bank"}


@pytest.mark.parametrize(
    ("interval", "cron", "expected"),
    [
        (15, None, {"frequency": "Minute", "interval": 15, "hours": None, "minutes": None, "week_days": None}),
        (None, "30 6 * * *", {"frequency": "Day", "interval": 1, "hours": [6], "minutes": [30], "week_days": None}),
        (
            None,
            "0 7 * * 1,5",
            {"frequency": "Week", "interval": 1, "hours": [7], "minutes": [0], "week_days": ["Monday", "Friday"]},
        ),
        (None, "0 7 * * 5,0,7", {"frequency": "Week", "week_days": ["Sunday", "Friday"]}),  # 0 and 7: Sunday
    ],
)
def test_schedules_become_azure_recurrences(azure, pipeline, cloud, interval, cron, expected):
    published = azure.publish_pipeline(pipeline.id, name="Bankmarketing Train")
    schedule = azure.create_schedule(
        published.id, name="nightly", experiment="bank-sched", interval_minutes=interval, cron=cron
    )
    call = cloud.last_call("Schedule.create")
    assert (call["pipeline_id"], call["experiment_name"]) == (published.id, "bank-sched")
    recurrence = call["recurrence"]
    assert {key: getattr(recurrence, key) for key in expected} == expected
    assert schedule.experiment == "bank-sched" and schedule.status == "Active"
    assert azure.set_schedule_paused(schedule.id, True).status == "Paused"
    azure.delete_schedule(schedule.id)
    assert azure.list_schedules() == []
    with pytest.raises(NotFound):
        azure.set_schedule_paused(schedule.id, False)


@pytest.mark.parametrize(
    ("interval", "cron", "message"),
    [
        (1.5, None, "whole number"),
        (None, "*/5 * * * *", "numbers or lists"),
        (None, "0 7 1 * *", "daily"),
        (5, "0 7 * * *", "either"),
    ],
)
def test_recurrences_azure_cannot_express_are_refused(azure, pipeline, interval, cron, message):
    published = azure.publish_pipeline(pipeline.id, name="p")
    with pytest.raises(InvalidInput, match=message):
        azure.create_schedule(published.id, name="s", experiment="e", interval_minutes=interval, cron=cron)


def test_tokens_are_azure_ad(azure):
    with pytest.raises(InvalidInput, match="Azure AD"):
        azure.create_token("ci")
    assert azure.list_tokens() == []


def test_command_run_goes_to_the_compute_with_the_curated_environment(azure, cloud):
    azure.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=python_command("pass"))
    config = cloud.last_call("Experiment.submit")["config"]
    assert config.compute_target.name == "cpu-cluster"
    assert config.environment is cloud.environments["AzureML-sklearn-1.5"]
    assert config.command[1:] == ["-c", "pass"]


def test_a_command_runs_env_reaches_the_compute_and_stays_out_of_tags(azure, cloud, azure_executor):
    """A command run's ``env`` was dropped on Azure (the ScriptRunConfig got none) and its values were kept in
    the opml_params tag, which anyone who can read the run sees. They go to the run configuration's
    environment_variables now, and the tag holds them masked, as the dashboard shows them."""
    code = "import os; print('token is', os.environ['API_TOKEN'])"
    params = {**python_command(code), "env": {"API_TOKEN": "s3cret-value"}}
    run = azure.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=params)
    submitted = cloud.last_call("Experiment.submit")
    assert submitted["config"].run_config.environment_variables == {"API_TOKEN": "s3cret-value"}
    assert "s3cret-value" not in json.dumps(submitted["tags"])
    finished = azure.wait_for_run(run.id, timeout=30)
    assert finished.status == COMPLETED, finished.error
    assert "token is s3cret-value" in azure.read_run_log(run.id)[0]
    assert finished.shown_params["env"] == {"API_TOKEN": MASK}


def test_a_command_run_uploads_its_cwd_or_nothing(azure, cloud, azure_executor, tmp_path, monkeypatch):
    """A command run without a cwd uploaded the dashboard's working folder as its snapshot (whatever it holds:
    opml's state, credentials, data). Now: the user's cwd when given, otherwise an empty folder."""
    dashboard = tmp_path / "dashboard"
    dashboard.mkdir()
    (dashboard / "secrets.env").write_text("AZURE_CLIENT_SECRET=not-for-upload\n")
    monkeypatch.chdir(dashboard)
    bare = azure.submit_run(
        experiment="e",
        run_type="command",
        compute="cpu-cluster",
        params=python_command("import os; print(os.listdir())"),
    )
    assert cloud.runs[bare.id]._snapshot == {}
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('trained in the project folder')\n")
    chosen = azure.submit_run(
        experiment="e",
        run_type="command",
        compute="cpu-cluster",
        params={"command": [sys.executable, "train.py"], "cwd": str(project)},
    )
    assert set(cloud.runs[chosen.id]._snapshot) == {"train.py"}
    assert azure.wait_for_run(chosen.id, timeout=30).status == COMPLETED
    assert "trained in the project folder" in azure.read_run_log(chosen.id)[0]
    assert azure.wait_for_run(bare.id, timeout=30).status == COMPLETED
    assert "[]" in azure.read_run_log(bare.id)[0]


def test_a_cwd_too_big_to_upload_is_the_users_to_fix(azure, cloud, tmp_path):
    """The SDK refuses a snapshot of more than 2,000 files (or 300 MB) with a SnapshotException, whose size
    message ("exceeds the limit") matched the quota rule: it is InvalidInput naming the cwd and .amlignore."""
    from tests.azure_fakes import SNAPSHOT_MAX_FILES

    project = tmp_path / "project"
    project.mkdir()
    for index in range(SNAPSHOT_MAX_FILES + 1):
        (project / f"part-{index}.txt").write_text("x")
    params = {**python_command("pass"), "cwd": str(project)}
    with pytest.raises(InvalidInput, match=r"exceeds the file limit of 2000.*\.amlignore"):
        azure.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=params)
    too_big = translate(_snapshot_too_big(project))
    assert isinstance(too_big, InvalidInput) and "exceeds the limit of 300.0 MB" in str(too_big)


def _snapshot_too_big(folder: Path) -> Exception:
    from azureml.exceptions import SnapshotException

    return SnapshotException(
        f"While attempting to take snapshot of {folder}\nYour total snapshot size exceeds the limit of 300.0 MB.\n"
        "Please see http://aka.ms/aml-largefiles on how to work with large files.\n"
    )


def test_automl_config_has_an_empty_folder_as_its_path(azure, cloud, bank_small_csv, tmp_path, monkeypatch):
    """AutoMLConfig(path=None) means the current folder: the SDK writes a .azureml folder into it when the run
    is submitted, and an AutoMLStep uploads it as the step's snapshot. opml passes an empty folder it owns."""
    dashboard = tmp_path / "dashboard"
    dashboard.mkdir()
    (dashboard / "secrets.env").write_text("AZURE_CLIENT_SECRET=not-for-upload\n")
    monkeypatch.chdir(dashboard)
    submit_automl(azure, bank_small_csv)
    path = Path(cloud.last_call("Experiment.submit")["config"].settings["path"])
    assert path.is_dir() and path != dashboard and not [p for p in path.rglob("*") if p.is_file()]
    assert [p.name for p in dashboard.iterdir()] == ["secrets.env"]


def test_more_iterations_than_azure_allows_are_refused_before_submitting(azure, cloud, bank_small_csv):
    """Azure AutoML runs at most 1,000 iterations (the SDK's MAX_ITERATIONS, refused only at submit, where it
    came back as "backend unavailable"); opml refuses it first, naming the limit, and submits nothing."""
    from azureml.train.automl import constants

    assert constants.MAX_ITERATIONS == 1000
    with pytest.raises(InvalidInput, match="at most 1,000 iterations, got 5,000"):
        submit_automl(azure, bank_small_csv, max_iterations=5000)
    assert not [call for call, _ in cloud.calls if call == "Experiment.submit"]
    assert submit_automl(azure, bank_small_csv, max_iterations=1000).status


def test_a_remote_automl_runs_setup_child_is_not_a_trial(azure, cloud, azure_executor, bank_small_csv):
    """A remote AutoML parent has a ``{id}_setup`` child (Azure's); the leaderboard, the iteration count and
    the best model are about its trials only (``runTemplate == "automl_child"``, as AutoMLRun decides)."""
    run = submit_automl(azure, bank_small_csv)
    finished = azure.wait_for_run(run.id, timeout=30)
    assert f"{run.id}_setup" in cloud.runs  # the fake has it, as Azure does
    rows = leaderboard(azure, run.id)
    assert sorted(row["iteration"] for row in rows) == list(range(len(cloud.automl_scores)))
    assert len(rows) == len(cloud.automl_scores) == finished.progress["iterations_done"]
    assert all(not row["run_id"].endswith("_setup") for row in rows)
    assert finished.progress["best_child_id"] != f"{run.id}_setup"
