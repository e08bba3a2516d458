"""AppTest of the AutoML, Leaderboard and Models pages against a workspace with a finished AutoML run."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from tests.helpers import other_model_run, stopped_trials

REPO = Path(__file__).resolve().parent.parent


def plotly_values(values) -> list[float]:
    """A plotly trace's numbers, also when plotly wrote them as a base64 typed array."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


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
    assert not at.exception
    assert at.error[0].value.startswith("Label column: ") and "single class" in at.error[0].value  # before queueing
    assert at.button(key="automl_launch").disabled
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
    trained_backend.register_model(name="bank-model", run_id=other_model_run(trained_backend, automl_run_id))
    at = page("pages/models.py").run()
    assert not at.exception
    assert at.selectbox(key="models_version").value == 2
    assert at.button(key="models_delete").disabled
    at.checkbox(key="models_delete_confirm_bank-model:2").check().run()
    at.button(key="models_delete").click().run()
    assert [m.version for m in trained_backend.list_models("bank-model")] == [1]
    assert any("Deleted bank-model:2" in s.value for s in at.success)


def test_models_page_moves_aliases_and_shows_who_did(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.register_model(name="bank-model", run_id=other_model_run(trained_backend, automl_run_id))
    at = page("pages/models.py").run()
    at.text_input(key="models_alias").input("challenger")
    at.button(key="models_alias_set").click().run()
    assert trained_backend.get_model_by_alias("bank-model", "challenger").version == 2
    assert any("Aliases: `challenger`" in m.value for m in at.markdown)
    history = next(df.value for df in at.dataframe if "Who" in df.value.columns)
    assert list(history["To"]) == ["v2"] and history["Who"].iloc[0].endswith("(dashboard)")
    at.checkbox(key="models_delete_confirm_bank-model:2").check().run()
    at.button(key="models_delete").click().run()
    assert "holds alias(es) challenger" in at.error[0].value  # a version in use by an alias stays
    at.button(key="models_alias_remove_challenger").click().run()
    assert trained_backend.get_model("bank-model", 2).aliases == ()
    at.text_input(key="models_alias").input("v3").run()
    assert "would read as a version" in at.error[0].value and at.button(key="models_alias_set").disabled


def test_launch_refuses_an_invalid_field_and_says_why(local_backend: LocalBackend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/automl.py").run()
    at.number_input(key="automl_timeout").set_value(-1).run()
    assert any("experiment_timeout_minutes must be a positive number" in e.value for e in at.error)
    assert at.button(key="automl_launch").disabled
    at.number_input(key="automl_timeout").set_value(1)
    at.number_input(key="automl_max_iterations").set_value(0).run()
    assert any("max_iterations must be between 1 and 10,000, got 0" in e.value for e in at.error)
    assert at.button(key="automl_launch").disabled
    at.number_input(key="automl_max_iterations").set_value(10).run()
    assert not at.error and not at.button(key="automl_launch").disabled
    assert local_backend.list_runs() == []


def test_leaderboard_registering_the_same_model_twice_says_so(trained_backend: LocalBackend, automl_run_id):
    at = page("pages/leaderboard.py").run()
    at.text_input(key="lb_register_name").input("bank-best")
    at.button(key="lb_register").click().run()
    assert "Registered **bank-best:1**" in at.success[0].value
    at.button(key="lb_register").click().run()
    assert "identical to **bank-best:1**: nothing new registered" in at.info[0].value
    assert [m.version for m in trained_backend.list_models("bank-best")] == [1]


def test_leaderboard_labels_hyperparameters_and_compares_by_difference(trained_backend, automl_run_id):
    at = page("pages/leaderboard.py").run()
    assert any(c.value.startswith("Hyperparameters") for c in at.caption)
    charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key}
    compare = charts["lb_compare_bars"]
    assert compare["layout"]["title"]["text"].startswith("Difference to #")
    table = next(df.value for df in at.dataframe if str(df.value.columns[0]).startswith("#"))
    first, second = table.columns[:2]
    trace = next(t for t in compare["data"] if t["name"] == second)
    expected = (table[second] - table[first]).loc[trace["x"]]
    assert plotly_values(trace["y"]) == pytest.approx(list(expected))  # differences to the first model, not 0-1


def test_leaderboard_lists_the_automl_step_of_a_pipeline(trained_backend: LocalBackend, automl_run_id):
    pipeline_run = trained_backend.runs.insert(
        experiment="p", run_type="pipeline", compute="cpu-cluster", params={"pipeline_id": "x"}
    )
    step = trained_backend.runs.insert(
        experiment="p",
        run_type="pipeline_step",
        compute="cpu-cluster",
        parent_id=pipeline_run.id,
        run_id=f"{pipeline_run.id}_train",
        display_name="train",
        params={**trained_backend.get_run(automl_run_id).params},
    )
    trial = trained_backend.runs.insert(
        experiment="p",
        run_type="automl_trial",
        compute="cpu-cluster",
        parent_id=step.id,
        run_id=f"{step.id}_0",
        params={"algorithm": "LightGBM"},
    )
    trained_backend.runs.log_metrics(trial.id, {"accuracy": 0.9})
    trained_backend.runs.finish(trial.id, "Completed")
    at = page("pages/leaderboard.py").run()
    picker = at.selectbox(key="lb_run")
    assert picker.options == [f"{step.id} (pipeline step train)", automl_run_id]  # newest first
    picker.set_value(step.id).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(df.value for df in at.dataframe if "hyperparameters" in df.value.columns)
    assert list(table["run_id"]) == [trial.id]


def test_the_experiment_name_follows_the_dataset_until_the_user_types_one(local_backend: LocalBackend):
    """The walk of issue #21: the page opened on one dataset, diamonds was chosen, and the run was filed under
    the first dataset's experiment ("onerow-automl")."""
    local_backend.register_dataset(name="first", source=b"a,y\n" + b"1,no\n2,yes\n" * 20)
    local_backend.register_dataset(name="second", source=b"a,y\n" + b"1,no\n2,yes\n" * 20)
    at = page("pages/automl.py").run()
    shown = at.selectbox(key="automl_dataset").value
    other = "first" if shown == "second" else "second"
    assert at.text_input(key="automl_experiment").value == f"{shown}-automl"
    at.selectbox(key="automl_dataset").set_value(other).run()
    assert not at.exception
    assert at.text_input(key="automl_experiment").value == f"{other}-automl" and not at.warning
    at.text_input(key="automl_experiment").set_value("my-experiment").run()
    at.selectbox(key="automl_dataset").set_value(shown).run()
    assert at.text_input(key="automl_experiment").value == "my-experiment"  # a name the user typed stays


def test_a_picked_task_holds_for_its_label_and_the_next_label_gets_its_guess(local_backend: LocalBackend):
    """The walk of issue #21: classification picked on `price`, then another dataset's label kept classification
    and its guess (regression) was only a caption."""
    rows = b"".join(f"{'ab'[i % 2]},{'xyz'[i % 3]},{i}\n".encode() for i in range(60))
    local_backend.register_dataset(name="mixed", source=b"c,d,v\n" + rows)
    at = page("pages/automl.py").run()
    at.selectbox(key="automl_label").set_value("c").run()
    assert at.selectbox(key="automl_task").value == "classification"
    at.selectbox(key="automl_task").set_value("regression").run()
    assert at.selectbox(key="automl_task").value == "regression"  # picked: held while the label stays
    at.selectbox(key="automl_label").set_value("d").run()
    assert not at.exception
    assert at.selectbox(key="automl_task").value == "classification"


def table_with(at: AppTest, found) -> Any:
    """The first st.dataframe whose DataFrame ``found`` accepts (tables have no id unless selectable)."""
    return next(df for df in at.dataframe if found(df.value))


def test_metrics_of_canceled_and_failed_trials_show_a_dash_not_none(trained_backend, automl_run_id):
    """Streamlit writes "None" in an empty cell unless the table has a placeholder: the trials that ended
    without metrics must read "—" on the run page, the Leaderboard and the Runs page's comparison."""
    stopped = stopped_trials(trained_backend, automl_run_id)
    at = page("pages/automl.py").run()
    assert not at.exception, [e.value for e in at.exception]
    children = table_with(at, lambda frame: "iteration" in frame.columns)
    rows = children.value.set_index("iteration").loc[[900, 901]]
    assert list(rows["status"]) == ["Canceled", "Failed"] and rows["accuracy"].isna().all()
    assert children.proto.placeholder == "—"
    assert table_with(at, lambda frame: "Primary metric" in frame.columns).proto.placeholder == "—"

    at = page("pages/leaderboard.py").run()
    assert not at.exception, [e.value for e in at.exception]
    board = table_with(at, lambda frame: "hyperparameters" in frame.columns)
    last = board.value.set_index("run_id").loc[stopped]
    assert last[["accuracy", "AUC_weighted", "log_loss"]].isna().all().all()
    assert board.proto.placeholder == "—"
    assert table_with(at, lambda frame: list(frame.columns) == ["metric", "value"]).proto.placeholder == "—"
    assert table_with(at, lambda frame: str(frame.columns[0]).startswith("#")).proto.placeholder == "—"

    at = page("pages/runs.py")
    at.session_state["runs_children"] = True
    at.run()
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    at.multiselect(key="runs_compare").set_value([best, stopped[0]]).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = table_with(at, lambda frame: "accuracy" in frame.index and stopped[0] in frame.columns)
    assert np.isnan(metrics.value.loc["accuracy", stopped[0]]) and metrics.value.loc["accuracy", best] > 0.5
    assert metrics.proto.placeholder == "—"
