"""AppTest of the Endpoints page: deploy, keys, telemetry switch, delete (the agent is not needed for these)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend

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


def test_keys_are_masked_until_revealed_and_can_be_regenerated(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    keys = trained_backend.get_service_keys("svc")
    at = page().run()
    assert not any(keys.primary in (c.value or "") for c in at.code)
    at.toggle(key="ep_reveal").set_value(True).run()
    assert any(keys.primary == c.value for c in at.code)
    at.button(key="ep_regen_Primary").click().run()
    assert trained_backend.get_service_keys("svc").primary != keys.primary
    assert trained_backend.get_service_keys("svc").secondary == keys.secondary


def test_telemetry_toggle_updates_the_running_service(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    at = page().run()
    at.toggle(key="ep_insights_svc").set_value(True).run()
    assert not at.exception
    assert trained_backend.get_service("svc").app_insights_enabled
    assert trained_backend.services.runtime("svc")["app_insights_enabled"] is True


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
        connection.executemany("INSERT INTO telemetry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    at = page().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests"] == "30" and metrics["Failure rate"] == "10.0 %"


def test_delete_needs_confirmation(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    at = page().run()
    assert at.button(key="ep_delete").disabled
    at.checkbox(key="ep_delete_confirm").check().run()
    at.button(key="ep_delete").click().run()
    assert trained_backend.get_service("svc").state == "Deleting"
