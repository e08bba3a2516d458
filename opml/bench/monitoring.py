"""Monitoring end to end: collected requests, the drift table, collection's cost and a drift alert.

Trains a model with a short AutoML run on --data (or uses --workspace/--model), deploys it through an agent
that evaluates alert rules every --evaluate-seconds, turns data collection on (every request) and creates a
drift alert rule (PSI above 0.25 over the last --window-minutes, for 0 minutes) whose webhook is a receiver
the bench runs on 127.0.0.1. Then sends --requests single-record requests drawn from --data at
--concurrency, the first half as they are and the second half shifted (age +15, euribor3m -2.5, job drawn
uniformly from its categories), and prints: the drift table of each half's time window as the Monitoring
page shows it (and whether exactly the shifted features are flagged), how long after the shift the alert
fired and its webhook arrived, the time to compute the drift table over --drift-rows collected rows (the
service's own collected files copied until there are that many; best of 3), and the scoring throughput cost
of data collection at --concurrency (off and on in alternating rounds, the medians).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from opml.bench import drift as drift_bench
from opml.bench import serving
from opml.bench.stage import add_model_arguments, model_arguments_error, stage

SHIFT = {"age": 15, "euribor3m": -2.5}  # added to the numeric features; job is drawn uniformly
SHIFTED = ("age", "euribor3m", "job")
THRESHOLD = 0.25
MAX_WEBHOOK_BYTES = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.set_defaults(data=os.environ.get("OPML_BANK_CSV") or str(drift_bench.DEFAULT_DATA))
    parser.add_argument("--requests", type=int, default=20_000, help="single-record requests, half shifted")
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending at once (default 8)")
    parser.add_argument(
        "--evaluate-seconds", type=int, default=5, help="the agent's alert evaluation period (default 5; 60 in use)"
    )
    parser.add_argument("--window-minutes", type=float, default=5.0, help="the drift rule's window (default 5)")
    parser.add_argument("--alert-timeout", type=float, default=180.0, help="seconds to wait for the alert")
    parser.add_argument("--drift-rows", type=int, default=1_000_000, help="rows to time the drift table over")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the collection cost")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run (default 10)")
    parser.set_defaults(run=run)


def usage_error(args: argparse.Namespace) -> str | None:
    """Why these arguments cannot run (nothing has started yet), or None."""
    problem = model_arguments_error(args, data_always=True)
    if problem:
        return problem
    if not 1_000 <= args.requests <= 10_000_000 or args.requests % 2:
        return "--requests must be an even number from 1,000 to 10,000,000"
    if not 1 <= args.concurrency <= 64:
        return "--concurrency must be from 1 to 64"
    if not 1 <= args.evaluate_seconds <= 3600:
        return "--evaluate-seconds must be a whole number from 1 to 3,600"
    if not 1 <= args.window_minutes <= 10_080:
        return "--window-minutes must be from 1 to 10,080 (7 days)"
    if not 0 < args.alert_timeout <= 3600 or not 0 < args.seconds <= 600:
        return "--alert-timeout must be from 0 to 3,600 seconds and --seconds from 0 to 600 (both above 0)"
    if not 1 <= args.drift_rows <= 100_000_000 or not 1 <= args.rounds <= 100:
        return "--drift-rows must be from 1 to 100,000,000 and --rounds from 1 to 100"
    return None


def request_bodies(data: str, label: str, count: int, seed: int = 0) -> list[bytes]:
    """``count`` single-record request bodies drawn from the CSV, the second half shifted."""
    import pandas as pd

    frame = pd.read_csv(data, sep=None, engine="python").drop(columns=[label])
    rng = np.random.default_rng(seed)
    sample = frame.iloc[rng.integers(0, len(frame), count)].reset_index(drop=True)
    later = np.arange(count) >= count // 2
    for column, offset in SHIFT.items():
        if column in sample:
            sample[column] = np.where(later, sample[column] + offset, sample[column])
    if "job" in sample:
        jobs = np.array(sorted(frame["job"].dropna().astype(str).unique()))
        sample["job"] = np.where(later, jobs[rng.integers(0, len(jobs), count)], sample["job"].astype(str))
    records = sample.to_dict(orient="records")  # Python numbers: json.dumps writes each float exactly as read
    return [json.dumps({"data": [record]}).encode() for record in records]


def send(bench, bodies: list[bytes], concurrency: int) -> None:
    """Send every body once from ``concurrency`` keep-alive clients; raises on a non-200 answer."""
    position = iter(range(len(bodies)))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        client = serving.Client(bench.host, bench.port, bench.key)
        try:
            while True:
                with lock:
                    index = next(position, None)
                if index is None or failures:
                    return
                client.post(bodies[index])
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"a request failed: {failures[0]}")


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that keeps the arrival time and JSON of the first POSTs it receives."""

    def __init__(self, keep: int = 10):
        self.received: list[tuple[float, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_WEBHOOK_BYTES:
                    self.send_error(413)
                    return
                try:
                    document = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_error(400)
                    return
                if len(receiver.received) < keep:
                    receiver.received.append((at, document))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts/bench"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def first_firing(self) -> tuple[float, Any] | None:
        return next(((at, doc) for at, doc in self.received if doc.get("state") == "Firing"), None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition, timeout: float, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(poll)


def grow_collected(folder: Path, target_rows: int) -> list[Path]:
    """Copy the service's collected files (as new files of the same minutes) until they hold at least
    ``target_rows`` rows; the copies made."""
    import pyarrow.parquet as pq

    from opml.monitoring.collected import collected_files, span_of

    originals = collected_files(folder)
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in originals)
    if not rows:
        raise SystemExit("nothing was collected")
    copies, total, round_ = [], rows, 0
    while total < target_rows:
        round_ += 1
        for path in originals:
            if total >= target_rows:
                break
            first, _ = span_of(path)
            copy = path.with_name(f"{int(first * 1000)}-{900_000 + round_}-{len(copies)}.parquet")
            shutil.copyfile(path, copy)
            copies.append(copy)
            total += pq.ParquetFile(path).metadata.num_rows
    return copies


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def run(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(problem)
        return 2
    bodies = request_bodies(args.data, args.label, args.requests)
    print(f"{len(bodies):,} request bodies from {args.data}; the second half shifted ({', '.join(SHIFTED)}); {load()}")
    bench = stage(args, telemetry=False, agent_env={"OPML_ALERT_EVALUATE_SECONDS": str(args.evaluate_seconds)})
    receiver = WebhookReceiver()
    try:
        return measure(bench, receiver, bodies, args)
    finally:
        receiver.close()
        bench.close()


def measure(bench, receiver: WebhookReceiver, bodies: list[bytes], args: argparse.Namespace) -> int:
    backend, name = bench.backend, bench.service.name
    backend.update_service(name, data_collection=True, collection_sampling_rate=1.0)
    rule = backend.create_alert_rule(
        name, kind="drift", threshold=THRESHOLD, window_minutes=args.window_minutes, webhook_url=receiver.url
    )
    print(
        f"service {name} (model {bench.model.id}), data collection on (every request); rule {rule.name!r} over "
        f"{args.window_minutes:g} min, for 0 min, webhook to the bench's receiver; the agent evaluates rules "
        f"every {args.evaluate_seconds} s (60 s by default)"
    )
    half = len(bodies) // 2
    started = time.time()
    send(bench, bodies[:half], args.concurrency)
    shifted_at = time.time()
    send(bench, bodies[half:], args.concurrency)
    ended = time.time()
    print(
        f"sent {half:,} requests as they are in {shifted_at - started:.1f} s, then {half:,} shifted in "
        f"{ended - shifted_at:.1f} s, at concurrency {args.concurrency}; {load()}"
    )
    collected = wait_for(lambda: backend.get_service(name).collection_rows >= len(bodies), 30)
    service = backend.get_service(name)
    print(f"collected {service.collection_rows:,} records, dropped {service.collection_dropped:,}")

    unshifted = backend.get_service_drift(name, since=started - 1, until=shifted_at)
    shifted = backend.get_service_drift(name, since=shifted_at, until=ended + 1)
    drift_bench.print_report("Drift as the page shows it, first half (as in training)", unshifted)
    drift_bench.print_report(f"Drift as the page shows it, second half (shifted: {', '.join(SHIFTED)})", shifted)
    flagged = {d.name for d in shifted.features if d.verdict in ("moderate", "drift")}
    stable = {d.name for d in unshifted.features if d.verdict == "stable"}
    names = {d.name for d in unshifted.features}
    verdicts_ok = bool(collected) and flagged == set(SHIFTED) & names and stable == names
    print(
        f"\nflagged in the second half: {', '.join(sorted(flagged)) or 'none'}; stable in the first: {len(stable)} "
        f"of {len(names)} -> {'exactly the shifted features' if verdicts_ok else 'NOT as expected'}"
    )

    def firing():
        return next((a for a in backend.list_alerts(name) if a.rule_id == rule.id), None)

    alert = wait_for(firing, max(0.0, args.alert_timeout - (time.time() - shifted_at)))
    hook = wait_for(receiver.first_firing, 15) if alert else None
    backend.set_alert_rule_enabled(rule.id, False)  # no evaluations during the timings below
    if alert is None:
        note = next(r for r in backend.list_alert_rules(name) if r.id == rule.id).note
        print(f"\nthe alert did not fire within {args.alert_timeout:g} s of the shift; the rule's last note: {note}")
    else:
        fired = alert.fired_at.timestamp()
        after = backend.get_service_drift(name, since=shifted_at, until=fired).rows
        window = backend.get_service_drift(name, since=fired - args.window_minutes * 60, until=fired).rows
        print(
            f"\nthe alert fired {fired - shifted_at:.1f} s after the shift began (the shifted half took "
            f"{ended - shifted_at:.1f} s; files are written every 5 s, rules evaluated every {args.evaluate_seconds} "
            f"s), when {after:,} shifted requests had been sent ({after / max(1, window):.0%} of the window): "
            f"{alert.message}"
        )
        if hook is None:
            print(f"its webhook did not arrive (status: {firing().webhook_status})")
        else:
            print(f"its webhook arrived {hook[0] - shifted_at:.1f} s after the shift: {hook[1]['summary']}")

    folder = backend.layout.service_dir(name)
    copies = grow_collected(folder, args.drift_rows)
    try:
        seconds, cpu, report = drift_bench.best_of(3, lambda: backend.get_service_drift(name, since=started - 1))
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
    print(
        f"\ndrift table over {report.rows:,} collected rows (the service's {service.collection_rows:,} copied into "
        f"{len(copies):,} more files), Backend.get_service_drift as the page calls it: {seconds:.2f} s (best of 3; "
        f"goal <= 2 s), {cpu:.2f} s of CPU; {load()}"
    )

    body = json.dumps({"data": [bench.record()]}).encode()
    loads = [os.getloadavg()[0]]
    cost_args = argparse.Namespace(collect=args.rounds, concurrency=args.concurrency, seconds=args.seconds)
    cost = serving.collection_cost(bench, body, cost_args)
    loads.append(os.getloadavg()[0])
    off, on = cost["off"], cost["on"]
    print(
        f"throughput at concurrency {args.concurrency}: data collection off {off:.0f} req/s, on (every request) "
        f"{on:.0f} req/s ({100 * (off - on) / off:+.1f} % cost; goal <= 10 %; median of {args.rounds} alternating "
        f"rounds of {args.seconds:g} s; load average {statistics.mean(loads):.1f} on {os.cpu_count()} shared cores)"
    )
    return 0 if verdicts_ok and alert is not None else 1
