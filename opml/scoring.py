"""Preparing records for a scoring endpoint: from a form, key=value pairs or a CSV; batches in chunks.

Everything here works from a model's input schema (its manifest) and talks to
endpoints only through ``opml.client``, so it serves local and Azure services alike.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opml.client import ScoreResult, ScoringError, score
from opml.data.dates import DATE_TIME, EXAMPLE, as_datetime
from opml.errors import InvalidInput

CHUNK_ROWS = 1000
CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclass(frozen=True)
class ServiceOutput:
    """What a scoring service answers per record, by its model's task: a regressor answers a number (no
    probabilities) and, when trained by opml, explanations of it; a classifier a label, with one probability
    per class on request (``predict_proba``) and, when binary and trained by opml, explanations."""

    task: str  # "classification" or "regression"
    classes: tuple[str, ...] = ()  # a classifier's classes (empty when unknown: an Azure AutoML swagger)
    threshold: float | None = None  # a binary classifier's decision threshold on classes[1]
    label_column: str | None = None  # what a regressor predicts (its training label), when known

    @property
    def regression(self) -> bool:
        return self.task == REGRESSION

    @property
    def probabilities(self) -> bool:
        """The service answers ``predict_proba`` (one probability per class)."""
        return not self.regression

    @property
    def explainable(self) -> bool:
        """The model's task is one opml explains: regression or binary classification, not multiclass (the
        service answers ``explain`` when opml trained the model, too)."""
        return self.regression or len(self.classes) == 2

    @property
    def kind(self) -> str:
        """The answer in words: "a number (price)", "a class (no, yes)", ..."""
        if self.regression:
            return f"a number ({self.label_column})" if self.label_column else "a number"
        shown = ", ".join(self.classes[:10]) + (", …" if len(self.classes) > 10 else "")
        return f"a class ({shown}) with one probability per class" if shown else "a class"


def output_of_manifest(manifest: dict[str, Any]) -> ServiceOutput:
    """A service's ``ServiceOutput`` from its model's manifest (a manifest without a task, written before
    regression existed, is a classifier's)."""
    if manifest.get("task") == REGRESSION:
        return ServiceOutput(REGRESSION, label_column=manifest.get("label_column"))
    threshold = manifest.get("threshold")
    return ServiceOutput(
        CLASSIFICATION,
        tuple(str(c) for c in manifest.get("classes") or ()),
        float(threshold) if isinstance(threshold, (int, float)) else None,
        manifest.get("label_column"),
    )


def output_of_swagger(document: dict[str, Any]) -> ServiceOutput:
    """A service's ``ServiceOutput`` from its swagger.json: opml's says its task (``info["x-opml-task"]``);
    Azure's says it by its answer's items (numbers: a regressor; text: a classifier, its classes when
    enumerated)."""
    task = (document.get("info") or {}).get("x-opml-task")
    definitions = document.get("definitions") or {}
    properties = (definitions.get("ServiceOutput") or {}).get("properties") or {}
    items = [
        (properties.get(name) or {}).get("items") or {}
        for name in ("result", "Results")
        if isinstance(properties.get(name), dict)
    ]
    split = definitions.get("SplitOutputValues") or definitions.get("SplitOutputLabels") or {}
    if split.get("items"):
        items.append(split["items"])
    if task not in (CLASSIFICATION, REGRESSION):
        numeric = any(item.get("type") in ("number", "integer") for item in items)
        task = REGRESSION if numeric else CLASSIFICATION
    if task == REGRESSION:
        return ServiceOutput(REGRESSION)
    classes = next((tuple(str(c) for c in item["enum"]) for item in items if item.get("enum")), ())
    return ServiceOutput(CLASSIFICATION, classes)


def service_output(backend: Any, service: Any, model: str | None = None) -> ServiceOutput:
    """What ``service`` answers (``model``: the "name:version" of the deployment picked, default the
    endpoint's): from the model's manifest when opml trained it or knows its task, else from the service's
    swagger.json (raises ScoringError when it cannot be read)."""
    from opml.client import get_swagger

    manifest = backend.resolve_model(model or service.model).manifest
    if "input_schema" in manifest or "task" in manifest:
        return output_of_manifest(manifest)
    return output_of_swagger(get_swagger(service.swagger_uri))


def predicted_values(predictions: list[Any]) -> list[float]:
    """The numbers of a regression service's answer, one per record; raises ScoringError on an answer
    that holds something else (labels, probabilities: a service that is not a regressor's)."""
    values = []
    for value in predictions:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScoringError(
                f"the endpoint answered {str(value)[:100]!r} where a predicted value (a number) was expected: is "
                "it a regression model's service?"
            )
        values.append(float(value))
    return values


def explained_values(explanations: list[Any]) -> list[float]:
    """The predicted values of a regression service's explain answer (one explanation per record); raises
    ScoringError on an answer that holds something else (a classifier's explanations, bare numbers)."""
    if not all(isinstance(item, dict) and "prediction" in item for item in explanations):
        raise ScoringError(
            "the endpoint answered something else than explanations (objects with a prediction): does it explain "
            "its predictions?"
        )
    return predicted_values([item["prediction"] for item in explanations])


@dataclass
class BatchScores:
    """A batch's answers: ``predictions`` (labels, or numbers for a regressor), and with probabilities asked
    of a classifier, one {class: probability} per record."""

    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None


def score_batch(
    uri: str,
    records: list[dict[str, Any]],
    output: ServiceOutput,
    *,
    key: str | None,
    probabilities: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
    deployment: str | None = None,
    request_format: str = "data",
) -> BatchScores:
    """Score a batch as its service answers: numbers for a regressor; for a classifier, with
    ``probabilities`` one request per chunk gives both the probabilities and the labels (the model's
    threshold applied), else labels. Raises ScoringError (see ``score_in_chunks``)."""
    ask = probabilities and output.probabilities
    answers = score_in_chunks(
        uri,
        records,
        key=key,
        probabilities=ask,
        chunk_rows=chunk_rows,
        on_progress=on_progress,
        deployment=deployment,
        request_format=request_format,
    )
    if output.regression:
        return BatchScores(predicted_values(answers))
    if not ask:
        return BatchScores([str(answer) for answer in answers])
    rows = probability_rows(answers, list(output.classes))
    classes = list(output.classes) or list(rows[0])
    return BatchScores(labels_from_probabilities(rows, classes, output.threshold), rows)


def _plain(value: Any) -> Any:
    """A JSON value from a pandas cell (NaN -> None, numpy scalars -> Python)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def coerce(column: dict[str, Any], value: Any) -> Any:
    """A value typed as the schema says (numbers stay numbers, integers stay integers, the rest text)."""
    value = _plain(value)
    if value is None or (isinstance(value, str) and not value.strip() and column["type"] != "categorical"):
        return None
    if column["type"] in ("numeric", "boolean"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"column {column['name']!r} must be a number, got {value!r}") from None
        return int(number) if column.get("dtype") == "integer" and number.is_integer() else number
    return str(value)


def record_from_pairs(pairs: Sequence[str], schema: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A record from ``key=value`` strings; columns not given take the schema's default (median / most frequent)."""
    by_name = {column["name"]: column for column in schema}
    record = {name: column.get("default") for name, column in by_name.items()}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"{pair!r} must look like column=value")
        if key not in by_name:
            raise InvalidInput(f"unknown column {key!r}; the model's columns are: {', '.join(by_name)}")
        record[key] = coerce(by_name[key], value)
    return record


def out_of_range(record: dict[str, Any], schema: Sequence[dict[str, Any]]) -> list[str]:
    """Human-readable warnings for values outside what the model saw in training (allowed, but flagged)."""
    warnings = []
    for column in schema:
        value = record.get(column["name"])
        if value is None:
            continue
        if column["type"] in ("numeric", "boolean") and column.get("min") is not None:
            if not column["min"] <= value <= column["max"]:
                warnings.append(
                    f"{column['name']} = {value} is outside the training range {column['min']}..{column['max']}"
                )
        elif column.get("format") == DATE_TIME:
            if as_datetime(value) is None:
                warnings.append(
                    f"{column['name']} = {value!r} is not a date or time (ISO 8601, such as {EXAMPLE}): the model "
                    "takes it as missing"
                )
        elif column["type"] == "categorical" and column.get("categories") and value not in column["categories"]:
            warnings.append(f"{column['name']} = {value!r} was never seen in training")
    return warnings


@dataclass
class ScoringFrame:
    frame: pd.DataFrame  # the whole CSV, extra columns included
    records: list[dict[str, Any]]  # only the model's columns, typed
    label_column: str | None  # present in the CSV: kept for accuracy, not sent


def read_scoring_csv(content: bytes, schema: Sequence[dict[str, Any]], *, label: str | None = None) -> ScoringFrame:
    """Parse a CSV for batch scoring; refuses it (naming the columns) before any request when columns are missing."""
    from opml.data.csv_format import parse_csv

    frame, _ = parse_csv(content)
    names = [column["name"] for column in schema]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InvalidInput(f"the CSV lacks the model's column(s): {', '.join(missing)}")
    records = []
    for row in frame[names].itertuples(index=False, name=None):
        records.append({column["name"]: coerce(column, value) for column, value in zip(schema, row, strict=True)})
    return ScoringFrame(frame, records, label if label and label in frame.columns else None)


def score_in_chunks(
    uri: str,
    records: list[dict[str, Any]],
    *,
    key: str | None,
    probabilities: bool = False,
    explain: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
    deployment: str | None = None,
    request_format: str = "data",
) -> list[Any]:
    """Score many records through the endpoint, ``chunk_rows`` per request (at most 1,000, what an explain
    request takes), by ``deployment`` when named, in the body ``request_format`` names (see
    ``opml.client.score``); raises ScoringError on the first failure, or when an answer does not hold one
    prediction per record."""
    predictions: list[Any] = []
    for start in range(0, len(records), chunk_rows):
        chunk = records[start : start + chunk_rows]
        result: ScoreResult = score(
            uri,
            chunk,
            key=key,
            probabilities=probabilities,
            explain=explain,
            deployment=deployment,
            request_format=request_format,
        )
        if not isinstance(result.predictions, list) or len(result.predictions) != len(chunk):
            raise ScoringError(
                f"the endpoint answered rows {start} to {start + len(chunk) - 1} with "
                f"{len(result.predictions) if isinstance(result.predictions, list) else 'no list of'} prediction(s) "
                f"for {len(chunk)} record(s): is its request format {request_format!r}?"
            )
        predictions.extend(result.predictions)
        if on_progress:
            on_progress(min(start + chunk_rows, len(records)), len(records))
    return predictions


def scored_csv(
    frame: pd.DataFrame,
    labels: list[Any],
    probabilities: list[dict[str, float]] | None,
    reasons: list[list[str]] | None = None,
) -> bytes:
    """The input CSV with the predictions appended as ``prediction`` (labels, or a regressor's numbers), and a
    ``probability_<class>`` column per class, and with ``reasons`` the top reasons of each row in words:
    reason_1, reason_2, ...)."""
    out = frame.copy()
    out["prediction"] = labels
    if probabilities:
        for name in probabilities[0]:
            out[f"probability_{name}"] = [row[name] for row in probabilities]
    if reasons:
        for index in range(max(len(row) for row in reasons)):
            out[f"reason_{index + 1}"] = [row[index] if index < len(row) else "" for row in reasons]
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def probability_rows(predictions: list[Any], classes: Sequence[str]) -> list[dict[str, float]]:
    """{class: probability} per record from a predict_proba answer: objects, as opml's services and Azure
    AutoML's scoring scripts answer, or rows of numbers in the order of the model's ``classes`` (an MLflow
    model on a managed online endpoint may answer its probabilities as a plain array). Raises ScoringError
    on an answer without probabilities (labels: an endpoint that ignored the request's method)."""
    rows = []
    for row in predictions:
        if isinstance(row, dict):
            rows.append(row)
        elif isinstance(row, list) and classes and len(row) == len(classes):
            rows.append(dict(zip(classes, row, strict=True)))
        else:
            raise ScoringError(
                f"the endpoint answered {str(row)[:100]!r} where class probabilities were asked for: it may not "
                "offer predict_proba"
            )
    return rows


def labels_from_probabilities(
    probabilities: list[dict[str, float]], classes: list[str], threshold: float | None
) -> list[str]:
    """The labels the service would return, from its ``predict_proba`` answer (one request gives both):
    the model's decision threshold on the second class for binary models, the most likely class otherwise."""
    labels = []
    for row in probabilities:
        if len(classes) == 2 and threshold is not None:
            labels.append(classes[1] if row[classes[1]] >= threshold else classes[0])
        else:
            labels.append(max(row, key=row.get))
    return labels


_SWAGGER_TYPES = {"integer": ("numeric", "integer"), "number": ("numeric", "float"), "boolean": ("boolean", "bool")}


def schema_from_swagger(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(input schema, example records) of a scoring service from its Swagger document: what the score
    form needs for a model whose manifest opml does not have (an Azure AutoML service). Reads both the
    ``{"data": [...]}`` and the ``{"Inputs": {"data": [...]}}`` body shapes Azure publishes."""
    service_input = (document.get("definitions") or {}).get("ServiceInput") or {}
    properties = service_input.get("properties") or {}
    example = service_input.get("example") or {}
    if "input_data" in properties and "data" not in properties:
        return _schema_from_split(properties["input_data"], example.get("input_data"))
    if "Inputs" in properties:
        properties = properties["Inputs"].get("properties") or {}
        example = example.get("Inputs") or {}
    data = properties.get("data") or {}
    record = data.get("items") or {}
    columns = record.get("properties") or {}
    if not columns:
        raise InvalidInput("the service's swagger.json does not describe its input records")
    schema = []
    for name, spec in columns.items():
        kind, dtype = _SWAGGER_TYPES.get(spec.get("type"), ("categorical", "string"))
        schema.append({"name": name, "type": kind, "dtype": dtype, "categories": spec.get("enum") or []})
        if spec.get("format") == DATE_TIME:  # as opml's and Azure's documents mark a datetime column
            schema[-1]["format"] = DATE_TIME
    records = example.get("data") or data.get("example") or []
    return schema, [r for r in records if isinstance(r, dict)][:5]


def _schema_from_split(spec: dict[str, Any], example: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(input schema, example records) from the ``input_data`` body an MLflow model on a managed online
    endpoint publishes (a DataFrame in "split" orientation): the column names and types from the row schema
    when the document has one, else from its example (the types of the example's values)."""
    frame = example if isinstance(example, dict) else (spec.get("example") or {})
    columns = [name for name in frame.get("columns") or [] if isinstance(name, str)]
    rows = [row for row in frame.get("data") or [] if isinstance(row, list) and len(row) == len(columns)]
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    typed = (((spec.get("properties") or {}).get("data") or {}).get("items") or {}).get("properties") or {}
    if not columns and not typed:
        raise InvalidInput("the service's swagger.json does not describe its input records (input_data)")
    schema = []
    for name in columns or list(typed):
        if name in typed:
            kind, dtype = _SWAGGER_TYPES.get(typed[name].get("type"), ("categorical", "string"))
        else:
            value = next((record[name] for record in records if record[name] is not None), None)
            if isinstance(value, bool):
                kind, dtype = "boolean", "bool"
            elif isinstance(value, int):
                kind, dtype = "numeric", "integer"
            elif isinstance(value, float):
                kind, dtype = "numeric", "float"
            else:
                kind, dtype = "categorical", "string"
        schema.append(
            {"name": name, "type": kind, "dtype": dtype, "categories": (typed.get(name) or {}).get("enum") or []}
        )
    return schema, records[:5]
