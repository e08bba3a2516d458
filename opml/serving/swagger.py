"""The Swagger 2.0 document of a scoring service, as Azure ML publishes for its web services."""

from __future__ import annotations

import math
from typing import Any

from opml.data.dates import DATE_TIME, EXAMPLE
from opml.models.manifest import example_records
from opml.serving.validation import MAX_MAGNITUDE


def _column_schema(column: dict[str, Any]) -> dict[str, Any]:
    if column["type"] in ("numeric", "boolean"):
        schema: dict[str, Any] = (
            {"type": "integer", "format": "int64"}
            if column.get("dtype") == "integer"
            else {"type": "number", "format": "double"}
        )
        schema.update(minimum=-MAX_MAGNITUDE, maximum=MAX_MAGNITUDE)
        if column.get("min") is not None:
            schema["description"] = f"training range {column['min']} to {column['max']}"
    elif column.get("format") == DATE_TIME:
        description = f"a date or time in ISO 8601, such as {EXAMPLE}"
        schema = {"type": "string", "format": DATE_TIME, "description": description}
    else:
        categories = column.get("categories") or []
        shown = ", ".join(categories[:20]) + (", …" if len(categories) > 20 else "")
        schema = {"type": "string", "description": f"seen in training: {shown}; other values are accepted"}
    schema["x-nullable"] = True
    return schema


def _example_values(manifest: dict[str, Any], count: int) -> list[float]:
    """Made-up answers of a regression model: the median of its out-of-fold predictions (or of its label)."""
    for summary in (manifest.get("prediction_summary"), manifest.get("label_summary")):
        median = ((summary or {}).get("quantiles") or {}).get("0.5")
        if isinstance(median, (int, float)) and math.isfinite(median):
            return [float(f"{median:.6g}")] * count
    return [0.0] * count


def swagger_document(
    *, service_name: str, manifest: dict[str, Any], auth_enabled: bool, max_rows: int = 10_000
) -> dict[str, Any]:
    """Swagger 2.0 has no oneOf, so the body schema is the classic ``{"data": [...]}`` shape, exactly as
    the server validates it; the Azure ``{"Inputs": ..., "GlobalParameters": ...}`` shape is described
    in words, and the MLflow ``{"input_data": ...}`` shape (SDK v2 managed endpoints) in words and in its own
    definition, ``ServiceInputSplit``, with its answers. Every body that conforms to ``ServiceInput`` is
    answered 200.

    What the answers are depends on the model's task (``info["x-opml-task"]``): a classifier answers labels
    (``SplitOutputLabels``), {class: probability} objects (``SplitOutputProbabilities``) and, for a binary one,
    explanations (``Explanation``); a regressor answers numbers (``SplitOutputValues``) and explanations of
    them (``Explanation``, its regression form); it takes no ``predict_proba``, which is not documented.
    Multiclass models answer no explanations."""
    schema = manifest["input_schema"]
    record = {
        "type": "object",
        "required": [c["name"] for c in schema],
        "properties": {c["name"]: _column_schema(c) for c in schema},
        "additionalProperties": False,
    }
    records = {"type": "array", "items": record, "minItems": 1, "maxItems": max_rows}
    regression = manifest.get("task") == "regression"
    classes = [] if regression else [str(c) for c in manifest.get("classes", [])]
    explainable = regression or len(classes) == 2
    example = example_records(schema)  # also for models whose manifest kept real rows as its example
    if regression:
        label = manifest.get("label_column")
        outputs, output_definitions = _value_outputs(_example_values(manifest, len(example)))
        what = f"regression: predicts {label}" if label else "regression"
        methods = ["predict"]
    else:
        outputs, output_definitions = _class_outputs(classes, example)
        what = f"classes {', '.join(classes)}"
        methods = ["predict", "predict_proba"]
    score = {
        "operationId": "RunMLService",
        "description": "Run the web service's model and get the prediction output",
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "parameters": [
            {
                "name": "serviceInputPayload",
                "in": "body",
                "required": True,
                "description": _body_description(regression, explainable),
                "schema": {"$ref": "#/definitions/ServiceInput"},
            }
        ],
        "responses": {
            "200": {
                "description": "The service processed the input and returned one prediction per record.",
                "schema": {"$ref": "#/definitions/ServiceOutput"},
            },
            "default": {
                "description": "The input was rejected or the service failed; the body says why.",
                "schema": {"$ref": "#/definitions/ErrorResponse"},
            },
        },
    }
    if auth_enabled:
        score["security"] = [{"Bearer": []}]
    definitions: dict[str, Any] = {
        "ServiceInput": {
            "type": "object",
            "properties": {"data": records},
            "required": ["data"],
            "additionalProperties": False,
            "example": {"data": example},
        },
        "ServiceInputSplit": split_input_schema(schema, example, max_rows, methods),
        "ServiceOutput": outputs,
        **output_definitions,
    }
    if regression:
        definitions["Explanation"] = value_explanation_schema(schema)
    elif explainable:
        definitions["Explanation"] = explanation_schema(schema, classes)
    definitions["ErrorResponse"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "status_code": {"type": "integer"}},
        "required": ["error", "status_code"],
    }
    return {
        "swagger": "2.0",
        "info": {
            "title": service_name,
            "description": f"API specification for the opml service {service_name} "
            f"(model {manifest.get('algorithm')}, {what})",
            "version": "1.0",
            "x-opml-task": "regression" if regression else "classification",
        },
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "For example: Bearer abc123",
            }
        },
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Health check: 'Healthy' while the service is up.",
                    "produces": ["text/plain"],
                    "responses": {
                        "200": {"description": "The service is up.", "schema": {"type": "string"}},
                        "default": {
                            "description": "The service is not healthy.",
                            "schema": {"$ref": "#/definitions/ErrorResponse"},
                        },
                    },
                }
            },
            "/score": {"post": score},
        },
        "definitions": definitions,
    }


def _body_description(regression: bool, explainable: bool) -> str:
    if regression:
        return (
            'Either {"data": [records]} (answered with {"result": [numbers]}: one predicted value per record) or '
            '{"Inputs": {"data": [records]}, "GlobalParameters": {"method": "predict" | "explain"}} (answered with '
            '{"Results": [...]}: numbers, or one Explanation per record: the prediction and each input column\'s '
            "contribution to it; at most 1,000 records per explain request), or, as an MLflow model on an Azure ML "
            'managed online endpoint takes it, {"input_data": {"columns": [names], "index": [ids], "data": '
            "[[values], ...]}} (pandas split orientation, index optional; see ServiceInputSplit), answered with a "
            "bare list of numbers (SplitOutputValues). A regression model predicts values: predict_proba is "
            "refused (400). Swagger 2.0 has no oneOf: the schema below is the first shape."
        )
    explain = ' | "explain"' if explainable else ""
    explained = (
        ", or one Explanation per record: the prediction, the probabilities and each input column's contribution "
        "to the probability of the positive class; at most 1,000 records per explain request"
        if explainable
        else ""
    )
    return (
        'Either {"data": [records]} (answered with {"result": [labels]}) or '
        f'{{"Inputs": {{"data": [records]}}, "GlobalParameters": {{"method": "predict" | "predict_proba"{explain}}}}} '
        f'(answered with {{"Results": [...]}}: labels, {{class: probability}} objects (one probability per '
        f"class){explained}), or, as an MLflow model on an Azure ML managed online endpoint takes it, "
        '{"input_data": {"columns": [names], "index": [ids], "data": [[values], ...]}, "params": {"method": '
        '"predict" | "predict_proba"}} (pandas split orientation, index and params optional; see '
        "ServiceInputSplit), answered with a bare list: SplitOutputLabels, or SplitOutputProbabilities for "
        "predict_proba. Swagger 2.0 has no oneOf: the schema below is the first shape."
    )


def _class_outputs(classes: list[str], example: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ServiceOutput, the input_data answers) of a classifier."""
    # No "type": an object for the first two shapes, a list (SplitOutput*) for input_data.
    output = {
        "description": '{"result": [labels]} or {"Results": [...]}; a list for an "input_data" request',
        "properties": {
            "result": {"type": "array", "items": {"type": "string", "enum": classes}},
            "Results": {"type": "array", "items": {}},
        },
        "example": {"result": classes[: len(example)] or classes[:1]},
    }
    split = {
        "SplitOutputLabels": {
            "type": "array",
            "description": "The answer to an input_data request: one label per row",
            "items": {"type": "string", "enum": classes},
            "example": classes[: len(example)] or classes[:1],
        },
        "SplitOutputProbabilities": {
            "type": "array",
            "description": 'The answer to an input_data request with "params": {"method": "predict_proba"}: '
            "one {class: probability} object per row",
            "items": {
                "type": "object",
                "properties": {c: {"type": "number", "minimum": 0, "maximum": 1} for c in classes},
                "required": list(classes),
                "additionalProperties": False,
            },
        },
    }
    return output, split


def _value_outputs(values: list[float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ServiceOutput, the input_data answer) of a regressor: numbers, one per record."""
    numbers = {"type": "array", "items": {"type": "number", "format": "double"}}
    output = {
        "description": '{"result": [numbers]} or {"Results": [numbers]}; a list of numbers for an "input_data" request',
        "properties": {"result": numbers, "Results": numbers},
        "example": {"result": values},
    }
    split = {
        "SplitOutputValues": {
            **numbers,
            "description": "The answer to an input_data request: one predicted value per row",
            "example": values,
        }
    }
    return output, split


def split_input_schema(
    schema: list[dict[str, Any]],
    example: list[dict[str, Any]],
    max_rows: int,
    methods: list[str] | None = None,
) -> dict[str, Any]:
    """The ``{"input_data": ...}`` body (a pandas DataFrame in "split" orientation), as the server validates its
    shape: the columns are the model's (each once; a row's values in their order); the values' types are
    checked as for records (``ServiceInput``), which a row of mixed types cannot say in Swagger 2.0.
    ``methods``: what ``params.method`` may ask for (a regressor: "predict" only)."""
    names = [c["name"] for c in schema]
    frame = {
        "columns": names,
        "index": list(range(len(example))),
        "data": [[record.get(name) for name in names] for record in example],
    }
    return {
        "type": "object",
        "required": ["input_data"],
        "additionalProperties": False,
        "properties": {
            "input_data": {
                "type": "object",
                "required": ["columns", "data"],
                "additionalProperties": False,
                "properties": {
                    "columns": {
                        "type": "array",
                        "description": "Every input column of the model, once, in any order",
                        "items": {"type": "string", "enum": names},
                        "uniqueItems": True,
                        "minItems": len(names),
                        "maxItems": len(names),
                    },
                    "index": {"type": "array", "description": "Optional: one id per row (not used)", "items": {}},
                    "data": {
                        "type": "array",
                        "description": "One row per record: its values in the order of columns (null: missing)",
                        "items": {"type": "array", "items": {}, "minItems": len(names), "maxItems": len(names)},
                        "minItems": 1,
                        "maxItems": max_rows,
                    },
                },
            },
            "params": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"method": {"type": "string", "enum": methods or ["predict", "predict_proba"]}},
            },
        },
        "example": {"input_data": frame},
    }


def explanation_schema(schema: list[dict[str, Any]], classes: list[str]) -> dict[str, Any]:
    """One record's answer to ``"method": "explain"`` (see ``opml.automl.explain.Explanations.record``)."""
    per_column = {
        "type": "object",
        "properties": {c["name"]: {"type": "number"} for c in schema},
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": "base_value + the sum of contributions = the probability of positive_class (and the "
        "same in log_odds). Tree models are explained by exact TreeSHAP, logistic regression by its "
        "coefficients, ensembles by their combination rule (see the opml docs).",
        "properties": {
            "prediction": {"type": "string", "enum": classes},
            "probabilities": {"type": "object", "properties": {c: {"type": "number"} for c in classes}},
            "positive_class": {"type": "string", "enum": classes[1:] or classes},
            "base_value": {"type": "number"},
            "contributions": per_column,
            "log_odds": {
                "type": "object",
                "properties": {"base_value": {"type": "number"}, "contributions": per_column},
            },
        },
        "required": ["prediction", "probabilities", "positive_class", "base_value", "contributions", "log_odds"],
    }


def value_explanation_schema(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """One record's answer to ``"method": "explain"`` from a regression model (see
    ``opml.automl.explain.RegressionExplanations.record``)."""
    per_column = {
        "type": "object",
        "properties": {c["name"]: {"type": "number"} for c in schema},
        "required": [c["name"] for c in schema],
        "additionalProperties": False,
    }
    space = {
        "type": "object",
        "properties": {"base_value": {"type": "number"}, "contributions": per_column},
        "required": ["base_value", "contributions"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": "base_value + the sum of contributions = prediction, the predicted value. Tree models are "
        "explained by exact TreeSHAP, linear models by their coefficients, ensembles by their combination rule "
        "(see the opml docs). log_value, present when the model learns the label's logarithm: the same in log "
        "space (its base_value + the sum of its contributions = log(prediction)).",
        "properties": {
            "prediction": {"type": "number"},
            "base_value": {"type": "number"},
            "contributions": per_column,
            "log_value": space,
        },
        "required": ["prediction", "base_value", "contributions"],
        "additionalProperties": False,
    }
