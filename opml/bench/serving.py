"""Scoring latency and throughput of a deployed service over loopback, telemetry off and on.

Trains a model with a short AutoML run on --data (or uses --workspace/--model),
deploys it through the agent, then measures with keep-alive HTTP clients:
single-record p50/p99 (also in the input_data body of SDK v2 managed endpoints), 100-record batch p50,
one record explained (binary classifiers and regressors), throughput at concurrency 8, and the in-process
floor (the model's own predict on one record: ``predict_proba_records`` for a classifier, ``predict_records``
for a regressor, e.g. ``--data diamonds.csv --label price --task regression``). With --collect, also the
cost of data collection (every request collected) on throughput: off and on in alternating rounds, the
median of each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from opml.bench.stage import add_model_arguments, stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="single-record requests (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run (default 10)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--collect", type=int, default=0, metavar="ROUNDS", help="also measure data collection's cost over N rounds"
    )
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


def run(args: argparse.Namespace) -> int:
    bench = stage(args, telemetry=False)
    backend, name, key, host, port = bench.backend, bench.service.name, bench.key, bench.host, bench.port
    model_entry = bench.model
    try:
        row = bench.record()
        one = json.dumps({"data": [row]}).encode()
        hundred = json.dumps({"data": [row] * 100}).encode()
        model = backend.load_model(model_entry.name, model_entry.version).prepare_for_serving()
        regression = getattr(model, "task", "classification") == "regression"
        predict_one = model.predict_records if regression else model.predict_proba_records
        floor = []
        for _ in range(2000):
            started = time.perf_counter()
            predict_one([row])
            floor.append((time.perf_counter() - started) * 1000)
        client = Client(host, port, key)
        single = latencies(client, one, args.requests)
        # The same record in the MLflow body of SDK v2 managed endpoints (a local service takes both).
        split_one = json.dumps({"input_data": {"columns": list(row), "index": [0], "data": [list(row.values())]}})
        split = latencies(client, split_one.encode(), args.requests)
        batch = latencies(client, hundred, max(50, args.requests // 10))
        explained: list[float] = []
        if regression or len(model.classes) == 2:  # explanations cover binary classifiers and regressors
            explain_one = json.dumps({"Inputs": {"data": [row]}, "GlobalParameters": {"method": "explain"}}).encode()
            explained = latencies(client, explain_one, max(200, args.requests // 4))
        results = {}
        for insights in (False, True):
            backend.update_service(name, app_insights_enabled=insights)
            results[insights] = throughput(host, port, key, one, args.concurrency, args.seconds)
        backend.update_service(name, app_insights_enabled=False)
        collection = collection_cost(bench, one, args) if args.collect > 0 else None
        writer_cost = collection_cpu(model_entry, row, regression) if args.collect > 0 else None
    finally:
        bench.close()
    p = lambda values, q: float(np.percentile(values, q))  # noqa: E731
    task = "regression" if regression else f"classification, {len(model.classes)} classes"
    print(f"model {model_entry.id} ({model_entry.algorithm}, {len(model.members)} member(s), {task})")
    floor_method = "predict_records" if regression else "predict_proba_records"
    print(
        f"in-process floor, 1 record ({floor_method}): p50 {statistics.median(floor):.3f} ms  "
        f"p99 {p(floor, 99):.3f} ms (goal <= 2 ms)"
    )
    print(f"HTTP 1 record: p50 {p(single, 50):.2f} ms  p99 {p(single, 99):.2f} ms  ({len(single)} requests)")
    print(f"HTTP 1 record as input_data: p50 {p(split, 50):.2f} ms  p99 {p(split, 99):.2f} ms  ({len(split)} requests)")
    print(f"HTTP 100 records: p50 {p(batch, 50):.2f} ms  p99 {p(batch, 99):.2f} ms")
    if explained:
        print(
            f"HTTP explain 1 record: p50 {p(explained, 50):.2f} ms  p99 {p(explained, 99):.2f} ms  (goal p50 <= 5 ms; "
            f"{len(explained)} requests)"
        )
    else:
        print("HTTP explain: not measured (multiclass models are not explained)")
    off, on = results[False], results[True]
    print(
        f"throughput at concurrency {args.concurrency}: telemetry off {off:.0f} req/s, on {on:.0f} req/s "
        f"({100 * (off - on) / off:+.1f} % cost)"
    )
    if collection is not None:
        off, on = collection["off"], collection["on"]
        print(
            f"throughput at concurrency {args.concurrency}, telemetry off: data collection off {off:.0f} req/s, "
            f"on (every request) {on:.0f} req/s ({100 * (off - on) / off:+.1f} % cost; median of {args.collect} "
            f"alternating rounds; {collection['sent']:,.0f} requests sent with it on, {collection['rows']:,} records "
            f"collected, {collection['dropped']:,} dropped)"
        )
        enqueue_us, total_us = writer_cost
        print(
            f"data collection CPU per 1-record request, in process: {enqueue_us:.1f} us on the request path "
            f"(enqueue), {total_us:.1f} us in all (with the writer thread's Arrow table and Parquet file); an HTTP "
            f"request's p50 above is {p(single, 50) * 1000:.0f} us"
        )
    return 0


def collection_cpu(model_entry, record: dict, regression: bool = False, count: int = 20_000) -> tuple[float, float]:
    """CPU microseconds per 1-record request of data collection: on the request path, and in all."""
    import tempfile

    from opml.serving.collection import CollectionWriter

    with tempfile.TemporaryDirectory() as folder:
        writer = CollectionWriter(
            Path(folder),
            deployment=model_entry.id,
            input_schema=model_entry.manifest["input_schema"],
            classes=model_entry.manifest["classes"],
            task="regression" if regression else "classification",
            flush_seconds=60,
        )
        classes = model_entry.manifest["classes"]
        proba = None if regression else np.full((1, len(classes)), 1 / len(classes))
        labels = [1.5] if regression else [classes[0]]
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(count):
            writer.record(request_id="0f8fad5b-d9cb-469f-a165-70867728950e", at=time.time(), records=[record],
                          labels=labels, proba=proba)  # fmt: skip
        enqueue = time.perf_counter() - started
        writer.close()
        total = time.process_time() - cpu
    return enqueue / count * 1e6, total / count * 1e6


def collection_cost(bench, body: bytes, args: argparse.Namespace) -> dict[str, float]:
    """Median throughput with data collection off and on (rate 1), in alternating rounds, and the records
    the service wrote and dropped."""
    backend, name = bench.backend, bench.service.name
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.collect):
        for collect in (False, True):
            backend.update_service(name, data_collection=collect, collection_sampling_rate=1.0)
            rates[collect].append(throughput(bench.host, bench.port, bench.key, body, args.concurrency, args.seconds))
    backend.update_service(name, data_collection=False)
    time.sleep(6)  # the writer's last flush
    service = backend.get_service(name)
    return {
        "sent": sum(rates[True]) * args.seconds,
        "off": statistics.median(rates[False]),
        "on": statistics.median(rates[True]),
        "rows": service.collection_rows,
        "dropped": service.collection_dropped,
    }
