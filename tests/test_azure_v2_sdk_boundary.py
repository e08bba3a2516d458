"""The SDK v2 fakes cannot drift from the installed ``azure-ai-ml``: every public method of a fake operations
class exists on the real class with the same parameters, the fake client and credentials take what the real
ones take, and ``azure_sets`` refuses attributes a real entity lacks. Also: nothing imports azure.ai.ml until an
SDK v2 workspace is opened, and a missing SDK is a clear error."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from opml.backends.azure_v2.sdk import REAL_CLASSES, load_sdk
from tests.azure_v2_fakes import OPERATIONS, FakeAzureML, azure_sets, make_fake_sdk

REAL_OPERATIONS = {  # MLClient attribute -> its operations class in azure.ai.ml.operations
    "compute": "ComputeOperations",
    "data": "DataOperations",
    "jobs": "JobOperations",
    "workspaces": "WorkspaceOperations",
    "models": "ModelOperations",
    "online_endpoints": "OnlineEndpointOperations",
    "online_deployments": "OnlineDeploymentOperations",
    "batch_endpoints": "BatchEndpointOperations",
    "batch_deployments": "BatchDeploymentOperations",
    "components": "ComponentOperations",
    "schedules": "ScheduleOperations",
}


def shape(function) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults of the parameters (annotations aside)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def public_methods(cls: type) -> list[str]:
    return [name for name, value in vars(cls).items() if callable(value) and not name.startswith("_")]


@pytest.mark.parametrize("attribute", sorted(OPERATIONS))
def test_fake_operations_match_the_installed_sdk(attribute):
    import azure.ai.ml.operations as operations

    real_class = getattr(operations, REAL_OPERATIONS[attribute])
    fake_class = OPERATIONS[attribute]
    for method in public_methods(fake_class):
        assert hasattr(real_class, method), f"{real_class.__name__} has no method {method}"
        real, fake = getattr(real_class, method), getattr(fake_class, method)
        assert shape(fake) == shape(real), f"{attribute}.{method}: fake {inspect.signature(fake)}"


def test_every_operations_class_the_fake_client_holds_is_checked():
    assert set(OPERATIONS) == set(REAL_OPERATIONS)
    from azure.ai.ml import MLClient

    for attribute in OPERATIONS:  # what opml reaches through the real client
        assert isinstance(inspect.getattr_static(MLClient, attribute), property), attribute


def test_fake_client_and_credentials_take_what_the_real_ones_take():
    real, fake = load_sdk(), make_fake_sdk(FakeAzureML())
    for attribute in ("MLClient", "ClientSecretCredential"):
        assert shape(getattr(fake, attribute).__init__) == shape(getattr(real, attribute).__init__), attribute
    assert shape(fake.DefaultAzureCredential.get_token) == shape(real.DefaultAzureCredential.get_token)
    assert shape(fake.DefaultAzureCredential.__init__) == shape(real.DefaultAzureCredential.__init__)


def test_only_the_network_is_faked():
    real, fake = load_sdk(), make_fake_sdk(FakeAzureML())
    faked = {"MLClient", "DefaultAzureCredential", "ClientSecretCredential"}
    for attribute in REAL_CLASSES:
        if attribute not in faked:
            assert getattr(fake, attribute) is getattr(real, attribute), attribute


def test_azure_sets_refuses_an_attribute_the_real_entity_lacks():
    from azure.ai.ml.entities import AmlCompute

    cluster = AmlCompute(name="cpu", size="STANDARD_DS3_V2")
    azure_sets(cluster, provisioning_state="Succeeded")
    assert cluster.provisioning_state == "Succeeded"
    with pytest.raises(AssertionError, match="no attribute 'provisioning_status'"):
        azure_sets(cluster, provisioning_status="Succeeded")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_azure_ai_ml_is_imported_only_when_a_v2_workspace_opens():
    result = run_python(
        "import sys, opml.workspace, opml.backends.azure_v2, opml.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('azure.ai.ml', 'azure.identity'))))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_missing_sdk_is_a_clear_error(monkeypatch):
    from opml.errors import BackendUnavailable

    real_import = importlib.import_module

    def without_azure_ai_ml(name, *args, **kwargs):
        if name.startswith("azure.ai.ml"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_azure_ai_ml)
    with pytest.raises(BackendUnavailable, match=r"pip install -r requirements\.txt"):
        load_sdk()
