"""The same dashboard pages against the Azure ML backend (over the SDK fakes): every page renders
with Azure objects in it, and Azure-only differences (VM size, telemetry in App Insights) show."""

from __future__ import annotations

import pytest

from tests.azure_fixtures import PIPELINE_STEPS, add_finished_runs, submit_automl
from tests.test_pages import PAGES, page


@pytest.fixture
def azure_dashboard(azure, azure_executor, bank_small_csv, monkeypatch, tmp_path):
    run = submit_automl(azure, bank_small_csv)
    azure.wait_for_run(run.id, timeout=30)
    azure.register_model(name="bank-model", run_id=run.id)
    azure.deploy_model(name="bank-svc", model_name="bank-model")
    azure.wait_for_service("bank-svc", timeout=10)
    pipeline = azure.create_pipeline(name="bank-train", steps=PIPELINE_STEPS, parameters={"dataset": "bank"})
    azure.publish_pipeline(pipeline.id, name="Bankmarketing Train")
    monkeypatch.setenv("OPML_AZURE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setattr("opml.ui.workspace._open_azure", lambda config, sdk: azure)
    return azure


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_against_azure(path, azure_dashboard):
    at = page(path).run()
    assert not at.exception, [e.value for e in at.exception]


def test_overview_names_the_azure_workspace(azure_dashboard):
    at = page("pages/overview.py").run()
    assert "`azure`" in at.markdown[0].value and "ws-1" in at.markdown[0].value
    assert any("Azure ML workspace ws-1" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Models"] == "1"


def test_compute_page_asks_for_a_vm_size_on_azure(azure_dashboard, cloud):
    at = page("pages/compute.py").run()
    at.text_input(key="compute_name").input("big-cpu")
    at.text_input(key="compute_vm_size").set_value("STANDARD_D13_V2").run()
    at.button(key="compute_create").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert cloud.last_call("ComputeTarget.create")["provisioning_configuration"]["vm_size"] == "STANDARD_D13_V2"


def test_unreachable_azure_workspace_falls_back_to_local_with_the_reason(workspace, monkeypatch, tmp_path):
    missing = tmp_path / "nope" / "config.json"
    monkeypatch.setenv("OPML_AZURE_CONFIG", str(missing))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    at = page("pages/overview.py").run()
    assert not at.exception
    assert any("cannot be opened" in e.value and "does not exist" in e.value for e in at.error)
    assert "`local`" in at.markdown[0].value


def test_score_page_says_why_when_the_azure_swagger_is_unreachable(azure_dashboard):
    at = page("pages/score.py").run()
    assert not at.exception
    assert any("Cannot read the input schema of bank-svc" in e.value for e in at.error)


def test_endpoint_page_on_azure_points_to_app_insights_and_keeps_logs(azure_dashboard):
    at = page("pages/endpoints.py").run()
    assert not at.exception
    assert any("Application Insights" in e.value for e in at.error)
    assert any("scoring service ready" in c.value for c in at.code)  # the Logs tab still renders


def test_monitoring_page_on_azure_says_why_each_tab_has_nothing(azure_dashboard):
    """Azure keeps no collected data, labels or alert rules opml could read: each tab shows the backend's reason."""
    at = page("pages/monitoring.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Data collection is off for bank-svc" in w.value for w in at.warning)
    assert any("Application Insights" in e.value and "ModelDataCollector" in e.value for e in at.error)
    at.button(key="mon_collect_bank-svc").click().run()
    assert not at.exception
    assert any("ModelDataCollector" in e.value for e in at.error)  # the switch says why it cannot be on
    at.session_state["mon_tabs"] = "Accuracy"
    at.run()
    assert not at.exception and any(
        "Data collection, labels and live accuracy are for local" in e.value for e in at.error
    )
    at.session_state["mon_tabs"] = "Alerts"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="mon_rule_add").click().run()
    assert any("Azure Monitor alert rule" in e.value for e in at.error)


def test_pipeline_trigger_form_on_azure_sends_the_published_values(azure_dashboard, cloud):
    at = page("pages/pipelines.py").run()
    next(b for b in at.button if b.label == "Trigger").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert cloud.last_call("PublishedPipeline.submit")["experiment_name"] == "pipeline-ui"
    assert any("Triggered" in s.value for s in at.success)


def test_automl_form_on_azure_starts_at_azures_minimum_timeout(azure_dashboard, cloud):
    """Azure ML's AutoML runs at least 15 minutes: the form starts there (at 5 locally) and refuses less before
    Launch, where Azure used to get 15 minutes while the form and the run said 5."""
    at = page("pages/automl.py").run()
    assert at.number_input(key="automl_timeout").value == 15.0
    at.number_input(key="automl_timeout").set_value(5.0).run()
    assert any("Azure ML's minimum is 15 minutes" in e.value for e in at.error)
    assert at.button(key="automl_launch").disabled
    at.number_input(key="automl_timeout").set_value(15.0).run()
    at.button(key="automl_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert cloud.last_call("Experiment.submit")["config"].settings["experiment_timeout_hours"] == 0.25


def test_pipeline_form_on_azure_starts_at_azures_minimum_timeout(azure_dashboard):
    at = page("pages/pipelines.py").run()
    assert at.number_input(key="pl_timeout").value == 15.0
    at.number_input(key="pl_timeout").set_value(5.0).run()
    assert any("Azure ML's minimum is 15 minutes" in e.value for e in at.error)
    assert at.button(key="pl_create").disabled


def test_automl_form_and_run_on_azure_say_when_iterations_will_wait_for_nodes(azure_dashboard):
    """cpu-cluster has 4 nodes and Azure runs one iteration per node: 8 concurrent iterations are not refused
    (the local backend runs them as threads), the form and then the run say that half will wait."""
    note = (
        "8 concurrent iterations asked, but cpu-cluster has at most 4 nodes: Azure ML runs one iteration per node, "
        "so at most 4 run at once and the others wait for a node"
    )
    at = page("pages/automl.py").run()
    assert not at.warning
    at.number_input(key="automl_concurrency").set_value(8).run()
    assert [w.value for w in at.warning] == [note]
    at.button(key="automl_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [w.value for w in at.warning] == [note, note]  # the form's, and the launched run's (followed below)
    assert azure_dashboard.get_run(at.session_state["automl_run"]).progress["notes"] == [note]


def test_the_runs_page_on_azure_asks_about_the_run_it_shows_only(azure, cloud, monkeypatch, tmp_path):
    """The Runs page names the experiments and searches three times a view: each listed and converted every run on
    Azure (a get_details each, up to 10,000). Now it lists, and converts from the listing the page it shows; the
    one run shown in detail is asked for its details."""
    from datetime import UTC, datetime, timedelta

    add_finished_runs(cloud, "big", 600, created=datetime.now(UTC) - timedelta(days=1))
    add_finished_runs(cloud, "small", 3, created=datetime.now(UTC) - timedelta(days=2))
    monkeypatch.setenv("OPML_AZURE_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setattr("opml.ui.workspace._open_azure", lambda config, sdk: azure)
    before = len(cloud.calls)
    at = page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="runs_experiment").options == ["(all)", "big", "small"]
    assert at.selectbox(key="runs_page").options == ["page 1 of 4", "page 2 of 4", "page 3 of 4", "page 4 of 4"]
    details = [arguments["run_id"] for call, arguments in cloud.calls[before:] if call == "Run.get_details"]
    assert set(details) == {"big_599"}  # the run shown (its status, then its log), newest first


def test_endpoint_rollout_tabs_on_azure_say_what_v1_cannot_do(azure_dashboard):
    """An ACI web service serves one model: adding a deployment and comparing show the backend's reason."""
    at = page("pages/endpoints.py")
    at.session_state["ep_tabs"] = "Compare"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("managed online endpoints" in e.value for e in at.error)  # Compare: Azure's reason
    before = [(d.name, d.model, d.traffic) for d in azure_dashboard.list_deployments("bank-svc")]
    assert len(before) == 1 and before[0][2] == 100  # the web service's one model, all its traffic
    at.button(key="ep_add").click().run()
    assert not at.exception
    assert any("managed online endpoints" in e.value and "SDK v1" in e.value for e in at.error)
    assert [(d.name, d.model, d.traffic) for d in azure_dashboard.list_deployments("bank-svc")] == before
