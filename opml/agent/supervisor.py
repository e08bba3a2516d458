"""The agent's supervisor: one scoring process per deployed service, kept alive.

For each service whose desired state is "deployed" it starts
``python -m opml.agent.scoring_process`` (state Transitioning), probes ``GET /`` until
the service answers (Healthy), restarts a process that dies with exponential
backoff (Unhealthy, with the reason), and gives up after ``MAX_CRASHES`` crashes
within ``CRASH_WINDOW_SECONDS`` before it ever answered (a crash loop: Failed,
quoting what the crashed process itself wrote; a process that had answered and
was then killed starts a fresh count). Failed is kept in the store: no agent starts a Failed service again until a
user asks (``restart_service``, the Restart button). A deleted service's process
is stopped and the service forgotten. After an agent restart, live service
processes are adopted, not restarted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

import requests

from opml.agent.processes import process_exit, process_matches, spawn_detached
from opml.backends.local.services import DELETED
from opml.entities import HEALTHY, SERVICE_FAILED, TRANSITIONING, UNHEALTHY

log = logging.getLogger("opml.supervisor")

# A scoring process answers from a pool of threads; glibc's default of one malloc arena per thread (up to 8
# per core) let its memory fragment and grow under mixed large and small requests (+52 MB over the soak
# benchmark, +7 MB with two arenas).
SCORING_ENV = {"MALLOC_ARENA_MAX": "2"}
MAX_CRASHES = 5
CRASH_WINDOW_SECONDS = 120.0
HEALTH_PERIOD_STARTING = 0.5
HEALTH_PERIOD_HEALTHY = 5.0


@dataclass
class ServiceProcess:
    name: str
    pid: int
    popen: subprocess.Popen | None
    next_probe: float = 0.0
    healthy: bool = False
    log_offset: int = 0  # the size of the service log when this process started: its own output follows

    def exited(self) -> tuple[bool, int | None]:
        return process_exit(self.popen, self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.exited()[0]:
            time.sleep(0.05)
        if not self.exited()[0]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            if self.popen is not None:
                self.popen.wait(timeout=5)


@dataclass
class CrashRecord:
    times: list[float] = field(default_factory=list)
    next_start: float = 0.0
    gave_up: bool = False


def _output_since(path, offset: int, lines: int = 8) -> str:
    """The last lines a process wrote to ``path`` from ``offset`` on (never older lines of the log)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset if offset <= path.stat().st_size else 0)  # rotated meanwhile: from the start
            text = handle.read()[-65_536:].decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def _size(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class ServiceSupervisor:
    def __init__(self, backend):
        self.backend = backend
        self.services = backend.services
        self._processes: dict[str, ServiceProcess] = {}
        self._crashes: dict[str, CrashRecord] = {}

    def tick(self) -> None:
        for row in self.services.rows():
            name = row["name"]
            if row["desired"] == DELETED:
                self._stop(name)
                self.services.purge(name)
                self._crashes.pop(name, None)
                log.info("service %s deleted", name)
                continue
            process = self._processes.get(name)
            if process is None:
                if process_matches(row["pid"], row["pid_started"]):
                    offset = _size(self.backend.layout.service_log(name))
                    self._processes[name] = ServiceProcess(name, row["pid"], None, log_offset=offset)
                    log.info("adopted service %s (pid %s)", name, row["pid"])
                else:
                    self._maybe_start(row)
                continue
            exited, code = process.exited()
            if exited:
                self._on_exit(row, code)
            else:
                self._probe(row, process)

    def shutdown(self) -> None:
        """Stop every scoring process; their services wait, Transitioning, for the next agent."""
        for name in list(self._processes):
            self._stop(name)
            self.services.set_process(name, None, None)
            self.services.set_state(name, TRANSITIONING, error="the agent stopped; the service starts again with it")

    # -- steps ---------------------------------------------------------------------------

    def _maybe_start(self, row) -> None:
        name = row["name"]
        crashes = self._crashes.setdefault(name, CrashRecord())
        if row["state"] == SERVICE_FAILED:
            return  # given up on (by this agent or an earlier one): only a user's restart starts it again
        if crashes.gave_up:  # a user asked for a restart: the crashes are forgotten
            crashes = self._crashes[name] = CrashRecord()
        if time.monotonic() < crashes.next_start:
            return
        layout = self.backend.layout
        log_offset = _size(layout.service_log(name))
        popen, started = spawn_detached(
            "opml.agent.scoring_process",
            str(layout.root),
            name,
            workspace=layout.root,
            log_path=layout.service_log(name),
            extra_env=SCORING_ENV,
        )
        self.services.set_process(name, popen.pid, started)
        if row["state"] != UNHEALTHY:
            self.services.set_state(name, TRANSITIONING, error=row["error"])
        self._processes[name] = ServiceProcess(name, popen.pid, popen, log_offset=log_offset)
        log.info("started service %s (pid %s) on port %s", name, popen.pid, row["port"])

    def _on_exit(self, row, code: int | None) -> None:
        name = row["name"]
        process = self._processes.pop(name)
        self.services.set_process(name, None, None)
        crashes = self._crashes.setdefault(name, CrashRecord())
        now = time.monotonic()
        if process.healthy:  # it served before it died (a kill, an OOM): not a crash loop, start afresh
            crashes.times = []
        crashes.times = [t for t in crashes.times if now - t < CRASH_WINDOW_SECONDS] + [now]
        reason = f"the scoring process exited (code {code})" if code is not None else "the scoring process died"
        output = _output_since(self.backend.layout.service_log(name), process.log_offset)
        error = f"{reason}: {output}" if output else reason
        if len(crashes.times) >= MAX_CRASHES:
            crashes.gave_up = True
            error = (
                f"gave up after {MAX_CRASHES} crashes within {CRASH_WINDOW_SECONDS:.0f} s without answering; fix "
                f"the cause, then Restart. Last: {error}"
            )
            self.services.set_state(name, SERVICE_FAILED, error=error, restarts=row["restarts"] + 1)
            log.warning("service %s failed %d times; giving up: %s", name, len(crashes.times), error)
            return
        backoff = min(30.0, 0.5 * 2 ** (len(crashes.times) - 1))
        crashes.next_start = now + backoff
        self.services.set_state(
            name, UNHEALTHY, error=f"{error} (restarting in {backoff:.0f} s)", restarts=row["restarts"] + 1
        )
        log.warning("service %s exited; restarting in %.1f s", name, backoff)

    def _probe(self, row, process: ServiceProcess) -> None:
        now = time.monotonic()
        if now < process.next_probe:
            return
        try:
            ok = requests.get(f"http://{row['host']}:{row['port']}/", timeout=0.5).status_code == 200
        except requests.RequestException:
            ok = False
        process.next_probe = now + (HEALTH_PERIOD_HEALTHY if ok and process.healthy else HEALTH_PERIOD_STARTING)
        if ok and row["state"] != HEALTHY:
            self.services.set_state(name := row["name"], HEALTHY, error=None)
            log.info("service %s is healthy", name)
        elif not ok and process.healthy and row["state"] == HEALTHY:
            self.services.set_state(row["name"], UNHEALTHY, error="the service stopped answering its health check")
        process.healthy = ok

    def _stop(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is None:
            pid, started = self.services.process_of(name)
            if process_matches(pid, started):
                process = ServiceProcess(name, pid, None)
        if process is not None:
            process.stop()
