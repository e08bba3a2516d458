"""AppTest of the Monitoring page (and the Endpoints page's telemetry charts) for a regression service and a
multiclass service: models trained for real by a real agent (small synthetic tables), deployed, with collected
rows and telemetry written by the product's own writers (``CollectionWriter``, ``TelemetryWriter``) from the real
models' predictions, and labels stored through the backend and the page."""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from opml.errors import InvalidInput
from opml.serving.collection import CollectionWriter
from opml.serving.telemetry import TelemetryWriter
from opml.settings import get_settings
from tests.helpers import train_automl

REPO = Path(__file__).resolve().parent.parent
ROWS = 600
BATCH = 50
TINY = {"experiment_timeout_minutes": 0.5, "max_iterations": 6, "n_cross_validations": 3}
CUTS = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
SPECIES = ["alpha", "beta", "gamma", "delta"]


def diamonds(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A synthetic ``price = f(carat, cut, depth)`` table (numbers, a category and the date of sale)."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 2.5, rows)
    cut = rng.choice(CUTS, rows)
    depth = rng.normal(61.5, 1.5, rows)
    sold = (np.datetime64("2013-01-01") + rng.integers(0, 365, rows)).astype(str)  # ISO dates, as a CSV has them
    price = 3000 * carat**1.5 + 250 * np.array([CUTS.index(c) for c in cut]) - 40 * (depth - 61.5)
    price = price + rng.normal(0, 150, rows)
    return pd.DataFrame({"carat": carat, "cut": cut, "depth": depth, "sold": sold, "price": price})


def species(rows: int = ROWS, seed: int = 1) -> pd.DataFrame:
    """A synthetic four-class table: the class follows from two numbers, with some noise."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, rows), rng.uniform(-1, 1, rows)
    code = (x > 0).astype(int) * 2 + (y > 0).astype(int)
    flip = rng.random(rows) < 0.1
    code[flip] = rng.integers(0, 4, flip.sum())
    return pd.DataFrame({"x": x, "y": y, "noise": rng.normal(0, 1, rows), "kind": [SPECIES[c] for c in code]})


def train(root: Path, frame: pd.DataFrame, name: str, label: str, task: str) -> str:
    """A workspace at ``root`` with ``frame`` registered as ``name`` and an AutoML run of ``task`` on it trained
    by a real agent; the run's id."""
    csv = root.parent / f"{name}.csv"
    frame.to_csv(csv, index=False)
    params = {**TINY, "label_column": label, "task": task}
    return train_automl(root, {name: (name, csv, params)})[name]


@pytest.fixture(scope="module")
def trained_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace with a regression run (``price``) and a four-class run (``kind``), trained once."""
    root = tmp_path_factory.mktemp("tasks") / "workspace"
    reg_run = train(root, diamonds(), "diamonds", "price", "regression")
    multi_run = train(root, species(), "species", "kind", "classification")
    backend = LocalBackend(root)
    backend.register_model(name="price-model", run_id=reg_run)
    backend.register_model(name="kind-model", run_id=multi_run)
    backend.store.close()
    return root


def serve(backend: LocalBackend, service: str, model_name: str, frame: pd.DataFrame, label: str, *, at: float):
    """Deploy ``model_name`` as ``service`` (collection and telemetry on; no process is started: the rows a
    running service would write are written here by the same writers, from the real model's predictions).
    Returns [(request id, records, predictions)] per request of ``BATCH`` records."""
    backend.deploy_model(name=service, model_name=model_name, data_collection=True, app_insights_enabled=True)
    model = backend.load_model(model_name)
    manifest = backend.get_model(model_name).manifest
    classes = list(manifest["classes"])
    folder = backend.layout.service_dir(service)
    collection = CollectionWriter(
        folder, deployment="blue", input_schema=manifest["input_schema"], classes=classes, flush_seconds=0.05
    )
    telemetry = TelemetryWriter(backend.layout.db, service)
    records = json.loads(frame.drop(columns=label).to_json(orient="records"))
    sent = []
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        request_id = str(uuid.uuid4())
        moment = at + start / BATCH
        if classes:
            proba = model.predict_proba_records(batch)
            predicted = [str(value) for value in model.labels_for(proba)]
            counts = pd.Series(predicted).value_counts().to_dict()
            telemetry_predictions = json.dumps({str(k): int(v) for k, v in counts.items()})
        else:
            proba = np.zeros((len(batch), 0))
            predicted = [float(value) for value in model.predict_records(batch)]
            telemetry_predictions = json.dumps([float(f"{value:.6g}") for value in predicted])
        collection.record(request_id=request_id, at=moment, records=batch, labels=predicted, proba=proba)
        telemetry.record(
            at=moment,
            request_id=request_id,
            status=200,
            latency_ms=2.0 + start / 1000,
            records=len(batch),
            predictions=telemetry_predictions,
            error=None,
            client="127.0.0.1",
            deployment="blue",
        )
        sent.append((request_id, batch, predicted))
    collection.close()
    telemetry.close()
    return sent


@pytest.fixture(scope="module")
def served(trained_tasks: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the trained workspace serving ``reg`` (the diamonds with carat x 1.6: their prices drift; five
    dates of sale sent as text that is no date) and
    ``multi`` (the species table as trained), each having collected every record and recorded every request."""
    root = tmp_path_factory.mktemp("served") / "workspace"
    shutil.copytree(trained_tasks, root)
    backend = LocalBackend(root)
    now = time.time() - 600
    shifted = diamonds().assign(carat=lambda frame: frame["carat"] * 1.6)
    shifted.loc[:4, "sold"] = "unknown"
    reg = serve(backend, "reg", "price-model", shifted, "price", at=now)
    multi = serve(backend, "multi", "kind-model", species(), "kind", at=now)
    return backend, {"reg": (reg, shifted["price"].tolist()), "multi": (multi, species()["kind"].tolist())}


@pytest.fixture
def live(served, monkeypatch):
    backend = served[0]
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    yield served
    get_settings.cache_clear()


def page(service: str, file: str = "pages/monitoring.py") -> AppTest:
    at = AppTest.from_file(str(REPO / file), default_timeout=60)
    at.session_state["mon_service" if "monitoring" in file else "ep_service"] = service
    return at


def chart(at: AppTest, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key)).proto.spec)


def charts(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["mon_tabs"] = tab
    return at.run()


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def labels_csv(rows) -> bytes:
    out = io.StringIO()
    out.write("request_id,record,label\n")
    for request_id, record, label in rows:
        out.write(f"{request_id},{record},{label}\n")
    return out.getvalue().encode()


# --- regression ---------------------------------------------------------------------------------------------------


def test_regression_drift_tab_flags_the_shifted_input_and_the_predicted_values(live, capsys):
    backend, _ = live
    at = page("reg").run()
    ok(at)
    assert any("(regression)" in c.value for c in at.caption)
    table = next(df for df in at.dataframe if "Verdict" in df.value.columns).value
    assert (table["Feature"][0], table["Verdict"][0]) == ("carat", "drift")
    # The dates of sale are binned as instants (as in training: stable), and the five that are no date are named.
    sold = table[table["Feature"] == "sold"].iloc[0]
    assert (sold["Kind"], sold["Verdict"]) == ("datetime", "stable")
    assert any("(sold 5)" in w.value and "not a date" in w.value for w in at.warning)
    words = next(m.value for m in at.markdown if m.value.startswith("**Prediction drift.**"))
    assert "Predicted values (600 rows)" in words and "out-of-fold predicted values" in words
    report = backend.get_service_drift("reg", since=0)
    assert report.prediction.kind == "numeric" and report.prediction.verdict == "drift"
    assert f"PSI {report.prediction.psi:.3f}, drift" in words
    # The out-of-fold quantiles are the bins: 1 % of the training predictions in each outer one.
    assert report.prediction.expected[0] == pytest.approx(0.01)
    assert report.prediction.expected[-2] == pytest.approx(0.01)

    at.selectbox(key="mon_feature").set_value("predictions").run()
    ok(at)
    histogram = chart(at, "mon_histogram")
    assert "prediction" in histogram["layout"]["title"]["text"] and "drift" in histogram["layout"]["title"]["text"]
    training, recent = (bar["y"] for bar in histogram["data"])
    assert sum(training) == pytest.approx(1) and sum(recent) == pytest.approx(1)
    assert recent[-1] > 10 * training[-1]  # 1.6 times the carats: many prices above the training 99th percentile
    over_time = chart(at, "mon_drift_over_time")
    assert over_time["data"][-1]["name"] == "predictions"
    assert any("predicted values (dashed)" in c.value for c in at.caption)
    from opml.cli import main

    capsys.readouterr()
    assert main(["--workspace", str(backend.path), "services", "drift", "reg"]) == 0
    printed = capsys.readouterr()
    assert "datetime" in printed.out and "(sold 5)" in printed.err


def test_regression_accuracy_tab_shows_live_errors_beside_the_cross_validated_ones(live, capsys):
    backend, sent = live
    requests, truth = sent["reg"]
    request_id, _, predicted = requests[2]
    actual = truth[2 * BATCH : 3 * BATCH]
    at = open_tab(page("reg").run(), "Accuracy")
    ok(at)
    assert any("No labelled records" in i.value for i in at.info)
    assert "Live accuracy" not in {m.label for m in at.metric}

    at.file_uploader(key="mon_labels_reg").set_value(
        ("prices.csv", labels_csv([(request_id, i, value) for i, value in enumerate(actual)]), "text/csv")
    )
    at.run()
    at.button(key="mon_labels_store").click().run()
    ok(at)
    assert any("50 label(s) stored for reg" in s.value for s in at.success)

    errors = np.array(predicted) - np.array(actual)
    mae, rmse = np.abs(errors).mean(), np.sqrt((errors**2).mean())
    r2 = 1 - (errors**2).sum() / ((np.array(actual) - np.mean(actual)) ** 2).sum()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labelled requests' records"] == "50"
    assert float(metrics["Live MAE"]) == pytest.approx(mae, rel=1e-3)
    assert float(metrics["Live RMSE"]) == pytest.approx(rmse, rel=1e-3)
    assert float(metrics["Live R²"]) == pytest.approx(r2, rel=1e-3, abs=1e-3)
    manifest = backend.get_model("price-model").manifest
    cv_rmse = manifest["metrics"]["root_mean_squared_error"]
    assert any(f"RMSE {cv_rmse:.4g}" in c.value for c in at.caption)
    # The CLI says the same.
    from opml.cli import main

    assert main(["--workspace", str(backend.path), "services", "accuracy", "reg"]) == 0
    printed = capsys.readouterr().out
    assert f"live MAE {mae:.4g}, RMSE {rmse:.4g}" in printed and f"RMSE {cv_rmse:.4g}" in printed
    assert "accuracy" not in printed

    figure = chart(at, "mon_accuracy")
    assert [trace["name"] for trace in figure["data"]] == ["live MAE", "live RMSE"]
    assert figure["data"][1]["y"][0] == pytest.approx(rmse)
    dashed = [shape["y0"] for shape in figure["layout"]["shapes"]]
    assert pytest.approx(cv_rmse) in dashed


def test_regression_labels_that_are_not_numbers_are_refused_naming_the_row(live):
    backend, sent = live
    request_id = sent["reg"][0][5][0]
    before = backend.list_service_labels("reg", limit=100_000)
    at = open_tab(page("reg").run(), "Accuracy")
    at.file_uploader(key="mon_labels_reg").set_value(
        ("bad.csv", labels_csv([(request_id, 0, "1200.5"), (request_id, 1, "expensive")]), "text/csv")
    )
    at.run()
    at.button(key="mon_labels_store").click().run()
    assert not at.exception
    message = at.error[0].value
    assert message.startswith("Nothing stored.") and "bad.csv, line 3" in message and "'expensive'" in message
    assert "regression" in message and "number" in message
    assert backend.list_service_labels("reg", limit=100_000) == before
    with pytest.raises(InvalidInput, match=r"label 1: .*regression.*got 'cheap'"):
        backend.add_service_labels("reg", [{"request_id": request_id, "label": "cheap"}])
    assert backend.add_service_labels("reg", [{"request_id": request_id, "label": 1999}]) == 1


def test_regression_alerts_offer_no_accuracy_rule_and_the_backend_refuses_one(live):
    backend, _ = live
    at = open_tab(page("reg").run(), "Alerts")
    ok(at)
    assert "accuracy" not in at.selectbox(key="mon_rule_kind").options[0]
    assert not any(option.startswith("accuracy") for option in at.selectbox(key="mon_rule_kind").options)
    assert any("no accuracy rule" in c.value for c in at.caption)
    with pytest.raises(InvalidInput, match="reg serves a regression model: an accuracy rule"):
        backend.create_alert_rule("reg", kind="accuracy", threshold=0.8)
    rule = backend.create_alert_rule("reg", kind="drift", threshold=0.2)
    assert rule.kind == "drift"


def test_endpoints_telemetry_shows_the_regression_prediction_distribution(live):
    _, sent = live
    at = page("reg", "pages/endpoints.py")
    at.session_state["ep_tabs"] = "Telemetry"
    at.run()
    ok(at)
    histogram = chart(at, "ep_values")
    training, recent = histogram["data"]
    assert training["name"] == "out-of-fold predictions" and recent["name"] == "live (600 predictions)"
    assert sum(training["y"]) == pytest.approx(0.98, abs=0.02)  # the 1st to 99th percentiles at least
    assert sum(recent["y"]) == pytest.approx(1)
    predicted = [value for _, _, values in sent["reg"][0] for value in values]
    assert max(predicted) <= max(recent["x"]) + recent["width"]
    over_time = chart(at, "ep_values_over_time")
    assert "mean predicted" in [trace["name"] for trace in over_time["data"]]
    assert "ep_drift" not in " ".join(charts(at))  # no class mix for a regression model
    recent_rows = next(df for df in at.dataframe if "predictions" in df.value.columns).value
    assert "… (50 values)" in recent_rows["predictions"][0]


# --- multiclass ---------------------------------------------------------------------------------------------------


def test_multiclass_accuracy_tab_gives_accuracy_and_weighted_auc(live):
    from sklearn.metrics import roc_auc_score

    backend, sent = live
    requests, truth = sent["multi"]
    rows = []
    for index in range(4):
        request_id, _, _ = requests[index]
        rows += [(request_id, i, label) for i, label in enumerate(truth[index * BATCH : (index + 1) * BATCH])]
    backend.add_service_labels("multi", [{"request_id": r, "record": i, "label": label} for r, i, label in rows])
    at = open_tab(page("multi").run(), "Accuracy")
    ok(at)
    predicted = [label for index in range(4) for label in requests[index][2]]
    actual = [label for _, _, label in rows]
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Live accuracy"]) == pytest.approx(np.mean(np.array(predicted) == np.array(actual)), abs=1e-3)
    model = backend.load_model("kind-model")
    proba = model.predict_proba_records([record for index in range(4) for record in requests[index][1]])
    expected = roc_auc_score(actual, proba, multi_class="ovr", average="weighted", labels=list(model.classes_))
    assert float(metrics["Live AUC"]) == pytest.approx(expected, abs=1e-3)
    assert chart(at, "mon_accuracy")["data"][0]["name"] == "live accuracy"


def test_multiclass_drift_and_telemetry_show_the_class_mix(live):
    at = page("multi").run()
    ok(at)
    words = next(m.value for m in at.markdown if m.value.startswith("**Prediction drift.**"))
    assert "Predicted classes" in words and all(name in words for name in SPECIES)
    at = page("multi", "pages/endpoints.py")
    at.session_state["ep_tabs"] = "Telemetry"
    at.run()
    ok(at)
    mix = chart(at, "ep_drift")
    solid = [trace["name"] for trace in mix["data"] if trace.get("showlegend") is not False]
    assert sorted(solid) == sorted(f"predicted {name}" for name in SPECIES)
    assert len(mix["data"]) == 8  # each class's training share, dashed, in its legend group
    assert "ep_values" not in " ".join(charts(at))


def test_deployments_compared_for_a_regression_endpoint_give_its_errors_and_no_class_mix(live):
    from opml.ui.rollout import comparison_frame

    backend, sent = live
    requests, truth = sent["reg"]
    request_id = requests[4][0]
    given = [{"request_id": request_id, "record": i, "label": truth[4 * BATCH + i]} for i in range(BATCH)]
    backend.add_service_labels("reg", given)
    since = time.time() - 3600
    blue = backend.compare_deployments("reg", since=since).stats("blue")
    assert blue.requests == len(requests) and blue.predictions == {}  # no "0", "1", ... from the value lists
    live_errors = backend.get_live_accuracy("reg", since=since)
    assert blue.labelled == live_errors.labelled >= BATCH and blue.accuracy is None
    assert blue.rmse == pytest.approx(live_errors.rmse) and blue.mae == pytest.approx(live_errors.mae)
    assert blue.cv_rmse == backend.get_model("price-model").manifest["metrics"]["root_mean_squared_error"]
    frame = comparison_frame(backend.compare_deployments("reg", since=since))
    assert "Live RMSE" in frame.columns and "CV RMSE" in frame.columns and "Live accuracy" not in frame.columns

    at = page("reg", "pages/endpoints.py")
    at.session_state["ep_tabs"] = "Compare"
    at.run()
    ok(at)
    assert any(key.endswith("ep_compare_latency") for key in charts(at))
    assert not any(key.endswith("ep_compare_mix") for key in charts(at))
    table = next(df for df in at.dataframe if "Live RMSE" in df.value.columns).value
    assert table["Live RMSE"][0] == pytest.approx(round(blue.rmse, 4))
