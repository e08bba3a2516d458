"""The agent: one long-lived process per workspace that makes the store's desired state real.

Its scheduler claims queued runs and executes each in its own OS process (at
most ``max_nodes`` per compute), turns cancel requests into signals, and marks
runs whose process died as Failed with the reason. It keeps no state that the
store does not have: after a restart it adopts the run processes that are still
alive and resolves the ones that are not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from opml.agent.alerts import AlertEvaluator
from opml.agent.gateway import Gateway
from opml.agent.processes import describe_exit, process_exit, process_matches, spawn_detached
from opml.agent.retention import Retention
from opml.agent.schedules import fire_due_schedules
from opml.agent.supervisor import ServiceSupervisor
from opml.backends.local.backend import LocalBackend
from opml.backends.local.layout import PRIVATE_FILE, make_private_dir
from opml.backends.local.store import utcnow
from opml.entities import CANCEL_REQUESTED, CANCELED, FAILED, PREPARING, Run
from opml.errors import Conflict
from opml.httpserver import raise_file_limit
from opml.locks import AgentLock
from opml.settings import alert_evaluate_seconds, get_settings

log = logging.getLogger("opml.agent")

POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 5.0
SPAWN_GRACE = timedelta(seconds=30)  # time a just-started run process has to record itself


@dataclass
class TrackedProcess:
    run_id: str
    pid: int
    popen: subprocess.Popen | None  # None for a process adopted after an agent restart
    term_sent_at: float | None = None

    def exit_code(self) -> tuple[bool, int | None]:
        """(exited, return code if known)."""
        return process_exit(self.popen, self.pid)

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)


class Agent:
    def __init__(self, backend: LocalBackend, *, poll_seconds: float = POLL_SECONDS):
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self._lock = AgentLock(backend.layout.agent_lock)
        self._tracked: dict[str, TrackedProcess] = {}
        self.supervisor = ServiceSupervisor(backend)
        self.retention = Retention(backend)
        self.alerts = AlertEvaluator(backend, period=alert_evaluate_seconds())
        self._last_heartbeat = 0.0

    # -- lifecycle -------------------------------------------------------------------

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT or ``stop_event``. Raises Conflict if another agent holds the workspace."""
        if not self._lock.acquire():
            pid = self._lock.holder_pid()
            raise Conflict(f"an agent is already running for workspace {self.backend.path} (pid {pid})")
        settings = get_settings()
        raise_file_limit()  # the gateway caps its sockets; runs, services and the store use the rest
        gateway = Gateway(self.backend, settings.bind_address, settings.gateway_port)
        try:
            self.backend.agents.record_start(os.getpid())
            log.info("agent %s serving workspace %s", os.getpid(), self.backend.path)
            gateway.start()
            log.info("pipeline gateway on http://%s:%s", settings.bind_address, settings.gateway_port)
            while not self.stop_event.is_set():
                try:
                    self.tick()
                except Exception:  # one bad tick (e.g. a locked database) must not end the agent
                    log.exception("agent tick failed; retrying")
                self.stop_event.wait(self.poll_seconds)
        finally:
            # Scoring services stop with the agent (like containers with their host) and come back
            # with the next agent; runs go on and are adopted by it.
            self.supervisor.shutdown()
            self.alerts.close()
            gateway.stop()
            self._lock.release()
            log.info("agent %s stopped", os.getpid())

    def tick(self) -> None:
        self._reap_exited()
        active = self.backend.runs.active()
        self._adopt_or_resolve_untracked(active)
        self._forward_cancels(active)
        fire_due_schedules(self.backend)
        self._start_queued()
        self.supervisor.tick()
        self.retention.tick()
        self._evaluate_alerts()
        self._heartbeat()

    # -- steps of a tick ---------------------------------------------------------------

    def _reap_exited(self) -> None:
        for run_id, tracked in list(self._tracked.items()):
            exited, code = tracked.exit_code()
            if not exited:
                continue
            del self._tracked[run_id]
            run = self.backend.runs.get(run_id)
            if run.is_terminal:
                continue
            if run.status == CANCEL_REQUESTED:
                self._end(run_id, CANCELED, None)
            else:
                reason = describe_exit(code)
                self._end(run_id, FAILED, reason)
                self._append_log(run_id, f"[opml agent] {reason}")
            log.info("run %s ended without recording its end (code %s)", run_id, code)

    def _adopt_or_resolve_untracked(self, active: list[Run]) -> None:
        for run in active:
            if run.id in self._tracked:
                continue
            pid, started = self.backend.runs.process_of(run.id)
            if process_matches(pid, started):
                self._tracked[run.id] = TrackedProcess(run.id, pid, None)
                log.info("adopted run %s (pid %s)", run.id, pid)
            elif run.status == CANCEL_REQUESTED:
                self._end(run.id, CANCELED, None)
            elif not pid and self._may_still_record_itself(run):
                continue
            else:
                reason = (
                    "the run process died while no agent was watching it"
                    if pid
                    else "the agent stopped before the run process started"
                )
                self._end(run.id, FAILED, reason)
                self._append_log(run.id, f"[opml agent] {reason}")

    @staticmethod
    def _may_still_record_itself(run: Run) -> bool:
        """A run claimed moments ago whose process is not recorded: the agent that claimed it may have been
        killed right after starting the process, which records itself when it starts (give it the time)."""
        claimed = run.started_at
        return run.status == PREPARING and claimed is not None and utcnow() - claimed < SPAWN_GRACE

    def _forward_cancels(self, active: list[Run]) -> None:
        now = time.monotonic()
        for run in active:
            tracked = self._tracked.get(run.id)
            if run.status != CANCEL_REQUESTED or tracked is None:
                continue
            if tracked.term_sent_at is None:
                tracked.signal_group(signal.SIGTERM)
                tracked.term_sent_at = now
            elif now - tracked.term_sent_at > CANCEL_GRACE_SECONDS:
                tracked.signal_group(signal.SIGKILL)

    def _start_queued(self) -> None:
        capacity = {compute.name: compute.max_nodes for compute in self.backend.computes.list()}
        for run in self.backend.runs.claim_queued(capacity):
            try:
                self._spawn(run)
            except OSError as exc:
                self.backend.runs.finish(run.id, FAILED, f"could not start the run process: {exc}")

    def _spawn(self, run: Run) -> None:
        layout = self.backend.layout
        make_private_dir(layout.run_dir(run.id))
        popen, started = spawn_detached(
            "opml.agent.run_process",
            str(layout.root),
            run.id,
            workspace=layout.root,
            log_path=layout.run_log(run.id),
            cwd=layout.run_dir(run.id),
        )
        self.backend.runs.set_process(run.id, popen.pid, started)
        self._tracked[run.id] = TrackedProcess(run.id, popen.pid, popen)
        log.info("started run %s (pid %s)", run.id, popen.pid)

    def _end(self, run_id: str, status: str, error: str | None) -> None:
        """Record the end of a run whose process is gone, and of the child runs it left open."""
        self.backend.runs.finish_open_children(run_id, CANCELED if status == CANCELED else FAILED, error or "canceled")
        self.backend.runs.finish(run_id, status, error)

    def _evaluate_alerts(self) -> None:
        """Once a minute; a failure here (the store busy, say) must not keep the tick from its heartbeat."""
        try:
            self.alerts.tick()
        except Exception:
            log.exception("evaluating alert rules failed; retrying next time")

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = time.monotonic()
        self.backend.agents.heartbeat()

    def _append_log(self, run_id: str, line: str) -> None:
        path = self.backend.layout.run_log(run_id)
        make_private_dir(path.parent)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE), "a") as handle:
            handle.write(line + "\n")


def serve_forever(workspace: Path) -> None:
    """The body of ``opml agent``: serve until SIGTERM or SIGINT."""
    agent = Agent(LocalBackend(workspace))

    def stop(signum: int, frame: object) -> None:
        agent.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.serve()
