"""Every dashboard page against the SDK v2 backend (over the fakes of azure-ai-ml), with Azure objects in it: a
cluster, a data asset, a finished AutoML job, a registered MLflow model, a managed online endpoint with two
deployments and a split, a pipeline published as a batch endpoint, a job schedule. And what v2 shows differently."""

from __future__ import annotations

import pytest

from opml.ui.rollout import MIRRORED
from tests.azure_fixtures import PIPELINE_STEPS, submit_automl
from tests.azure_v2_fakes.compute import add_cluster
from tests.azure_v2_fixtures import ticking
from tests.test_pages import PAGES, page


@pytest.fixture
def v2_dashboard(azure_v2, v2_cloud, bank_small_csv, monkeypatch, tmp_path):
    add_cluster(v2_cloud, "cpu-cluster", max_instances=4)
    with ticking(v2_cloud):
        run = submit_automl(azure_v2, bank_small_csv)
        azure_v2.wait_for_run(run.id, timeout=30, poll_seconds=0.05)
        azure_v2.register_model(name="bank-model", run_id=run.id)
        azure_v2.register_model(name="bank-model", run_id=run.id)  # version 2, the challenger
        azure_v2.deploy_model(name="bank-svc", model_name="bank-model", model_version=1)
        azure_v2.wait_for_service("bank-svc", timeout=10, poll_seconds=0.05)
        azure_v2.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
        azure_v2.wait_for_deployment("bank-svc", "green", timeout=10, poll_seconds=0.05)
        azure_v2.set_traffic("bank-svc", {"blue": 90, "green": 10})
        pipeline = azure_v2.create_pipeline(name="bank-train", steps=PIPELINE_STEPS, parameters={"dataset": "bank"})
        published = azure_v2.publish_pipeline(pipeline.id, name="Bankmarketing Train")
        azure_v2.create_schedule(published.id, name="nightly", experiment="bank-nightly", cron="0 2 * * *")
        for _ in range(20):  # the split is sent once both deployments are provisioned
            v2_cloud.execute_pending()
            if {d.name: d.traffic for d in azure_v2.list_deployments("bank-svc")} == {"blue": 90, "green": 10}:
                break
    monkeypatch.setenv("OPML_AZURE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setattr("opml.ui.workspace._open_azure", lambda config, sdk: azure_v2)
    return azure_v2


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_against_azure_sdk_v2(path, v2_dashboard):
    at = page(path).run()
    assert not at.exception, [e.value for e in at.exception]


def test_overview_names_the_workspace_and_its_sdk(v2_dashboard):
    at = page("pages/overview.py").run()
    assert "`azure`" in at.markdown[0].value and "SDK v2" in at.markdown[0].value
    assert {m.label: m.value for m in at.metric}["Models"] == "1"


def test_endpoints_page_shows_the_managed_endpoints_deployments_and_split(v2_dashboard):
    at = page("pages/endpoints.py")
    at.session_state["ep_tabs"] = "Deployments"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    lines = [m.value for m in at.markdown]
    assert "**blue** · bank-model:1 · 90 % · Healthy" in lines and "**green** · bank-model:2 · 10 % · Healthy" in lines


def test_score_page_says_why_it_cannot_read_a_v2_endpoints_schema_here(v2_dashboard):
    """A managed endpoint takes MLflow's split body (``request_format``); its swagger.json is on Azure, which is
    not reachable from here: the page says so instead of failing (the local service's input_data tests score
    through the same form for real)."""
    assert v2_dashboard.get_service("bank-svc").request_format == "input_data"
    at = page("pages/score.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Cannot read the input schema of bank-svc" in e.value for e in at.error)


def test_pipelines_page_shows_the_batch_endpoint_of_the_published_pipeline(v2_dashboard):
    published = v2_dashboard.list_published_pipelines()[0]
    at = page("pages/pipelines.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(c.value for c in at.code)
    assert published.endpoint in shown and "inputData" in shown


def test_the_forms_ask_for_the_instances_of_a_managed_deployment(v2_dashboard, v2_cloud):
    at = page("pages/endpoints.py")
    at.session_state["ep_tabs"] = "Deployments"
    at.run()
    at.text_input(key="ep_add_instance_type").set_value("Standard_F8s_v2")
    at.number_input(key="ep_add_instance_count").set_value(2)
    at.radio(key="ep_add_how").set_value(MIRRORED)
    at.button(key="ep_add").click().run()
    assert not at.exception
    assert [e.value for e in at.error if "Application Insights" not in e.value] == []  # (telemetry is Azure's)
    added = next(d for d in v2_dashboard.list_deployments("bank-svc") if d.name not in ("blue", "green"))
    assert (added.instance_type, added.instance_count, added.mirror) == ("Standard_F8s_v2", 2, 10)
    table = at.dataframe[1].value  # (the first is the services table)
    assert "2 × Standard_F8s_v2" in list(table["Instances"])


def test_local_forms_do_not_ask_for_instances(workspace):
    at = page("pages/endpoints.py").run()
    assert not at.exception
    assert not [t for t in at.text_input if "instance" in str(t.key)]


class NoSignIn:
    """DefaultAzureCredential on a machine with no sign-in (no az login, no service principal, no network): every
    token request fails as azure-identity fails it, before any request leaves the machine."""

    def __init__(self):
        self.asked = 0

    def get_token(self, *scopes, claims=None, tenant_id=None, **kwargs):
        from azure.core.exceptions import ClientAuthenticationError

        self.asked += 1
        raise ClientAuthenticationError(
            message="DefaultAzureCredential failed to retrieve a token from the included credentials. "
            "AzureCliCredential: Azure CLI not found on path"
        )


@pytest.fixture
def v2_without_sign_in(workspace, monkeypatch, tmp_path):
    """An SDK v2 workspace over the REAL MLClient, opened (as v2 opens: nothing asked of Azure) without a sign-in."""
    from opml.backends.azure_v2 import AzureMLv2Backend
    from opml.backends.azure_v2.sdk import load_sdk
    from tests.azure_fixtures import write_config

    credential = NoSignIn()
    backend = AzureMLv2Backend(
        config=write_config(tmp_path), sdk=load_sdk(), credential=credential, state_dir=tmp_path / "v2"
    )
    monkeypatch.setenv("OPML_AZURE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setattr("opml.ui.workspace._open_azure", lambda config, sdk: backend)
    return credential


@pytest.mark.parametrize("path", PAGES)
def test_a_v2_workspace_without_sign_in_falls_back_to_local_with_the_reason_on_every_page(path, v2_without_sign_in):
    """Seen in a browser: SDK v1 fails when the workspace is opened, but SDK v2 opens without asking Azure, so each
    page but the overview showed a traceback, after DefaultAzureCredential's ~10 s chain, on every click. Now the
    sign-in is tried once, and every page says why and shows the local workspace, as for v1."""
    at = page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be opened" in e.value and "az login" in e.value for e in at.error), [e.value for e in at.error]


def test_the_failed_sign_in_is_tried_once_until_try_again(v2_without_sign_in):
    at = page("pages/datasets.py").run()
    at.run()
    assert v2_without_sign_in.asked == 1  # not the whole credential chain on every rerun
    at.button(key="workspace_retry").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert v2_without_sign_in.asked == 2
    assert any("cannot be opened" in e.value for e in at.error)


def test_the_compute_form_creates_a_cluster_with_its_size_and_min_nodes(v2_dashboard, v2_cloud):
    at = page("pages/compute.py").run()
    at.text_input(key="compute_name").input("warm-cpu")
    at.text_input(key="compute_vm_size").set_value("STANDARD_D13_V2")
    at.number_input(key="compute_min_nodes").set_value(1).run()
    at.button(key="compute_create").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    cluster = v2_cloud.kind("computes")["warm-cpu"]
    assert (cluster.size, cluster.min_instances, cluster.max_instances) == ("STANDARD_D13_V2", 1, 2)
