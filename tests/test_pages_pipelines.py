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
    at.toggle(key="pl_gate").set_value(True)
    at.toggle(key="pl_set_alias").set_value(True)
    at.button(key="pl_create").click().run()
    assert not at.error, [e.value for e in at.error]
    (pipeline,) = local_backend.list_pipelines()
    assert [s["type"] for s in pipeline.steps] == ["automl", "register_model"]
    assert pipeline.steps[1]["gate_alias"] == pipeline.steps[1]["set_alias"] == "champion"
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
    at.text_input(key="pl_script").input("/no/such/prep.py").run()
    assert any("Script path: data_prep script /no/such/prep.py does not exist" in e.value for e in at.error)
    assert at.button(key="pl_create").disabled
    at.number_input(key="pl_timeout").set_value(-1).run()
    assert any("AutoML timeout: experiment_timeout_minutes must be a positive" in e.value for e in at.error)
    assert local_backend.list_pipelines() == []


def test_tokens_tab_creates_shows_once_and_revokes_after_confirmation(local_backend: LocalBackend):
    local_backend.auth_header()  # the owner's token exists, as soon as anything asks for auth_header()
    at = page().run()
    at.text_input(key="pl_token_name").input("robot")
    at.button(key="pl_token_create").click().run()
    shown = [c.value for c in at.code if len(c.value) >= 43 and " " not in c.value]
    assert shown and local_backend.tokens.verify(shown[0])
    picker = at.selectbox(key="pl_token_revoke_name")
    assert picker.value is None  # never the owner's token by default
    assert any("the owner's" in option for option in picker.options)
    assert at.button(key="pl_token_revoke").disabled
    picker.set_value("robot").run()
    assert at.button(key="pl_token_revoke").disabled  # not before the confirmation
    at.checkbox(key="pl_token_revoke_confirm_robot").check().run()
    at.button(key="pl_token_revoke").click().run()
    assert not at.exception
    revoked = {t.name: t.revoked for t in local_backend.list_tokens()}
    assert revoked == {"owner": False, "robot": True} and not local_backend.tokens.verify(shown[0])
    assert any("Revoked token robot" in s.value for s in at.success)


def test_schedule_form_says_why_it_cannot_submit_and_paused_schedules_say_so(local_backend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    steps = [{"name": "train", "type": "automl", "settings": {"dataset": "bank", "label_column": "y"}}]
    pipeline = local_backend.create_pipeline(name="p", steps=steps)
    published = local_backend.publish_pipeline(pipeline.id, name="P")
    at = page().run()
    at.number_input(key="pl_schedule_every").set_value(-1).run()
    assert any("number of minutes from 1" in e.value for e in at.error)
    assert at.button(key="pl_schedule_create").disabled
    at.number_input(key="pl_schedule_every").set_value(60).run()
    at.button(key="pl_schedule_create").click().run()
    (schedule,) = local_backend.list_schedules()
    assert schedule.published_pipeline_id == published.id
    assert any("next " in m.value for m in at.markdown if "nightly" in m.value)
    at.button(key=f"pl_schedule_toggle_{schedule.id}").click().run()
    line = next(m.value for m in at.markdown if "nightly" in m.value)
    assert "Paused" in line and "paused: no runs until resumed" in line and "next " not in line
    assert any("Schedule nightly paused" in s.value for s in at.success)


def test_a_pipeline_run_shows_its_step_graph_and_logs(local_backend: LocalBackend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    steps = [{"name": "train", "type": "automl", "settings": {"dataset": "bank", "label_column": "y"}}]
    pipeline = local_backend.create_pipeline(name="p", steps=steps)
    run = local_backend.run_pipeline(pipeline.id, experiment="p")
    step = local_backend.runs.insert(
        experiment="p",
        run_type="pipeline_step",
        compute="cpu-cluster",
        params={"step": steps[0]},
        parent_id=run.id,
        run_id=f"{run.id}_train",
        status="Running",
        display_name="train",
    )
    local_backend.layout.run_log(step.id).parent.mkdir(parents=True, exist_ok=True)
    local_backend.layout.run_log(step.id).write_text("[opml] step train (automl)\n")
    for path in ("pages/pipelines.py", "pages/runs.py"):
        at = AppTest.from_file(str(REPO / path), default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("plotly_chart"), path  # the step graph
        steps_table = next(df.value for df in at.dataframe if "Step" in df.value.columns)
        assert list(steps_table["Step"]) == ["train"] and list(steps_table["Status"]) == ["Running"]
        assert any("[opml] step train (automl)" in c.value for c in at.code), path


def test_the_model_name_follows_the_dataset_until_the_user_types_one(local_backend: LocalBackend):
    """The walk of issue #21: with diamonds chosen the pipeline would have registered `onerow-model`."""
    local_backend.register_dataset(name="first", source=b"a,y\n" + b"1,no\n2,yes\n" * 20)
    local_backend.register_dataset(name="second", source=b"a,y\n" + b"1,no\n2,yes\n" * 20)
    at = page().run()
    shown = at.selectbox(key="pl_dataset").value
    other = "first" if shown == "second" else "second"
    assert at.text_input(key="pl_model").value == f"{shown}-model"
    at.selectbox(key="pl_dataset").set_value(other).run()
    assert not at.exception
    assert at.text_input(key="pl_model").value == f"{other}-model"
    at.text_input(key="pl_model").set_value("my-model").run()
    at.selectbox(key="pl_dataset").set_value(shown).run()
    assert at.text_input(key="pl_model").value == "my-model"  # a name the user typed stays
