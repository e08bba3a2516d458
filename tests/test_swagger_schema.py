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


REGRESSION_MANIFEST = {
    "task": "regression",
    "label_column": "price",
    "algorithm": "LightGBM",
    "input_schema": MANIFEST["input_schema"],
    "classes": [],
    "label_summary": {"mean": 3900.0, "std": 4000.0, "quantiles": {"0.5": 2401.0}},
    "prediction_summary": {"quantiles": {"0.0": 300.0, "0.5": 2456.789123, "1.0": 18000.0}},
}
MULTICLASS_MANIFEST = {**MANIFEST, "task": "classification", "classes": ["Fair", "Good", "Ideal", "Premium"]}


def test_a_regression_document_answers_numbers_and_explanations_and_offers_no_probabilities():
    import jsonschema
    from openapi_spec_validator import validate

    from opml.scoring import ServiceOutput, output_of_swagger

    document = swagger_document(service_name="diamonds", manifest=REGRESSION_MANIFEST, auth_enabled=False)
    validate(document)
    definitions = document["definitions"]
    assert document["info"]["x-opml-task"] == "regression" and "predicts price" in document["info"]["description"]
    assert {"SplitOutputProbabilities", "SplitOutputLabels"}.isdisjoint(definitions)
    output = definitions["ServiceOutput"]
    # The example answer: the out-of-fold predictions' median (6 significant digits), one per example record.
    assert output["example"] == {"result": [2456.79, 2456.79]}
    for answer in ({"result": [1.5, 20000.0]}, {"Results": [3.0]}, [2.5, 7.0]):
        jsonschema.validate(answer, output)
    jsonschema.validate([2.5, 7], definitions["SplitOutputValues"])
    for wrong in ({"result": ["Ideal"]}, {"Results": [{"a": 0.5}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, output)
    split = definitions["ServiceInputSplit"]
    jsonschema.validate({**split["example"], "params": {"method": "predict"}}, split)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**split["example"], "params": {"method": "predict_proba"}}, split)
    description = document["paths"]["/score"]["post"]["parameters"][0]["description"]
    assert "numbers" in description and "predict_proba is refused" in description and '"explain"' in description
    assert output_of_swagger(document) == ServiceOutput("regression")
    # One record's explanation: the prediction, the base value, a contribution per input column, and the same in
    # log space for a model of the label's logarithm (real answers are validated in test_serving_tasks.py).
    explanation = definitions["Explanation"]
    columns = {"age": 120.5, "euribor3m": -30.0, "job": 4.25}
    answer = {"prediction": 3994.75, "base_value": 3900.0, "contributions": columns}
    jsonschema.validate(answer, explanation)
    jsonschema.validate({**answer, "log_value": {"base_value": 8.27, "contributions": columns}}, explanation)
    for wrong in (
        {**answer, "prediction": "yes"},  # a classifier's
        {**answer, "positive_class": "yes"},
        {**answer, "contributions": {"age": 120.5}},  # a column missing
        {**answer, "contributions": {**columns, "unknown": 1.0}},
        {key: value for key, value in answer.items() if key != "base_value"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, explanation)
    # Without summaries (an older manifest), the example answers are still numbers.
    bare = {key: value for key, value in REGRESSION_MANIFEST.items() if not key.endswith("_summary")}
    assert swagger_document(service_name="d", manifest=bare, auth_enabled=False)["definitions"]["ServiceOutput"][
        "example"
    ] == {"result": [0.0, 0.0]}


def test_a_multiclass_document_has_one_probability_per_class_and_no_explanations():
    import jsonschema
    from openapi_spec_validator import validate

    from opml.scoring import ServiceOutput, output_of_swagger

    document = swagger_document(service_name="cut", manifest=MULTICLASS_MANIFEST, auth_enabled=True)
    validate(document)
    definitions = document["definitions"]
    classes = MULTICLASS_MANIFEST["classes"]
    assert "Explanation" not in definitions  # explanations cover binary models
    assert definitions["SplitOutputLabels"]["items"]["enum"] == classes
    probabilities = definitions["SplitOutputProbabilities"]
    jsonschema.validate([dict.fromkeys(classes, 0.25)], probabilities)
    with pytest.raises(jsonschema.ValidationError):  # a class missing
        jsonschema.validate([dict.fromkeys(classes[:3], 1 / 3)], probabilities)
    jsonschema.validate({"result": ["Good", "Premium"]}, definitions["ServiceOutput"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"result": [3.5]}, definitions["ServiceOutput"])
    assert output_of_swagger(document) == ServiceOutput("classification", tuple(classes))
    # A binary model keeps its explanations.
    assert "Explanation" in swagger_document(service_name="b", manifest=MANIFEST, auth_enabled=True)["definitions"]


def test_the_task_of_an_azure_swagger_is_read_from_its_answers():
    from opml.scoring import ServiceOutput, output_of_swagger

    numbers = {"type": "object", "properties": {"Results": {"type": "array", "items": {"type": "number"}}}}
    regression = {**AZURE_SWAGGER, "definitions": {**AZURE_SWAGGER["definitions"], "ServiceOutput": numbers}}
    assert output_of_swagger(regression) == ServiceOutput("regression")
    labels = {"type": "object", "properties": {"Results": {"type": "array", "items": {"type": "string"}}}}
    classified = output_of_swagger({**AZURE_SWAGGER, "definitions": {"ServiceOutput": labels}})
    assert classified == ServiceOutput("classification") and classified.probabilities
    assert output_of_swagger(AZURE_SWAGGER).task == "classification"  # nothing said: a classifier's, as before
