"""AppTest of the Pipelines page: build, run, publish, trigger, tokens (no agent needed: runs stay queued)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend

REPO = Path(__file__).resolve().parent.parent


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages/pipelines.py"), default_timeout=60)


def test_build_run_publish_and_trigger(local_backend: LocalBackend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page().run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="pl_timeout").set_value(0.5)
    at.button(key="pl_create").click().run()
    assert not at.error, [e.value for e in at.error]
    (pipeline,) = local_backend.list_pipelines()
    assert [s["type"] for s in pipeline.steps] == ["automl", "register_model"]
    assert pipeline.parameters == {"dataset": "bank", "primary_metric": "accuracy", "timeout_minutes": 0.5}

    at.button(key="pl_run").click().run()
    (run,) = local_backend.list_pipeline_runs()
    assert run.status == "Queued" and run.params["trigger"] == "UI"

    at.text_input(key="pl_publish_name").input("Bankmarketing Train")
    publish = next(b for b in at.button if b.label == "Publish")
    publish.click().run()
    (published,) = local_backend.list_published_pipelines()
    assert published.name == "Bankmarketing Train" and published.status == "Active"
    assert any(published.endpoint in c.value for c in at.code)
    assert not any(local_backend.auth_header()["Authorization"].split()[1] in c.value for c in at.code)

    trigger = next(b for b in at.button if b.label == "Trigger")
    trigger.click().run()
    runs = local_backend.list_pipeline_runs(published_pipeline_id=published.id)
    assert len(runs) == 1 and runs[0].params["published_pipeline_id"] == published.id
    assert not at.exception


def test_bad_pipeline_definition_shows_the_reason(local_backend: LocalBackend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page().run()
    at.toggle(key="pl_prep").set_value(True).run()
    at.text_input(key="pl_script").input("/no/such/prep.py")
    at.button(key="pl_create").click().run()
    assert "does not exist" in at.error[0].value
    assert local_backend.list_pipelines() == []


def test_tokens_tab_creates_shows_once_and_revokes(local_backend: LocalBackend):
    at = page().run()
    at.text_input(key="pl_token_name").input("robot")
    at.button(key="pl_token_create").click().run()
    shown = [c.value for c in at.code if len(c.value) >= 43 and " " not in c.value]
    assert shown and local_backend.tokens.verify(shown[0])
    at.button(key="pl_token_revoke").click().run()
    assert local_backend.list_tokens()[0].revoked and not local_backend.tokens.verify(shown[0])
