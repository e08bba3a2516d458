"""``opml`` commands for the workspace: up, agent, status, datasets, compute, runs."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from opml.access import Access
from opml.cli.common import (
    audit,
    backend_of,
    command,
    emit,
    group,
    local_backend_of,
    parse_tags,
    print_json,
    print_table,
)
from opml.cli.dashboard import plan_dashboard
from opml.entities import as_dict
from opml.errors import InvalidInput

APP_FILE = Path(__file__).resolve().parent.parent.parent / "app.py"


# -- commands -------------------------------------------------------------------------


ACCESS_LINES = {
    Access.LOCAL: "access: this machine only, no sign-in",
    Access.LOGIN: "access: OpenID Connect sign-in, {allowed} allowed user(s) (OPML_ALLOWED_USERS)",
    Access.OPEN: "access: WITHOUT sign-in (--allow-unauthenticated): keys, tokens and local paths are off",
}


def cmd_up(args: argparse.Namespace) -> int:
    from opml.agent.launcher import start_agent
    from opml.workspace import chosen_config, default_sdk

    workspace = local_backend_of(args).path
    # Decided before anything starts: a dashboard that must not run is refused with nothing left behind.
    plan = plan_dashboard(
        app_file=APP_FILE,
        workspace=workspace,
        address=args.address,
        port=args.port,
        secrets_file=args.secrets,
        allow_unauthenticated_flag=args.allow_unauthenticated,
        azure_config=args.config,
        azure_sdk=args.sdk,
    )
    agent = start_agent(workspace)
    print(f"workspace: {workspace}")
    azure = chosen_config(args.config)
    if azure:  # else "workspace:" alone reads as if the dashboard showed the local folder
        sdk = args.sdk or default_sdk(azure)
        print(f"azure ml: {azure} (SDK {sdk}) opens first in the dashboard; its sidebar switches to the local one")
    print("agent: started" if agent else "agent: already running")
    print(ACCESS_LINES[plan.access].format(allowed=plan.allowed))
    dashboard = subprocess.Popen(plan.command, env=plan.env, cwd=APP_FILE.parent)
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

    from opml.agent.scheduler import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_forever(local_backend_of(args).path)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    info, agent = backend.describe(), backend.agent_status()
    if args.json:
        print_json({"workspace": as_dict(info), "agent": as_dict(agent)})
        return 0
    print(f"backend: {info.backend}\nworkspace: {info.location}\nagent: {agent.detail}")
    for name, count in info.counts.items():
        print(f"{name}: {count}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    events = backend_of(args).list_audit_events(limit=args.limit)
    if args.json:
        print_json([as_dict(event) for event in events])
    else:
        rows = [{**as_dict(e), "at": f"{e.at:%Y-%m-%d %H:%M:%S}", "what": e.description} for e in events]
        print_table(rows, ("at", "actor", "what", "target"))
    return 0


def cmd_datasets_register(args: argparse.Namespace) -> int:
    dataset = backend_of(args).register_dataset(
        name=args.name, source=args.source, description=args.description, tags=parse_tags(args.tag)
    )
    emit(args, dataset, ())
    return 0


def cmd_datasets_list(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).list_datasets(), ("name", "version", "rows", "source", "created_at"))
    return 0


def cmd_datasets_show(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    dataset = backend.get_dataset(args.name, args.version)
    emit(args, dataset, ())
    if args.head and not args.json:
        print(backend.load_dataset(args.name, dataset.version, nrows=args.head).to_string())
    return 0


def cmd_compute_create(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    emit(
        args,
        backend.create_compute(
            name=args.name, max_nodes=args.max_nodes, vm_size=args.vm_size, min_nodes=args.min_nodes
        ),
        (),
    )
    return 0


def cmd_compute_list(args: argparse.Namespace) -> int:
    columns = ("name", "kind", "max_nodes", "active_runs", "queued_runs", "state")
    emit(args, backend_of(args).list_computes(), columns)
    return 0


def cmd_compute_delete(args: argparse.Namespace) -> int:
    backend_of(args).delete_compute(args.name)
    print(f"deleted compute {args.name}")
    return 0


def _run_env(items: list[str]) -> dict[str, str]:
    """``--env`` values: NAME=VALUE, or NAME alone for the value this shell has (a secret then stays off the
    command line, which other users of the machine can read). Shown masked wherever runs are shown."""
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidInput(f"--env {item[:60]!r}: give NAME=VALUE or NAME (letters, digits and '_')")
        if not sep:
            if name not in os.environ:
                raise InvalidInput(f"--env {name}: this shell has no variable {name} to pass on")
            value = os.environ[name]
        env[name] = value
    return env


def cmd_runs_submit(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    backend = backend_of(args)
    params: dict = {"command": command, "cwd": args.cwd}
    if args.env:
        params["env"] = _run_env(args.env)
    run = backend.submit_run(experiment=args.experiment, run_type="command", compute=args.compute, params=params)
    audit(backend, "submit_run", f"run {run.id} (command, experiment {run.experiment})")
    emit(args, run, ())
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    page = backend_of(args).search_runs(
        filter=args.filter or "",
        experiment=args.experiment,
        statuses=args.status,
        top_level_only=not args.children,
        limit=args.limit,
        offset=args.offset,
    )
    emit(args, page.runs, ("id", "experiment", "run_type", "status", "compute", "created_at"))
    if not args.json and page.total > len(page.runs):
        shown = f"{page.offset + 1}-{page.offset + len(page.runs)}" if page.runs else "none"
        print(f"({shown} of {page.total} runs; --offset N for more)")
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    runs = [backend.get_run(run_id) for run_id in args.run_ids]
    metrics = {run.id: backend.get_run_metrics(run.id) for run in runs}
    if args.json:
        print_json([{"id": r.id, "params": r.shown_params, "metrics": metrics[r.id]} for r in runs])
        return 0
    rows = []
    for kind, values in (("params", {r.id: r.shown_params for r in runs}), ("metrics", metrics)):
        for key in sorted({key for value in values.values() for key in value}):
            cells = {r.id: values[r.id].get(key) for r in runs}
            shown = {run_id: _cell(kind, v) for run_id, v in cells.items()}
            differs = len({str(v) for v in shown.values()}) > 1
            rows.append({"": f"{'*' if differs else ' '} {kind}.{key}", **shown})
    print_table(rows, ["", *[r.id for r in runs]])
    print("(* differs)")
    return 0


def _cell(kind: str, value: Any) -> Any:
    """A cell of ``opml runs compare``: empty for what a run lacks (a canceled trial's metrics), JSON for a
    structured parameter."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if kind == "metrics" and isinstance(value, float) and value != value:  # NaN: not measured
        return ""
    return value


def cmd_runs_show(args: argparse.Namespace) -> int:
    emit(args, backend_of(args).get_run(args.run_id), ())
    return 0


def cmd_runs_cancel(args: argparse.Namespace) -> int:
    run = backend_of(args).cancel_run(args.run_id)
    print(f"run {run.id}: {run.status}")
    return 0


def cmd_runs_logs(args: argparse.Namespace) -> int:
    backend = backend_of(args)
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


def add_commands(commands: Any) -> None:

    up = command(commands, "up", cmd_up, "start the agent and the dashboard; Ctrl-C stops both")
    up.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    up.add_argument(
        "--address",
        default="127.0.0.1",
        help="dashboard bind address (default 127.0.0.1); any other needs sign-in ([auth] in the secrets) "
        "or --allow-unauthenticated",
    )
    up.add_argument(
        "--secrets",
        metavar="FILE",
        help="the dashboard's secrets.toml (default: ~/.streamlit/secrets.toml and .streamlit/secrets.toml); "
        "an [auth] section turns OpenID Connect sign-in on, on any address",
    )
    up.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="start without sign-in on a non-loopback address: a red banner on every page; revealing keys and "
        "tokens and reading local paths are off",
    )
    up.add_argument(  # also accepted after "up", so that ./scripts/run.sh --config FILE works
        "--config", default=argparse.SUPPRESS, metavar="FILE", help="open this Azure ML workspace's config.json first"
    )
    up.add_argument(
        "--sdk", default=argparse.SUPPRESS, choices=("v2", "v1"), help="the Azure ML SDK to open --config with"
    )
    command(commands, "agent", cmd_agent, "run the agent (scheduler) in the foreground; one per workspace")
    command(commands, "status", cmd_status, "show the workspace, its agent and object counts")
    audit_log = command(
        commands, "audit", cmd_audit, "who deployed, revealed keys, made tokens or started runs, newest first"
    )
    audit_log.add_argument("--limit", type=int, default=50, help="at most this many events (default 50)")

    datasets = group(commands, "datasets", "register and inspect tabular datasets")
    register = command(datasets, "register", cmd_datasets_register, "register a CSV from a URL or a file path")
    register.add_argument("name", help="dataset name (letters, digits, _ . -)")
    register.add_argument("source", help="http(s) URL or local file path of a CSV file")
    register.add_argument("--description", default="", help="free text shown with the dataset")
    register.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    command(datasets, "list", cmd_datasets_list, "list datasets (latest version of each)")
    show = command(datasets, "show", cmd_datasets_show, "show one dataset version")
    show.add_argument("name")
    show.add_argument("--version", type=int, help="version number (default: latest)")
    show.add_argument("--head", type=int, default=0, metavar="N", help="also print the first N rows")

    compute = group(commands, "compute", "manage computes (pools of run slots)")
    create = command(compute, "create", cmd_compute_create, "create a compute (an AmlCompute cluster on Azure)")
    create.add_argument("name")
    create.add_argument("--max-nodes", type=int, default=2, help="runs at once on this compute (default 2)")
    create.add_argument("--vm-size", help="Azure VM size of an AmlCompute cluster (Azure backend only)")
    create.add_argument(
        "--min-nodes", type=int, default=0, help="nodes an AmlCompute cluster keeps running when idle (Azure only)"
    )
    command(compute, "list", cmd_compute_list, "list computes with their active and queued runs")
    delete = command(compute, "delete", cmd_compute_delete, "delete a compute that has no queued or active runs")
    delete.add_argument("name")

    runs = group(commands, "runs", "submit, watch and cancel runs")
    submit = command(runs, "submit", cmd_runs_submit, "queue a command run, e.g. opml runs submit -- python train.py")
    submit.add_argument("--experiment", default="default", help="experiment name (default 'default')")
    submit.add_argument("--compute", default="cpu-cluster", help="compute name (default cpu-cluster)")
    submit.add_argument("--cwd", help="working folder of the command (default: the run's output folder)")
    submit.add_argument(
        "--env",
        action="append",
        metavar="NAME[=VALUE]",
        help="an environment variable of the run (repeatable); NAME alone passes this shell's value; "
        "values are masked wherever runs are shown",
    )
    submit.add_argument("command", nargs=argparse.REMAINDER, help="the command line to run")
    runs_list = command(runs, "list", cmd_runs_list, "list or search runs, newest first")
    runs_list.add_argument("--experiment", help="only this experiment")
    runs_list.add_argument("--filter", help="e.g. \"metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'\"")
    runs_list.add_argument("--status", action="append", help="only runs with this status (repeatable)")
    runs_list.add_argument("--children", action="store_true", help="child runs too (AutoML trials, pipeline steps)")
    runs_list.add_argument("--limit", type=int, default=50, help="at most this many (default 50, at most 1000)")
    runs_list.add_argument("--offset", type=int, default=0, help="skip this many matching runs (default 0)")
    compare = command(runs, "compare", cmd_runs_compare, "show runs side by side: parameters and metrics")
    compare.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    for name, handler, help_text in (
        ("show", cmd_runs_show, "show one run"),
        ("cancel", cmd_runs_cancel, "cancel a queued or running run"),
    ):
        command(runs, name, handler, help_text).add_argument("run_id")
    logs = command(runs, "logs", cmd_runs_logs, "print a run's log")
    logs.add_argument("run_id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
