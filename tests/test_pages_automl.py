"""AppTest of the AutoML, Leaderboard and Models pages against a workspace with a finished AutoML run."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend

REPO = Path(__file__).resolve().parent.parent


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=60)


def test_launch_queues_a_run_with_the_chosen_settings(local_backend: LocalBackend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/automl.py").run()
    assert at.selectbox(key="automl_label").value == "y"
    at.selectbox(key="automl_metric").set_value("AUC_weighted")
    at.number_input(key="automl_timeout").set_value(0.5)
    at.number_input(key="automl_max_iterations").set_value(5)
    at.multiselect(key="automl_algorithms").set_value(["LightGBM", "RandomForest"])
    at.button(key="automl_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (run,) = local_backend.list_runs()
    assert run.status == "Queued" and run.run_type == "automl"
    assert run.params["primary_metric"] == "AUC_weighted" and run.params["max_iterations"] == 5
    assert run.params["allowed_algorithms"] == ["LightGBM", "RandomForest"]
    assert at.selectbox(key="automl_run").value == run.id


def test_launch_with_bad_data_shows_the_reason(local_backend: LocalBackend):
    local_backend.register_dataset(name="flat", source=b"a,y\n" + b"1,no\n" * 30)
    at = page("pages/automl.py").run()
    at.button(key="automl_launch").click().run()
    assert not at.exception
    assert "single class" in at.error[0].value
    assert local_backend.list_runs() == []


def test_finished_run_shows_guardrails_and_children(trained_backend: LocalBackend, automl_run_id):
    at = page("pages/automl.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "Completed" and metrics["Best accuracy"].startswith("0.")
    assert any("Class balancing detection" in m.value for m in at.markdown)
    children = next(df.value for df in at.dataframe if "iteration" in df.value.columns)
    assert len(children) == len(trained_backend.list_runs(parent_id=automl_run_id))


def test_leaderboard_renders_charts_and_registers_the_selected_model(trained_backend: LocalBackend, automl_run_id):
    at = page("pages/leaderboard.py").run()
    assert not at.exception, [e.value for e in at.exception]
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    assert at.selectbox(key="lb_model").value == best
    table = next(df.value for df in at.dataframe if "hyperparameters" in df.value.columns)
    assert table.iloc[0]["run_id"] == best and bool(table.iloc[0]["best"])
    at.text_input(key="lb_register_name").input("bank-best")
    at.button(key="lb_register").click().run()
    assert not at.exception and not at.error
    assert "Registered **bank-best:1**" in at.success[0].value
    assert trained_backend.get_model("bank-best").run_id == best


def test_leaderboard_says_why_the_best_is_not_the_top_one(trained_backend: LocalBackend, automl_run_id):
    at = page("pages/leaderboard.py").run()
    actual = trained_backend.get_run(automl_run_id).progress.get("best_reason")
    assert any("Best model:" in c.value for c in at.caption) == bool(actual)
    reason = "accuracy 0.9100 is within one standard error (0.0020) of the top 0.9110 (run_7)"
    trained_backend.runs.update_progress(automl_run_id, {"best_reason": reason})
    try:
        at.run()
        assert any(c.value == f"Best model: {reason}." for c in at.caption), [c.value for c in at.caption]
    finally:
        trained_backend.runs.update_progress(automl_run_id, {"best_reason": actual})


def test_leaderboard_filters_by_algorithm(trained_backend: LocalBackend, automl_run_id):
    at = page("pages/leaderboard.py").run()
    at.multiselect(key="lb_algorithms").set_value(["VotingEnsemble"]).run()
    table = next(df.value for df in at.dataframe if "hyperparameters" in df.value.columns)
    assert set(table["algorithm"]) == {"VotingEnsemble"}


def test_models_page_lists_and_deletes_versions(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    at = page("pages/models.py").run()
    assert not at.exception
    assert at.selectbox(key="models_version").value == 2
    at.checkbox(key="models_delete_confirm").check().run()
    at.button(key="models_delete").click().run()
    assert [m.version for m in trained_backend.list_models("bank-model")] == [1]
