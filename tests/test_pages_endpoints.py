"""AppTest of the Endpoints page: deploy, keys, telemetry switch, delete (the agent is not needed for these)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from tests.helpers import other_model_run

REPO = Path(__file__).resolve().parent.parent


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages/endpoints.py"), default_timeout=60)


def test_deploy_form_creates_an_authenticated_service(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    at = page().run()
    at.text_input(key="ep_name").input("bank-svc")
    at.toggle(key="ep_insights").set_value(True)
    at.button(key="ep_deploy").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    service = trained_backend.get_service("bank-svc")
    assert service.auth_enabled and service.app_insights_enabled and service.state == "Transitioning"
    assert any("Deploying **bank-svc**" in s.value for s in at.success)


def test_keys_are_masked_until_revealed_and_regenerated_after_confirmation(
    trained_backend: LocalBackend, automl_run_id
):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    keys = trained_backend.get_service_keys("svc")
    at = page().run()
    assert not any(keys.primary in (c.value or "") for c in at.code)
    at.toggle(key="ep_reveal").set_value(True).run()
    assert any(keys.primary == c.value for c in at.code)
    at.radio(key="ep_regen_which").set_value("Secondary").run()
    assert at.button(key="ep_regen").disabled
    at.checkbox(key="ep_regen_confirm_svc_Secondary").check().run()
    at.button(key="ep_regen").click().run()
    new = trained_backend.get_service_keys("svc")
    assert new.primary == keys.primary and new.secondary != keys.secondary
    shown = [c.value for c in at.code]
    assert new.secondary in shown and keys.secondary not in shown  # the revoked key is not left on screen
    assert any("Secondary key of svc regenerated" in t.value for t in at.toast)
    assert not at.checkbox(key="ep_regen_confirm_svc_Secondary").value  # the next one needs its own tick
    assert at.button(key="ep_regen").disabled


def test_telemetry_toggle_updates_the_running_service_and_the_table(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model", app_insights_enabled=True)
    at = page().run()
    table = next(df.value for df in at.dataframe if "App Insights" in df.value.columns)
    assert list(table["App Insights"]) == ["on"]
    at.toggle(key="ep_insights_svc").set_value(False).run()
    assert not at.exception
    assert not trained_backend.get_service("svc").app_insights_enabled
    assert trained_backend.services.runtime("svc")["app_insights_enabled"] is False
    table = next(df.value for df in at.dataframe if "App Insights" in df.value.columns)
    assert list(table["App Insights"]) == ["off"]  # the table drawn after the switch agrees


def test_state_metric_and_table_agree(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    trained_backend.services.set_state("svc", "Healthy")
    at = page().run()
    table = next(df.value for df in at.dataframe if "State" in df.value.columns)
    metrics = {m.label: m.value for m in at.metric}
    assert list(table["State"]) == ["Healthy"] and metrics["State"] == "Healthy"


def test_deploy_form_shows_versions_with_metrics_and_starts_at_the_champion(
    trained_backend: LocalBackend, automl_run_id
):
    champion = trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.register_model(name="bank-model", run_id=other_model_run(trained_backend, automl_run_id))
    trained_backend.set_model_alias("bank-model", "champion", champion.version)
    at = page().run()
    picker = at.selectbox(key="ep_version")
    assert picker.value == champion.version  # not simply the newest (2)
    metric = champion.primary_metric
    assert any("champion" in option and metric in option for option in picker.options), picker.options
    at.text_input(key="ep_name").input("svc")
    at.button(key="ep_deploy").click().run()
    assert trained_backend.get_service("svc").model == champion.id


def test_deploy_form_says_why_it_cannot_submit(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    at = page().run()
    at.number_input(key="ep_port").set_value(70000).run()
    assert any("between 1024 and 65535" in e.value for e in at.error)
    assert at.button(key="ep_deploy").disabled
    at.number_input(key="ep_port").set_value(0)
    at.text_input(key="ep_name").input("bad name!").run()
    assert any("service name 'bad name!' is not valid" in e.value for e in at.error)
    assert at.button(key="ep_deploy").disabled
    assert trained_backend.list_services() == []


def test_telemetry_charts_render_from_recorded_requests(trained_backend: LocalBackend, automl_run_id):
    import time

    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model", app_insights_enabled=True)
    now = time.time()
    rows = [
        ("svc", now - 90 + i, f"id{i}", 200 if i % 10 else 400, 2.0 + i % 3, 1, '{"no": 1}', None, "127.0.0.1")
        for i in range(30)
    ]
    with trained_backend.store.transaction() as connection:
        connection.executemany(
            """INSERT INTO telemetry (service, at, request_id, status, latency_ms, records, predictions, error, client)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
    at = page().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests"] == "30" and metrics["Failure rate"] == "10.0 %"
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    spans = {
        (pd.Timestamp(c["layout"]["xaxis"]["range"][1]) - pd.Timestamp(c["layout"]["xaxis"]["range"][0])).round("min")
        for c in charts
    }
    assert spans == {pd.Timedelta(hours=24)}  # every chart spans the chosen window (24 hours by default)
    recent = next(df.value for df in at.dataframe if "request_id" in df.value.columns)
    assert set(recent["predictions"]) == {"no: 1"} and set(recent["error"]) == {""}


def test_delete_needs_confirmation(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    at = page().run()
    assert at.button(key="ep_delete").disabled
    at.checkbox(key="ep_delete_confirm_svc").check().run()
    at.button(key="ep_delete").click().run()
    assert trained_backend.get_service("svc").state == "Deleting"


def test_dropped_requests_and_the_export_state_are_shown(trained_backend: LocalBackend, automl_run_id):
    import json

    from opml.files import write_private_file

    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model", app_insights_enabled=True)
    note = "App Insights export off: APPLICATIONINSIGHTS_CONNECTION_STRING is not valid (bad key); recorded locally"
    write_private_file(  # what the service's telemetry writer reports
        trained_backend.layout.service_telemetry_status("svc"), json.dumps({"dropped": 1234, "export": note}).encode()
    )
    assert trained_backend.get_service("svc").telemetry_dropped == 1234
    at = page().run()
    assert any(note == c.value for c in at.caption)
    assert any("1,234 request(s) could not be recorded" in w.value for w in at.warning)


def test_a_failed_service_says_why_and_restarts_on_request(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    reason = (
        "gave up after 5 crashes within 120 s without answering; fix the cause, then Restart. "
        "Last: the scoring process died"
    )
    trained_backend.services.set_state("svc", "Failed", error=reason, restarts=5)  # as the supervisor leaves it
    at = page().run()
    assert any(reason == e.value for e in at.error)
    at.button(key="ep_restart_svc").click().run()
    assert trained_backend.get_service("svc").state == "Transitioning"
    assert any("Restarting svc" in s.value for s in at.success)
    assert not any(b.key == "ep_restart_svc" for b in at.button)  # no longer Failed: no Restart button


def test_data_collection_is_switched_and_tuned_on_the_page(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    at = page().run()
    at.text_input(key="ep_name").input("svc")
    at.toggle(key="ep_collect").set_value(True)
    at.button(key="ep_deploy").click().run()
    assert trained_backend.get_service("svc").data_collection
    at = page().run()
    at.toggle(key="ep_collect_svc").set_value(False).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert trained_backend.services.runtime("svc")["data_collection"] is False
    at.number_input(key="ep_sampling_svc").set_value(0.25).run()
    at.number_input(key="ep_retention_svc").set_value(7).run()
    service = trained_backend.get_service("svc")
    assert (service.collection_sampling_rate, service.collection_retention_days) == (0.25, 7)
    assert any("0.25" in t.value or "25%" in t.value for t in at.toast)
    at.number_input(key="ep_sampling_svc").set_value(1.5).run()  # refused by the backend, said in words
    assert any("sampling rate" in e.value for e in at.error)
    assert trained_backend.get_service("svc").collection_sampling_rate == 0.25


def test_the_service_is_picked_below_the_table_it_picks_from(trained_backend: LocalBackend, automl_run_id):
    """A newcomer read the table first, then found the picker above it: the picker now follows the table."""
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    at = page().run()

    def in_order(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from in_order(child)

    order = [(type(node).__name__, getattr(node, "key", None)) for node in in_order(at.main)]
    first_table = next(i for i, (kind, _) in enumerate(order) if kind == "Dataframe")  # the services table
    assert first_table < order.index(("Selectbox", "ep_service"))
