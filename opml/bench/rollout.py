"""Safe rollout under load: a traffic split switched while requests flow, routing's overhead, mirror's cost.

Trains a model with a short AutoML run on --data (or uses --workspace/--model), deploys it through a real
agent as deployment "blue" of one endpoint and adds "green", a deployment of another model of the same run
(its LogisticRegression child, else another algorithm), registered as the next version. Then, over loopback
HTTP with keep-alive clients:

1. switching: --concurrency clients send single-record requests while the traffic goes 100/0 -> 90/10 ->
   50/50 -> 0/100 (promote green) -> 100/0 (promote blue); --phase-seconds each. Per phase, the split observed
   in the azureml-model-deployment response header against the one set, and the failed requests while each
   change was made and in all (goal 0);
2. routing overhead: one client's p50/p99 with green taking all the traffic against the same endpoint
   split 50/50 over green and "twin", a deployment of green's model added for this (so only the routing
   differs), in --rounds alternating rounds, the median of each (goal <= 0.2 ms at p50);
3. mirror: with green live, one client's p50/p99 with mirror traffic 0 against 50 % mirrored to blue (the
   AutoML best, a slower model), in alternating rounds with telemetry on in both, the medians; and how many
   mirrored requests the shadow recorded and how many it dropped (its queue is bounded).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from opml.bench import drift as drift_bench
from opml.bench.stage import add_model_arguments, model_arguments_error, stage
from opml.errors import OpmlError
from opml.rollout import DEPLOYMENT_HEADER

BLUE, GREEN, TWIN = "blue", "green", "twin"
MIRROR_PERCENT = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.set_defaults(data=os.environ.get("OPML_BANK_CSV") or str(drift_bench.DEFAULT_DATA))
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending while the split changes (8)")
    parser.add_argument("--phase-seconds", type=float, default=4.0, help="duration of each split (default 4)")
    parser.add_argument(
        "--requests", type=int, default=600, help="requests of each latency round, one client (default 600)"
    )
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds of each comparison (default 8)")
    parser.set_defaults(run=run)


def usage_error(args: argparse.Namespace) -> str | None:
    """Why these arguments cannot run (nothing has started yet), or None."""
    problem = model_arguments_error(args)
    if problem:
        return problem
    if not 1 <= args.concurrency <= 64:
        return "--concurrency must be from 1 to 64"
    if not (0.5 <= args.phase_seconds <= 600):
        return "--phase-seconds must be from 0.5 to 600"
    if not 100 <= args.requests <= 1_000_000:
        return "--requests must be from 100 to 1,000,000"
    if not 1 <= args.rounds <= 100:
        return "--rounds must be from 1 to 100"
    return None


class Client:
    """One keep-alive connection that reports which deployment answered; reconnects after a failure."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port = host, port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def post(self, body: bytes) -> tuple[int, str | None, float]:
        """(HTTP status, or 0 when the connection failed; the deployment that answered; milliseconds)."""
        started = time.perf_counter()
        try:
            self.connection.request("POST", "/score", body=body, headers=self.headers)
            response = self.connection.getresponse()
            response.read()
            status, deployment = response.status, response.getheader(DEPLOYMENT_HEADER)
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            status, deployment = 0, None
        return status, deployment, (time.perf_counter() - started) * 1000

    def latencies(self, body: bytes, count: int, warmup: int = 100) -> tuple[list[float], Counter]:
        """``count`` timed requests after ``warmup`` untimed ones: milliseconds and who answered (raises on a
        failed request: a latency round is not a fault test)."""
        for _ in range(warmup):
            self.post(body)
        times, answered = [], Counter()
        for _ in range(count):
            status, deployment, ms = self.post(body)
            if status != 200:
                raise SystemExit(f"a latency request failed (HTTP {status})")
            times.append(ms)
            answered[deployment] += 1
        return times, answered


# -- 1. switching under load --------------------------------------------------------------------------


@dataclass
class Phase:
    label: str  # what was done, e.g. "set_traffic 90/10"
    split: dict[str, int]  # the split set
    change_seconds: float = 0.0  # how long the change call took
    answered: Counter = field(default_factory=Counter)  # deployment -> requests sent after the change returned
    failed: int = 0  # failed requests sent after the change returned
    during: int = 0  # requests in flight while the change was being made
    during_failed: int = 0
    changed_at: float = 0.0  # perf_counter when the change call returned
    strays: list[float] = field(default_factory=list)  # ms after changed_at of answers from a 0 % deployment


def switch_under_load(bench, body: bytes, concurrency: int, seconds: float) -> list[Phase]:
    """Send from ``concurrency`` clients while the split goes through the phases; each request is counted in
    the phase in force from its sending to its answer, or, when a change was being made in between, as sent
    during that change."""
    backend, name = bench.backend, bench.service.name
    steps = [
        ("start (one deployment takes all)", {BLUE: 100, GREEN: 0}, lambda: backend.get_service(name)),
        ("set_traffic 90/10", {BLUE: 90, GREEN: 10}, lambda: backend.set_traffic(name, {BLUE: 90, GREEN: 10})),
        ("set_traffic 50/50", {BLUE: 50, GREEN: 50}, lambda: backend.set_traffic(name, {BLUE: 50, GREEN: 50})),
        ("promote_deployment green", {BLUE: 0, GREEN: 100}, lambda: backend.promote_deployment(name, GREEN)),
        ("promote_deployment blue (back)", {BLUE: 100, GREEN: 0}, lambda: backend.promote_deployment(name, BLUE)),
    ]
    phases = [Phase(label, split) for label, split, _ in steps]
    state = [0, False]  # the phase in force, and whether its change is being made (replaced whole, read once)
    stop = threading.Event()
    results: list[list[tuple[int, bool, float, int, str | None]]] = [[] for _ in range(concurrency)]

    def worker(index: int) -> None:
        client = Client(bench.host, bench.port, bench.key)
        out = results[index]
        while not stop.is_set():
            before = tuple(state)
            sent = time.perf_counter()
            status, deployment, _ = client.post(body)
            after = tuple(state)
            # a request in flight when a change began counts as sent during that change
            phase, changing = after[0], after != before or after[1]
            out.append((phase, changing, sent, status, deployment))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        for index, (_, _, change) in enumerate(steps):
            state[:] = index, True
            started = time.perf_counter()
            service = change()
            phases[index].changed_at = time.perf_counter()
            phases[index].change_seconds = phases[index].changed_at - started
            if service.traffic != phases[index].split:
                raise SystemExit(f"{steps[index][0]} left traffic {service.traffic}, not {phases[index].split}")
            state[:] = index, False
            time.sleep(seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    for rows in results:
        for phase, changing, sent, status, deployment in rows:
            target = phases[phase]
            if changing:
                target.during += 1
                target.during_failed += status != 200
            elif status == 200:
                target.answered[deployment] += 1
                if not target.split.get(deployment):
                    target.strays.append((sent - target.changed_at) * 1000)
            else:
                target.failed += 1
    return phases


def print_switching(phases: list[Phase], concurrency: int, seconds: float) -> int:
    print(
        f"\n1. switching under load: {concurrency} clients, single-record requests, {seconds:g} s per split "
        f"(split: set vs observed in the {DEPLOYMENT_HEADER} response header)"
    )
    outside = 0
    for phase in phases:
        total = sum(phase.answered.values())
        green = phase.answered[GREEN]
        share = phase.split[GREEN] / 100
        sigma = math.sqrt(total * share * (1 - share)) if total else 0.0
        within = abs(green - total * share) <= 4 * sigma + (0 if 0 < share < 1 else 0.5)
        outside += not within
        observed = f"{100 * (total - green) / max(1, total):5.1f}/{100 * green / max(1, total):4.1f}"
        print(
            f"  {phase.label:<33} set {phase.split[BLUE]:>3}/{phase.split[GREEN]:<3} observed {observed} of "
            f"{total:>6,} requests ({'within' if within else 'OUTSIDE'} 4 sd)  failed {phase.failed}; "
            f"during the change ({phase.change_seconds * 1000:.0f} ms): {phase.during} in flight, "
            f"{phase.during_failed} failed"
        )
        if phase.strays:
            print(
                f"    {len(phase.strays)} answer(s) from a deployment set to 0 %, sent {min(phase.strays):.1f} to "
                f"{max(phase.strays):.1f} ms after the change returned"
            )
    sent = sum(sum(p.answered.values()) + p.failed + p.during for p in phases)
    failed = sum(p.failed + p.during_failed for p in phases)
    print(f"  in all: {sent:,} requests, {failed} failed (goal 0)")
    return failed + outside


# -- 2. routing overhead ------------------------------------------------------------------------------


def alternate(configure, client: Client, body: bytes, configs: tuple, rounds: int, count: int) -> dict:
    """Per config: the median over ``rounds`` alternating rounds of each round's p50 and p99, and who
    answered in all."""
    p50s: dict = {config: [] for config in configs}
    p99s: dict = {config: [] for config in configs}
    answered: dict = {config: Counter() for config in configs}
    for _ in range(rounds):
        for config in configs:
            configure(config)
            times, who = client.latencies(body, count)
            p50s[config].append(float(np.percentile(times, 50)))
            p99s[config].append(float(np.percentile(times, 99)))
            answered[config] += who
    return {
        config: (statistics.median(p50s[config]), statistics.median(p99s[config]), answered[config])
        for config in configs
    }


def routing_overhead(bench, body: bytes, args: argparse.Namespace) -> dict:
    backend, name = bench.backend, bench.service.name
    splits = {"single": {GREEN: 100}, "split": {GREEN: 50, TWIN: 50}}
    client = Client(bench.host, bench.port, bench.key)
    return alternate(
        lambda config: backend.set_traffic(name, splits[config]),
        client,
        body,
        tuple(splits),
        args.rounds,
        args.requests,
    )


def pick_microseconds(count: int = 200_000) -> dict[str, float]:
    """The router's draw of a deployment in process (what differs between the two configurations), in us."""
    from opml.serving.router import RoutingTable

    tables = {
        "single": RoutingTable(names=(GREEN,), bounds=(100.0,)),
        "split": RoutingTable(names=(GREEN, TWIN), bounds=(50.0, 100.0)),
    }
    result = {}
    for config, table in tables.items():
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(count):
                table.pick()
            best = min(best, (time.perf_counter() - started) / count * 1e6)
        result[config] = best
    return result


def print_overhead(result: dict, args: argparse.Namespace, model: str) -> float:
    (p50_one, p99_one, _), (p50_two, p99_two, answered) = result["single"], result["split"]
    print(
        f"\n2. routing overhead: one client, {args.requests:,} single-record requests per round, median of "
        f"{args.rounds} alternating rounds; both configurations serve {model}, so only the routing differs"
    )
    print(f"  one deployment takes all (green 100):          p50 {p50_one:.3f} ms  p99 {p99_one:.3f} ms")
    print(
        f"  two deployments of it at 50/50 (green/twin):  p50 {p50_two:.3f} ms  p99 {p99_two:.3f} ms  "
        f"(answered: green {answered[GREEN]:,}, twin {answered[TWIN]:,})"
    )
    overhead = p50_two - p50_one
    at_p99 = (p99_two - p99_one) * 1000
    print(f"  overhead at p50: {overhead * 1000:+.0f} us (goal <= 200 us); at p99: {at_p99:+.0f} us")
    pick = pick_microseconds()
    print(
        f"  the draw itself, in process (RoutingTable.pick, best of 3 x 200,000): {pick['single']:.2f} us with one "
        f"deployment, {pick['split']:.2f} us at 50/50 (the rest of the request path is the same code)"
    )
    return overhead


# -- 3. mirror's cost ---------------------------------------------------------------------------------


def mirror_cost(bench, body: bytes, args: argparse.Namespace) -> tuple[dict, dict]:
    backend, name = bench.backend, bench.service.name
    backend.promote_deployment(name, GREEN)
    backend.update_service(name, app_insights_enabled=True)
    before = backend.get_service(name).mirror_dropped
    since = time.time()
    client = Client(bench.host, bench.port, bench.key)
    mirrors = {0: {}, MIRROR_PERCENT: {BLUE: MIRROR_PERCENT}}
    result = alternate(
        lambda percent: backend.set_mirror_traffic(name, mirrors[percent]),
        client,
        body,
        tuple(mirrors),
        args.rounds,
        args.requests,
    )
    backend.set_mirror_traffic(name, {})
    until = time.time()
    sent = (args.requests + 100) * args.rounds  # with the mirror on, warm-up requests included

    def settled():
        stats = backend.compare_deployments(name, since=since, until=until + 1).stats(BLUE)
        dropped = backend.get_service(name).mirror_dropped - before
        return stats, dropped

    previous, deadline = None, time.monotonic() + 20
    while time.monotonic() < deadline:  # the telemetry writer's last batches
        time.sleep(1.0)
        current = settled()
        if previous is not None and (current[0].mirrored, current[1]) == (previous[0].mirrored, previous[1]):
            break
        previous = current
    stats, dropped = current
    backend.update_service(name, app_insights_enabled=False)
    counts = {
        "sent": sent,
        "recorded": stats.mirrored,
        "failed": stats.mirror_failed,
        "dropped": dropped,
        "agreement": stats.agreement,
        "shadow_p50": stats.mirror_p50,
    }
    return result, counts


def print_mirror(result: dict, counts: dict, args: argparse.Namespace, live: str, shadow: str) -> float:
    (p50_off, p99_off, _), (p50_on, p99_on, answered) = result[0], result[MIRROR_PERCENT]
    print(
        f"\n3. mirror traffic's cost to the caller: live green ({live}), mirror to blue ({shadow}); one client, "
        f"{args.requests:,} single-record requests per round, median of {args.rounds} alternating rounds, "
        "telemetry on in both"
    )
    print(f"  mirror 0:    p50 {p50_off:.3f} ms  p99 {p99_off:.3f} ms")
    print(
        f"  mirror {MIRROR_PERCENT} %: p50 {p50_on:.3f} ms  p99 {p99_on:.3f} ms  (answers from: "
        f"{', '.join(f'{k} {v:,}' for k, v in sorted(answered.items()))})"
    )
    cost = p50_on - p50_off
    print(f"  cost at p50: {cost * 1000:+.0f} us (goal: none measurable); at p99: {(p99_on - p99_off) * 1000:+.0f} us")
    agreement = "n/a" if counts["agreement"] is None else f"{counts['agreement']:.1%}"
    shadow_p50 = "n/a" if counts["shadow_p50"] is None else f"{counts['shadow_p50']:.2f} ms"
    print(
        f"  of {counts['sent']:,} requests sent with the mirror on (~{counts['sent'] * MIRROR_PERCENT // 100:,} "
        f"drawn for it): {counts['recorded']:,} mirrored answers recorded ({counts['failed']} failed), "
        f"{counts['dropped']:,} dropped by the mirror's queue bound; the shadow's own p50 {shadow_p50}, "
        f"agreement with the live answers {agreement}"
    )
    print(
        "  (the shadow scores the mirrored copies in batches, every 0.25 s, in a thread of the serving process: a "
        "live request waits for the GIL only when it arrives during a batch; the shadow's p50 is a batch's)"
    )
    return cost


# -- the run ------------------------------------------------------------------------------------------


def second_model(backend, model):
    """Register another model of the best model's run as the next version: its LogisticRegression child,
    else the first completed child of another algorithm (raises SystemExit when there is none)."""
    parent = backend.get_run(model.run_id).parent_id or model.run_id  # the best model is a child of the run
    children = [
        run
        for run in backend.list_runs(parent_id=parent)
        if run.status == "Completed" and run.display_name and run.display_name != model.algorithm
    ]
    children.sort(key=lambda run: run.display_name != "LogisticRegression")
    for run in children:
        try:
            return backend.register_model(name=model.name, run_id=run.id)
        except OpmlError as exc:  # a child without a saved model: try the next
            print(f"(child {run.display_name} {run.id} not registered: {exc})")
    raise SystemExit(f"run {parent} has no completed child of another algorithm to deploy as green")


def run(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(problem)
        return 2
    bench = stage(args, telemetry=False)
    try:
        return measure(bench, args)
    finally:
        bench.close()


def measure(bench, args: argparse.Namespace) -> int:
    backend, name = bench.backend, bench.service.name
    best = bench.model
    other = second_model(backend, best)
    backend.create_deployment(name, name=GREEN, model_name=other.name, model_version=other.version)
    if backend.wait_for_deployment(name, GREEN, timeout=120).state != "Healthy":
        raise SystemExit(f"deployment green ({other.id}) did not load")
    print(
        f"endpoint {name}: blue = {best.id} ({best.algorithm}), green = {other.id} ({other.algorithm}); "
        f"telemetry off unless said; {drift_bench.load()}"
    )
    body = json.dumps({"data": [bench.record()]}).encode()

    phases = switch_under_load(bench, body, args.concurrency, args.phase_seconds)
    problems = print_switching(phases, args.concurrency, args.phase_seconds)
    print(f"  ({drift_bench.load()})")

    # the routing on the fastest model (the least noise around it): green takes all, twin is green's model
    backend.promote_deployment(name, GREEN)
    backend.create_deployment(name, name=TWIN, model_name=other.name, model_version=other.version)
    if backend.wait_for_deployment(name, TWIN, timeout=120).state != "Healthy":
        raise SystemExit("deployment twin did not load")
    overhead = print_overhead(routing_overhead(bench, body, args), args, f"{other.id} ({other.algorithm})")
    print(f"  ({drift_bench.load()})")
    backend.set_traffic(name, {GREEN: 100})
    backend.delete_deployment(name, TWIN)

    result, counts = mirror_cost(bench, body, args)
    print_mirror(result, counts, args, f"{other.id}, {other.algorithm}", f"{best.id}, {best.algorithm}")
    print(f"  ({drift_bench.load()})")
    return 0 if problems == 0 and overhead <= 0.2 else 1
