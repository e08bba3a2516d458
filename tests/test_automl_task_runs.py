"""Regression and multiclass AutoML runs end to end on the local backend (a real agent and run processes):
children with the task's metrics, ensembles, guardrails, charts' data, the registered model and its manifest."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from opml.automl import names
from opml.entities import COMPLETED
from opml.leaderboard import leaderboard


def _trials(backend, run_id):
    return [c for c in backend.list_runs(parent_id=run_id) if "hyperparameters" in c.params]


def test_a_regression_run_tries_the_regression_algorithms_and_scores_every_child(task_backend, task_workspace):
    run_id = task_workspace[1]["regression"]
    parent = task_backend.get_run(run_id)
    assert parent.params["task"] == "regression" and parent.params["primary_metric"] == "spearman_correlation"
    trials = _trials(task_backend, run_id)
    assert len(trials) >= 2 and {t.params["algorithm"] for t in trials} <= set(names.REGRESSION_ALGORITHMS)
    for child in trials:
        assert child.status == COMPLETED, child.error
        metrics = task_backend.get_run_metrics(child.id)
        assert set(names.REGRESSION_METRICS) <= set(metrics)
        assert "accuracy" not in metrics
    rows = leaderboard(task_backend, run_id)
    assert {"VotingEnsemble", "StackEnsemble"} & {row["algorithm"] for row in rows}
    assert rows[0]["best"] and rows[0]["r2_score"] > 0.8
    assert set(names.REGRESSION_METRICS) <= set(rows[0]) and "AUC_weighted" not in rows[0]


def test_a_regression_run_has_regression_guardrails_and_charts(task_backend, task_workspace):
    run_id = task_workspace[1]["regression"]
    guardrails = {g["name"]: g for g in task_backend.get_run_output(run_id, "guardrails.json")}
    assert "Class balancing detection" not in guardrails
    assert guardrails["Missing label values"]["status"] == "Passed"
    assert "cross-validation" in guardrails["Validation split handling"]["description"]
    assert "stratified" not in guardrails["Validation split handling"]["description"]
    best = task_backend.get_run(run_id).progress["best_child_id"]
    curves = task_backend.get_run_output(best, "details.json")["curves"]
    assert curves["task"] == "regression" and len(curves["predicted_vs_true"]["true"]) == 600
    assert sum(curves["binned"]["count"]) == 600 and sum(curves["residuals"]["counts"]) == 600


def test_a_registered_regression_model_predicts_prices(task_backend, task_workspace):
    model_entry = task_backend.get_model("price-model")
    manifest = model_entry.manifest
    assert manifest["task"] == "regression" and manifest["classes"] == []
    assert manifest["format"] == "opml.automl.OpmlRegressor/1" and manifest["label_column"] == "price"
    frame = task_backend.load_dataset("prices")
    summary = manifest["label_summary"]
    assert summary["quantiles"]["0.0"] == pytest.approx(frame["price"].min())
    assert summary["mean"] == pytest.approx(frame["price"].mean())
    assert set(manifest["prediction_summary"]["quantiles"]) == set(summary["quantiles"])
    model = task_backend.load_model("price-model")
    assert model.task == "regression"
    # The prices are skewed: the models learned log(price), and answer prices.
    notes = task_backend.get_run(task_workspace[1]["regression"]).progress["notes"]
    assert any("learn its logarithm" in note for note in notes)
    assert model.target is not None and model.target.high > np.log(frame["price"].max())
    features = frame.drop(columns="price")
    predicted = model.predict_records(features.to_dict("records"))
    assert predicted.dtype.kind == "f" and skm.r2_score(frame["price"], predicted) > 0.9
    np.testing.assert_allclose(model.predict(features), predicted, rtol=1e-9)
    unseen = model.predict_records([{"carat": 1.0, "cut": "Astronaut", "depth": None}])
    assert np.isfinite(unseen).all()


def test_a_multiclass_run_scores_every_class_and_keeps_its_curves(task_backend, task_workspace):
    run_id = task_workspace[1]["multiclass"]
    trials = _trials(task_backend, run_id)
    assert {t.params["algorithm"] for t in trials} <= set(names.CLASSIFICATION_ALGORITHMS)
    rows = leaderboard(task_backend, run_id)
    assert rows[0]["best"] and rows[0]["AUC_weighted"] > 0.8
    assert all(rows[0][m] is not None for m in ("f1_score_macro", "AUC_micro", "precision_score_micro"))
    best = task_backend.get_run(run_id).progress["best_child_id"]
    curves = task_backend.get_run_output(best, "details.json")["curves"]
    assert sorted(curves["roc"]) == ["A", "B", "C", "D"]  # one-vs-rest, one curve per class
    assert np.array(curves["confusion_matrix"]).shape == (4, 4)
    model = task_backend.load_model("grade-model")
    frame = task_backend.load_dataset("grades").drop(columns="grade").head(20)
    proba = model.predict_proba_records(frame.to_dict("records"))
    assert proba.shape == (20, 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(frame)) <= {"A", "B", "C", "D"}
    assert task_backend.get_model("grade-model").manifest["classes"] == ["A", "B", "C", "D"]


def test_a_holdout_runs_best_model_is_the_one_it_validated_not_a_refit(task_backend, task_workspace):
    from opml.automl.metrics import metric_value
    from opml.automl.model import member_predictions
    from opml.automl.refit import prepare
    from opml.automl.runner import make_folds
    from opml.automl.settings import parse_settings

    run_id = task_workspace[1]["multiclass"]
    parent = task_backend.get_run(run_id)
    assert "kept as validated on the holdout" in task_backend.read_run_log(run_id)[0]
    settings = parse_settings(parent.params)
    X, _, _, codes = prepare(task_backend.load_dataset("grades"), "grade", "classification")
    ((_, valid),) = make_folds(settings, codes)
    assert len(valid) == 150
    model = task_backend.load_model("grade-model")
    spec = task_backend.get_run_output(parent.progress["best_child_id"], "details.json")["spec"]
    # Each member answers the holdout rows exactly as its trial did: it was fitted on the other rows only.
    for member, pipeline in zip(spec["members"], model.members, strict=True):
        logged = task_backend.get_run_metrics(f"{run_id}_{member['trial']}")["log_loss"]
        proba = member_predictions(pipeline, frame=X.iloc[valid])
        assert metric_value("log_loss", codes[valid], proba) == pytest.approx(logged, rel=1e-9)
