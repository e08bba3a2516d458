"""``opml`` commands for training pipelines and workspace tokens."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from opml.cli.common import audit, backend_of, command, emit, group, print_json, print_table
from opml.entities import as_dict
from opml.errors import InvalidInput


def assignments(pairs: list[str] | None) -> dict[str, Any]:
    """NAME=VALUE pairs as parameter assignments (a value that reads as JSON is that JSON value)."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{pair!r} must look like name=value")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def cmd_create(args: argparse.Namespace) -> int:
    try:
        spec = json.loads(Path(args.file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the pipeline definition {args.file}: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidInput('the definition must be a JSON object: {"steps": [...], "parameters": {...}}')
    pipeline = backend_of(args).create_pipeline(
        name=args.name,
        steps=spec.get("steps"),
        parameters=spec.get("parameters"),
        compute=args.compute,
        description=args.description,
    )
    emit(args, pipeline, ())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    if args.published:
        emit(args, backend.list_published_pipelines(), ("id", "name", "version", "status", "endpoint"))
    else:
        emit(args, backend.list_pipelines(), ("id", "name", "compute", "created_at"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    run = backend.run_pipeline(
        args.pipeline_id, experiment=args.experiment, parameters=assignments(args.param), trigger="CLI"
    )
    audit(backend, "run_pipeline", f"run {run.id} of pipeline {backend.get_pipeline(args.pipeline_id).name}")
    if args.wait:
        run = backend.wait_for_run(run.id, timeout=args.wait_seconds)
    emit(args, run, ())
    return 0 if run.status != "Failed" else 1


def cmd_publish(args: argparse.Namespace) -> int:
    published = backend_of(args).publish_pipeline(
        args.pipeline_id, name=args.name, description=args.description, version=args.version
    )
    emit(args, published, ())
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).set_published_pipeline_enabled(args.published_id, args.action == "enable"), ())
    return 0


def cmd_trigger(args: argparse.Namespace) -> int:
    from opml.client import trigger_pipeline

    backend = backend_of(args)
    published = backend.get_published_pipeline(args.published_id)
    answer = trigger_pipeline(published.endpoint, backend.auth_header(), args.experiment, assignments(args.param))
    print_json(answer)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    runs = backend_of(args).list_pipeline_runs(
        published_pipeline_id=args.published, pipeline_id=args.pipeline, limit=args.limit
    )
    if args.json:
        emit(args, runs, ())
        return 0
    rows = [{**as_dict(run), "trigger": run.params.get("trigger", "")} for run in runs]
    print_table(rows, ("id", "experiment", "status", "trigger", "created_at", "display_name"))
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    schedule = backend_of(args).create_schedule(
        args.published_id,
        name=args.name,
        experiment=args.experiment,
        interval_minutes=args.every_minutes,
        cron=args.cron,
        parameters=assignments(args.param),
        allow_overlap=args.allow_overlap,
    )
    emit(args, schedule, ())
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    columns = ("id", "name", "published_pipeline_id", "recurrence", "status", "next_run_at", "last_run_id")
    emit(args, backend_of(args).list_schedules(), columns)
    return 0


def cmd_schedule_state(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    if args.action == "schedule-delete":
        backend.delete_schedule(args.schedule_id)
        print(f"deleted schedule {args.schedule_id}")
    else:
        emit(args, backend.set_schedule_paused(args.schedule_id, args.action == "schedule-pause"), ())
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    token = backend.create_token(args.name)
    audit(backend, "create_token", f"token {args.name}")
    print(token)
    print("(shown once: store it now)", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).list_tokens(), ("name", "created_at", "revoked"))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    backend.revoke_token(args.name)
    audit(backend, "revoke_token", f"token {args.name}")
    print(f"revoked {args.name}")
    return 0


def add_commands(commands: Any) -> None:
    pipelines = group(commands, "pipelines", "build, run, publish and trigger training pipelines")
    create = command(pipelines, "create", cmd_create, "define a pipeline from a JSON file (steps and parameters)")
    create.add_argument("name")
    create.add_argument("--file", required=True, help='JSON: {"parameters": {...}, "steps": [...]}')
    create.add_argument("--compute", default="cpu-cluster", help="compute its runs use (default cpu-cluster)")
    create.add_argument("--description", default="", help="free text")
    listing = command(pipelines, "list", cmd_list, "list pipelines (or published pipelines)")
    listing.add_argument("--published", action="store_true", help="list published pipelines and their endpoints")
    run = command(pipelines, "run", cmd_run, "run a pipeline now")
    run.add_argument("pipeline_id")
    run.add_argument("--experiment", required=True, help="experiment name")
    run.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable)")
    run.add_argument("--wait", action="store_true", help="wait until the run ends")
    run.add_argument("--wait-seconds", type=float, default=3600, help="how long --wait waits (default 3600)")
    publish = command(pipelines, "publish", cmd_publish, "publish a pipeline behind its REST endpoint")
    publish.add_argument("pipeline_id")
    publish.add_argument("--name", required=True, help='e.g. "Bankmarketing Train"')
    publish.add_argument("--description", default="", help="free text")
    publish.add_argument("--version", default="1.0", help="version label (default 1.0)")
    for action in ("enable", "disable"):
        command(pipelines, action, cmd_enable, f"{action} a published pipeline").add_argument("published_id")
    trigger = command(pipelines, "trigger", cmd_trigger, "trigger a published pipeline over its REST endpoint")
    trigger.add_argument("published_id")
    trigger.add_argument("--experiment", required=True, help="experiment name")
    trigger.add_argument("--param", action="append", metavar="NAME=VALUE", help="a parameter assignment (repeatable)")
    runs = command(pipelines, "runs", cmd_runs, "list pipeline runs")
    runs.add_argument("--published", help="only runs of this published pipeline id")
    runs.add_argument("--pipeline", help="only runs of this pipeline id")
    runs.add_argument("--limit", type=int, default=200, help="the newest this many (default 200, at most 10,000)")

    schedule = command(pipelines, "schedule", cmd_schedule, "run a published pipeline on a recurrence")
    schedule.add_argument("published_id")
    schedule.add_argument("--name", required=True, help="schedule name")
    schedule.add_argument("--experiment", required=True, help="experiment of the runs it starts")
    schedule.add_argument("--every-minutes", type=float, help="run every N minutes")
    schedule.add_argument("--cron", help="or a cron expression, e.g. '0 6 * * *'")
    schedule.add_argument("--param", action="append", metavar="NAME=VALUE", help="a parameter assignment (repeatable)")
    schedule.add_argument("--allow-overlap", action="store_true", help="start even while the previous run still runs")
    command(pipelines, "schedules", cmd_schedules, "list schedules")
    for action, text in (("schedule-pause", "pause"), ("schedule-resume", "resume"), ("schedule-delete", "delete")):
        command(pipelines, action, cmd_schedule_state, f"{text} a schedule").add_argument("schedule_id")

    tokens = group(commands, "tokens", "workspace tokens for REST triggers")
    create_token = command(tokens, "create", cmd_token_create, "create a token (printed once)")
    create_token.add_argument("name")
    command(tokens, "list", cmd_token_list, "list token names and whether they are revoked")
    command(tokens, "revoke", cmd_token_revoke, "revoke a token at once").add_argument("name")
