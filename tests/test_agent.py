"""The agent with real OS processes: scheduling limits, cancel, crashes of runs and of the agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from opml.agent.launcher import start_agent
from opml.backends.local import LocalBackend
from opml.entities import CANCELED, COMPLETED, FAILED, QUEUED, RUNNING
from tests.helpers import wait_until


def submit_python(backend: LocalBackend, code: str, *, compute: str = "cpu-cluster", experiment: str = "agent"):
    return backend.submit_run(
        experiment=experiment, run_type="command", compute=compute, params={"command": [sys.executable, "-c", code]}
    )


def run_pid(backend: LocalBackend, run_id: str) -> int:
    return wait_until(lambda: backend.runs.process_of(run_id)[0], what="the run's pid")


def status_is(backend: LocalBackend, run_id: str, *statuses: str):
    return lambda: backend.get_run(run_id).status in statuses


def test_log_is_readable_while_the_run_is_running(local_backend: LocalBackend, agent):
    code = "import time\nprint('step 1', flush=True)\ntime.sleep(30)"
    run = submit_python(local_backend, code)
    wait_until(lambda: "step 1" in local_backend.read_run_log(run.id)[0], what="the first log line")
    assert local_backend.get_run(run.id).status == RUNNING
    local_backend.cancel_run(run.id)
    assert local_backend.wait_for_run(run.id, timeout=30).status == CANCELED


def test_compute_never_runs_more_than_max_nodes(local_backend: LocalBackend, agent):
    local_backend.create_compute(name="single", max_nodes=1)
    first = submit_python(local_backend, "import time; time.sleep(1.5)", compute="single")
    second = submit_python(local_backend, "import time; time.sleep(0.2)", compute="single")
    wait_until(status_is(local_backend, first.id, RUNNING), what="first run running")
    assert local_backend.get_run(second.id).status == QUEUED
    assert local_backend.get_compute("single").active_runs == 1
    assert local_backend.wait_for_run(first.id, timeout=30).status == COMPLETED
    done = local_backend.wait_for_run(second.id, timeout=30)
    assert done.status == COMPLETED
    assert done.started_at >= local_backend.get_run(first.id).ended_at


def test_cancel_stops_the_run_and_everything_it_started(local_backend: LocalBackend, agent):
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)"
    )
    run = submit_python(local_backend, code)
    wait_until(status_is(local_backend, run.id, RUNNING), what="run running")
    pid = run_pid(local_backend, run.id)
    wait_until(lambda: len(psutil.Process(pid).children(recursive=True)) >= 2, what="the grandchild")
    family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    local_backend.cancel_run(run.id)
    assert local_backend.wait_for_run(run.id, timeout=30).status == CANCELED
    _gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"still alive after cancel: {alive}"


def test_killed_run_process_is_marked_failed_within_seconds(local_backend: LocalBackend, agent):
    run = submit_python(local_backend, "import time; time.sleep(60)")
    wait_until(status_is(local_backend, run.id, RUNNING), what="run running")
    os.killpg(run_pid(local_backend, run.id), signal.SIGKILL)
    wait_until(status_is(local_backend, run.id, FAILED), timeout=5, what="Failed after kill -9")
    failed = local_backend.get_run(run.id)
    assert "SIGKILL" in failed.error
    assert "SIGKILL" in local_backend.read_run_log(run.id)[0]


def test_run_survives_agent_kill_and_is_adopted_on_restart(local_backend: LocalBackend, agent):
    run = submit_python(local_backend, "import time; time.sleep(3); print('finished on my own')")
    wait_until(status_is(local_backend, run.id, RUNNING), what="run running")
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)
    assert not local_backend.agent_status().running
    restarted = start_agent(local_backend.path)
    try:
        assert restarted is not None
        done = local_backend.wait_for_run(run.id, timeout=30)
        assert done.status == COMPLETED, done.error
        assert "finished on my own" in local_backend.read_run_log(run.id)[0]
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)


def test_run_that_died_while_agent_was_down_is_resolved_on_restart(local_backend: LocalBackend, agent):
    run = submit_python(local_backend, "import time; time.sleep(60)")
    wait_until(status_is(local_backend, run.id, RUNNING), what="run running")
    pid = run_pid(local_backend, run.id)
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)
    os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pid)], timeout=10) if psutil.pid_exists(pid) else None
    assert local_backend.get_run(run.id).status == RUNNING  # nobody watching: still says Running
    restarted = start_agent(local_backend.path)
    try:
        wait_until(status_is(local_backend, run.id, FAILED), timeout=10, what="resolved as Failed")
        assert "no agent was watching" in local_backend.get_run(run.id).error
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)


def test_only_one_agent_per_workspace(local_backend: LocalBackend, agent):
    assert start_agent(local_backend.path) is None
    second = subprocess.run(
        [sys.executable, "-m", "opml", "--workspace", str(local_backend.path), "agent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "already running" in second.stderr
    status = local_backend.agent_status()
    assert status.running and status.pid == agent.pid


def test_agent_stops_cleanly_on_sigterm(local_backend: LocalBackend, agent):
    agent.terminate()
    assert agent.wait(timeout=15) == 0
    assert not local_backend.agent_status().running


@pytest.mark.parametrize("code", ["raise SystemExit(7)", "import os; os._exit(9)"])
def test_run_exit_codes_become_failures(local_backend: LocalBackend, agent, code):
    run = submit_python(local_backend, code)
    failed = local_backend.wait_for_run(run.id, timeout=30)
    assert failed.status == FAILED and "exited with code" in failed.error


def test_children_of_a_killed_run_are_closed_too(local_backend: LocalBackend, agent):
    run = submit_python(local_backend, "import time; time.sleep(60)")
    wait_until(status_is(local_backend, run.id, RUNNING), what="run running")
    child = local_backend.runs.insert(
        experiment="agent", run_type="command", compute="cpu-cluster", params={}, parent_id=run.id, status=RUNNING
    )
    os.killpg(run_pid(local_backend, run.id), signal.SIGKILL)
    wait_until(status_is(local_backend, run.id, FAILED), timeout=5, what="the parent Failed")
    assert local_backend.get_run(child.id).status == FAILED


@pytest.mark.parametrize("agent_starts", ["at once", "once the run is running"])
def test_a_run_started_by_an_agent_killed_before_recording_it_is_adopted_and_cancellable(
    local_backend: LocalBackend, agent_starts
):
    """The window between an agent starting a run's process and recording it: the agent is gone (kill -9),
    the run process lives. The next agent adopts the run from what the process recorded itself, and a
    cancel stops it; nothing is left running that no one can stop."""
    from opml.agent.processes import spawn_detached

    run = submit_python(local_backend, "import time\nprint('working', flush=True)\ntime.sleep(120)")
    (claimed,) = local_backend.runs.claim_queued({"cpu-cluster": 4})
    layout = local_backend.layout
    orphan, _ = spawn_detached(  # what the killed agent did; it never reached runs.set_process
        "opml.agent.run_process",
        str(layout.root),
        claimed.id,
        workspace=layout.root,
        log_path=layout.run_log(claimed.id),
        cwd=layout.run_dir(claimed.id),
    )
    try:
        if agent_starts != "at once":
            wait_until(lambda: local_backend.get_run(run.id).status == RUNNING, timeout=30, what="the run to run")
        successor = start_agent(local_backend.path)
        try:
            pid = lambda: local_backend.runs.process_of(run.id)[0]  # noqa: E731
            wait_until(lambda: pid() == orphan.pid, timeout=30, what="the run process to record itself")
            wait_until(status_is(local_backend, run.id, RUNNING), timeout=30, what="the run to run")
            time.sleep(1.5)  # several ticks of the new agent: it adopts the run, it does not fail it
            assert local_backend.get_run(run.id).status == RUNNING
            local_backend.cancel_run(run.id)
            wait_until(status_is(local_backend, run.id, CANCELED), timeout=30, what="the cancel")
            assert orphan.wait(timeout=15) is not None
        finally:
            successor.terminate()
            successor.wait(timeout=15)
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)


def test_processes_opml_starts_spin_briefly_before_their_openmp_threads_sleep(tmp_path, monkeypatch):
    """Not passive: a passive wait halved two-thread LightGBM fits (docs/ARCHITECTURE.md); a user's setting wins."""
    from opml.agent.processes import run_process_env

    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = run_process_env(tmp_path)
    assert env["GOMP_SPINCOUNT"] == "10000" and "OMP_WAIT_POLICY" not in env
    assert env["OPML_WORKSPACE"] == str(tmp_path)
    monkeypatch.setenv("GOMP_SPINCOUNT", "0")
    assert run_process_env(tmp_path)["GOMP_SPINCOUNT"] == "0"
