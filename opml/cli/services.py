"""``opml`` commands for scoring services and for scoring records through them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from opml.cli import deployments
from opml.cli.common import (
    add_instance_options,
    audit,
    backend_of,
    command,
    emit,
    group,
    model_reference,
    print_json,
    print_table,
    since_hours,
    three_decimals,
)
from opml.errors import InvalidInput
from opml.rollout import DEFAULT_DEPLOYMENT

SERVICE_COLUMNS = ("name", "model", "state", "auth_enabled", "app_insights_enabled", "data_collection", "scoring_uri")


def _on_off(value: str | None) -> bool | None:
    return None if value is None else value == "on"


def cmd_deploy(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    model = backend.resolve_model(model_reference(args.model, args.version))
    service = backend.deploy_model(
        name=args.name,
        model_name=model.name,
        model_version=model.version,
        auth_enabled=not args.no_auth,
        app_insights_enabled=args.app_insights == "on",
        port=args.port,
        description=args.description,
        data_collection=args.data_collection == "on",
        collection_sampling_rate=args.sampling,
        collection_retention_days=args.retention_days,
        deployment_name=args.deployment,
        instance_type=args.instance_type,
        instance_count=args.instance_count,
    )
    audit(backend, "deploy_service", f"service {service.name} ({service.model})")
    if args.wait:
        service = backend.wait_for_service(service.name, timeout=args.wait_seconds)
    emit(args, service, ())
    return 0 if service.state != "Failed" else 1


def cmd_list(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).list_services(), SERVICE_COLUMNS)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).get_service(args.name), ())
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    keys = backend.get_service_keys(args.name)
    audit(backend, "reveal_service_key", f"service {args.name}")  # recorded before the keys are printed
    if args.json:
        print_json({"primaryKey": keys.primary, "secondaryKey": keys.secondary})
    else:
        print(f"primary: {keys.primary}\nsecondary: {keys.secondary}")
    return 0


def cmd_regenerate(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    keys = backend.regenerate_service_key(args.name, args.key)
    audit(backend, "regenerate_service_key", f"{args.key.lower()} key of service {args.name}")
    print(f"{args.key.lower()}: {keys.primary if args.key.lower() == 'primary' else keys.secondary}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    changes = (args.app_insights, args.auth, args.data_collection, args.sampling, args.retention_days)
    if all(change is None for change in changes):
        raise InvalidInput(
            "nothing to update: give --app-insights on|off, --auth on|off, --data-collection on|off, "
            "--sampling R and/or --retention-days D"
        )
    service = backend_of(args).update_service(
        args.name,
        app_insights_enabled=_on_off(args.app_insights),
        auth_enabled=_on_off(args.auth),
        data_collection=_on_off(args.data_collection),
        collection_sampling_rate=args.sampling,
        collection_retention_days=args.retention_days,
    )
    emit(args, service, ())
    return 0


def cmd_collected(args: argparse.Namespace) -> int:
    since = since_hours(args.hours)
    rows = backend_of(args).get_collected_data(args.name, since=since, limit=args.limit)
    if args.json:
        print_json(rows)
        return 0
    shown = [
        {
            **row,
            "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["at"])),
            **{
                key: f"{value:.3f}"
                for key, value in row.items()
                if key.startswith("output.proba.") and value is not None
            },
        }
        for row in rows
    ]
    columns = ["at", "request_id", "record", "output.label"]
    columns += [key for key in (rows[0] if rows else {}) if key.startswith("output.proba.")]
    print_table(shown, columns)
    print(
        f"({len(rows)} collected record(s) in the last {args.hours:g} h; --json gives the inputs too)", file=sys.stderr
    )
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from opml.monitoring.labels import check_labels, name_csv_line, read_labels_csv

    labels, lines = read_labels_csv(_read_file(args.csv))
    check_labels(labels, where=lambda index: f"{args.csv}, line {lines[index]}")  # the CSV's own lines named
    backend = backend_of(args)
    try:
        stored = backend.add_service_labels(args.name, labels)
    except InvalidInput as exc:  # a label that is not a class of the model: name the CSV line
        raise InvalidInput(name_csv_line(str(exc), lines, args.csv)) from None
    print(f"stored {stored:,} label(s) for service {args.name}")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).restart_service(args.name), ())
    return 0


def cmd_telemetry(args: argparse.Namespace) -> int:
    since = since_hours(args.hours)
    backend = backend_of(args)
    service = backend.get_service(args.name)
    summary = backend.get_service_telemetry_summary(
        args.name, since=since, bucket_seconds=args.bucket_seconds, recent=args.recent
    )
    if args.json:
        print_json(
            {
                **vars(summary),
                "dropped": service.telemetry_dropped,
                "mirror_dropped": service.mirror_dropped,
                "export": service.telemetry_note,
            }
        )
        return 0
    rate = 100 * summary.failed / summary.requests if summary.requests else 0.0
    print(f"{summary.requests:,} request(s) in the last {args.hours:g} h, {rate:.1f} % failed")
    if service.telemetry_dropped:
        print(f"{service.telemetry_dropped:,} request(s) could not be recorded")
    if service.mirror_dropped:
        print(f"{service.mirror_dropped:,} mirrored request(s) were not scored: the shadow deployment fell behind")
    if service.telemetry_note:
        print(service.telemetry_note)
    rows = [
        {
            "start (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime(bucket["at"])),
            "requests": bucket["requests"],
            "failed": bucket["failed"],
            "p50 ms": f"{bucket['p50']:.1f}",
            "p95 ms": f"{bucket['p95']:.1f}",
            "p99 ms": f"{bucket['p99']:.1f}",
        }
        for bucket in summary.buckets
    ]
    print_table(rows, ["start (UTC)", "requests", "failed", "p50 ms", "p95 ms", "p99 ms"])
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    print(backend_of(args).get_service_logs(args.name, tail=args.tail))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    backend.delete_service(args.name)
    if args.wait:
        deadline = time.monotonic() + 60
        while any(s.name == args.name for s in backend.list_services()) and time.monotonic() < deadline:
            time.sleep(0.2)
    print(f"deleting service {args.name}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    backend.get_service(args.name)
    alerts = backend.list_alerts(args.name, state=args.state, limit=args.limit)
    if args.json:
        emit(args, alerts, ())
        return 0
    from opml.monitoring.rules import KINDS

    rows = [
        {
            "id": alert.id,
            "state": alert.state,
            "rule": alert.rule_name,
            "value": KINDS[alert.kind].words(alert.value),
            "fired (UTC)": alert.fired_at.strftime("%Y-%m-%d %H:%M:%S"),
            "resolved (UTC)": alert.resolved_at.strftime("%Y-%m-%d %H:%M:%S") if alert.resolved_at else "",
            "webhook": alert.webhook_status or "",
            "run": alert.run_id or "",
        }
        for alert in alerts
    ]
    print_table(rows, ["id", "state", "rule", "value", "fired (UTC)", "resolved (UTC)", "webhook", "run"])
    return 0


def cmd_alert_rules(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    backend.get_service(args.name)
    rules = backend.list_alert_rules(args.name)
    if args.json:
        emit(args, rules, ())
        return 0
    from opml.monitoring.rules import shown_url

    rows = [
        {
            "id": rule.id,
            "name": rule.name,
            "kind": rule.kind,
            "threshold": f"{rule.threshold:g}",
            "window": f"{rule.window_minutes:g} min",
            "for": f"{rule.for_minutes:g} min",
            "enabled": "yes" if rule.enabled else "no",
            "webhook": shown_url(rule.webhook_url),
            "pipeline": rule.pipeline or "",
            "last evaluation": rule.note,
        }
        for rule in rules
    ]
    print_table(
        rows, ["id", "name", "kind", "threshold", "window", "for", "enabled", "webhook", "pipeline", "last evaluation"]
    )
    return 0


def cmd_alert_rule_add(args: argparse.Namespace) -> int:
    from opml.cli.pipelines import assignments

    if args.pipeline is None and (args.param or args.experiment):
        raise InvalidInput("--param and --experiment go with --pipeline (the published pipeline to trigger)")
    rule = backend_of(args).create_alert_rule(
        args.name,
        kind=args.kind,
        threshold=args.threshold,
        window_minutes=args.window_minutes,
        for_minutes=args.for_minutes,
        webhook_url=args.webhook,
        pipeline=args.pipeline,
        pipeline_parameters=assignments(args.param) if args.pipeline else None,
        experiment=args.experiment,
        name=args.rule_name,
    )
    if args.json:
        emit(args, rule, ())
    else:
        print(f"alert rule {rule.id} on {rule.service}: {rule.name}")
    return 0


def cmd_alert_rule_delete(args: argparse.Namespace) -> int:
    backend_of(args).delete_alert_rule(args.rule_id)
    print(f"deleted alert rule {args.rule_id}")
    return 0


def cmd_alert_rule_switch(args: argparse.Namespace) -> int:
    rule = backend_of(args).set_alert_rule_enabled(args.rule_id, args.action == "enable")
    print(f"alert rule {rule.id} ({rule.name}) is {'enabled' if rule.enabled else 'disabled'}")
    return 0


def _read_file(name: str) -> bytes:
    try:
        return Path(name).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror or exc}") from None


def _records_from_args(args: argparse.Namespace, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if args.json_file:
        try:
            document = json.loads(_read_file(args.json_file))
        except ValueError as exc:
            raise InvalidInput(f"{args.json_file} is not JSON: {exc}") from None
        if isinstance(document, dict):
            document = _records_in_body(document)
        if not isinstance(document, list):
            raise InvalidInput(
                f'{args.json_file} must hold a list of records, {{"data": [...]}} or {{"input_data": {{"columns": '
                '[...], "data": [[...]]}}'
            )
        return document
    if args.csv_file:
        from opml.scoring import read_scoring_csv

        return read_scoring_csv(_read_file(args.csv_file), columns).records
    from opml.scoring import record_from_pairs

    return [record_from_pairs(args.record, columns)]


def _records_in_body(document: dict[str, Any]) -> Any:
    """The records of a request body of any shape a service takes (None when it holds none)."""
    if "input_data" in document:
        frame = document["input_data"]
        if isinstance(frame, dict) and isinstance(frame.get("columns"), list) and isinstance(frame.get("data"), list):
            columns = frame["columns"]
            if all(isinstance(row, list) and len(row) == len(columns) for row in frame["data"]):
                return [dict(zip(columns, row, strict=True)) for row in frame["data"]]
        return None
    inputs = document.get("Inputs")
    return document.get("data", inputs.get("data") if isinstance(inputs, dict) else None)


SCORING_KEY_VARIABLE = "OPML_SCORING_KEY"  # the key of a --url endpoint: never on the command line (ps shows it)


def _url_target(args: argparse.Namespace) -> tuple[str, str | None, list[dict[str, Any]], Any]:
    """(scoring URI, key, input schema, ServiceOutput or None) of an endpoint given by URL, with no Service
    entity, from the swagger.json next to its /score: the schema (needed for --csv and --record only) and what
    it answers (None when --json records are sent and the document cannot be read: the service then says)."""
    import os

    from opml.client import ScoringError, get_swagger
    from opml.scoring import output_of_swagger, schema_from_swagger

    uri = args.url
    if not uri.startswith(("http://", "https://")):
        raise InvalidInput(f"--url must be an http(s) scoring URI, got {uri!r}")
    schema: list[dict[str, Any]] = []
    swagger_uri = uri.rsplit("/score", 1)[0] + "/swagger.json"
    document = None
    if not args.json_file or args.proba:  # the columns to read records with, or whether it has probabilities
        try:
            document = get_swagger(swagger_uri)
            schema = [] if args.json_file else schema_from_swagger(document)[0]
        except (ScoringError, InvalidInput) as exc:
            if not args.json_file:
                raise InvalidInput(
                    f"cannot read the endpoint's input columns from {swagger_uri} ({exc}): give the records with --json"
                ) from None
    output = output_of_swagger(document) if isinstance(document, dict) else None
    return uri, os.environ.get(SCORING_KEY_VARIABLE) or None, schema, output


def cmd_score(args: argparse.Namespace) -> int:
    from opml.client import ScoringError, check_request_format, score
    from opml.scoring import service_output

    if sum(map(bool, (args.json_file, args.csv_file, args.record))) != 1:
        raise InvalidInput("give exactly one of --json FILE, --csv FILE or --record key=value ...")
    if bool(args.service) == bool(args.url):
        raise InvalidInput("give exactly one of --service NAME or --url SCORING_URI")
    if args.out and not args.csv_file:
        raise InvalidInput("--out writes the scored CSV of a --csv FILE: give --csv")
    if args.url:
        uri, key, schema, output = _url_target(args)
        request_format = check_request_format(args.format or "data")
    else:
        backend = backend_of(args)
        service = backend.get_service(args.service)
        uri, request_format = service.scoring_uri, check_request_format(args.format or service.request_format)
        schema = backend.get_model(service.model_name, service.model_version).manifest["input_schema"]
        key = backend.get_service_keys(service.name).primary if service.auth_enabled else None
        output = service_output(backend, service)
    if args.proba and output is not None and output.regression:
        raise InvalidInput(
            "this service's model predicts values (regression): it answers one number per record and no class "
            "probabilities; score without --proba"
        )
    if args.out:
        return _score_csv_to_file(args, uri, key, schema, output, request_format)
    records = _records_from_args(args, schema)
    task = output.task if output is not None else None
    try:
        result = score(uri, records, key=key, probabilities=args.proba, request_format=request_format, task=task)
    except ScoringError as exc:
        if args.url and exc.status == 401:  # the service's hint names a header this command writes itself
            given = f"${SCORING_KEY_VARIABLE} is empty" if not key else f"check ${SCORING_KEY_VARIABLE}"
            raise ScoringError(f"{exc} ({given}: --url reads the endpoint's key from it)", exc.status) from None
        raise
    if args.json:
        print_json(result.response_body)
    elif args.proba:
        rows = [{"record": i, **{c: round(v, 4) for c, v in p.items()}} for i, p in enumerate(result.predictions)]
        print_table(rows, ["record", *result.predictions[0]])  # (--json keeps every digit)
    elif output is not None and output.regression:
        from opml.scoring import predicted_values

        rows = [{"record": i, "prediction": f"{v:.6g}"} for i, v in enumerate(predicted_values(result.predictions))]
        print_table(rows, ["record", "prediction"])  # (--json keeps every digit)
    else:
        for prediction in result.predictions:
            print(prediction)
    print(f"({len(records)} record(s) in {result.latency_ms:.1f} ms, request {result.request_id})", file=sys.stderr)
    return 0


def _score_csv_to_file(args: argparse.Namespace, uri: str, key, schema, output, request_format: str) -> int:
    """``--csv FILE --out FILE``: the CSV scored in requests of 1,000 rows, written with a ``prediction`` column
    (numbers for a regression model, labels otherwise) and, with --proba, a ``probability_<class>`` column per
    class."""
    from opml.scoring import ServiceOutput, read_scoring_csv, score_batch, scored_csv

    if output is None:  # only with --json, which --out does not take
        output = ServiceOutput("classification")
    batch = read_scoring_csv(_read_file(args.csv_file), schema)
    started = time.perf_counter()
    scores = score_batch(uri, batch.records, output, key=key, probabilities=args.proba, request_format=request_format)
    target = Path(args.out).expanduser()
    try:
        target.write_bytes(scored_csv(batch.frame, scores.predictions, scores.probabilities))
    except OSError as exc:
        raise InvalidInput(f"cannot write {args.out}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - started
    print(f"{len(batch.records):,} record(s) scored in {seconds:.1f} s: {target}", file=sys.stderr)
    return 0


def cmd_accuracy(args: argparse.Namespace) -> int:
    since = since_hours(args.hours)
    accuracy = backend_of(args).get_live_accuracy(args.name, since=since, bucket_seconds=args.bucket_seconds)
    if args.json:
        print_json(dataclasses.asdict(accuracy))
        return 0
    if accuracy.task == "regression":
        return _print_live_errors(accuracy, args.hours)

    shown = [
        {
            "start": time.strftime("%Y-%m-%d %H:%M", time.gmtime(bucket["at"])),
            "labelled": bucket["labelled"],
            "accuracy": three_decimals(bucket["accuracy"]),
            "auc": three_decimals(bucket["auc"]),
        }
        for bucket in accuracy.buckets
    ]
    print_table(shown, ["start", "labelled", "accuracy", "auc"])
    print(
        f"live accuracy {three_decimals(accuracy.accuracy) or '-'} and AUC {three_decimals(accuracy.auc) or '-'} "
        "over "
        f"{accuracy.labelled:,} labelled record(s) in the last {args.hours:g} h (cross-validated: accuracy "
        f"{three_decimals(accuracy.cv_accuracy) or '-'}, AUC {three_decimals(accuracy.cv_auc_weighted) or '-'}); "
        f"{accuracy.unmatched:,} label(s) matched no collected record"
    )
    if accuracy.skipped_files:
        print(f"{len(accuracy.skipped_files)} collected file(s) could not be read and were left out", file=sys.stderr)
    return 0


def _print_live_errors(accuracy: Any, hours: float) -> int:
    """A regression service's live MAE, RMSE and R² (its labels are the true values)."""

    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:.4g}"

    shown = [
        {
            "start": time.strftime("%Y-%m-%d %H:%M", time.gmtime(bucket["at"])),
            "labelled": bucket["labelled"],
            **{name: figure(bucket[name]) for name in ("mae", "rmse", "r2")},
        }
        for bucket in accuracy.buckets
    ]
    print_table(shown, ["start", "labelled", "mae", "rmse", "r2"])
    print(
        f"live MAE {figure(accuracy.mae)}, RMSE {figure(accuracy.rmse)}, R² {figure(accuracy.r2)} over "
        f"{accuracy.labelled:,} labelled record(s) in the last {hours:g} h (cross-validated: MAE "
        f"{figure(accuracy.cv_mae)}, RMSE {figure(accuracy.cv_rmse)}, R² {figure(accuracy.cv_r2)}); "
        f"{accuracy.unmatched:,} label(s) matched no collected record"
    )
    if accuracy.skipped_files:
        print(f"{len(accuracy.skipped_files)} collected file(s) could not be read and were left out", file=sys.stderr)
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from opml.monitoring.baseline import PREDICTION_BASELINE_WORDS

    since = since_hours(args.hours)
    backend = backend_of(args)
    if args.bucket:
        over_time = backend.get_service_drift_over_time(args.name, since=since, bucket=args.bucket)
        if args.json:
            print_json(over_time.records())
            return 0
        shown = [
            {
                **record,
                "start": time.strftime("%Y-%m-%d %H:%M", time.gmtime(record["start"])),
                "psi": f"{record['psi']:.3f}",
                "js": f"{record['js']:.3f}",
            }
            for record in over_time.records()
        ]
        print_table(shown, ["start", "feature", "psi", "js", "rows"])
        return 0
    report = backend.get_service_drift(args.name, since=since)
    if args.json:
        print_json(report.to_dict())
        return 0

    rows = [{**row, "psi": three_decimals(row["psi"]), "js": three_decimals(row["js"])} for row in report.table()]
    print_table(rows, ["feature", "kind", "psi", "js", "verdict", "rows"])
    if report.prediction is not None:
        prediction = report.prediction
        print(
            f"predictions against {PREDICTION_BASELINE_WORDS.get(report.prediction_source or '', 'the training')}:"
            f" PSI {three_decimals(prediction.psi)}, JS "
            f"{three_decimals(prediction.js)} ({prediction.verdict})"
        )
    if report.not_dates_text():
        print(report.not_dates_text(), file=sys.stderr)
    if report.skipped_files:
        print(f"{len(report.skipped_files)} collected file(s) could not be read and were left out", file=sys.stderr)
    print(f"({report.rows:,} collected record(s) in the last {args.hours:g} h)", file=sys.stderr)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from opml.client import score
    from opml.reasons import amount_text, top_reasons
    from opml.scoring import service_output

    if sum(map(bool, (args.json_file, args.csv_file, args.record))) != 1:
        raise InvalidInput("give exactly one of --json FILE, --csv FILE or --record key=value ...")
    if not 1 <= args.top <= 1000:
        raise InvalidInput(f"--top must be from 1 to 1000, got {args.top}")
    backend = backend_of(args)
    service = backend.get_service(args.name)
    schema = backend.get_model(service.model_name, service.model_version).manifest["input_schema"]
    records = _records_from_args(args, schema)
    key = backend.get_service_keys(service.name).primary if service.auth_enabled else None
    output = service_output(backend, service)
    result = score(
        service.scoring_uri, records, key=key, explain=True, request_format=service.request_format, task=output.task
    )
    if args.json:
        print_json(result.response_body)
    else:
        for index, (explanation, record) in enumerate(zip(result.predictions, records, strict=True)):
            if output.regression:
                what = f"predicted {output.label_column}" if output.label_column else "predicted"
                print(
                    f"record {index}: {what} {amount_text(explanation['prediction'])} (base value "
                    f"{amount_text(explanation['base_value'])})"
                )
            else:
                positive = explanation["positive_class"]
                probability = explanation["probabilities"][positive]
                print(
                    f"record {index}: {explanation['prediction']} (P({positive}) = {probability:.3f}, "
                    f"base value {explanation['base_value']:.3f})"
                )
            for reason in top_reasons(explanation, record, args.top, label=output.label_column):
                print(f"  {reason}")
    print(f"({len(records)} record(s) in {result.latency_ms:.1f} ms, request {result.request_id})", file=sys.stderr)
    return 0


def add_commands(commands: Any) -> None:
    services = group(commands, "services", "deploy models as HTTP scoring services and operate them")
    deploy = command(services, "deploy", cmd_deploy, "deploy a registered model as a scoring service")
    deploy.add_argument("name", help="service name")
    deploy.add_argument(
        "--model", required=True, help="registered model: NAME (latest version), NAME:VERSION or NAME@ALIAS"
    )
    deploy.add_argument("--version", type=int, help="model version (default: latest)")
    deploy.add_argument(
        "--deployment",
        default=DEFAULT_DEPLOYMENT,
        help=f"name of the endpoint's first deployment, taking all its traffic (default {DEFAULT_DEPLOYMENT})",
    )
    deploy.add_argument("--no-auth", action="store_true", help="serve without key authentication (not advised)")
    deploy.add_argument("--app-insights", choices=("on", "off"), default="off", help="request telemetry (default off)")
    deploy.add_argument("--port", type=int, help="port (default: a free one)")
    deploy.add_argument("--description", default="", help="free text")
    deploy.add_argument(
        "--data-collection",
        choices=("on", "off"),
        default="off",
        help="keep requests' inputs and outputs (default off)",
    )
    deploy.add_argument(
        "--sampling", type=float, default=1.0, help="share of requests collected, 0 < R <= 1 (default 1)"
    )
    deploy.add_argument("--retention-days", type=int, default=30, help="days collected data is kept (default 30)")
    add_instance_options(deploy)
    deploy.add_argument("--wait", action="store_true", help="wait until the service is Healthy or Failed")
    deploy.add_argument("--wait-seconds", type=float, default=120, help="how long --wait waits (default 120)")
    command(services, "list", cmd_list, "list services with their state and scoring URI")
    for name, handler, text in (
        ("show", cmd_show, "show one service"),
        ("keys", cmd_keys, "print a service's primary and secondary keys"),
    ):
        command(services, name, handler, text).add_argument("name")
    regenerate = command(services, "regenerate-key", cmd_regenerate, "replace a key; the old one stops working at once")
    regenerate.add_argument("name")
    regenerate.add_argument(
        "--key", choices=("Primary", "Secondary"), default="Primary", help="which key (default Primary)"
    )
    update = command(services, "update", cmd_update, "switch telemetry, auth or data collection without redeploying")
    update.add_argument("name")
    update.add_argument("--app-insights", choices=("on", "off"), help="request telemetry on or off")
    update.add_argument("--auth", choices=("on", "off"), help="key authentication on or off")
    update.add_argument("--data-collection", choices=("on", "off"), help="data collection on or off")
    update.add_argument("--sampling", type=float, help="share of requests collected, 0 < R <= 1")
    update.add_argument("--retention-days", type=int, help="days collected data is kept (1 to 3,650)")
    restart = command(services, "restart", cmd_restart, "start a Failed service again (given up on after a crash loop)")
    restart.add_argument("name")
    telemetry = command(services, "telemetry", cmd_telemetry, "requests, failures and latency per time bucket")
    telemetry.add_argument("name")
    telemetry.add_argument("--hours", type=float, default=24, help="how far back (default 24)")
    telemetry.add_argument("--bucket-seconds", type=int, default=3600, help="seconds per row (default 3600)")
    telemetry.add_argument("--recent", type=int, default=0, help="also give the newest N requests (with --json)")
    collected = command(services, "collected", cmd_collected, "the newest records a service collected")
    collected.add_argument("name")
    collected.add_argument("--hours", type=float, default=24, help="how far back (default 24)")
    collected.add_argument("--limit", type=int, default=100, help="at most N records (default 100, up to 10,000)")
    labels = command(services, "labels", cmd_labels, "store ground truth for scored requests from a CSV file")
    labels.add_argument("name")
    labels.add_argument("--csv", required=True, metavar="FILE", help="columns request_id,label[,record]")
    logs = command(services, "logs", cmd_logs, "print the end of a service's log")
    logs.add_argument("name")
    logs.add_argument("--tail", type=int, default=200, help="number of lines (default 200)")
    accuracy = command(services, "accuracy", cmd_accuracy, "live accuracy on the labelled requests, per time bucket")
    accuracy.add_argument("name")
    accuracy.add_argument("--hours", type=float, default=24, help="how far back (default 24)")
    accuracy.add_argument("--bucket-seconds", type=int, default=3600, help="seconds per row (default 3600)")
    drift = command(services, "drift", cmd_drift, "how the collected inputs differ from the training data")
    drift.add_argument("name")
    drift.add_argument("--hours", type=float, default=24, help="how far back (default 24)")
    drift.add_argument("--bucket", choices=("hour", "day"), help="drift over time, per hour or day, instead")
    explainer = command(services, "explain", cmd_explain, "why the service's model predicts what it does, per record")
    explainer.add_argument("name")
    explainer.add_argument("--json", dest="json_file", metavar="FILE", help='records as JSON (list or {"data": [...]})')
    explainer.add_argument("--csv", dest="csv_file", metavar="FILE", help="records as CSV with the training columns")
    explainer.add_argument("--record", nargs="+", metavar="KEY=VALUE", help="one record given column by column")
    explainer.add_argument("--top", type=int, default=5, help="reasons shown per record (default 5)")
    delete = command(services, "delete", cmd_delete, "stop and remove a service")
    delete.add_argument("name")
    delete.add_argument("--wait", action="store_true", help="wait until it is gone")
    _add_alert_commands(services)
    deployments.add_commands(services)

    scorer = command(commands, "score", cmd_score, "score records through a service's HTTP endpoint")
    target = scorer.add_mutually_exclusive_group(required=True)
    target.add_argument("--service", help="service name")
    target.add_argument(
        "--url",
        metavar="SCORING_URI",
        help=f"an endpoint with no service entity here (its key, if any, in ${SCORING_KEY_VARIABLE}; "
        "--csv and --record read its columns from its swagger.json)",
    )
    scorer.add_argument(
        "--format",
        choices=("data", "input_data"),
        help='the request body: "data" ({"data": [records]}) or "input_data" (MLflow on an Azure ML managed online '
        "endpoint); default: the service's request format, or data for --url",
    )
    scorer.add_argument(
        "--json",
        dest="json_file",
        metavar="FILE",
        help='records as JSON: a list, {"data": [...]} or {"input_data": {"columns": [...], "data": [[...]]}}',
    )
    scorer.add_argument("--csv", dest="csv_file", metavar="FILE", help="records as CSV with the training columns")
    scorer.add_argument("--record", nargs="+", metavar="KEY=VALUE", help="one record given column by column")
    scorer.add_argument(
        "--proba",
        action="store_true",
        help="print class probabilities instead of labels (classification models; a regression model answers numbers)",
    )
    scorer.add_argument(
        "--out",
        metavar="FILE",
        help="with --csv: write the CSV with a prediction column (and with --proba a probability_<class> column "
        "per class) to FILE, scored 1,000 rows per request",
    )


def _add_alert_commands(services: Any) -> None:
    from opml.monitoring.rules import KINDS

    alerts = command(services, "alerts", cmd_alerts, "alerts a service's rules fired, newest first")
    alerts.add_argument("name")
    alerts.add_argument("--state", choices=("Firing", "Resolved"), help="only alerts in this state")
    alerts.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    rules = command(services, "alert-rules", cmd_alert_rules, "a service's alert rules and their last evaluation")
    rules.add_argument("name")
    rule = group(services, "alert-rule", "add, delete, enable or disable an alert rule (evaluated once a minute)")
    add = command(rule, "add", cmd_alert_rule_add, "add an alert rule to a service")
    add.add_argument("name", help="service name")
    add.add_argument(
        "--kind",
        required=True,
        choices=tuple(KINDS),
        help="; ".join(
            f"{kind.name}: {kind.measure} {'above' if kind.above else 'below'} the threshold" for kind in KINDS.values()
        ),
    )
    add.add_argument(
        "--threshold",
        type=float,
        required=True,
        help="drift: PSI (e.g. 0.2); accuracy: a fraction (0.85); failure_rate: percent (5); latency_p99: ms "
        "(250); unhealthy: minutes not Healthy (10)",
    )
    add.add_argument("--window-minutes", type=float, default=60, help="measured over the last N minutes (default 60)")
    add.add_argument("--for-minutes", type=float, default=0, help="fire once the condition held N minutes (default 0)")
    add.add_argument("--webhook", metavar="URL", help="POST each firing and resolution as JSON to this http(s) URL")
    add.add_argument("--pipeline", metavar="PUBLISHED_ID", help="trigger this published pipeline when the rule fires")
    add.add_argument("--param", action="append", metavar="NAME=VALUE", help="a pipeline parameter (repeatable)")
    add.add_argument("--experiment", help="experiment of the triggered runs (default: the published pipeline's name)")
    add.add_argument("--name", dest="rule_name", help="the rule's name (default: its condition in words)")
    delete = command(rule, "delete", cmd_alert_rule_delete, "delete an alert rule (its alerts are kept)")
    delete.add_argument("rule_id")
    for action, text in (("enable", "enable an alert rule"), ("disable", "disable an alert rule (resolves its alert)")):
        command(rule, action, cmd_alert_rule_switch, text).add_argument("rule_id")
