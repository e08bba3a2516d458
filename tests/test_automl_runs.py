"""AutoML runs end to end on the local backend: children, ensembles, best model, registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opml.automl.names import CLASSIFICATION_METRICS, score_for_ranking
from opml.backends.local import LocalBackend
from opml.entities import CANCELED, COMPLETED, FAILED
from opml.errors import Conflict, InvalidInput, NotFound
from opml.leaderboard import leaderboard
from opml.models.artifact import TamperedModel
from tests.conftest import TINY_AUTOML
from tests.helpers import wait_until


def test_every_trial_is_a_child_with_algorithm_hyperparameters_and_all_metrics(trained_backend, automl_run_id):
    children = trained_backend.list_runs(parent_id=automl_run_id)
    trials = [c for c in children if "hyperparameters" in c.params]
    assert 3 <= len(trials) <= TINY_AUTOML["max_iterations"]
    for child in trials:
        assert child.status == COMPLETED, child.error
        assert child.params["algorithm"] and child.params["featurization"]
        metrics = trained_backend.get_run_metrics(child.id)
        assert set(CLASSIFICATION_METRICS) <= set(metrics) and metrics["duration_seconds"] > 0
        assert 0.5 < metrics["accuracy"] <= 1.0


def test_ensembles_compete_and_the_best_child_leads_the_leaderboard(trained_backend, automl_run_id):
    parent = trained_backend.get_run(automl_run_id)
    rows = leaderboard(trained_backend, automl_run_id)
    algorithms = {row["algorithm"] for row in rows}
    assert {"VotingEnsemble", "StackEnsemble"} <= algorithms
    assert rows[0]["best"] and rows[0]["run_id"] == parent.progress["best_child_id"]
    scores = [score_for_ranking("accuracy", row["accuracy"]) for row in rows[1:]]
    assert scores == sorted(scores, reverse=True)
    top = max(rows, key=lambda row: score_for_ranking("accuracy", row["accuracy"]))
    if top["accuracy"] > rows[0]["accuracy"]:  # the one-standard-error rule chose a better log-loss
        assert rows[0]["log_loss"] < top["log_loss"] and top["run_id"] in parent.progress["best_reason"]
    assert parent.progress["best_metric"] == pytest.approx(rows[0]["accuracy"])
    assert trained_backend.get_run_metrics(automl_run_id)["accuracy"] == pytest.approx(rows[0]["accuracy"])


def test_guardrails_and_details_are_stored(trained_backend, automl_run_id):
    guardrails = trained_backend.get_run_output(automl_run_id, "guardrails.json")
    by_name = {g["name"]: g for g in guardrails}
    assert by_name["Class balancing detection"]["status"] == "Alerted"
    assert len(guardrails) == 7
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    details = trained_backend.get_run_output(best, "details.json")
    assert details["curves"]["confusion_matrix"] and details["curves"]["roc"]["yes"]["tpr"][-1] == 1.0
    assert sum(details["feature_importance"].values()) == pytest.approx(1.0)
    with pytest.raises(InvalidInput):
        trained_backend.get_run_output(automl_run_id, "../opml.db")


def test_run_ends_within_its_timeout(trained_backend, automl_run_id):
    run = trained_backend.get_run(automl_run_id)
    assert run.duration_seconds <= TINY_AUTOML["experiment_timeout_minutes"] * 60 * 1.1 + 5


def test_registered_model_predicts_raw_records_with_unseen_and_missing_values(
    trained_backend, automl_run_id, bank_small_csv
):
    model_entry = trained_backend.register_model(name="bank-model", run_id=automl_run_id, tags={"stage": "dev"})
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    assert (model_entry.version, model_entry.run_id, model_entry.tags) == (1, best, {"stage": "dev"})
    manifest = model_entry.manifest
    assert manifest["classes"] == ["no", "yes"] and manifest["dataset"] == "bank:1"
    schema = {c["name"]: c for c in manifest["input_schema"]}
    assert schema["job"]["type"] == "categorical" and "admin." in schema["job"]["categories"]
    assert schema["age"]["type"] == "numeric" and schema["age"]["min"] <= schema["age"]["max"]
    assert {"scikit-learn", "lightgbm", "python"} <= set(manifest["libraries"])
    # the class mix the model predicts out of fold: the baseline of prediction drift
    confusion = np.array(trained_backend.get_run_output(best, "details.json")["curves"]["confusion_matrix"])
    predicted = confusion.sum(axis=0) / confusion.sum()
    assert manifest["prediction_distribution"] == pytest.approx({"no": predicted[0], "yes": predicted[1]})
    assert manifest["prediction_distribution"] != manifest["label_distribution"]

    model = trained_backend.load_model("bank-model")
    frame = pd.read_csv(bank_small_csv).drop(columns="y").head(50)
    frame.loc[0, "job"] = "astronaut"
    frame.loc[1, "marital"] = None
    frame.loc[2, "age"] = np.nan
    shuffled = frame[list(reversed(frame.columns))]  # any column order
    records = shuffled.to_dict("records")
    labels = model.predict_records(records)
    assert set(labels) <= {"no", "yes"} and len(labels) == 50
    assert list(model.predict(frame)) == list(labels)
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba_records(records), rtol=0, atol=1e-12)
    again = trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    assert again.version == 1 and [m.version for m in trained_backend.list_models("bank-model")] == [1]  # identical


def test_any_child_can_be_registered_by_refitting_it(trained_backend, automl_run_id):
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    other = next(
        c for c in trained_backend.list_runs(parent_id=automl_run_id) if c.id != best and "hyperparameters" in c.params
    )
    model = trained_backend.register_model(name="other", run_id=other.id)
    assert model.algorithm == other.params["algorithm"] and model.run_id == other.id
    assert len(trained_backend.load_model("other").predict(trained_backend.load_dataset("bank", nrows=5))) == 5


def test_tampered_model_file_is_refused(trained_backend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    path = trained_backend.download_model("bank-model")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedModel, match="refusing to load"):
        trained_backend.load_model("bank-model")


def test_delete_model_version(trained_backend, automl_run_id):
    model = trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    folder = trained_backend.download_model("bank-model").parent
    trained_backend.delete_model("bank-model", model.version)
    assert not folder.exists()
    with pytest.raises(NotFound):
        trained_backend.get_model("bank-model")


def test_unfinished_or_unknown_runs_cannot_be_registered(trained_backend, automl_run_id):
    with pytest.raises(NotFound):
        trained_backend.register_model(name="m", run_id="nope")
    queued = trained_backend.submit_run(experiment="e", run_type="automl", compute="cpu-cluster", params=TINY_AUTOML)
    with pytest.raises(Conflict):
        trained_backend.register_model(name="m", run_id=queued.id)
    with pytest.raises(InvalidInput):
        trained_backend.register_model(name="../m", run_id=automl_run_id)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"label_column": "nope"}, "not in the dataset"),
        ({"dataset": "missing"}, "no dataset"),
        ({"experiment_timeout_minutes": 0}, "positive"),
        ({"primary_metric": "nope"}, "unknown primary metric"),
        ({"n_cross_validations": 20, "dataset": "tiny"}, "fewer than the 20"),
    ],
)
def test_bad_automl_submission_queues_nothing(local_backend: LocalBackend, bank_small_csv, params, message):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    local_backend.register_dataset(
        name="tiny", source=b"a,y\n" + b"".join(b"%d,%s\n" % (i, b"no" if i % 9 else b"yes") for i in range(60))
    )
    with pytest.raises((InvalidInput, NotFound), match=message):
        local_backend.submit_run(
            experiment="e", run_type="automl", compute="cpu-cluster", params={**TINY_AUTOML, **params}
        )
    assert local_backend.list_runs() == []


def test_crashing_trial_is_a_failed_child_and_the_run_goes_on(local_backend: LocalBackend, agent, bank_small_csv):
    frame = pd.read_csv(bank_small_csv).select_dtypes("number").assign(y=pd.read_csv(bank_small_csv)["y"])
    frame.loc[::10, "age"] = np.nan  # LogisticRegression cannot take NaN when featurization is off
    local_backend.register_dataset(name="numeric", source=frame.to_csv(index=False).encode())
    run = local_backend.submit_run(
        experiment="crash",
        run_type="automl",
        compute="cpu-cluster",
        params={
            **TINY_AUTOML,
            "dataset": "numeric",
            "featurization": "off",
            "max_iterations": 4,
            "allowed_algorithms": ["LightGBM", "LogisticRegression"],
        },
    )
    finished = local_backend.wait_for_run(run.id, timeout=120)
    assert finished.status == COMPLETED, finished.error
    children = local_backend.list_runs(parent_id=run.id)
    failed = [c for c in children if c.status == FAILED]
    assert failed and all(c.params["algorithm"] == "LogisticRegression" for c in failed)
    assert "NaN" in failed[0].error
    assert any(c.status == COMPLETED and c.params["algorithm"] == "LightGBM" for c in children)


def test_a_timeout_too_short_for_any_model_is_refused_before_anything_is_queued(
    local_backend: LocalBackend, bank_small_csv
):
    """0.001 minutes is a positive number of minutes, but no model can be trained in it: the submission says so
    (and how long to give) instead of queueing a run that fails."""
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    with pytest.raises(
        InvalidInput, match=r"0.001 is too short for 2,000 rows x 20 columns.*give at least 0.5 minutes"
    ):
        local_backend.submit_run(
            experiment="hurry",
            run_type="automl",
            compute="cpu-cluster",
            params={**TINY_AUTOML, "dataset": "bank", "experiment_timeout_minutes": 0.001},
        )
    assert local_backend.list_runs() == []


def test_cancel_stops_an_automl_run_and_its_children(local_backend: LocalBackend, agent, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    run = local_backend.submit_run(
        experiment="cancel",
        run_type="automl",
        compute="cpu-cluster",
        params={**TINY_AUTOML, "experiment_timeout_minutes": 5, "max_iterations": 1000},
    )
    wait_until(
        lambda: local_backend.get_run(run.id).progress.get("best_child_id"), timeout=60, what="a best child so far"
    )
    local_backend.cancel_run(run.id)
    assert local_backend.wait_for_run(run.id, timeout=30).status == CANCELED
    assert all(c.is_terminal for c in local_backend.list_runs(parent_id=run.id))
    # The canceled run marks a best child so far: registering the run names it (the probe of issue #21).
    best = local_backend.get_run(run.id).progress["best_child_id"]
    with pytest.raises(Conflict, match=f"is canceled, not completed.*best child so far, {best}, has one"):
        local_backend.register_model(name="canceled", run_id=run.id)
