"""The ``opml`` command: run the product and operate a workspace from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opml.entities import as_dict
from opml.errors import InvalidInput, OpmlError

APP_FILE = Path(__file__).resolve().parent.parent / "app.py"
EPILOG = "The workspace is --workspace DIR, else $OPML_WORKSPACE, else ~/.opml/workspace."


# -- output helpers -------------------------------------------------------------------


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[("" if row.get(col) is None else str(row.get(col))) for col in columns] for row in rows]
    widths = [max(len(col), *(len(cell[i]) for cell in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(width) for col, width in zip(columns, widths, strict=True)))
    for cell in cells:
        print("  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=True)))


def _emit(args: argparse.Namespace, entities: list[Any] | Any, columns: Sequence[str]) -> None:
    many = isinstance(entities, list)
    dicts = [as_dict(entity) for entity in (entities if many else [entities])]
    if args.json:
        _print_json(dicts if many else dicts[0])
    elif many:
        _print_table(dicts, columns)
    else:
        for key, value in dicts[0].items():
            print(f"{key}: {json.dumps(value, default=str) if isinstance(value, (dict, list)) else value}")


def _parse_tags(pairs: Sequence[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"tag {pair!r} must look like key=value")
        tags[key] = value
    return tags


def _backend(args: argparse.Namespace):
    from opml.workspace import open_workspace

    return open_workspace(args.workspace)


# -- commands -------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from opml.backends.local.launcher import start_agent

    workspace = _backend(args).path
    agent = start_agent(workspace)
    print(f"workspace: {workspace}")
    print("agent: started" if agent else "agent: already running")
    env = {**os.environ, "OPML_WORKSPACE": str(workspace), "OPML_AUTOSTART_AGENT": "1"}
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    dashboard = subprocess.Popen(command, env=env, cwd=APP_FILE.parent)
    print(f"dashboard: http://{args.address}:{args.port}  (Ctrl-C stops opml)", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return dashboard.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (dashboard, agent):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def cmd_agent(args: argparse.Namespace) -> int:
    import logging

    from opml.backends.local.agent import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_forever(_backend(args).path)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    backend = _backend(args)
    info, agent = backend.describe(), backend.agent_status()
    if args.json:
        _print_json({"workspace": as_dict(info), "agent": as_dict(agent)})
        return 0
    print(f"backend: {info.backend}\nworkspace: {info.location}\nagent: {agent.detail}")
    for name, count in info.counts.items():
        print(f"{name}: {count}")
    return 0


def cmd_datasets_register(args: argparse.Namespace) -> int:
    dataset = _backend(args).register_dataset(
        name=args.name, source=args.source, description=args.description, tags=_parse_tags(args.tag)
    )
    _emit(args, dataset, ())
    return 0


def cmd_datasets_list(args: argparse.Namespace) -> int:
    _emit(args, _backend(args).list_datasets(), ("name", "version", "rows", "source", "created_at"))
    return 0


def cmd_datasets_show(args: argparse.Namespace) -> int:
    backend = _backend(args)
    dataset = backend.get_dataset(args.name, args.version)
    _emit(args, dataset, ())
    if args.head and not args.json:
        print(backend.load_dataset(args.name, dataset.version, nrows=args.head).to_string())
    return 0


def cmd_compute_create(args: argparse.Namespace) -> int:
    _emit(args, _backend(args).create_compute(name=args.name, max_nodes=args.max_nodes), ())
    return 0


def cmd_compute_list(args: argparse.Namespace) -> int:
    columns = ("name", "kind", "max_nodes", "active_runs", "queued_runs", "state")
    _emit(args, _backend(args).list_computes(), columns)
    return 0


def cmd_compute_delete(args: argparse.Namespace) -> int:
    _backend(args).delete_compute(args.name)
    print(f"deleted compute {args.name}")
    return 0


def cmd_runs_submit(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    run = _backend(args).submit_run(
        experiment=args.experiment,
        run_type="command",
        compute=args.compute,
        params={"command": command, "cwd": args.cwd},
    )
    _emit(args, run, ())
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    runs = _backend(args).list_runs(experiment=args.experiment, top_level_only=True, limit=args.limit)
    _emit(args, runs, ("id", "experiment", "run_type", "status", "compute", "created_at"))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    _emit(args, _backend(args).get_run(args.run_id), ())
    return 0


def cmd_runs_cancel(args: argparse.Namespace) -> int:
    run = _backend(args).cancel_run(args.run_id)
    print(f"run {run.id}: {run.status}")
    return 0


def cmd_runs_logs(args: argparse.Namespace) -> int:
    backend = _backend(args)
    offset = 0
    while True:
        text, offset = backend.read_run_log(args.run_id, offset=offset)
        sys.stdout.write(text)
        sys.stdout.flush()
        if not args.follow or (not text and backend.get_run(args.run_id).is_terminal):
            return 0
        if not text:
            time.sleep(0.5)


# -- parser ---------------------------------------------------------------------------


def _group(subparsers: Any, name: str, help_text: str) -> Any:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def _command(subparsers: Any, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opml",
        description="opml: register data, train with AutoML, deploy and score models, run pipelines.",
        epilog=EPILOG,
    )
    parser.add_argument("--workspace", metavar="DIR", help="local workspace folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = _command(commands, "up", cmd_up, "start the agent and the dashboard; Ctrl-C stops both")
    up.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    up.add_argument("--address", default="127.0.0.1", help="dashboard bind address (default 127.0.0.1)")
    _command(commands, "agent", cmd_agent, "run the agent (scheduler) in the foreground; one per workspace")
    _command(commands, "status", cmd_status, "show the workspace, its agent and object counts")

    datasets = _group(commands, "datasets", "register and inspect tabular datasets")
    register = _command(datasets, "register", cmd_datasets_register, "register a CSV from a URL or a file path")
    register.add_argument("name", help="dataset name (letters, digits, _ . -)")
    register.add_argument("source", help="http(s) URL or local file path of a CSV file")
    register.add_argument("--description", default="", help="free text shown with the dataset")
    register.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    _command(datasets, "list", cmd_datasets_list, "list datasets (latest version of each)")
    show = _command(datasets, "show", cmd_datasets_show, "show one dataset version")
    show.add_argument("name")
    show.add_argument("--version", type=int, help="version number (default: latest)")
    show.add_argument("--head", type=int, default=0, metavar="N", help="also print the first N rows")

    compute = _group(commands, "compute", "manage computes (pools of run slots)")
    create = _command(compute, "create", cmd_compute_create, "create a local compute")
    create.add_argument("name")
    create.add_argument("--max-nodes", type=int, default=2, help="runs at once on this compute (default 2)")
    _command(compute, "list", cmd_compute_list, "list computes with their active and queued runs")
    delete = _command(compute, "delete", cmd_compute_delete, "delete a compute that has no queued or active runs")
    delete.add_argument("name")

    runs = _group(commands, "runs", "submit, watch and cancel runs")
    submit = _command(runs, "submit", cmd_runs_submit, "queue a command run, e.g. opml runs submit -- python train.py")
    submit.add_argument("--experiment", default="default", help="experiment name (default 'default')")
    submit.add_argument("--compute", default="cpu-cluster", help="compute name (default cpu-cluster)")
    submit.add_argument("--cwd", help="working folder of the command (default: the run's output folder)")
    submit.add_argument("command", nargs=argparse.REMAINDER, help="the command line to run")
    runs_list = _command(runs, "list", cmd_runs_list, "list runs, newest first")
    runs_list.add_argument("--experiment", help="only this experiment")
    runs_list.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    for name, handler, help_text in (
        ("show", cmd_runs_show, "show one run"),
        ("cancel", cmd_runs_cancel, "cancel a queued or running run"),
    ):
        _command(runs, name, handler, help_text).add_argument("run_id")
    logs = _command(runs, "logs", cmd_runs_logs, "print a run's log")
    logs.add_argument("run_id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except OpmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
