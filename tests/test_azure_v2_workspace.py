"""Opening an Azure ML workspace through SDK v2: which SDK a workspace opens with (``--sdk``, ``$OPML_AZURE_SDK``,
v1 kept for a workspace opml already opened with v1, v2 for a new one), the sign-in chain, the Azure AD header,
and the dashboard's SDK choice."""

from __future__ import annotations

import pytest

from opml.backends.azure_v2 import AzureMLv2Backend
from opml.backends.azure_v2.auth import ARM_SCOPE, ML_SCOPE, make_credential
from opml.backends.azure_v2.sdk import load_sdk
from opml.errors import InvalidInput, Unauthorized
from opml.workspace import default_sdk, open_workspace
from tests.azure_fixtures import write_config
from tests.azure_v2_fakes import FakeAzureML, make_fake_sdk

SERVICE_PRINCIPAL = {"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "client-1", "AZURE_CLIENT_SECRET": "s3cret"}


@pytest.fixture
def opml_home(tmp_path, monkeypatch):
    """A fresh local workspace folder (where opml keeps an Azure workspace's state) and no SDK named."""
    from opml.settings import get_settings

    monkeypatch.setenv("OPML_WORKSPACE", str(tmp_path / "home"))
    monkeypatch.delenv("OPML_AZURE_SDK", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_a_new_azure_workspace_opens_with_sdk_v2(opml_home, tmp_path):
    assert default_sdk(write_config(tmp_path)) == "v2"


def test_a_workspace_opml_opened_with_v1_stays_on_v1(opml_home, tmp_path):
    (opml_home / "azure" / "ws-1").mkdir(parents=True)  # the v1 backend's state folder of workspace ws-1
    assert default_sdk(write_config(tmp_path)) == "v1"
    assert default_sdk(write_config(tmp_path, workspace_name="other")) == "v2"


def test_the_environment_names_the_sdk(opml_home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPML_AZURE_SDK", "v1")
    assert default_sdk(write_config(tmp_path)) == "v1"
    monkeypatch.setenv("OPML_AZURE_SDK", "v3")
    with pytest.raises(InvalidInput, match="unknown Azure ML SDK 'v3'"):
        default_sdk(write_config(tmp_path))


def test_open_workspace_gives_the_v2_backend(opml_home, tmp_path, monkeypatch):
    cloud = FakeAzureML()
    monkeypatch.setattr("opml.backends.azure_v2.backend.load_sdk", lambda: make_fake_sdk(cloud))
    for variable, value in SERVICE_PRINCIPAL.items():
        monkeypatch.setenv(variable, value)
    backend = open_workspace(config=write_config(tmp_path))
    assert isinstance(backend, AzureMLv2Backend)
    assert (backend.kind, backend.sdk_version) == ("azure", "v2")
    assert backend.client.workspace_name == "ws-1" and backend.client.resource_group_name == "rg-1"
    assert "service principal" in backend.agent_status().detail
    assert backend.auth_header() == {"Authorization": f"Bearer token-for {ML_SCOPE}"}
    with pytest.raises(InvalidInput, match="unknown Azure ML SDK"):
        open_workspace(config=write_config(tmp_path), sdk="v0")


def test_v1_and_v2_keep_their_state_apart(opml_home, tmp_path, monkeypatch):
    cloud = FakeAzureML()
    monkeypatch.setattr("opml.backends.azure_v2.backend.load_sdk", lambda: make_fake_sdk(cloud))
    backend = open_workspace(config=write_config(tmp_path), sdk="v2")
    assert backend.state.folder == opml_home / "azure-v2" / "ws-1"
    assert default_sdk(write_config(tmp_path)) == "v2"  # opening with v2 does not make it a v1 workspace


def test_service_principal_from_the_environment():
    sdk = make_fake_sdk(FakeAzureML())
    credential = make_credential(sdk, SERVICE_PRINCIPAL)
    assert isinstance(credential, sdk.ClientSecretCredential)
    assert (credential.tenant_id, credential.client_id, credential.client_secret) == ("tenant-1", "client-1", "s3cret")


def test_otherwise_the_default_chain_with_an_interactive_last_resort():
    sdk = make_fake_sdk(FakeAzureML())
    credential = make_credential(sdk, {"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "client-1"})
    assert isinstance(credential, sdk.DefaultAzureCredential)
    assert credential.kwargs == {
        "exclude_interactive_browser_credential": False,
        "interactive_browser_tenant_id": "tenant-1",
    }


def test_the_real_sdk_builds_both_credentials_offline():
    """azure-identity's credentials take the arguments opml gives and ask nothing of Azure until a token is
    needed (no token is asked here)."""
    real = load_sdk()
    assert isinstance(make_credential(real, SERVICE_PRINCIPAL), real.ClientSecretCredential)
    default = make_credential(real, {})
    assert isinstance(default, real.DefaultAzureCredential)
    assert any(type(c).__name__ == "InteractiveBrowserCredential" for c in default.credentials)


def test_an_expired_sign_in_is_unauthorized_with_what_to_do(tmp_path):

    sdk = make_fake_sdk(FakeAzureML())
    credential = sdk.DefaultAzureCredential()
    credential.expired = True
    backend = AzureMLv2Backend(config=write_config(tmp_path), sdk=sdk, credential=credential, state_dir=tmp_path / "s")
    with pytest.raises(Unauthorized, match=r"AADSTS700082.*az login"):
        backend.auth_header()
    assert ARM_SCOPE.startswith("https://management.azure.com")


def test_the_dashboard_shows_and_switches_the_sdk(opml_home, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import REPO

    cloud = FakeAzureML()
    sdk = make_fake_sdk(cloud)
    v2 = AzureMLv2Backend(config=write_config(tmp_path), sdk=sdk, credential=sdk.DefaultAzureCredential())
    opened = []

    def open_azure(config, chosen):
        opened.append(chosen)
        if chosen == "v1":
            raise InvalidInput("stand-in: no v1 workspace here")
        return v2

    monkeypatch.setenv("OPML_AZURE_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setattr("opml.ui.workspace._open_azure", open_azure)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert opened[-1] == "v2"
    assert "(v2)" in at.selectbox(key="workspace_select").format_func(at.selectbox(key="workspace_select").value)
    radio = at.sidebar.radio[0]
    assert radio.label == "Azure ML SDK" and radio.value == "v2"
    radio.set_value("v1").run()
    assert opened[-1] == "v1"
    assert any("cannot be opened" in e.value and "stand-in" in e.value for e in at.error)


def test_no_sign_in_is_unauthorized_in_a_few_lines_saying_how_to_sign_in():
    """DefaultAzureCredential's report lists every credential it tried (some in network words): what a user needs
    is to sign in, and what the credentials they set up said."""
    from azure.core.exceptions import ClientAuthenticationError

    from opml.backends.azure_common.errors import translate

    report = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not "
        "fully configured.\n"
        "Visit https://aka.ms/azsdk/python/identity/environmentcredential/troubleshoot to troubleshoot this issue.\n"
        "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable, no response from the "
        "IMDS endpoint. Failed to establish a new connection\n"
        "\tAzureCliCredential: Azure CLI not found on path\n"
        "\tAzurePowerShellCredential: PowerShell is not installed\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/"
        "identity/defaultazurecredential/troubleshoot."
    )
    error = translate(ClientAuthenticationError(message=report))
    assert isinstance(error, Unauthorized)
    text = str(error)
    assert "AzureCliCredential: Azure CLI not found on path" in text and "sign in with az login" in text
    assert "ManagedIdentityCredential" not in text and "PowerShell" not in text and "\n" not in text
