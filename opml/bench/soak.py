"""Soak: many mixed requests against a deployed service with telemetry on; prints what came back.

Trains a model with a short AutoML run on --data (or uses --workspace/--model), deploys it, then sends
--requests requests at --concurrency: 90 % valid (1 to 100 records) and 10 % malformed of 12 kinds (bad
JSON, wrong types, unknown columns, a 9 MB body, wrong key, no key, wrong content type, NaN, deep
nesting, a huge string, no records, records that are not objects). Prints the count by status code, the
unexpected answers (any 5xx, a 200 to a bad request, a 4xx to a good one), latency percentiles, telemetry
rows against requests sent (and the rows the service dropped), the service's memory at start and end, and
the growth of the workspace database. Goals: 0 unexpected, rows = requests, memory growth <= 50 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import psutil

from opml.bench.stage import add_model_arguments, stage

# kind -> the statuses that are right for it
MALFORMED = {
    "bad json": {400},
    "wrong type": {400},
    "unknown column": {400},
    "9 MB body": {413},
    "wrong key": {401},
    "no key": {401},
    "wrong content type": {415},
    "NaN": {400},
    "deep nesting": {400},
    "huge string": {400},
    "no records": {400},
    "not objects": {400},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--requests", type=int, default=50_000, help="requests in all (default 50,000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def request_for(kind: str, record: dict[str, Any], rng: random.Random, key: str) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one request of ``kind`` ("valid" or a key of MALFORMED)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    numeric = next(name for name, value in record.items() if isinstance(value, (int, float)))
    if kind == "valid":
        return json.dumps({"data": [record] * rng.randint(1, 100)}).encode(), headers
    bodies = {
        "bad json": b'{"data": [',
        "wrong type": json.dumps({"data": [{**record, numeric: "forty"}]}).encode(),
        "unknown column": json.dumps({"data": [{**record, "shoe_size": 42}]}).encode(),
        "9 MB body": b'{"data": [' + b'{"x": 1},' * 1_000_000 + b'{"x": 1}]}',
        "NaN": json.dumps({"data": [record]}).replace(json.dumps(record[numeric]), "NaN", 1).encode(),
        "deep nesting": json.dumps({"data": [{**record, numeric: 0}]})
        .replace(f'"{numeric}": 0', f'"{numeric}": ' + "[" * 5000 + "]" * 5000)
        .encode(),
        "huge string": json.dumps({"data": [{**record, numeric: "x" * 1_000_000}]}).encode(),
        "no records": b'{"data": []}',
        "not objects": b'{"data": [1, 2, 3]}',
    }
    body = bodies.get(kind, json.dumps({"data": [record]}).encode())
    if kind == "wrong key":
        headers["Authorization"] = "Bearer not-the-key"
    elif kind == "no key":
        del headers["Authorization"]
    elif kind == "wrong content type":
        headers["Content-Type"] = "text/plain"
    return body, headers


class Connection:
    """A keep-alive connection that reconnects when the server closed it (after a 413, say)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            try:
                self.connection.request("POST", "/score", body=body, headers=headers)
                response = self.connection.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.connection.close()
                return response.status
            except (ConnectionError, http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    return 0  # no answer at all
        return 0


def warm_up(bench, seed: int, count: int = 500) -> None:
    """``count`` requests of the same mix, before the service's memory is first read."""
    rng = random.Random(seed + 1)
    connection = Connection(bench.host, bench.port)
    for _ in range(count):
        kind = "valid" if rng.random() < 0.9 else rng.choice(list(MALFORMED))
        connection.post(*request_for(kind, bench.record(), rng, bench.key))


def database_bytes(backend) -> int:
    db = backend.layout.db
    return sum(path.stat().st_size for path in (db, db.with_name(db.name + "-wal")) if path.exists())


def run(args: argparse.Namespace) -> int:
    bench = stage(args, telemetry=True)
    backend, service = bench.backend, bench.service
    try:
        process = psutil.Process(backend.services.process_of(service.name)[0])
        warm_up(bench, args.seed)  # the first requests fill caches and start threads: not a leak
        rss_start = process.memory_info().rss
        db_start = database_bytes(backend)
        rows_before = 0
        while rows_before < 500:  # every warm-up request is recorded before the count starts
            time.sleep(0.2)
            rows_before = len(backend.get_service_telemetry(service.name))
        rng = random.Random(args.seed)
        kinds = ["valid" if rng.random() < 0.9 else rng.choice(list(MALFORMED)) for _ in range(args.requests)]
        prepared = {kind: request_for(kind, bench.record(), rng, bench.key) for kind in MALFORMED}
        results: list[tuple[str, int, float]] = []
        lock = threading.Lock()
        position = iter(range(len(kinds)))

        def worker() -> None:
            connection = Connection(bench.host, bench.port)
            local_rng = random.Random(rng.random())
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                kind = kinds[index]
                body, headers = (
                    request_for(kind, bench.record(), local_rng, bench.key) if kind == "valid" else prepared[kind]
                )
                started = time.perf_counter()
                status = connection.post(body, headers)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    results.append((kind, status, elapsed))

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        deadline = time.monotonic() + 60
        rows = rows_before
        while time.monotonic() < deadline:  # the writer drains its queue in batches
            rows = len(backend.get_service_telemetry(service.name))
            if rows - rows_before >= len(results) - backend.get_service(service.name).telemetry_dropped:
                break
            time.sleep(0.5)
        dropped = backend.get_service(service.name).telemetry_dropped
        rss_end = process.memory_info().rss
        db_end = database_bytes(backend)
        integrity = backend.store.query_one("PRAGMA integrity_check")[0]
    finally:
        bench.close()
    report(results, seconds, rows - rows_before, dropped, rss_start, rss_end, db_start, db_end, integrity)
    return 0


def report(results, seconds, rows, dropped, rss_start, rss_end, db_start, db_end, integrity) -> None:
    statuses = Counter(status for _, status, _ in results)
    unexpected = Counter()
    for kind, status, _ in results:
        if status == 0 or status >= 500:
            unexpected[f"{kind}: {status or 'no answer'}"] += 1
        elif kind == "valid" and status != 200:
            unexpected[f"valid: {status}"] += 1
        elif kind != "valid" and status not in MALFORMED[kind]:
            unexpected[f"{kind}: {status}"] += 1
    valid = [elapsed for kind, status, elapsed in results if kind == "valid"]
    kinds = Counter(kind for kind, _, _ in results)
    print(f"{len(results):,} requests in {seconds:.1f} s ({len(results) / seconds:.0f} req/s)")
    print("by kind: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    print("by status: " + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
    print(f"unexpected answers: {sum(unexpected.values())}" + (f" ({dict(unexpected)})" if unexpected else ""))
    print(
        f"latency of valid requests (1-100 records): p50 {np.percentile(valid, 50):.1f} ms, "
        f"p99 {np.percentile(valid, 99):.1f} ms"
    )
    print(f"telemetry rows {rows:,} for {len(results):,} requests sent; {dropped:,} dropped by the service")
    print(
        f"service memory {rss_start / 2**20:.0f} MB at start (after 500 warm-up requests), "
        f"{rss_end / 2**20:.0f} MB at end "
        f"({(rss_end - rss_start) / 2**20:+.0f} MB)"
    )
    print(f"opml.db (+ WAL) {db_start / 1e6:.1f} MB -> {db_end / 1e6:.1f} MB; integrity_check: {integrity}")
