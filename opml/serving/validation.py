"""Turn a request body into records the model can score, or a 4xx error that names what is wrong."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

METHODS = ("predict", "predict_proba", "explain")
MAX_MAGNITUDE = 1e38  # tree models compare in float32 (largest ~3.4e38)


MAX_QUOTE = 200  # characters of a sent value quoted back in an error
MAX_NAMES = 20  # column names listed in an error


def quote(value: Any) -> str:
    """A sent value as an error quotes it: scalars cut to ``MAX_QUOTE`` characters, containers by their kind
    (a value nested 1,000 deep is not rebuilt as text)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} field(s)"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    if len(text) > MAX_QUOTE:
        return f"{text[:MAX_QUOTE]}… ({len(text):,} characters)"
    return text


def names(items: Sequence[str]) -> str:
    """Column names as an error lists them: the first ``MAX_NAMES``, each cut to 60 characters, then how many
    more."""
    shown = [item if len(item) <= 60 else f"{item[:60]}…" for item in items[:MAX_NAMES]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# The request shapes a service takes, and what each is answered with:
DATA = "data"  # {"data": [records]} -> {"result": [labels]}
INPUTS = "Inputs"  # {"Inputs": {"data": [records]}, "GlobalParameters": {...}} -> {"Results": [...]}
INPUT_DATA = "input_data"  # {"input_data": {"columns", "index", "data"}, "params": {...}} -> [...]
SPLIT_METHODS = ("predict", "predict_proba")  # an MLflow model on Azure ML answers no explanations
SPLIT_HELP = '{"input_data": {"columns": [names], "index": [ids], "data": [[values], ...]}}'


@dataclass(frozen=True)
class Payload:
    records: list[dict[str, Any]]
    method: str
    shape: str = DATA  # DATA, INPUTS or INPUT_DATA: the answer comes back in the same family


def parse_payload(body: bytes) -> Payload:
    if not body.strip():
        raise RequestError(400, 'the request body is empty; send {"data": [ {record}, ... ]}')
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RequestError(400, 'the request body must be a JSON object: {"data": [ {record}, ... ]}')
    if "Inputs" in document:
        inputs = document["Inputs"]
        if not isinstance(inputs, dict) or "data" not in inputs:
            raise RequestError(400, '"Inputs" must be an object with a "data" list of records')
        unexpected = sorted(set(document) - {"Inputs", "GlobalParameters"}) + sorted(
            f"Inputs.{name}" for name in set(inputs) - {"data"}
        )
        if unexpected:
            raise RequestError(400, f'unknown field(s) {names(unexpected)}; send "Inputs": {{"data": [...]}}')
        parameters = document.get("GlobalParameters", {})
        if not isinstance(parameters, dict):
            raise RequestError(400, '"GlobalParameters" must be an object, e.g. {"method": "predict_proba"}')
        method = parameters.get("method", "predict")
        if method not in METHODS:
            raise RequestError(
                400, f'GlobalParameters "method" must be "predict", "predict_proba" or "explain", got {quote(method)}'
            )
        unknown = set(parameters) - {"method"}
        if unknown:
            raise RequestError(400, f"unknown GlobalParameters: {names(sorted(map(str, unknown)))}")
        return Payload(_records(inputs["data"]), method, INPUTS)
    if "data" in document:
        extra = set(document) - {"data"}
        if extra:
            raise RequestError(400, f'unknown top-level field(s) {names(sorted(extra))}; send only "data"')
        return Payload(_records(document["data"]), "predict", DATA)
    if "input_data" in document:
        return _input_data(document)
    raise RequestError(
        400,
        'the request body must be {"data": [ {record}, ... ]}, '
        '{"Inputs": {"data": [...]}, "GlobalParameters": {...}} or ' + SPLIT_HELP,
    )


def _input_data(document: dict[str, Any]) -> Payload:
    """The body an MLflow model on an Azure ML managed online endpoint takes: a pandas DataFrame in "split"
    orientation under ``input_data`` (``index`` optional, as pandas reads it), and optional ``params``
    (``{"method": "predict_proba"}`` asks for probabilities). Its rows become records keyed by column, so the
    schema check, telemetry, data collection and mirroring see the same records as for ``{"data": [...]}``."""
    extra = set(document) - {"input_data", "params"}
    if extra:
        raise RequestError(400, f'unknown top-level field(s) {names(sorted(map(str, extra)))}; send "input_data" '
                                'and optionally "params"')  # fmt: skip
    frame = document["input_data"]
    if isinstance(frame, list):  # records or a bare tensor: Azure ML takes neither for a tabular model
        raise RequestError(
            400, f'"input_data" must be a DataFrame in pandas "split" orientation: {SPLIT_HELP} (a list is not '
            'taken; to send records use {"data": [ {record}, ... ]})'
        )  # fmt: skip
    if not isinstance(frame, dict):
        raise RequestError(400, f'"input_data" must be an object, got {quote(frame)}: send {SPLIT_HELP}')
    unknown = set(frame) - {"columns", "index", "data"}
    if unknown:
        raise RequestError(
            400, f"unknown field(s) in input_data: {names(sorted(map(str, unknown)))}; send {SPLIT_HELP}"
        )
    missing = [field for field in ("columns", "data") if field not in frame]
    if missing:
        raise RequestError(400, f"input_data lacks {' and '.join(missing)}: send {SPLIT_HELP}")
    columns, rows = frame["columns"], frame["data"]
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise RequestError(400, f'"input_data.columns" must be a list of column names (strings), got {quote(columns)}')
    if len(set(columns)) != len(columns):
        repeated = sorted(name for name, count in Counter(columns).items() if count > 1)  # linear: columns may be many
        raise RequestError(400, f"input_data.columns names a column more than once: {names(repeated)}")
    if not isinstance(rows, list):
        raise RequestError(400, f'"input_data.data" must be a list of rows (lists of values), got {quote(rows)}')
    if not rows:
        raise RequestError(400, '"input_data.data" is empty: send at least one row')
    width = len(columns)
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise RequestError(
                400, f"input_data.data[{index}] must be a list of values in the order of columns, got {quote(row)}"
            )
        if len(row) != width:
            raise RequestError(
                400, f"input_data.data[{index}] has {len(row)} value(s); input_data.columns names {width}"
            )
    if "index" in frame:
        ids = frame["index"]
        if not isinstance(ids, list) or len(ids) != len(rows):
            shown = f"{len(ids)} item(s)" if isinstance(ids, list) else quote(ids)
            raise RequestError(400, f'"input_data.index" must be a list with one id per row ({len(rows)}), got {shown}')
        if any(isinstance(item, (list, dict)) for item in ids):
            raise RequestError(400, '"input_data.index" must hold scalars (one id per row)')
    method = "predict"
    if "params" in document:
        params = document["params"]
        if not isinstance(params, dict):
            raise RequestError(
                400, f'"params" must be an object, e.g. {{"method": "predict_proba"}}, got {quote(params)}'
            )
        unknown = set(params) - {"method"}
        if unknown:
            raise RequestError(400, f'unknown params: {names(sorted(map(str, unknown)))}; this model takes "method"')
        method = params.get("method", "predict")
        if method not in SPLIT_METHODS:
            raise RequestError(
                400, f'params "method" must be "predict" or "predict_proba", got {quote(method)} (explanations are '
                'asked with {"Inputs": {"data": [...]}, "GlobalParameters": {"method": "explain"}})'
            )  # fmt: skip
    # Row i is record i: the schema check's "record i" names input_data.data[i].
    return Payload([dict(zip(columns, row, strict=True)) for row in rows], method, INPUT_DATA)


def _records(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise RequestError(400, '"data" must be a list of records (JSON objects keyed by column name)')
    if not data:
        raise RequestError(400, '"data" is empty: send at least one record')
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise RequestError(
                400, f"record {index} must be a JSON object keyed by column name, got {type(record).__name__}"
            )
    return data


class SchemaValidator:
    """Checks records against a model's input schema (from its manifest)."""

    def __init__(self, schema: Sequence[dict[str, Any]], *, max_rows: int):
        self.columns = [column["name"] for column in schema]
        self.required = set(self.columns)
        self.numeric = {c["name"] for c in schema if c["type"] in ("numeric", "boolean")}
        self.max_rows = max_rows

    def check(self, records: list[dict[str, Any]]) -> None:
        if len(records) > self.max_rows:
            raise RequestError(
                413, f"{len(records)} records in one request; the limit is {self.max_rows}: send batches"
            )
        for index, record in enumerate(records):
            if record.keys() != self.required:
                missing = sorted(self.required - record.keys())
                unknown = sorted(record.keys() - self.required)
                parts = []
                if missing:
                    parts.append(f"missing column(s): {names(missing)}")
                if unknown:
                    parts.append(f"unknown column(s): {names(unknown)}")
                raise RequestError(400, f"record {index}: {'; '.join(parts)}")
            for name, value in record.items():
                if value is None:
                    continue
                if name in self.numeric:
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                        raise RequestError(400, f"record {index}: column {name!r} must be a number, got {quote(value)}")
                    if abs(value) > MAX_MAGNITUDE:
                        raise RequestError(400, f"record {index}: column {name!r} is out of range (|value| > 1e38)")
                elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise RequestError(400, f"record {index}: column {name!r} must be text, got {quote(value)}")
