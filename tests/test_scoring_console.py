"""The scoring console: form (AppTest) and batch and snippets against a live local endpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.client import ScoringError, score
from opml.errors import InvalidInput
from opml.scoring import labels_from_probabilities, read_scoring_csv, record_from_pairs, score_in_chunks, scored_csv
from opml.settings import get_settings
from opml.snippets import curl_snippet, python_snippet
from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def live(deployed, monkeypatch):
    backend, name = deployed
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    return backend, name


def test_form_has_one_typed_widget_per_input_column(live):
    backend, name = live
    schema = backend.get_model("bank-model").manifest["input_schema"]
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    selects = {w.label for w in at.selectbox if w.key and w.key.startswith("score_field_")}
    numbers = {w.label for w in at.number_input if w.key and w.key.startswith("score_field_")}
    assert selects == {c["name"] for c in schema if c["type"] == "categorical"}
    assert numbers == {c["name"] for c in schema if c["type"] != "categorical"}
    job = at.selectbox(key=f"score_field_{name}_job")
    assert "admin." in job.options and "technician" in job.options


def test_form_scores_two_records_through_the_endpoint(live):
    backend, name = live
    before = len(backend.get_service_telemetry(name))
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    at.number_input(key=f"score_field_{name}_age").set_value(35)
    at.button(key="score_add").click().run()
    at.button(key="score_table").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    results = next(df.value for df in at.dataframe if "prediction" in df.value.columns)
    assert len(results) == 2 and set(results["prediction"]) <= {"no", "yes"}
    assert list(results["age"])[1] == 35  # the records sent are shown beside their predictions
    assert "2 prediction(s) for the table's 2 record(s)" in at.success[0].value
    wait_until(lambda: len(backend.get_service_telemetry(name)) == before + 1, timeout=5, what="one telemetry event")
    assert backend.get_service_telemetry(name)[-1]["records"] == 2


def test_score_this_record_sends_the_form_not_the_table(live):
    _, name = live
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    table_age = int(at.session_state[f"score_rows_{name}"].iloc[0]["age"])
    at.number_input(key=f"score_field_{name}_age").set_value(table_age + 7)
    at.number_input(key=f"score_field_{name}_duration").set_value(900)
    at.button(key="score_record").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    source, records, result, _ = at.session_state[f"score_result_{name}"]
    sent = result.request_body["Inputs"]["data"] if "Inputs" in result.request_body else result.request_body["data"]
    assert [r["age"] for r in sent] == [table_age + 7] and sent[0]["duration"] == 900
    assert source == "the form's record" and records == sent
    shown = next(df.value for df in at.dataframe if "prediction" in df.value.columns)
    assert list(shown["age"]) == [table_age + 7] and list(shown["duration"]) == [900]
    assert len(at.session_state[f"score_rows_{name}"]) == 1  # the table is left as it was


def test_the_form_explains_the_record_it_scored(live):
    _, name = live
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    at.number_input(key=f"score_field_{name}_duration").set_value(1234)
    at.button(key="score_record").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, records, result, explained = at.session_state[f"score_result_{name}"]
    assert explained and result.request_body["GlobalParameters"] == {"method": "explain"}
    explanation = result.predictions[0]
    shown = next(df.value for df in at.dataframe if "prediction" in df.value.columns)
    assert shown["P(yes)"][0] == round(explanation["probabilities"]["yes"], 4)  # one request gave both
    reasons = next(m.value for m in at.markdown if m.value.startswith("**Top reasons:**"))
    biggest = max(explanation["contributions"].items(), key=lambda item: abs(item[1]))
    value = records[0][biggest[0]]
    assert f"{biggest[0]} = {value:g}" in reasons if isinstance(value, float) else f"{biggest[0]} = {value}" in reasons
    waterfall = json.loads(next(c for c in at.get("plotly_chart") if c.proto.id.endswith("score_waterfall")).proto.spec)
    bars = waterfall["data"][0]
    assert bars["type"] == "waterfall" and "duration = 1234" in bars["y"]
    assert bars["x"][-1] == pytest.approx(explanation["probabilities"]["yes"])

    at.toggle(key="score_explain").set_value(False).run()
    at.button(key="score_record").click().run()
    _, _, result, explained = at.session_state[f"score_result_{name}"]
    assert not explained and result.request_body["GlobalParameters"] == {"method": "predict_proba"}
    assert not any(m.value.startswith("**Top reasons:**") for m in at.markdown)


def test_batch_reasons_go_into_the_download(live, bank_csv):
    backend, name = live
    rows = pd.read_csv(bank_csv).head(30)
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    at.file_uploader(key=f"score_upload_{name}").set_value(("rows.csv", rows.to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.checkbox(key="score_batch_reasons").check().run()
    at.button(key="score_batch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, batch, labels, probabilities, reasons = at.session_state[f"score_batch_result_{name}"]
    model = backend.load_model("bank-model")
    assert labels == list(model.predict(rows.drop(columns=["y"])))
    assert len(reasons) == 30 and all(1 <= len(r) <= 3 for r in reasons)
    assert all(" P(yes) by " in reason for row in reasons for reason in row)
    out = pd.read_csv(__import__("io").BytesIO(scored_csv(batch.frame, labels, probabilities, reasons)))
    assert list(out.columns[-3:]) == ["reason_1", "reason_2", "reason_3"] and out["reason_1"][0] == reasons[0][0]


def test_a_bad_batch_file_clears_the_previous_results(live, bank_csv):
    _, name = live
    good = pd.read_csv(bank_csv).head(20).to_csv(index=False).encode()
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    at.file_uploader(key=f"score_upload_{name}").set_value(("good.csv", good, "text/csv")).run()
    at.button(key="score_batch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.label == "Accuracy against the file's labels" for m in at.metric)
    assert at.get("download_button")

    at.file_uploader(key=f"score_upload_{name}").set_value(("bad.csv", b"age,job\n30,admin.\n", "text/csv")).run()
    assert not at.exception
    assert "lacks the model's column" in at.error[0].value
    assert not any(m.label == "Accuracy against the file's labels" for m in at.metric)
    assert not at.get("download_button") and not at.get("plotly_chart")


def test_unreachable_endpoint_shows_the_reason_and_keeps_the_records(trained_backend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="offline", model_name="bank-model")  # no agent: nothing listens
    at = AppTest.from_file(str(REPO / "pages/score.py"), default_timeout=60).run()
    at.button(key="score_record").click().run()
    assert not at.exception
    assert "cannot reach" in at.error[0].value
    assert len(at.session_state["score_rows_offline"]) == 1  # the user's records are kept


def test_batch_of_1000_rows_matches_in_process_predictions(deployed, bank_csv):
    backend, name = deployed
    service, model = backend.get_service(name), backend.load_model("bank-model")
    manifest = backend.get_model("bank-model").manifest
    frame = pd.read_csv(bank_csv).tail(1000).assign(note="kept")
    batch = read_scoring_csv(frame.to_csv(index=False).encode(), manifest["input_schema"], label="y")
    assert batch.label_column == "y" and "note" in batch.frame.columns and "y" not in batch.records[0]
    progress = []
    key = backend.get_service_keys(name).primary
    probabilities = score_in_chunks(
        service.scoring_uri,
        batch.records,
        key=key,
        probabilities=True,
        chunk_rows=300,
        on_progress=lambda done, total: progress.append(done),
    )
    assert progress == [300, 600, 900, 1000]
    labels = labels_from_probabilities(probabilities, manifest["classes"], manifest["threshold"])
    assert labels == list(model.predict(frame.drop(columns=["y", "note"])))
    out = pd.read_csv(__import__("io").BytesIO(scored_csv(batch.frame, labels, probabilities)))
    assert list(out.columns[-3:]) == ["prediction", "probability_no", "probability_yes"] and len(out) == 1000


def test_batch_of_50000_rows_in_chunks(deployed, bank_csv):
    backend, name = deployed
    manifest = backend.get_model("bank-model").manifest
    frame = pd.concat([pd.read_csv(bank_csv)] * 2, ignore_index=True).head(50_000)
    batch = read_scoring_csv(frame.to_csv(index=False).encode(), manifest["input_schema"])
    calls = []
    labels = score_in_chunks(
        backend.get_service(name).scoring_uri,
        batch.records,
        key=backend.get_service_keys(name).primary,
        on_progress=lambda done, total: calls.append(done),
    )
    assert len(labels) == 50_000 and len(calls) == 50


def test_csv_missing_columns_is_refused_before_any_request(deployed):
    backend, _ = deployed
    schema = backend.get_model("bank-model").manifest["input_schema"]
    with pytest.raises(InvalidInput, match="lacks the model's column"):
        read_scoring_csv(b"age,job\n30,admin.\n", schema)


def test_record_from_pairs_types_values_and_fills_defaults(deployed):
    backend, _ = deployed
    schema = backend.get_model("bank-model").manifest["input_schema"]
    record = record_from_pairs(["age=41", "job=technician", "emp.var.rate=-1.8"], schema)
    assert record["age"] == 41 and isinstance(record["age"], int) and record["emp.var.rate"] == -1.8
    assert set(record) == {c["name"] for c in schema} and record["marital"]
    with pytest.raises(InvalidInput, match="must be a number"):
        record_from_pairs(["age=old"], schema)


def test_a_value_json_cannot_carry_is_named_before_any_request():
    with pytest.raises(ScoringError, match="NaN or infinity"):
        score(f"http://127.0.0.1:{free_port()}/score", [{"age": float("nan")}], explain=True)


def test_a_header_value_with_a_line_break_is_named_not_taken_for_an_unreachable_endpoint():
    uri = f"http://127.0.0.1:{free_port()}/score"
    for arguments in ({"deployment": "blue\r\nX-Injected: 1"}, {"key": "secret-key\n"}):
        with pytest.raises(ScoringError, match="HTTP header cannot carry") as error:
            score(uri, [{"age": 30}], **arguments)
        assert "secret-key" not in str(error.value) and "cannot reach" not in str(error.value)


def test_client_reports_the_servers_message(deployed):
    backend, name = deployed
    with pytest.raises(ScoringError, match="HTTP 401: missing or wrong key") as error:
        score(backend.get_service(name).scoring_uri, [{"age": 1}], key="wrong")
    assert error.value.status == 401


def test_python_and_curl_snippets_print_the_endpoints_predictions(deployed, tmp_path):
    backend, name = deployed
    service, key = backend.get_service(name), backend.get_service_keys(name).primary
    records = backend.get_model("bank-model").manifest["example"]
    expected = score(service.scoring_uri, records, key=key).response_body
    script = tmp_path / "endpoint.py"
    script.write_text(python_snippet(service.scoring_uri, records, key))
    printed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == str(expected)
    assert shutil.which("curl"), "curl is needed to check the curl snippet"
    curl = subprocess.run(
        ["bash", "-c", curl_snippet(service.scoring_uri, records, key)], capture_output=True, text=True
    )
    assert json.loads(curl.stdout) == expected
