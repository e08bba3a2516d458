"""Published-pipeline trigger latency and end-to-end time over the REST gateway.

Builds a pipeline (AutoML step + register step) on --data in a temporary workspace, publishes it,
starts the agent (and its gateway), then measures: trigger -> Id latency (p50/p99 over --triggers
POSTs, each run cancelled at once), trigger -> first step Running on a free compute, and a full run
with a --automl-seconds AutoML step from trigger to Completed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from opml.client import pipeline_run_status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="CSV to train on, e.g. ../shared/data/bankmarketing_train.csv")
    parser.add_argument("--label", default="y")
    parser.add_argument("--triggers", type=int, default=50, help="POSTs for the latency figure (default 50)")
    parser.add_argument("--automl-seconds", type=float, default=60.0, help="AutoML step budget (default 60)")
    parser.set_defaults(run=run)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    os.environ["OPML_GATEWAY_PORT"] = str(_free_port())
    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend
    from opml.settings import get_settings

    get_settings.cache_clear()
    backend = LocalBackend(Path(tempfile.mkdtemp(prefix="opml-bench-pipelines-")))
    backend.register_dataset(name="train", source=Path(args.data))
    steps = [
        {
            "name": "train",
            "type": "automl",
            "settings": {
                "dataset": "${dataset}",
                "label_column": args.label,
                "experiment_timeout_minutes": "${minutes}",
            },
        },
        {"name": "register", "type": "register_model", "model_name": "bench-model"},
    ]
    pipeline = backend.create_pipeline(
        name="bench", steps=steps, parameters={"dataset": "train", "minutes": args.automl_seconds / 60}
    )
    published = backend.publish_pipeline(pipeline.id, name="Bench Train")
    status_url = published.endpoint.split("/PipelineSubmit/")[0]
    headers = backend.auth_header()
    agent = start_agent(backend.path)
    try:
        session = requests.Session()
        for _ in range(50):  # wait for the gateway
            try:
                session.get(f"{status_url}/warmup", headers=headers, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        latencies = []
        for _ in range(args.triggers):
            started = time.perf_counter()
            response = session.post(published.endpoint, headers=headers, json={"ExperimentName": "latency"})
            latencies.append((time.perf_counter() - started) * 1000)
            backend.cancel_run(response.json()["Id"])
        time.sleep(2)  # let the cancelled runs clear the compute
        started = time.monotonic()
        run_id = session.post(published.endpoint, headers=headers, json={"ExperimentName": "full"}).json()["Id"]
        step_running = None
        while True:
            document = session.get(f"{status_url}/{run_id}", headers=headers).json()
            if step_running is None and any(s["Status"] == "Running" for s in document["StepRuns"]):
                step_running = time.monotonic() - started
            if pipeline_run_status(document) in ("Completed", "Failed", "Canceled"):
                break
            time.sleep(0.1)
        total = time.monotonic() - started
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    print(
        f"trigger -> Id: p50 {statistics.median(latencies):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms "
        f"({len(latencies)} POSTs)"
    )
    print(f"trigger -> first step Running: {step_running:.2f} s")
    print(f"full pipeline ({args.automl_seconds:.0f}-s AutoML step + register): {document['Status']} in {total:.1f} s")
    return 0
