"""The score form's input schema read back from a service's swagger.json: opml's own and Azure's."""

from __future__ import annotations

import pytest

from opml.errors import InvalidInput
from opml.scoring import schema_from_swagger
from opml.serving.swagger import swagger_document

MANIFEST = {
    "input_schema": [
        {"name": "age", "type": "numeric", "dtype": "integer", "min": 17, "max": 98, "default": 40.6},
        {"name": "euribor3m", "type": "numeric", "dtype": "float", "min": 0.6, "max": 5.0, "default": 4.86},
        {"name": "job", "type": "categorical", "categories": ["admin.", "technician"], "default": "admin."},
    ],
    "classes": ["no", "yes"],
    "example": [{"age": 41, "euribor3m": 4.86, "job": "admin."}],
}

# The shape Azure AutoML's scoring_file_v_2_0_0 publishes (inference-schema with Inputs/GlobalParameters).
AZURE_SWAGGER = {
    "swagger": "2.0",
    "definitions": {
        "ServiceInput": {
            "type": "object",
            "properties": {
                "Inputs": {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "age": {"type": "integer", "format": "int64"},
                                    "job": {"type": "string"},
                                    "euribor3m": {"type": "number", "format": "double"},
                                },
                            },
                        }
                    },
                },
                "GlobalParameters": {"type": "object", "properties": {"method": {"type": "string"}}},
            },
            "example": {
                "Inputs": {"data": [{"age": 57, "job": "technician", "euribor3m": 1.3}]},
                "GlobalParameters": {"method": "predict"},
            },
        }
    },
}


def test_opml_swagger_round_trips_names_types_and_example():
    document = swagger_document(service_name="bank", manifest=MANIFEST, auth_enabled=True)
    schema, examples = schema_from_swagger(document)
    assert [(c["name"], c["type"], c["dtype"]) for c in schema] == [
        ("age", "numeric", "integer"),
        ("euribor3m", "numeric", "float"),
        ("job", "categorical", "string"),
    ]
    # The example is made from the schema (medians, most frequent categories), never from training rows.
    assert examples == [
        {"age": 41, "euribor3m": 4.86, "job": "admin."},
        {"age": 41, "euribor3m": 4.86, "job": "technician"},
    ]


def test_the_swagger_example_never_carries_the_manifests_rows():
    leaky = {**MANIFEST, "example": [{"age": 93, "euribor3m": 0.63, "job": "technician"}]}  # an older manifest
    document = swagger_document(service_name="bank", manifest=leaky, auth_enabled=True)
    assert {"age": 93, "euribor3m": 0.63, "job": "technician"} not in schema_from_swagger(document)[1]


def test_azure_automl_swagger_gives_the_form_its_fields():
    schema, examples = schema_from_swagger(AZURE_SWAGGER)
    assert {c["name"]: c["type"] for c in schema} == {"age": "numeric", "job": "categorical", "euribor3m": "numeric"}
    assert examples == [{"age": 57, "job": "technician", "euribor3m": 1.3}]


def test_swagger_without_records_is_a_clear_error():
    with pytest.raises(InvalidInput, match="does not describe its input"):
        schema_from_swagger({"swagger": "2.0", "definitions": {}})


def test_the_split_body_is_documented_beside_the_classic_one():
    import jsonschema
    from openapi_spec_validator import validate

    document = swagger_document(service_name="bank", manifest=MANIFEST, auth_enabled=True, max_rows=3)
    validate(document)  # still a valid Swagger 2.0 document with the extra definitions
    split = document["definitions"]["ServiceInputSplit"]
    example = split["example"]
    jsonschema.validate(example, split)
    frame = example["input_data"]
    assert frame["columns"] == ["age", "euribor3m", "job"] and frame["index"] == [0, 1]
    # The example's rows are the classic example's records, column by column.
    assert [dict(zip(frame["columns"], row, strict=True)) for row in frame["data"]] == (
        document["definitions"]["ServiceInput"]["example"]["data"]
    )
    too_many = {"input_data": {**frame, "data": frame["data"] * 2}}  # 4 rows, max_rows 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_many, split)
    short_row = {"input_data": {**frame, "data": [frame["data"][0][:2]]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(short_row, split)
    # The classic shape still feeds the form (an opml document is read by its {"data": [...]} body).
    assert [c["name"] for c in schema_from_swagger(document)[0]] == ["age", "euribor3m", "job"]
