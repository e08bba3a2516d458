"""The per-task pieces of serving that need no process: telemetry's predictions column, the mirror's
agreement, numeric labels, collected files of a regression service, the manifest's output."""

from __future__ import annotations

import json
import math
import time

import pyarrow.parquet as pq
import pytest

from opml.client import ScoringError, request_body
from opml.errors import InvalidInput
from opml.monitoring.labels import check_labels, name_csv_line, read_labels_csv
from opml.scoring import ServiceOutput, explained_values, output_of_manifest, predicted_values, scored_csv
from opml.serving.collection import CollectionWriter
from opml.serving.mirror import agreement
from opml.serving.telemetry import MAX_PREDICTED_VALUES, predictions_column

REQUEST = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_the_predictions_column_per_task():
    assert json.loads(predictions_column(["no", "yes", "no"], regression=False)) == {"no": 2, "yes": 1}
    values = [1234.56789, 0.000123456789, -98765432.1, 7.0]
    assert json.loads(predictions_column(values, regression=True)) == [1234.57, 0.000123457, -98765400.0, 7.0]
    many = json.loads(predictions_column([float(i) for i in range(2500)], regression=True))
    assert len(many) == MAX_PREDICTED_VALUES and many[-1] == 999.0
    assert predictions_column([], regression=True) == "[]" and predictions_column([], regression=False) == "{}"


def test_regression_agreement_is_within_one_percent():
    live = [100.0, 100.0, 100.0, 0.0, -5.0, 1e-12]
    shadow = [100.9, 101.5, 99.2, 1e-10, 5.0, 0.0]
    # 100.9: 0.9 % off; 101.5: 1.5 %; 99.2: 0.8 %; 1e-10 vs 0: within 1e-9; -5 vs 5: opposite; 0 vs 1e-12: tiny.
    assert agreement(shadow, live, regression=True) == 4
    assert agreement(["a", "b", "c"], ["a", "c", "c"], regression=False) == 2
    assert agreement([1.0], ["1.0"], regression=True) == 0  # a label is never within 1 % of a number


def test_numeric_labels_for_a_regression_service():
    rows = check_labels(
        [
            {"request_id": REQUEST, "label": 12.5},
            {"request_id": REQUEST, "label": 3, "record": 1},
            {"request_id": REQUEST, "label": " -0.25 ", "record": 2},  # text that reads as a number: a CSV's
        ],
        [],
        task="regression",
    )
    assert rows == [(REQUEST, 0, "12.5"), (REQUEST, 1, "3.0"), (REQUEST, 2, "-0.25")]
    for label in ("high", True, None, float("nan"), "inf", [1.0]):
        with pytest.raises(
            InvalidInput,
            match=r"labels\[1\]: the service serves a regression model, so a label is the true value as a number",
        ):
            check_labels(
                [{"request_id": REQUEST, "label": 1.0}, {"request_id": REQUEST, "label": label}],
                task="regression",
                where=lambda index: f"labels[{index}]",
            )
    # A classifier's labels are as before: text, one of its classes.
    with pytest.raises(InvalidInput, match="must be a class name"):
        check_labels([{"request_id": REQUEST, "label": 12.5}], ["no", "yes"])
    # A labels CSV names its line for a regression service too.
    labels, lines = read_labels_csv(f"request_id,label\n{REQUEST},10.5\n{REQUEST},cheap\n".encode())
    with pytest.raises(InvalidInput) as error:
        check_labels(labels, task="regression")
    assert name_csv_line(str(error.value), lines, "truth.csv").startswith(
        "truth.csv, line 3: the service serves a regression model"
    )


def test_a_regression_writer_collects_float_predictions_without_probabilities(tmp_path):
    schema = [{"name": "carat", "type": "numeric"}, {"name": "cut", "type": "categorical"}]
    writer = CollectionWriter(tmp_path, deployment="blue", input_schema=schema, classes=[], flush_seconds=0.05)
    assert writer.regression
    records = [{"carat": 1.2, "cut": "Ideal"}, {"carat": None, "cut": "Fair"}]
    assert writer.record(request_id=REQUEST, at=time.time(), records=records, labels=[5123.25, 880.5], proba=None)
    writer.close()
    files = list((tmp_path / "collected").rglob("*.parquet"))
    table = pq.read_table(files[0])
    assert str(table.schema.field("output.label").type) == "double"
    assert [name for name in table.column_names if name.startswith("output.")] == ["output.label"]
    assert table.column("output.label").to_pylist() == [5123.25, 880.5]
    # A classifier's writer is as before: text labels and a probability column per class.
    classes = CollectionWriter(tmp_path / "c", deployment="blue", input_schema=schema, classes=["a", "b", "c"])
    assert not classes.regression
    assert [f.name for f in classes.schema if f.name.startswith("output.")] == [
        "output.label", "output.proba.a", "output.proba.b", "output.proba.c",
    ]  # fmt: skip
    classes.close()


def test_service_output_of_manifests_and_answers():
    regression = output_of_manifest({"task": "regression", "label_column": "price", "classes": []})
    assert regression == ServiceOutput("regression", (), None, "price")
    assert not regression.probabilities and regression.explainable and regression.kind == "a number (price)"
    multiclass = output_of_manifest({"task": "classification", "classes": ["a", "b", "c"]})
    assert multiclass.probabilities and not multiclass.explainable  # multiclass models are not explained
    old = output_of_manifest({"classes": ["no", "yes"], "threshold": 0.4, "label_column": "y"})  # no task: before
    assert old == ServiceOutput("classification", ("no", "yes"), 0.4, "y") and old.explainable
    assert predicted_values([1, 2.5]) == [1.0, 2.5]
    with pytest.raises(ScoringError, match="regression model's service"):
        predicted_values(["yes"])
    # A regression service's explanations hold its predicted values; a classifier's hold labels.
    assert explained_values([{"prediction": 12.5, "base_value": 10.0, "contributions": {"a": 2.5}}]) == [12.5]
    with pytest.raises(ScoringError, match="regression model's service"):
        explained_values([{"prediction": "yes", "positive_class": "yes"}])
    with pytest.raises(ScoringError, match="something else than explanations"):
        explained_values([12.5])
    with pytest.raises(InvalidInput, match="not class probabilities"):
        request_body([{"a": 1}], probabilities=True, task="regression")
    assert request_body([{"a": 1}], task="regression") == {"data": [{"a": 1}]}
    explain = {"Inputs": {"data": [{"a": 1}]}, "GlobalParameters": {"method": "explain"}}
    assert request_body([{"a": 1}], explain=True, task="regression") == explain
    scored = scored_csv(__import__("pandas").DataFrame({"a": [1, 2]}), [1.5, math.pi], None).decode()
    assert scored.splitlines() == ["a,prediction", "1,1.5", f"2,{math.pi}"]


def test_a_column_of_dates_is_marked_in_the_schema_and_swagger_and_any_date_is_expected():
    import pandas as pd

    from opml.models.manifest import input_schema
    from opml.scoring import out_of_range, schema_from_swagger
    from opml.serving.swagger import swagger_document

    X = pd.DataFrame(
        {
            "listed": ["2024-01-05", "2024-02-11", None],  # as a CSV holds dates: text
            "at": pd.to_datetime(["2024-01-05 10:00", "2024-02-11 11:30", "2024-03-01 09:15"]),
            "month": ["may", "jun", "jul"],  # text, not dates
            "carat": [0.5, 1.0, 1.5],
        }
    )
    schema = input_schema(X)
    formats = {c["name"]: c.get("format") for c in schema}
    assert formats == {"listed": "date-time", "at": "date-time", "month": None, "carat": None}
    # A date after training is expected (not "never seen"); text that is no date is named, with an example.
    record = {"listed": "2026-03-01", "at": "2026-03-01T08:00:00Z", "month": "aug", "carat": 1.2}
    assert out_of_range(record, schema) == ["month = 'aug' was never seen in training"]
    warnings = out_of_range({**record, "listed": "next Tuesday", "month": "may"}, schema)
    assert warnings == [
        "listed = 'next Tuesday' is not a date or time (ISO 8601, such as 2013-06-01T10:00:00Z): the model takes "
        "it as missing"
    ]
    document = swagger_document(service_name="svc", manifest={"input_schema": schema}, auth_enabled=True)
    properties = document["definitions"]["ServiceInput"]["properties"]["data"]["items"]["properties"]
    assert properties["listed"]["format"] == "date-time" and "format" not in properties["month"]
    read, _ = schema_from_swagger(document)  # what the Score page reads of a service without a manifest
    assert {c["name"]: c.get("format") for c in read} == formats
