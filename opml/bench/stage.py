"""What the serving, soak and fault benchmarks stand on: a workspace of their own with an agent, a model
trained by a short AutoML run (or one already registered), deployed as a service with telemetry on."""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="CSV to train on (a short AutoML run), e.g. ../shared/data/bankmarketing_train.csv"
    )
    parser.add_argument("--label", default="y")
    parser.add_argument("--timeout-minutes", type=float, default=1.0, help="AutoML budget when training (default 1)")
    parser.add_argument("--workspace", help="use this workspace's registered model instead of training")
    parser.add_argument("--model", default="bench", help="registered model name (default bench)")
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="what the short AutoML run learns (default: guessed from the label column, as opml automl submit does)",
    )


def model_arguments_error(args: argparse.Namespace, *, data_always: bool = False) -> str | None:
    """Why the values of ``add_model_arguments`` cannot run (nothing has started yet), or None: the workspace
    must exist; the CSV (unless a workspace is given and not ``data_always``) must exist and hold the label;
    the AutoML budget must be a positive number."""
    if args.workspace and not Path(args.workspace).is_dir():
        return f"no such workspace: {args.workspace}"
    if data_always or not args.workspace:
        if not Path(args.data).is_file():
            hint = (
                "give --data or set OPML_BANK_CSV"
                if data_always
                else "give --data, set OPML_BANK_CSV or give --workspace"
            )
            return f"no such file: {args.data} ({hint})"
        with open(args.data, encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        if args.label not in {name.strip().strip('"') for name in header.replace(";", ",").split(",")}:
            return f"{args.data} has no column {args.label!r} (give --label)"
    if not (args.timeout_minutes > 0 and math.isfinite(args.timeout_minutes)):
        return "--timeout-minutes must be a positive number"
    return None


@dataclass
class Stage:
    backend: Any  # LocalBackend
    agent: Any  # the agent's Popen
    service: Any  # the deployed Service
    key: str
    model: Any  # the registered Model
    host: str
    port: int
    agent_env: dict[str, str] | None = None  # the agent's extra environment (e.g. a shorter alert period)

    def record(self) -> dict[str, Any]:
        """A valid record: the model's made-up example."""
        return dict(self.model.manifest["example"][0])

    def restart_agent(self) -> None:
        from opml.agent.launcher import start_agent

        if self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(timeout=30)
        self.agent = start_agent(self.backend.path, extra_env=self.agent_env)

    def close(self) -> None:
        try:
            self.backend.delete_service(self.service.name)
            deadline = time.monotonic() + 30
            names = lambda: {service.name for service in self.backend.list_services()}  # noqa: E731
            while time.monotonic() < deadline and self.service.name in names():
                time.sleep(0.2)
        finally:
            if self.agent.poll() is None:
                self.agent.terminate()
                self.agent.wait(timeout=30)


def _guessed_task(data: Path, label: str) -> str:
    from opml.automl.settings import guess_task
    from opml.data.csv_format import parse_csv

    frame, _ = parse_csv(data.read_bytes())
    return guess_task(frame[label])


def stage(args: argparse.Namespace, *, telemetry: bool = True, agent_env: dict[str, str] | None = None) -> Stage:
    """Train (or find) the model, start an agent (with ``agent_env`` added to its environment) and deploy the
    model; raises SystemExit with a reason."""
    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend

    if args.workspace:
        backend = LocalBackend(args.workspace)
        backend.get_model(args.model)
        automl = None
    elif args.data:
        backend = LocalBackend(Path(tempfile.mkdtemp(prefix="opml-bench-")))
        backend.register_dataset(name="train", source=Path(args.data))
        automl = {
            "dataset": "train",
            "label_column": args.label,
            "task": getattr(args, "task", None) or _guessed_task(Path(args.data), args.label),
            "experiment_timeout_minutes": args.timeout_minutes,
            "max_iterations": 1000,
        }
    else:
        raise SystemExit("give --data CSV (to train) or --workspace DIR (with a registered --model)")
    agent = start_agent(backend.path, extra_env=agent_env)
    if agent is None:
        raise SystemExit(f"an agent already runs for {backend.path}: stop it, so the bench starts its own")
    if automl:
        run = backend.submit_run(experiment="bench", run_type="automl", compute="cpu-cluster", params=automl)
        finished = backend.wait_for_run(run.id, timeout=args.timeout_minutes * 120 + 120)
        if finished.status != "Completed":
            agent.terminate()
            raise SystemExit(f"training ended {finished.status}: {finished.error}")
        backend.register_model(name=args.model, run_id=run.id)
    model = backend.get_model(args.model)
    name = f"bench-{int(time.time())}"
    backend.deploy_model(name=name, model_name=model.name, model_version=model.version, app_insights_enabled=telemetry)
    service = backend.wait_for_service(name, timeout=120)
    if service.state != "Healthy":
        agent.terminate()
        raise SystemExit(f"service is {service.state}: {service.error}")
    host, port = service.base_uri.removeprefix("http://").split(":")
    return Stage(backend, agent, service, backend.get_service_keys(name).primary, model, host, int(port), agent_env)
