"""The fakes cannot drift from the SDK: each fake method's signature is the installed SDK's, and the
attributes opml reads exist on the real classes. Also: nothing imports azureml until an Azure
workspace is opened, and a missing SDK is a clear error."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from opml.backends.azure.sdk import REAL_CLASSES, load_sdk
from tests.azure_fakes import RETURNED_SIGNATURES, SIGNATURES, FakeCloud, make_fake_sdk


@pytest.fixture(scope="module")
def real_sdk():
    return load_sdk()


def shape(function) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults of the parameters (annotations aside). Read on the class, so an
    instance method shows ``self`` and a static one does not: static-ness is compared too."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("attribute", "methods"), [(a, m) for a, _, m in SIGNATURES], ids=[s[0] for s in SIGNATURES])
def test_fake_signatures_match_the_installed_sdk(real_sdk, attribute, methods):
    real_class = getattr(real_sdk, attribute)
    fake_class = getattr(make_fake_sdk(FakeCloud()), attribute)
    for method in methods:
        real, fake = getattr(real_class, method), getattr(fake_class, method)
        assert shape(fake) == shape(real), f"{attribute}.{method}: fake {inspect.signature(fake)}"


@pytest.mark.parametrize(
    ("target", "fake_class", "methods"), RETURNED_SIGNATURES, ids=[r[0] for r in RETURNED_SIGNATURES]
)
def test_fakes_of_returned_objects_match_the_sdk(target, fake_class, methods):
    module_name, _, class_name = target.partition(":")
    real_class = getattr(importlib.import_module(module_name), class_name)
    for method in methods:
        assert shape(getattr(fake_class, method)) == shape(getattr(real_class, method)), f"{target}.{method}"


def instance_attributes(cls) -> str:
    return "".join(inspect.getsource(c) for c in cls.__mro__ if c.__module__.startswith("azureml"))


@pytest.mark.parametrize(
    ("attribute", "names"),
    [
        ("Run", "id tags properties parent experiment type status display_name _run_dto"),
        ("AmlCompute", "name type provisioning_state scale_settings"),
        ("Model", "id name version description tags properties run_id created_time"),
        (
            "AciWebservice",
            "name models state auth_enabled enable_app_insights scoring_uri swagger_uri created_time "
            "updated_time description error compute_type tags",
        ),
        ("PublishedPipeline", "id name description version status endpoint"),
        ("ScriptRunConfig", "source_directory command run_config"),
        ("RunConfiguration", "environment_variables environment target"),
        ("Schedule", "id name pipeline_id status"),
    ],
)
def test_attributes_opml_reads_exist_on_the_real_classes(real_sdk, attribute, names):
    real_class = getattr(real_sdk, attribute)
    source = instance_attributes(real_class)
    missing = [n for n in names.split() if not hasattr(real_class, n) and f"self.{n} =" not in source]
    assert missing == []


def test_a_script_run_submits_the_environment_variables_of_its_run_config(tmp_path):
    """ScriptRunConfig takes no environment variables; its RunConfiguration's ``environment_variables`` are what
    Experiment.submit sends (``get_run_config_from_script_run`` copies the run config it submits)."""
    from azureml.core import ScriptRunConfig
    from azureml.core.runconfig import _serialize_to_dict
    from azureml.core.script_run_config import get_run_config_from_script_run

    config = ScriptRunConfig(source_directory=str(tmp_path), command=["python", "-c", "pass"])
    config.run_config.environment_variables.update({"API_TOKEN": "s3cret-value"})
    submitted = get_run_config_from_script_run(config)
    assert _serialize_to_dict(submitted)["environmentVariables"] == {"API_TOKEN": "s3cret-value"}


def test_automl_config_keeps_its_path(tmp_path):
    """AutoMLConfig's ``path`` (None: the current folder) is where the SDK writes .azureml at submit and what an
    AutoMLStep uploads as its snapshot (``user_settings["path"]``)."""
    from azureml.train.automl import AutoMLConfig

    assert AutoMLConfig(task="classification", label_column_name="y").user_settings["path"] is None
    config = AutoMLConfig(task="classification", label_column_name="y", path=str(tmp_path))
    assert config.user_settings["path"] == str(tmp_path)


def test_the_dataset_factories_are_where_opml_reaches_them(real_sdk):
    """opml reaches the factories through Dataset (``Dataset.Tabular``, ``Dataset.File``); their fakes' signatures
    are checked against these classes (RETURNED_SIGNATURES). get_all's answer is the SDK's _DatasetDict, which the
    fake returns too."""
    from azureml.data import FileDataset, TabularDataset
    from azureml.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory

    assert real_sdk.Dataset.Tabular is TabularDatasetFactory and real_sdk.Dataset.File is FileDatasetFactory
    assert real_sdk.TabularDataset is TabularDataset and not issubclass(FileDataset, TabularDataset)
    assert "_DatasetDict(" in inspect.getsource(real_sdk.Dataset.get_all)


def test_the_sdk_surface_is_complete():
    assert set(REAL_CLASSES) == {attribute for attribute, _, _ in SIGNATURES}


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_azureml_is_imported_only_when_an_azure_workspace_opens():
    result = run_python(
        "import sys, opml.workspace, opml.backends.azure, opml.cli, opml.client\n"
        "print(sorted(m for m in sys.modules if m.startswith('azureml')))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_sdk_is_a_clear_error(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}')
    result = run_python(
        "import sys\n"
        "sys.modules['azureml.core'] = None\n"  # what an environment without azureml-core looks like
        "from opml.workspace import open_workspace\n"
        "from opml.errors import BackendUnavailable\n"
        "try:\n"
        f"    open_workspace(config={str(config)!r}, sdk='v1')\n"
        "except BackendUnavailable as exc:\n"
        "    print('BackendUnavailable:', exc)\n"
    )
    assert "BackendUnavailable: the Azure ML SDK cannot be loaded" in result.stdout, result.stderr
    assert "pip install -r requirements.txt" in result.stdout


def test_cli_sign_in_is_chosen_only_where_the_real_sdk_can_build_it(monkeypatch):
    """The real AzureCliAuthentication refuses to start without azure-cli in this environment, whether or not
    an ``az`` command is on the PATH: opml chooses it only when azure.cli.core imports. (The real interactive
    login is not built here: it contacts Microsoft's sign-in service at once.)"""
    import shutil

    from opml.backends.azure.auth import azure_cli_installed, make_auth

    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/az")  # an az on the PATH changes nothing
    fakes = make_fake_sdk(FakeCloud())
    chosen = type(make_auth(fakes, {})).__name__
    if azure_cli_installed():
        assert chosen == "FakeAzureCliAuthentication"
    else:
        assert chosen == "FakeInteractiveLoginAuthentication"
        with pytest.raises(Exception, match="azure-cli package is not installed"):
            load_sdk().AzureCliAuthentication()


@pytest.mark.parametrize(("code", "final"), [("Finished", "Completed"), ("3", "Completed"), ("Failed", "Failed")])
def test_waiting_on_an_azure_pipeline_run_reads_its_status_object(code, final):
    """Azure's GET PipelineRuns/{id} answers Status as an object (the SDK's own PipelineRunEntity, serialized
    here), "Finished" or a numeric code when done; waiting used to look for the string "Completed" forever."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from azureml.pipeline.core._restclients.aeva.models import PipelineRunEntity, PipelineRunStatus

    from opml import client

    answers = [PipelineRunEntity(id="r1", status=PipelineRunStatus(status_code=c)).serialize() for c in ("1", code)]

    class Azure(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answers.pop(0) if len(answers) > 1 else answers[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Azure)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/pipelines/v1.0/PipelineRuns/PipelineSubmit/p-1"
        document = client.wait_for_pipeline_run(endpoint, {}, "r1", timeout=10, poll_seconds=0.05)
        assert client.pipeline_run_status(document) == final
    finally:
        server.shutdown()
    assert client.pipeline_run_status({"Status": "Completed"}) == "Completed"  # opml's own gateway
