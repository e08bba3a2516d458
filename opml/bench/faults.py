"""Faults: kills, a held database lock, idle-connection floods and a full disk against a live workspace.

Trains a model with a short AutoML run on --data (or uses --workspace/--model), deploys it with telemetry
on, publishes a pipeline, then:

1. kills the scoring process with SIGKILL --kills times while a client keeps scoring: time until the
   service answers and shows Healthy again, and requests lost outside those gaps;
2. holds the database's write lock --lock-seconds while the CLI reads and the pipeline gateway triggers;
3. opens up to --idle idle connections (half to the gateway, half to the service) and checks that the
   service, the gateway and the agent go on;
4. kills the agent with SIGKILL --agent-kills times during runs and deployments: how runs end, whether
   the service kept answering, the database's integrity;
5. kills run processes: each run ends Failed with a reason;
6. fills the disk (RLIMIT_FSIZE in a child process) during a dataset registration and telemetry writes:
   nothing half-written, the database not left locked.

Prints figures (no pass/fail). Goals: Healthy again within 10 s, integrity_check ok every time,
nothing half-written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from opml.bench.stage import Stage, add_model_arguments, stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the scoring process (default 10)")
    parser.add_argument("--agent-kills", type=int, default=5, help="SIGKILLs of the agent (default 5)")
    parser.add_argument("--idle", type=int, default=25_000, help="idle connections to open (default 25,000)")
    parser.add_argument("--lock-seconds", type=float, default=30.0, help="how long the write lock is held")
    parser.set_defaults(run=run)


def integrity(bench: Stage) -> str:
    return bench.backend.store.query_one("PRAGMA integrity_check")[0]


class Scorer:
    """Scores one record after another in a thread, remembering when each answer (or failure) came."""

    def __init__(self, bench: Stage):
        self.bench = bench
        self.outcomes: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Scorer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        session = requests.Session()
        body = {"data": [self.bench.record()]}
        headers = {"Authorization": f"Bearer {self.bench.key}"}
        while not self._stop.is_set():
            try:
                ok = session.post(self.bench.service.scoring_uri, json=body, headers=headers, timeout=2).ok
            except requests.RequestException:
                ok = False
                session = requests.Session()
            self.outcomes.append((time.monotonic(), ok))
            time.sleep(0.02)

    def failures_outside(self, gaps: list[tuple[float, float]]) -> int:
        return sum(1 for at, ok in self.outcomes if not ok and not any(a <= at <= b + 2.5 for a, b in gaps))


def answering(bench: Stage) -> bool:
    try:
        return requests.get(bench.service.base_uri + "/", timeout=0.5).text == "Healthy"
    except requests.RequestException:
        return False


def kill_scoring(bench: Stage, kills: int) -> dict[str, Any]:
    backend, name = bench.backend, bench.service.name
    answered, healthy, gaps = [], [], []
    with Scorer(bench) as scorer:
        for _ in range(kills):
            pid = backend.services.process_of(name)[0]
            os.killpg(pid, signal.SIGKILL)
            killed = time.monotonic()
            while not (backend.services.process_of(name)[0] not in (None, pid) and answering(bench)):
                time.sleep(0.05)
            answered.append(time.monotonic() - killed)
            while backend.get_service(name).state != "Healthy":
                time.sleep(0.05)
            healthy.append(time.monotonic() - killed)
            gaps.append((killed, time.monotonic()))
            time.sleep(2)
    lost = sum(1 for _, ok in scorer.outcomes if not ok)
    return {
        "answering again (s)": f"median {statistics.median(answered):.1f}, max {max(answered):.1f}",
        "Healthy again (s)": f"median {statistics.median(healthy):.1f}, max {max(healthy):.1f}",
        "requests failed during the gaps": lost - scorer.failures_outside(gaps),
        "requests failed outside the gaps": scorer.failures_outside(gaps),
        "requests answered": sum(1 for _, ok in scorer.outcomes if ok),
        "integrity_check": integrity(bench),
    }


HOLD = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


def publish(bench: Stage) -> tuple[str, dict[str, str]]:
    """A published pipeline's endpoint and the owner's header."""
    dataset = bench.model.dataset.split(":")[0]
    label = bench.model.manifest["label_column"]
    steps = [
        {"name": "train", "type": "automl", "settings": {"dataset": dataset, "label_column": label}},
    ]
    pipeline = bench.backend.create_pipeline(name="faults", steps=steps, parameters={})
    published = bench.backend.publish_pipeline(pipeline.id, name="Faults", version="1.0")
    return published.endpoint, bench.backend.auth_header()


def timed(call) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def hold_write_lock(bench: Stage, seconds: float, endpoint: str, auth: dict[str, str]) -> dict[str, Any]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(bench.backend.layout.db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    holder.stdout.readline()
    cli = [sys.executable, "-m", "opml", "--workspace", str(bench.backend.path)]
    reads = []
    with Scorer(bench) as scorer:
        for command in (["status"], ["runs", "list"], ["services", "list"]):
            elapsed, done = timed(lambda command=command: subprocess.run([*cli, *command], capture_output=True))
            reads.append(f"{' '.join(command)}: exit {done.returncode} in {elapsed:.1f} s")
        elapsed, answer = timed(
            lambda: requests.post(endpoint, headers=auth, json={"ExperimentName": "faults"}, timeout=60)
        )
        trigger = f"HTTP {answer.status_code} in {elapsed:.1f} s ({answer.json().get('error', 'run queued')})"
    holder.wait(timeout=seconds + 30)
    after = requests.post(endpoint, headers=auth, json={"ExperimentName": "faults"}, timeout=60)
    if after.ok:
        bench.backend.cancel_run(after.json()["Id"])
    return {
        "CLI reads while locked": "; ".join(reads),
        "gateway trigger while locked": trigger,
        "gateway trigger after": f"HTTP {after.status_code}",
        "scoring requests answered while locked": f"{sum(ok for _, ok in scorer.outcomes)} of {len(scorer.outcomes)}",
        "integrity_check": integrity(bench),
    }


def open_idle(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    return sockets


def still_open(sockets: list[socket.socket]) -> int:
    alive = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            alive += sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def idle_connections(bench: Stage, count: int, endpoint: str, auth: dict[str, str]) -> dict[str, Any]:
    from opml.httpserver import raise_file_limit

    limit = raise_file_limit()
    count = min(count, limit - 1000)  # this process needs descriptors of its own
    gateway_port = int(endpoint.split(":")[2].split("/")[0])
    started = time.monotonic()
    flood = open_idle(gateway_port, count // 2) + open_idle(bench.port, count - count // 2)
    opened = time.monotonic() - started
    try:
        probes = []
        for _ in range(5):
            probes.append(timed(lambda: answering(bench))[0])
            time.sleep(0.5)
        scored, _ = timed(
            lambda: requests.post(
                bench.service.scoring_uri,
                json={"data": [bench.record()]},
                headers={"Authorization": f"Bearer {bench.key}"},
                timeout=10,
            ).raise_for_status()
        )
        runs_of = endpoint.replace("PipelineSubmit", "Pipeline")
        gateway, answer = timed(lambda: requests.get(runs_of, headers=auth, timeout=10))
        run = bench.backend.submit_run(
            experiment="faults", run_type="command", compute="cpu-cluster", params={"command": ["true"]}
        )
        finished = bench.backend.wait_for_run(run.id, timeout=60)
        time.sleep(12)  # past the servers' head deadline
        remaining = still_open(flood)
    finally:
        for sock in flood:
            sock.close()
    return {
        "idle connections opened": f"{len(flood):,} in {opened:.1f} s (file limit {limit:,})",
        "health probe while flooded (s)": f"max {max(probes):.2f}",
        "one scoring request while flooded (s)": f"{scored:.2f}",
        "gateway request while flooded": f"HTTP {answer.status_code} in {gateway:.2f} s",
        "a new run while flooded": finished.status,
        "idle connections still open after 12 s": remaining,
        "service state": bench.backend.get_service(bench.service.name).state,
    }


def kill_agent(bench: Stage, kills: int, seed: int = 0) -> dict[str, Any]:
    from opml.agent.launcher import start_agent

    rng = random.Random(seed)
    backend = bench.backend
    outcomes, down = [], []
    with Scorer(bench) as scorer:
        for index in range(kills):
            run = backend.submit_run(
                experiment="faults",
                run_type="command",
                compute="cpu-cluster",
                params={"command": [sys.executable, "-c", "import time; time.sleep(3)"]},
            )
            name = f"faults-{index}"
            backend.deploy_model(name=name, model_name=bench.model.name, model_version=bench.model.version)
            time.sleep(rng.uniform(0.2, 2.5))
            os.kill(bench.agent.pid, signal.SIGKILL)
            bench.agent.wait(timeout=10)
            killed = time.monotonic()
            time.sleep(1)
            bench.agent = start_agent(backend.path)
            down.append((killed, time.monotonic()))
            ended = backend.wait_for_run(run.id, timeout=120)
            outcomes.append(f"{ended.status}" + (f" ({ended.error})" if ended.error else ""))
            service = backend.wait_for_service(name, timeout=120)
            outcomes.append(f"{name} {service.state}")
            backend.delete_service(name)
    failed_while_down = sum(1 for at, ok in scorer.outcomes if not ok and any(a <= at <= b for a, b in down))
    return {
        "runs and services after each kill": "; ".join(outcomes),
        "scoring requests failed while the agent was down": failed_while_down,
        "scoring requests failed in all": sum(1 for _, ok in scorer.outcomes if not ok),
        "integrity_check": integrity(bench),
    }


def kill_runs(bench: Stage, count: int = 3) -> dict[str, Any]:
    backend = bench.backend
    runs = [
        backend.submit_run(
            experiment="faults",
            run_type="command",
            compute="cpu-cluster",
            params={"command": [sys.executable, "-c", "import time; time.sleep(60)"]},
        )
        for _ in range(count)
    ]
    for run in runs:
        while backend.get_run(run.id).status != "Running":
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(backend.runs.process_of(run.id)[0], signal.SIGKILL)
    ended = [backend.wait_for_run(run.id, timeout=60) for run in runs]
    return {
        "killed runs ended": "; ".join(f"{run.status} ({run.error})" for run in ended),
        "integrity_check": integrity(bench),
    }


FULL_DISK = """
import resource, signal, sys, time
from pathlib import Path
from opml.backends.local import LocalBackend
from opml.serving.telemetry import TelemetryWriter

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing us
backend = LocalBackend(Path(sys.argv[1]))
db = backend.layout.db
wal = Path(str(db) + "-wal")
limit = max(db.stat().st_size, wal.stat().st_size if wal.exists() else 0) + 100_000
rows = "\\n".join(["a,b,y"] + [f"{i},{i * 2},{'yes' if i % 2 else 'no'}" for i in range(limit // 5)])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    backend.register_dataset(name="too-big", source=rows.encode(), filename="big.csv")
    print("dataset: registered")
except Exception as exc:
    print(f"dataset refused: {type(exc).__name__}: {str(exc)[:100]}")
writer = TelemetryWriter(db, "faults-disk")
for i in range(limit // 300):
    writer.record(at=time.time(), request_id=f"r{i}" + "x" * 400, status=200, latency_ms=1.0, records=1,
                  predictions='{"no": 1}', error=None, client="127.0.0.1")
writer.close()
print(f"telemetry: {writer.dropped} of {limit // 300} dropped, the writer thread alive to the end")
"""


def full_disk(bench: Stage) -> dict[str, Any]:
    backend = bench.backend
    snapshots = set((backend.layout.artifacts / "datasets").rglob("*"))
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(backend.path)], capture_output=True, text=True, timeout=300
    )
    lines = done.stdout.strip().splitlines() or [done.stderr.strip().splitlines()[-1]]
    left = {path for path in (backend.layout.artifacts / "datasets").rglob("*")} - snapshots
    elapsed, _ = timed(lambda: backend.create_compute(name=f"after-{int(time.time())}", max_nodes=1))
    return {
        "child process": " / ".join(lines),
        "dataset registered": any(d.name == "too-big" for d in backend.list_datasets()),
        "files left by the failed registration": len([p for p in left if p.is_file()]),
        "a write afterwards": f"ok in {elapsed:.2f} s",
        "integrity_check": integrity(bench),
    }


def run(args: argparse.Namespace) -> int:
    bench = stage(args, telemetry=True)
    sections: dict[str, dict[str, Any]] = {}
    try:
        endpoint, auth = publish(bench)
        sections["1. scoring process killed"] = kill_scoring(bench, args.kills)
        sections["2. write lock held"] = hold_write_lock(bench, args.lock_seconds, endpoint, auth)
        sections["3. idle connections"] = idle_connections(bench, args.idle, endpoint, auth)
        sections["4. agent killed"] = kill_agent(bench, args.agent_kills)
        sections["5. run processes killed"] = kill_runs(bench)
        sections["6. full disk"] = full_disk(bench)
    finally:
        bench.close()
        for title, figures in sections.items():
            print(title)
            for name, value in figures.items():
                print(f"   {name}: {value}")
    return 0
