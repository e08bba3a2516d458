"""Helpers for the OS processes the agent starts and watches (runs and scoring services)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import psutil

import opml

_PACKAGE_ROOT = str(Path(opml.__file__).resolve().parent.parent)
OPENMP_SPIN_COUNT = 10_000


def run_process_env(workspace: Path) -> dict[str, str]:
    """Environment of every process opml starts for training or scoring."""
    env = dict(os.environ)
    env["OPML_WORKSPACE"] = str(workspace)
    env["PYTHONUNBUFFERED"] = "1"
    # OpenMP threads spin a little before they sleep (see docs/ARCHITECTURE.md): libgomp's default spin
    # (300,000) stalls others on a small machine; not spinning (OMP_WAIT_POLICY=passive) halved LightGBM's
    # speed with two threads (600 trees of 255 leaves on 236,000 flights: 19.6 s against 9.9 s).
    env.setdefault("GOMP_SPINCOUNT", str(OPENMP_SPIN_COUNT))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "the run process disappeared"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the run process was killed ({name}) before it finished"
    return f"the run process exited with code {returncode} before recording a result"


def process_matches(pid: int | None, started: float | None) -> bool:
    """True when ``pid`` is alive and is the same process that started at ``started`` (no pid reuse)."""
    if not pid or started is None:
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False


def process_exit(popen: Any, pid: int) -> tuple[bool, int | None]:
    """(exited, return code if known) of a process this agent started (``popen``) or adopted after a
    restart (``popen`` None: only its pid is known, and a zombie counts as exited)."""
    if popen is not None:
        code = popen.poll()
        return code is not None, code
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, None
    except psutil.NoSuchProcess:
        return True, None


def spawn_detached(
    module: str, *args: str, workspace: Path, log_path: Path, cwd: Path | None = None, extra_env: dict | None = None
):
    """Start ``python -m module args`` in its own session, stdout and stderr appended to ``log_path``
    (owner-only). Returns (Popen, process start time) for later adoption checks."""
    import subprocess
    import sys
    import time

    from opml.files import PRIVATE_FILE, make_private_dir

    make_private_dir(log_path.parent)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**run_process_env(workspace), **(extra_env or {})},
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    try:
        started = psutil.Process(popen.pid).create_time()
    except psutil.NoSuchProcess:
        started = time.time()
    return popen, started
