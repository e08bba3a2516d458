"""AppTest of the AutoML, Leaderboard, Models, Score and Pipelines pages with each task: a regression run and a
multiclass run, both trained for real (through a real agent) once per session on small synthetic tables."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.automl.names import (
    CLASSIFICATION_ALGORITHMS,
    ENSEMBLES,
    REGRESSION_ALGORITHMS,
    REGRESSION_METRICS,
    REGRESSION_PRIMARY_METRICS,
)
from opml.backends.local import LocalBackend
from opml.errors import InvalidInput
from opml.scoring import scored_csv
from opml.settings import get_settings
from opml.ui.task_charts import class_confusion_figure
from tests.helpers import free_port, train_automl
from tests.test_pages_automl import plotly_values

REPO = Path(__file__).resolve().parent.parent
TINY = {"experiment_timeout_minutes": 0.4, "max_iterations": 8, "n_cross_validations": 3}
CUTS = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
CUTS_SORTED = sorted(CUTS)


def diamonds(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A small synthetic table like ggplot2's diamonds: a price (regression) and a cut (5 classes) to predict."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 2.5, rows).round(2)
    depth = rng.normal(61.5, 1.5, rows).round(1)
    color = rng.choice(list("DEFGHIJ"), rows)
    quality = rng.integers(0, 5, rows)
    price = 3000 * carat**1.6 * (1 + 0.08 * quality) + rng.normal(0, 150, rows) + 120 * (color < "G")
    table = 57 + 1.5 * (4 - quality) + rng.normal(0, 0.6, rows)
    listed = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")  # a date, as text
    return pd.DataFrame(
        {
            "carat": carat,
            "depth": depth,
            "table": table.round(1),
            "color": color,
            "listed": listed.strftime("%Y-%m-%d"),
            "cut": [CUTS[q] for q in quality],
            "price": price.round(2),
        }
    )


def train(root: Path, csv: Path, name: str, params: dict) -> str:
    """A completed AutoML run of ``params`` on ``csv`` in the workspace ``root``, through a real agent."""
    return train_automl(root, {f"{name}-automl": (name, csv, params)})[f"{name}-automl"]


@pytest.fixture(scope="session")
def diamonds_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("diamonds") / "diamonds.csv"
    diamonds().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def regression_workspace(tmp_path_factory, diamonds_csv) -> tuple[Path, str]:
    """A workspace with a completed regression run on ``price`` (table ``diamonds``)."""
    root = tmp_path_factory.mktemp("regression") / "workspace"
    params = {"label_column": "price", "task": "regression", "primary_metric": "r2_score", **TINY}
    return root, train(root, diamonds_csv, "diamonds", params)


@pytest.fixture(scope="session")
def multiclass_workspace(tmp_path_factory, diamonds_csv) -> tuple[Path, str]:
    """A workspace with a completed 5-class classification run on ``cut`` (table ``diamonds``)."""
    root = tmp_path_factory.mktemp("multiclass") / "workspace"
    params = {"label_column": "cut", "task": "classification", "primary_metric": "AUC_weighted", **TINY}
    return root, train(root, diamonds_csv, "diamonds", params)


def copy_of(workspace: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    copy = tmp_path / f"workspace-{workspace[0].parent.name}"
    shutil.copytree(workspace[0], copy)
    monkeypatch.setenv("OPML_WORKSPACE", str(copy))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setenv("OPML_GATEWAY_PORT", str(free_port()))
    get_settings.cache_clear()
    return LocalBackend(copy)


@pytest.fixture
def regression_backend(regression_workspace, tmp_path, monkeypatch) -> LocalBackend:
    return copy_of(regression_workspace, tmp_path, monkeypatch)


@pytest.fixture
def multiclass_backend(multiclass_workspace, tmp_path, monkeypatch) -> LocalBackend:
    return copy_of(multiclass_workspace, tmp_path, monkeypatch)


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=60)


def charts(at: AppTest) -> dict[str, dict]:
    """The plotly figures of a page by widget key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key}


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


# --- AutoML page -------------------------------------------------------------------------------------------------


def test_automl_guesses_the_task_from_the_label_and_offers_its_metrics_and_algorithms(local_backend, diamonds_csv):
    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    at = page("pages/automl.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="automl_label").value == "price"
    assert at.selectbox(key="automl_task").value == "regression"
    distinct = pd.read_csv(diamonds_csv)["price"].nunique()
    assert any(
        c.value == f"Task guessed: `price` has {distinct:,} distinct numbers, with fractions." for c in at.caption
    )
    assert at.selectbox(key="automl_metric").options == list(REGRESSION_PRIMARY_METRICS)
    assert at.selectbox(key="automl_metric").value == "spearman_correlation"
    assert at.multiselect(key="automl_algorithms").options == list(REGRESSION_ALGORITHMS)
    assert at.multiselect(key="automl_algorithms").value == list(REGRESSION_ALGORITHMS)

    at.selectbox(key="automl_label").set_value("cut").run()  # the guess follows the label
    assert at.selectbox(key="automl_task").value == "classification"
    assert any(c.value == "Task guessed: `cut` has 5 distinct text values." for c in at.caption)
    assert at.selectbox(key="automl_metric").value == "accuracy"
    assert at.multiselect(key="automl_algorithms").value == list(CLASSIFICATION_ALGORITHMS)
    assert not at.error and not at.button(key="automl_launch").disabled

    at.selectbox(key="automl_label").set_value("price").run()
    at.selectbox(key="automl_task").set_value("classification").run()  # picked: no longer follows the guess
    assert any(
        "too many classes for classification" in e.value and "choose the task 'regression'" in e.value for e in at.error
    ), [e.value for e in at.error]
    assert at.error[0].value.startswith("Label column: ") and at.button(key="automl_launch").disabled
    assert any("picked; the label column looks like regression" in c.value for c in at.caption)

    at.selectbox(key="automl_task").set_value("regression").run()
    at.selectbox(key="automl_metric").set_value("r2_score")
    at.multiselect(key="automl_algorithms").set_value(["ElasticNet", "XGBoostRegressor"])
    at.number_input(key="automl_timeout").set_value(0.5)
    at.button(key="automl_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (run,) = local_backend.list_runs()
    assert run.params["task"] == "regression" and run.params["primary_metric"] == "r2_score"
    assert run.params["allowed_algorithms"] == ["ElasticNet", "XGBoostRegressor"]


def test_automl_refuses_a_text_label_for_regression_before_queueing(local_backend, diamonds_csv):
    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    at = page("pages/automl.py").run()
    at.selectbox(key="automl_label").set_value("color").run()
    assert at.selectbox(key="automl_task").value == "classification"
    at.selectbox(key="automl_task").set_value("regression").run()
    (error,) = at.error
    assert error.value.startswith("Label column: label column 'color' has text values")
    assert "to predict categories, choose the task 'classification'" in error.value
    assert at.button(key="automl_launch").disabled and local_backend.list_runs() == []


def test_automl_refuses_a_class_with_fewer_rows_than_folds(local_backend, diamonds_csv, tmp_path):
    frame = pd.read_csv(diamonds_csv)
    frame.loc[0, "cut"] = "Unique"  # one row in a sixth class
    frame.to_csv(tmp_path / "odd.csv", index=False)
    local_backend.register_dataset(name="odd", source=tmp_path / "odd.csv")
    at = page("pages/automl.py").run()
    at.selectbox(key="automl_label").set_value("cut").run()
    (error,) = at.error
    assert error.value == (
        "Folds: class 'Unique' has 1 row(s), fewer than the 5 cross-validation folds: add rows of that class or "
        "remove them (a class needs at least 2 rows)"  # fewer folds cannot help one row
    )
    assert at.button(key="automl_launch").disabled
    frame.loc[1:2, "cut"] = "Unique"  # three rows: three folds would do
    frame.to_csv(tmp_path / "odd.csv", index=False)
    local_backend.register_dataset(name="odd", source=tmp_path / "odd.csv")
    at.run().selectbox(key="automl_version").set_value(2).run()
    (error,) = at.error
    assert error.value.endswith("add rows of that class or remove them, or use at most 3 folds"), error.value


def test_automl_says_why_a_numeric_code_is_guessed_as_classes(local_backend, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200), "rating": rng.integers(1, 6, 200)})
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    local_backend.register_dataset(name="ratings", source=tmp_path / "ratings.csv")
    at = page("pages/automl.py").run()
    assert at.selectbox(key="automl_task").value == "classification"
    assert any("only 5 distinct whole numbers (codes, such as ratings or 0/1)" in c.value for c in at.caption)


def test_automl_refuses_a_budget_too_small_for_the_data(local_backend, diamonds_csv):
    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    at = page("pages/automl.py").run()
    at.number_input(key="automl_timeout").set_value(0.00001).run()
    (error,) = at.error
    assert error.value.startswith("Experiment timeout (minutes): experiment_timeout_minutes 1e-05 is too short for 600")
    assert "give at least 0.5 minutes" in error.value and at.button(key="automl_launch").disabled


def test_automl_page_shows_a_regression_run_with_its_metrics_and_task(regression_backend, regression_workspace):
    at = page("pages/automl.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "Completed" and "Best r2_score" in metrics
    children = table_with(at, "iteration")
    assert {"r2_score", "algorithm"} <= set(children.columns) and "AUC_weighted" not in children.columns
    assert any("Missing label values" in m.value for m in at.markdown)  # regression guardrails
    assert not any("Class balancing" in m.value for m in at.markdown)
    history = table_with(at, "Primary metric")
    assert list(history["Task"]) == ["regression"] and list(history["Primary metric"]) == ["r2_score"]


# --- Leaderboard -------------------------------------------------------------------------------------------------


def test_leaderboard_of_a_regression_run_shows_its_metrics_and_charts(regression_backend, regression_workspace):
    at = page("pages/leaderboard.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("regression" in c.value and "primary metric **r2_score**" in c.value for c in at.caption)
    board = table_with(at, "hyperparameters")
    assert set(REGRESSION_METRICS) <= set(board.columns) and "accuracy" not in board.columns
    assert list(table_with(at, "metric")["metric"])[:2] == ["r2_score", "spearman_correlation"]  # primary first
    assert [t.label for t in at.tabs] == ["Metrics", "Predicted vs true", "Residuals", "Feature importance", "Register"]
    shown = charts(at)
    scatter = shown["lb_predicted_true"]
    points, binned, diagonal = scatter["data"]
    curves = regression_backend.get_run_output(at.selectbox(key="lb_model").value, "details.json")["curves"]
    assert len(plotly_values(points["x"])) == len(curves["predicted_vs_true"]["predicted"])
    assert plotly_values(binned["y"]) == pytest.approx(curves["binned"]["true_mean"])
    assert plotly_values(binned["error_y"]["array"]) == pytest.approx(curves["binned"]["true_std"])
    assert plotly_values(diagonal["x"]) == plotly_values(diagonal["y"])  # y = x
    bars = shown["lb_residuals"]["data"][0]
    assert sum(plotly_values(bars["y"])) == sum(curves["residuals"]["counts"]) == 600
    assert "lb_importance" in shown and "lb_roc" not in shown and "lb_confusion" not in shown
    # The comparison: regression metrics, which errors are lower-is-better, and the binned means per model.
    assert set(at.dataframe[-1].value.index) == set(REGRESSION_METRICS)  # the side-by-side table, last
    title = shown["lb_compare_bars"]["layout"]["title"]["text"]
    assert "root_mean_squared_error" in title and "lower is better" in title and "log_loss" not in title
    assert "lb_compare_binned" in shown and "lb_compare_roc" not in shown


def test_leaderboard_of_a_multiclass_run_shows_one_roc_per_class_and_the_confusion_matrix(
    multiclass_backend, multiclass_workspace
):
    at = page("pages/leaderboard.py").run()
    assert not at.exception, [e.value for e in at.exception]
    board = table_with(at, "hyperparameters")
    assert {"AUC_macro", "f1_score_micro", "log_loss"} <= set(board.columns)
    assert "r2_score" not in board.columns
    assert table_with(at, "metric")["metric"].iloc[0] == "AUC_weighted"
    shown = charts(at)
    names = [t["name"] for t in shown["lb_roc"]["data"]]
    assert [n.split(" (AUC ")[0] for n in names] == [*CUTS_SORTED, "chance"]
    assert "one-vs-rest" in shown["lb_roc"]["layout"]["title"]["text"]
    heatmap = shown["lb_confusion"]["data"][0]
    assert heatmap["x"] == heatmap["y"] == CUTS_SORTED
    rows = [plotly_values(row) for row in heatmap["z"]]
    assert all(sum(row) == pytest.approx(1.0) for row in rows)  # shares of each true class
    at.toggle(key="lb_confusion_normalized").set_value(False).run()
    counts = charts(at)["lb_confusion"]["data"][0]
    assert sum(sum(plotly_values(row)) for row in counts["z"]) == 600  # every out-of-fold row once
    assert "rows" in counts["hovertemplate"]


def test_confusion_matrix_of_many_classes_keeps_the_top_ones_and_folds_the_rest():
    classes = [f"class {i:02d}" for i in range(25)]
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 20, size=(25, 25))
    matrix[np.arange(25), np.arange(25)] += np.arange(25) * 100  # later classes have more rows
    figure = class_confusion_figure({"classes": classes, "confusion_matrix": matrix.tolist()}, normalized=False)
    heatmap = figure.data[0]
    assert len(heatmap.x) == 16 and heatmap.x[-1] == "other (10 classes)"
    assert set(heatmap.x[:15]) == set(classes[10:])  # the 15 most frequent true classes
    assert np.asarray(heatmap.z).sum() == matrix.sum()  # nothing lost in the fold
    assert figure.layout.xaxis.tickangle == -45 and figure.layout.height >= 140 + 34 * 16
    assert "of the true class" in heatmap.hovertemplate


# --- Models ------------------------------------------------------------------------------------------------------


def test_models_page_shows_a_regression_model_label_summary(regression_backend, regression_workspace, diamonds_csv):
    regression_backend.register_model(name="price-model", run_id=regression_workspace[1])
    at = page("pages/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(table_with(at, "Algorithm")["Task"]) == ["regression"]
    summary = table_with(at, "statistic")
    stats = dict(zip(summary["statistic"], summary["label"], strict=True))
    prices = pd.read_csv(diamonds_csv)["price"]
    assert stats["mean"] == pytest.approx(prices.mean()) and stats["max"] == pytest.approx(prices.max())
    assert {"min", "median", "1%", "99%"} <= set(stats)
    quantiles = summary[~summary["statistic"].isin(["mean", "std"])]
    assert quantiles["predicted"].notna().all()  # the out-of-fold predictions' quantiles beside the label's
    assert not any(c.value.startswith("Classification") for c in at.caption)
    assert any(c.value.startswith("Regression · predicts the number `price`") for c in at.caption)


def test_models_page_shows_a_multiclass_model_class_balance(multiclass_backend, multiclass_workspace):
    multiclass_backend.register_model(name="cut-model", run_id=multiclass_workspace[1])
    at = page("pages/models.py").run()
    assert list(table_with(at, "Algorithm")["Task"]) == ["classification"]
    balance = table_with(at, "training share")
    assert list(balance["class"]) == CUTS_SORTED and balance["training share"].sum() == pytest.approx(1.0)
    assert any("5 classes: Fair, Good, Ideal, Premium, Very Good" in c.value for c in at.caption)


# --- Pipelines ---------------------------------------------------------------------------------------------------


def test_pipelines_page_takes_the_task_of_the_automl_step(local_backend, diamonds_csv):
    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    at = page("pages/pipelines.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="pl_label").set_value("price").run()
    assert at.selectbox(key="pl_task").value == "regression"
    assert at.selectbox(key="pl_metric").options == list(REGRESSION_PRIMARY_METRICS)
    at.selectbox(key="pl_metric").set_value("normalized_root_mean_squared_error")
    at.number_input(key="pl_timeout").set_value(0.4)
    at.toggle(key="pl_register").set_value(False)
    at.button(key="pl_create").click().run()
    assert not at.error, [e.value for e in at.error]
    (pipeline,) = local_backend.list_pipelines()
    assert pipeline.steps[0]["settings"]["task"] == "regression"
    assert pipeline.parameters["primary_metric"] == "normalized_root_mean_squared_error"


def test_pipeline_spec_refuses_a_metric_of_another_task(local_backend, diamonds_csv):
    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    settings = {"dataset": "diamonds", "label_column": "price", "task": "regression", "primary_metric": "accuracy"}
    with pytest.raises(InvalidInput, match="'accuracy' is a classification metric; for regression choose one of"):
        local_backend.create_pipeline(name="p", steps=[{"name": "train", "type": "automl", "settings": settings}])
    steps = [{"name": "train", "type": "automl", "settings": {**settings, "primary_metric": "${metric}"}}]
    pipeline = local_backend.create_pipeline(name="p", steps=steps, parameters={"metric": "r2_score"})
    with pytest.raises(InvalidInput, match="automl step 'train': primary metric 'AUC_weighted' is a classification"):
        local_backend.run_pipeline(pipeline.id, experiment="p", parameters={"metric": "AUC_weighted"})


def test_a_regression_pipeline_trains_a_regression_run(local_backend, diamonds_csv):
    """The task flows from the pipeline's AutoML step into the run its step queues (a real agent runs it)."""
    from opml.agent.launcher import start_agent

    local_backend.register_dataset(name="diamonds", source=diamonds_csv)
    settings = {"dataset": "diamonds", "label_column": "price", "task": "regression", **TINY, "max_iterations": 3}
    steps = [{"name": "train", "type": "automl", "settings": {**settings, "primary_metric": "${metric}"}}]
    pipeline = local_backend.create_pipeline(name="p", steps=steps, parameters={"metric": "r2_score"})
    run = local_backend.run_pipeline(pipeline.id, experiment="p")
    agent = start_agent(local_backend.path, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        finished = local_backend.wait_for_run(run.id, timeout=180)
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    assert finished.status == "Completed", finished.error
    (step,) = local_backend.list_runs(parent_id=run.id)
    assert step.params["task"] == "regression" and step.params["primary_metric"] == "r2_score"
    children = local_backend.list_runs(parent_id=step.id)
    assert children and all(c.params.get("algorithm") in (*REGRESSION_ALGORITHMS, *ENSEMBLES) for c in children)
    at = page("pages/runs.py").run()
    at.selectbox(key="runs_selected").set_value(run.id).run()
    assert not at.exception, [e.value for e in at.exception]
    board = table_with(at, "iteration")
    assert "r2_score" in board.columns and "AUC_weighted" not in board.columns
    assert any("AutoML step leaderboard (regression, best r2_score first" in c.value for c in at.caption)


# --- Score -------------------------------------------------------------------------------------------------------


def serve(workspace: tuple[Path, str], tmp_path_factory, model: str, endpoint: str):
    """A copy of a trained workspace whose best model is registered and served by a real scoring process (a real
    agent's), as the Score page sees it: (backend, endpoint) while the agent runs."""
    from opml.agent.launcher import start_agent

    root = tmp_path_factory.mktemp(endpoint) / "workspace"
    shutil.copytree(workspace[0], root)
    backend = LocalBackend(root)
    backend.register_model(name=model, run_id=workspace[1])
    backend.deploy_model(name=endpoint, model_name=model)
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        service = backend.wait_for_service(endpoint, timeout=120)
        assert service.state == "Healthy", service.error
        yield backend, endpoint
    finally:
        agent.terminate()
        agent.wait(timeout=30)


@pytest.fixture(scope="session")
def multiclass_service(multiclass_workspace, tmp_path_factory):
    yield from serve(multiclass_workspace, tmp_path_factory, "cut-model", "cut-svc")


@pytest.fixture(scope="session")
def regression_service(regression_workspace, tmp_path_factory):
    yield from serve(regression_workspace, tmp_path_factory, "price-model", "price-svc")


def score_page(service, monkeypatch) -> AppTest:
    backend, _ = service
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    at = page("pages/score.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, endpoint: str, frame: pd.DataFrame) -> None:
    at.file_uploader(key=f"score_upload_{endpoint}").set_value(
        ("rows.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert not at.error, [e.value for e in at.error]
    at.button(key="score_batch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_score_page_answers_one_probability_per_class_of_a_multiclass_service(multiclass_service, monkeypatch):
    backend, endpoint = multiclass_service
    at = score_page(multiclass_service, monkeypatch)
    assert not [t for t in at.toggle if t.key == "score_explain"]  # multiclass models are not explained
    at.button(key="score_record").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    results = table_with(at, "prediction")
    probabilities = results[[f"P({c})" for c in CUTS_SORTED]]
    assert probabilities.sum(axis=1).iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert results["prediction"].iloc[0] == probabilities.iloc[0].idxmax()[2:-1]
    assert {t["name"] for t in charts(at)["score_chart"]["data"]} == {f"P({c})" for c in CUTS_SORTED}

    rows = diamonds(40, seed=3)  # with the label: the page measures the accuracy against it
    upload(at, endpoint, rows)
    _, batch, labels, probabilities, _ = at.session_state[f"score_batch_result_{endpoint}"]
    model = backend.load_model("cut-model")
    assert labels == list(model.predict(rows.drop(columns=["cut"])))
    out = pd.read_csv(io.BytesIO(scored_csv(batch.frame, labels, probabilities)))
    assert [c for c in out.columns if c.startswith("probability_")] == [f"probability_{c}" for c in CUTS_SORTED]
    assert any(m.label == "Accuracy against the file's labels" for m in at.metric)


def test_score_page_answers_numbers_of_a_regression_service(regression_service, monkeypatch):
    backend, endpoint = regression_service
    at = score_page(regression_service, monkeypatch)
    assert at.toggle(key="score_explain").value  # explanations on by default (the next test), off here
    at.toggle(key="score_explain").set_value(False).run()
    at.button(key="score_record").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, records, result, _ = at.session_state[f"score_result_{endpoint}"]
    assert result.request_body == {"data": records}  # no probabilities asked of a regressor
    results = table_with(at, "prediction")
    assert not [c for c in results.columns if c.startswith("P(")]
    model = backend.load_model("price-model")
    expected = model.predict(pd.DataFrame(records))
    assert results["prediction"].tolist() == pytest.approx(list(expected), rel=1e-5)
    assert charts(at)["score_chart"]["layout"]["yaxis"]["title"]["text"] == "predicted price"
    # A date is typed, any date: one after training is not "never seen"; text that is no date is named.
    schema = backend.get_model("price-model").manifest["input_schema"]
    assert next(c for c in schema if c["name"] == "listed")["format"] == "date-time"
    for typed, warned in (("2026-03-01", None), ("next Tuesday", "is not a date or time")):
        at.text_input(key=f"score_field_{endpoint}_listed").set_value(typed)
        at.button(key="score_record").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert [w.value for w in at.warning if warned is None or warned not in w.value] == []
        assert bool([w for w in at.warning if warned and warned in w.value]) == bool(warned)
        assert at.session_state[f"score_result_{endpoint}"][1][0]["listed"] == typed
    # A record the service refuses: its error alone, not the last record's answer under it (the newcomer walk).
    at.number_input(key=f"score_field_{endpoint}_carat").set_value(1e300)
    at.button(key="score_record").click().run()
    assert any("out of range" in e.value for e in at.error), [e.value for e in at.error]
    assert f"score_result_{endpoint}" not in at.session_state
    assert not [df for df in at.dataframe if "prediction" in df.value.columns]
    at.number_input(key=f"score_field_{endpoint}_carat").set_value(0.7)

    rows = diamonds(40, seed=4)
    upload(at, endpoint, rows)
    _, batch, values, probabilities, _ = at.session_state[f"score_batch_result_{endpoint}"]
    assert probabilities is None and values == pytest.approx(
        list(model.predict(rows.drop(columns=["price"]))), rel=1e-5
    )
    out = pd.read_csv(io.BytesIO(scored_csv(batch.frame, values, probabilities)))
    assert out["prediction"].tolist() == pytest.approx(values) and not [c for c in out if c.startswith("probability_")]
    assert {m.label for m in at.metric} >= {"MAE against the file's labels", "RMSE"}
    assert "score_batch_versus" in charts(at)


def test_score_page_explains_a_regression_prediction_in_the_labels_units(regression_service, monkeypatch):
    backend, endpoint = regression_service
    at = score_page(regression_service, monkeypatch)
    at.number_input(key=f"score_field_{endpoint}_carat").set_value(2.4)  # a big stone: carat raises the price
    at.button(key="score_record").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, records, result, explained = at.session_state[f"score_result_{endpoint}"]
    assert explained and result.request_body["GlobalParameters"] == {"method": "explain"}
    model = backend.load_model("price-model")
    expected = float(model.predict(pd.DataFrame(records))[0])
    assert table_with(at, "prediction")["prediction"].tolist() == pytest.approx([expected], rel=1e-9)
    reasons = next(m.value for m in at.markdown if m.value.startswith("**Top reasons:**"))
    assert "carat = 2.4 raised the predicted price by " in reasons
    waterfall = charts(at)["score_waterfall"]
    bars = waterfall["data"][0]
    assert bars["y"][0] == "base value" and bars["y"][-1] == "predicted price of this record"
    assert bars["x"][-1] == pytest.approx(expected, rel=1e-9)
    assert sum(bars["x"][:-1]) == pytest.approx(expected, rel=1e-9)  # base + every column's contribution
    assert "predicted price" in waterfall["layout"]["title"]["text"]
    assert any("in the label's units" in c.value for c in at.caption)

    rows = diamonds(30, seed=5)
    csv = rows.to_csv(index=False).encode()
    at.file_uploader(key=f"score_upload_{endpoint}").set_value(("rows.csv", csv, "text/csv")).run()
    at.checkbox(key="score_batch_reasons").check().run()
    at.button(key="score_batch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, batch, values, probabilities, reasons = at.session_state[f"score_batch_result_{endpoint}"]
    assert probabilities is None
    assert values == pytest.approx(list(model.predict(rows.drop(columns=["price"]))), rel=1e-5)
    assert len(reasons) == 30 and all(0 < len(row) <= 3 for row in reasons)
    assert all(" the predicted price by " in reason for row in reasons for reason in row)
    out = pd.read_csv(io.BytesIO(scored_csv(batch.frame, values, probabilities, reasons)))
    assert {"prediction", "reason_1"} <= set(out.columns)


@pytest.fixture(scope="session")
def two_runs_workspace(tmp_path_factory, diamonds_csv) -> tuple[Path, dict[str, str]]:
    """A workspace with two completed regression runs on ``price``: one of LightGBM only, one of ElasticNet only."""
    root = tmp_path_factory.mktemp("two-runs") / "workspace"
    base = {"label_column": "price", "task": "regression", "primary_metric": "r2_score", **TINY}
    base |= {"enable_voting_ensemble": False, "enable_stack_ensemble": False}
    runs = {
        "lgbm": ("diamonds", diamonds_csv, {**base, "allowed_algorithms": ["LightGBM"]}),
        "enet": ("diamonds", None, {**base, "allowed_algorithms": ["ElasticNet"]}),
    }
    return root, train_automl(root, runs)


def test_leaderboard_algorithm_filter_follows_the_run_chosen(two_runs_workspace, tmp_path, monkeypatch):
    """The filter of one run's algorithms does not hide another run's models (seen in a browser: the leaderboard of
    a run of seven algorithms showed LightGBM only, the one algorithm of the run shown before)."""
    root, ids = two_runs_workspace
    copy_of((root, ids["lgbm"]), tmp_path, monkeypatch)
    at = page("pages/leaderboard.py").run()
    at.selectbox(key="lb_run").set_value(ids["lgbm"]).run()
    assert at.multiselect(key="lb_algorithms").value == ["LightGBM"]
    at.selectbox(key="lb_run").set_value(ids["enet"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="lb_algorithms").value == ["ElasticNet"]
    assert set(table_with(at, "hyperparameters")["algorithm"]) == {"ElasticNet"}
    # A filter the user chose stays while the same run is shown.
    at.selectbox(key="lb_run").set_value(ids["lgbm"]).run()
    at.multiselect(key="lb_algorithms").set_value([]).run()
    assert at.multiselect(key="lb_algorithms").value == []
