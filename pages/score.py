"""Score: predictions through a service's HTTP endpoint from a form, a CSV batch, or your own code."""

import time

import pandas as pd
import plotly.express as px
import streamlit as st

from opml.client import get_swagger, score
from opml.errors import OpmlError
from opml.reasons import top_reasons
from opml.scoring import (
    DATE_TIME,
    EXAMPLE,
    coerce,
    explained_values,
    labels_from_probabilities,
    out_of_range,
    output_of_manifest,
    output_of_swagger,
    predicted_values,
    probability_rows,
    read_scoring_csv,
    schema_from_swagger,
    score_in_chunks,
    scored_csv,
)
from opml.snippets import KEY_PLACEHOLDER, ab_snippet, curl_snippet, python_snippet, request_body
from opml.ui.access import audit_once, secret_toggle
from opml.ui.charts import explanation_waterfall
from opml.ui.feedback import user_errors
from opml.ui.forms import keep_choice
from opml.ui.workspace import get_backend

st.title("Score")
backend = get_backend()
services = backend.list_services()
if not services:
    st.info("No endpoints yet: deploy a model on the Endpoints page.")
    st.stop()

names = [s.name for s in services]
name = st.selectbox("Endpoint", names, key="score_service")
service = backend.get_service(name)
BY_SPLIT = "By traffic split"
deployments = {d.name: d for d in service.deployments}
keep_choice("score_deployment", [BY_SPLIT, *deployments])
chosen_deployment = st.selectbox(
    "Deployment",
    [BY_SPLIT, *deployments],
    key="score_deployment",
    help="Which of the endpoint's deployments answers: the traffic split decides, or one named with the "
    "azureml-model-deployment header",
)
deployment = None if chosen_deployment == BY_SPLIT else chosen_deployment
# The form follows the input schema of the deployment picked (it may differ from the endpoint's, once confirmed).
answering = deployments[deployment].model if deployment else service.model
model = backend.resolve_model(answering)
manifest = model.manifest
if "input_schema" in manifest:
    schema, examples = manifest["input_schema"], manifest.get("example", [])
    output = output_of_manifest(manifest)
else:  # a model opml did not train (Azure AutoML): its service's swagger.json describes the input and the answer
    try:
        document = get_swagger(service.swagger_uri)
        schema, examples = schema_from_swagger(document)
    except OpmlError as exc:
        st.error(f"Cannot read the input schema of {name} from {service.swagger_uri}: {exc}", icon=":material/error:")
        st.stop()
    output = output_of_manifest(manifest) if "task" in manifest else output_of_swagger(document)
classes = list(output.classes) or [str(c) for c in manifest.get("classes") or []]
# A regression model's service answers a number per record: no probabilities to ask for, no classes.
regression = output.regression
key = backend.get_service_keys(name).primary if service.auth_enabled else None
answers = (
    f"deployment {deployment}: model {model.id} ({model.algorithm})"
    if deployment
    else "traffic split " + ", ".join(f"{d.name} {d.traffic} % ({d.model})" for d in service.deployments if d.traffic)
)
st.caption(f"{service.state} · {answers} · {service.scoring_uri}")
if service.state != "Healthy":
    st.warning(f"The endpoint is {service.state}: requests may fail until it is Healthy.")

rows_key = f"score_rows_{name}"
if st.session_state.get(f"{rows_key}_model") != model.id:  # another deployment's model: its own columns
    st.session_state.pop(rows_key, None)
    st.session_state[f"{rows_key}_model"] = model.id
if rows_key not in st.session_state:
    st.session_state[rows_key] = pd.DataFrame(examples[:1], columns=[c["name"] for c in schema])
example = (examples or [{}])[0]

SPLIT_LABEL = 'MLflow / Azure SDK v2: {"input_data": {"columns", "data"}}'
form_tab, batch_tab, snippets_tab = st.tabs(["Form", "Batch (CSV)", "Snippets"], key="score_tabs")
result_key = f"score_result_{name}"


# The body the endpoint takes: {"data": [...]}, or MLflow's {"input_data": ...} on an SDK v2 managed endpoint.
request_format = service.request_format
# Models opml trained explain their answers (binary classification and regression; multiclass models do not);
# Azure AutoML's scoring scripts and MLflow models on managed endpoints (the input_data shape) do not.
explainable = "input_schema" in manifest and output.explainable and request_format == "data"


def send(records: list[dict], source: str, explain: bool) -> None:
    """Score ``records`` through the endpoint (one request: probabilities, or explanations that hold them)
    and keep what was sent with what came back."""
    if not records:
        raise OpmlError("add at least one record to the table to score it")
    result = score(
        service.scoring_uri,
        records,
        key=key,
        probabilities=not regression,
        explain=explain,
        task=output.task,
        deployment=deployment,
        request_format=request_format,
    )
    # Checked here, so an answer without probabilities (or numbers) is an error now, not a broken result later.
    if regression and explain:
        explained_values(result.predictions)
    elif regression:
        predicted_values(result.predictions)
    else:
        probability_rows([e["probabilities"] for e in result.predictions] if explain else result.predictions, classes)
    st.session_state[result_key] = (source, records, result, explain)


with form_tab:
    explain_on = explainable and st.toggle(
        "Explain the predictions",
        value=True,
        key="score_explain",
        help=f"Each column's contribution to the {'predicted value' if regression else 'probability'} (exact "
        "TreeSHAP for tree models)",
    )
    with st.form(f"score_form_{name}"):
        columns = st.columns(3)
        record = {}
        for index, column in enumerate(schema):
            target = columns[index % 3]
            default = example.get(column["name"], column.get("default"))
            widget_key = f"score_field_{name}_{column['name']}"
            if column.get("format") == DATE_TIME:  # any date or time, typed
                text = "" if default is None else str(default)
                record[column["name"]] = target.text_input(
                    column["name"], value=text, help=f"a date or time in ISO 8601, such as {EXAMPLE}", key=widget_key
                )
            elif column["type"] == "categorical" and not column.get("categories"):
                text = "" if default is None else str(default)
                record[column["name"]] = target.text_input(column["name"], value=text, key=widget_key)
            elif column["type"] == "categorical":
                options = list(column.get("categories") or [])
                if default is not None and default not in options:
                    options.insert(0, default)
                record[column["name"]] = target.selectbox(
                    column["name"], options, index=options.index(default) if default in options else 0, key=widget_key
                )
            else:
                integer = column.get("dtype") == "integer"
                value = default if default is not None else 0
                # Ten significant digits, shown and sent alike (92.89299999999999 is 92.893 on both).
                record[column["name"]] = target.number_input(
                    column["name"],
                    value=int(value) if integer else float(f"{float(value):.10g}"),
                    step=1 if integer else None,
                    format=None if integer else "%.10g",
                    help=f"training range {column.get('min')} to {column.get('max')}",
                    key=widget_key,
                )
        left, right = st.columns([1, 4])
        score_record = left.form_submit_button(
            "Score this record", type="primary", icon=":material/bolt:", key="score_record"
        )
        add = right.form_submit_button("Add to the table", icon=":material/add:", key="score_add")
    if score_record or add:
        if score_record:  # a new record's answer, or its error: never the last record's answer under it
            st.session_state.pop(result_key, None)
        with user_errors():
            record = {c["name"]: coerce(c, record[c["name"]]) for c in schema}
            for warning in out_of_range(record, schema):
                st.warning(f"{'Flagged, still sent' if score_record else 'Flagged, still added'}: {warning}")
            if score_record:
                send([record], "the form's record", explain_on)
            else:
                st.session_state[rows_key] = pd.concat(
                    [st.session_state[rows_key], pd.DataFrame([record])], ignore_index=True
                )
                st.caption(f"Added: the table has {len(st.session_state[rows_key])} record(s).")

    st.caption("Records to score together (edit cells, add or delete rows)")
    edited = st.data_editor(st.session_state[rows_key], num_rows="dynamic", key=f"score_editor_{name}")
    if st.button("Score the table", key="score_table", icon=":material/table_rows:"):
        st.session_state.pop(result_key, None)
        with user_errors():
            rows = [{c["name"]: coerce(c, row[c["name"]]) for c in schema} for row in edited.to_dict("records")]
            send(rows, f"the table's {len(rows)} record(s)", explain_on)
    if result_key in st.session_state:
        source, records, result, explained = st.session_state[result_key]
        explanations = result.predictions if explained else None
        if regression:
            labels = explained_values(explanations) if explanations else predicted_values(result.predictions)
            table = pd.DataFrame({"record": range(len(labels)), "prediction": labels})
        else:
            probabilities = probability_rows(
                [e["probabilities"] for e in explanations] if explanations else result.predictions, classes
            )
            shown_classes = classes or list(probabilities[0])
            labels = labels_from_probabilities(probabilities, shown_classes, output.threshold)
            table = pd.DataFrame({"record": range(len(labels)), "prediction": labels})
            for cls in shown_classes:
                table[f"P({cls})"] = [round(p[cls], 4) for p in probabilities]
        answered = f" · answered by deployment **{result.deployment}**" if result.deployment else ""
        st.success(
            f"{len(labels)} prediction(s) for {source} in {result.latency_ms:.1f} ms · request {result.request_id}"
            + answered
        )
        st.caption("What was sent, with what came back")
        st.dataframe(pd.concat([table, pd.DataFrame(records)], axis=1), hide_index=True, key="score_results")
        if regression:
            target = output.label_column or "prediction"
            bars = px.bar(table, x="record", y="prediction", labels={"prediction": f"predicted {target}"})
            st.plotly_chart(bars.update_xaxes(type="category"), key="score_chart")
        else:
            long = table.melt(id_vars=["record", "prediction"], var_name="class", value_name="probability")
            figure = px.bar(long, x="record", y="probability", color="class", barmode="group")
            st.plotly_chart(figure, key="score_chart")
        for index, sent in enumerate(records):
            for warning in out_of_range(sent, schema):
                st.caption(f"record {index}: {warning}")
        if explanations:
            chosen = 0
            if len(explanations) > 1:
                chosen = st.selectbox("Record to explain", range(len(explanations)), key="score_explain_record")
            label = output.label_column if regression else None
            reasons = top_reasons(explanations[chosen], records[chosen], 3, label=label)
            st.markdown("**Top reasons:** " + "; ".join(reasons or ["none"]))
            waterfall = explanation_waterfall(explanations[chosen], records[chosen], label=label)
            st.plotly_chart(waterfall, key="score_waterfall")
            st.caption(
                (
                    "The base value is what the model predicts for an average training record (for a model of the "
                    "label's logarithm, exp of its average logarithm); each bar is one column's contribution for "
                    "this record, in the label's units."
                )
                if regression
                else (
                    "The base value is what the model says of an average training record (for boosting models, "
                    "its average log-odds as a probability); each bar is one column's contribution for this record."
                )
            )
        with st.expander("Request and response"):
            masked = {"Content-Type": "application/json"}
            if key:
                masked["Authorization"] = "Bearer " + key[:4] + "…" + "•" * 8
            st.json({"POST": service.scoring_uri, "headers": masked, "body": result.request_body}, expanded=False)
            st.json(result.response_body, expanded=False)

with batch_tab:
    batch_key = f"score_batch_result_{name}"
    upload = st.file_uploader("CSV with the training columns", type=["csv"], key=f"score_upload_{name}")
    kept = st.session_state.get(batch_key)
    if upload is None or (kept is not None and kept[0] != upload.file_id):
        st.session_state.pop(batch_key, None)  # results belong to the file they came from
    if upload is not None:
        with user_errors():
            try:
                batch = read_scoring_csv(upload.getvalue(), schema, label=manifest.get("label_column"))
            except OpmlError:
                st.session_state.pop(batch_key, None)
                raise
            st.caption(
                f"{len(batch.records):,} rows; extra columns kept: "
                f"{', '.join(c for c in batch.frame.columns if c not in {s['name'] for s in schema}) or 'none'}"
            )
            with_reasons = explainable and st.checkbox(
                "Add the top 3 reasons per row to the download", key="score_batch_reasons"
            )
            if st.button("Score the file", type="primary", key="score_batch"):
                st.session_state.pop(batch_key, None)
                bar = st.progress(0.0, text="Scoring…")
                started = time.perf_counter()
                answers = score_in_chunks(
                    service.scoring_uri,
                    batch.records,
                    key=key,
                    probabilities=not regression,
                    explain=with_reasons,
                    on_progress=lambda done, total: bar.progress(done / total, text=f"{done:,} / {total:,} rows"),
                    deployment=deployment,
                    request_format=request_format,
                )
                reasons = None
                if regression and with_reasons:
                    labels, probabilities = explained_values(answers), None
                    label = output.label_column
                    reasons = [top_reasons(a, r, 3, label=label) for a, r in zip(answers, batch.records, strict=True)]
                elif regression:
                    labels, probabilities = predicted_values(answers), None
                else:
                    probabilities = probability_rows(answers, classes)
                    if with_reasons:
                        probabilities = [answer["probabilities"] for answer in answers]
                        reasons = [top_reasons(a, r, 3) for a, r in zip(answers, batch.records, strict=True)]
                    labels = labels_from_probabilities(probabilities, classes, output.threshold)
                st.session_state[batch_key] = (upload.file_id, batch, labels, probabilities, reasons)
                seconds = time.perf_counter() - started
                took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
                by = f"deployment {deployment}" if deployment else "the traffic split"
                st.success(f"Scored {len(labels):,} rows in {took} (answered by {by})")
    if batch_key in st.session_state:
        _, batch, labels, probabilities, reasons = st.session_state[batch_key]
        output = batch.frame.assign(prediction=labels)
        if reasons:
            output = output.assign(reasons=["; ".join(row) for row in reasons])
        st.dataframe(output.head(200), key="score_batch_preview")
        if batch.label_column and regression:
            truth = pd.to_numeric(batch.frame[batch.label_column], errors="coerce")
            errors = (truth - pd.Series(labels, index=truth.index)).dropna()
            left, middle, right = st.columns(3)
            left.metric("MAE against the file's labels", f"{errors.abs().mean():.4g}")
            middle.metric("RMSE", f"{(errors**2).mean() ** 0.5:.4g}")
            right.metric("Rows with a numeric label", f"{len(errors):,}")
            versus = pd.DataFrame({"predicted": labels, "true": truth})
            st.plotly_chart(
                px.scatter(versus, x="predicted", y="true", title="Predicted vs the file's labels"),
                key="score_batch_versus",
            )
        elif batch.label_column:
            truth = batch.frame[batch.label_column].astype(str)
            accuracy = float((truth.to_numpy() == pd.Series(labels).to_numpy()).mean())
            st.metric("Accuracy against the file's labels", f"{accuracy:.4f}")
            confusion = pd.crosstab(truth.rename("actual"), pd.Series(labels, name="predicted"))
            st.plotly_chart(px.imshow(confusion, text_auto=True, title="Confusion matrix"), key="score_batch_confusion")
        st.download_button(
            "Download scored CSV",
            data=scored_csv(batch.frame, labels, probabilities, reasons),
            file_name=f"{name}-scored.csv",
            key="score_batch_download",
            icon=":material/download:",
        )

with snippets_tab:
    reveal = service.auth_enabled and secret_toggle("Put the real key in the snippets", key="score_reveal")
    if reveal:
        audit_once(backend, "reveal_service_key", f"service {name}")
    shown_key = (key if reveal else KEY_PLACEHOLDER) if service.auth_enabled else None
    records = [{c["name"]: coerce(c, row[c["name"]]) for c in schema} for row in edited.to_dict("records")] or [example]
    body_format = request_format
    if request_format == "data":  # opml's service also takes MLflow's body: a client written for Azure's works
        body_format = st.radio(
            "Request body",
            ["data", "input_data"],
            horizontal=True,
            key="score_snippet_format",
            format_func={"data": 'opml / Azure SDK v1: {"data": [records]}', "input_data": SPLIT_LABEL}.get,
        )
    if body_format == "input_data":
        st.caption(
            'This endpoint takes the MLflow {"input_data": {"columns", "index", "data"}} body (pandas split '
            'orientation) and answers a list, one prediction per record; add "params": {"method": "predict_proba"} '
            "for probabilities."
        )
    st.caption("curl")
    st.code(curl_snippet(service.scoring_uri, records, shown_key, deployment, body_format), language="bash")
    st.caption("Python (endpoint.py)")
    st.code(python_snippet(service.scoring_uri, records, shown_key, deployment, body_format), language="python")
    st.caption("data.json, then ApacheBench")
    st.code(request_body(records, body_format), language="json")
    st.code(ab_snippet(service.scoring_uri, shown_key, deployment=deployment), language="bash")
    st.caption("Swagger: " + service.swagger_uri)
