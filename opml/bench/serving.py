"""Scoring latency and throughput of a deployed service over loopback, telemetry off and on.

Trains a model with a short AutoML run on --data (or uses --workspace/--model),
deploys it through the agent, then measures with keep-alive HTTP clients:
single-record p50/p99, 100-record batch p50, throughput at concurrency 8, and the
in-process floor (the model's own predict on one record).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="CSV to train on (a short AutoML run), e.g. ../shared/data/bankmarketing_train.csv"
    )
    parser.add_argument("--label", default="y")
    parser.add_argument("--timeout-minutes", type=float, default=1.0, help="AutoML budget when training (default 1)")
    parser.add_argument("--workspace", help="use this workspace's registered model instead of training")
    parser.add_argument("--model", default="bench", help="registered model name (default bench)")
    parser.add_argument("--requests", type=int, default=2000, help="single-record requests (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run (default 10)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.set_defaults(run=run)


class Client:
    """One keep-alive HTTP connection (http.client: far less client overhead than requests)."""

    def __init__(self, host: str, port: int, key: str):
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def post(self, body: bytes) -> float:
        started = time.perf_counter()
        self.connection.request("POST", "/score", body=body, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return (time.perf_counter() - started) * 1000


def latencies(client: Client, body: bytes, count: int) -> list[float]:
    for _ in range(min(50, count)):
        client.post(body)
    return [client.post(body) for _ in range(count)]


def throughput(host: str, port: int, key: str, body: bytes, concurrency: int, seconds: float) -> float:
    counts = [0] * concurrency
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        client = Client(host, port, key)
        while time.monotonic() < stop:
            client.post(body)
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def prepare(args: argparse.Namespace):
    from opml.backends.local import LocalBackend

    if args.workspace:
        backend = LocalBackend(args.workspace)
        backend.get_model(args.model)
        return backend, None
    if not args.data:
        raise SystemExit("give --data CSV (to train) or --workspace DIR (with a registered --model)")
    backend = LocalBackend(Path(tempfile.mkdtemp(prefix="opml-bench-serving-")))
    backend.register_dataset(name="train", source=Path(args.data))
    return backend, {
        "dataset": "train",
        "label_column": args.label,
        "experiment_timeout_minutes": args.timeout_minutes,
        "max_iterations": 1000,
    }


def run(args: argparse.Namespace) -> int:
    from opml.agent.launcher import start_agent

    backend, automl = prepare(args)
    agent = start_agent(backend.path)
    try:
        if automl:
            run_ = backend.submit_run(experiment="bench", run_type="automl", compute="cpu-cluster", params=automl)
            finished = backend.wait_for_run(run_.id, timeout=args.timeout_minutes * 120 + 120)
            if finished.status != "Completed":
                raise SystemExit(f"training ended {finished.status}: {finished.error}")
            backend.register_model(name=args.model, run_id=run_.id)
        model_entry = backend.get_model(args.model)
        name = f"bench-{int(time.time())}"
        backend.deploy_model(name=name, model_name=model_entry.name, model_version=model_entry.version)
        service = backend.wait_for_service(name, timeout=120)
        if service.state != "Healthy":
            raise SystemExit(f"service is {service.state}: {service.error}")
        key = backend.get_service_keys(name).primary
        host, port = service.base_uri.removeprefix("http://").split(":")
        example = model_entry.manifest["example"][:1]
        schema = model_entry.manifest["input_schema"]
        row = {c["name"]: c["default"] for c in schema} | example[0]
        one = json.dumps({"data": [row]}).encode()
        hundred = json.dumps({"data": [row] * 100}).encode()
        model = backend.load_model(model_entry.name, model_entry.version).prepare_for_serving()
        floor = []
        for _ in range(2000):
            started = time.perf_counter()
            model.predict_proba_records([row])
            floor.append((time.perf_counter() - started) * 1000)
        client = Client(host, int(port), key)
        single = latencies(client, one, args.requests)
        batch = latencies(client, hundred, max(50, args.requests // 10))
        results = {}
        for insights in (False, True):
            backend.update_service(name, app_insights_enabled=insights)
            results[insights] = throughput(host, int(port), key, one, args.concurrency, args.seconds)
        backend.delete_service(name)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    p = lambda values, q: float(np.percentile(values, q))  # noqa: E731
    print(f"model {model_entry.id} ({model_entry.algorithm}, {len(model.members)} member(s))")
    print(f"in-process floor, 1 record: p50 {statistics.median(floor):.3f} ms")
    print(f"HTTP 1 record: p50 {p(single, 50):.2f} ms  p99 {p(single, 99):.2f} ms  ({len(single)} requests)")
    print(f"HTTP 100 records: p50 {p(batch, 50):.2f} ms  p99 {p(batch, 99):.2f} ms")
    off, on = results[False], results[True]
    print(
        f"throughput at concurrency {args.concurrency}: telemetry off {off:.0f} req/s, on {on:.0f} req/s "
        f"({100 * (off - on) / off:+.1f} % cost)"
    )
    return 0
