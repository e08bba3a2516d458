"""Entry point of one run's own OS process: ``python -m opml.agent.run_process WS RUN_ID``.

The agent starts it with stdout and stderr going to the run's log file, in a
new session so that a cancel can stop the run and everything it started.
The process records its own end; if it dies without doing so, the agent does.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

import psutil

from opml.entities import CANCEL_REQUESTED, CANCELED, COMPLETED, FAILED, RUNNING


class _Terminated(BaseException):
    """SIGTERM arrived (a cancel, or the machine shutting down)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def execute(workspace: Path, run_id: str) -> int:
    from opml.backends.local.backend import LocalBackend
    from opml.runtypes import get_run_type
    from opml.runtypes.context import RunContext, RunFailed

    signal.signal(signal.SIGTERM, _on_sigterm)
    backend = LocalBackend(workspace)
    runs = backend.runs
    run = runs.get(run_id)
    print(f"[opml] run {run.id} ({run.run_type}) on compute {run.compute}", flush=True)
    # Record this process before running, as the agent that started it does: an agent killed between
    # starting it and recording it leaves a run the next agent adopts (and can cancel), not an orphan.
    runs.set_process(run_id, os.getpid(), psutil.Process().create_time())
    if not runs.set_status(run_id, RUNNING):
        print(f"[opml] run is {runs.get(run_id).status}; not starting", flush=True)
        if runs.get(run_id).status == CANCEL_REQUESTED:
            runs.finish(run_id, CANCELED, "canceled before it started")
        return 0
    try:
        get_run_type(run.run_type).execute(RunContext(backend, runs.get(run_id)))
    except _Terminated:
        cancelled = runs.get(run_id).status == CANCEL_REQUESTED
        print("[opml] canceled" if cancelled else "[opml] stopped by SIGTERM", flush=True)
        runs.finish_open_children(run_id, CANCELED, "the parent run was stopped")
        runs.finish(run_id, CANCELED if cancelled else FAILED, None if cancelled else "the run process was stopped")
        # Worker threads may still be inside a fit: leave without waiting for them.
        sys.stdout.flush()
        os._exit(1)
    except RunFailed as exc:
        print(f"[opml] failed: {exc}", flush=True)
        runs.finish_open_children(run_id, FAILED, "the parent run failed")
        runs.finish(run_id, FAILED, str(exc))
        return 1
    except Exception as exc:  # the run's own bug: keep the traceback in its log, a summary on the run
        traceback.print_exc()
        runs.finish_open_children(run_id, FAILED, "the parent run failed")
        runs.finish(run_id, FAILED, f"{type(exc).__name__}: {exc}")
        return 1
    status = CANCELED if runs.get(run_id).status == CANCEL_REQUESTED else COMPLETED
    runs.finish(run_id, status)
    print(f"[opml] {status.lower()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(execute(Path(sys.argv[1]), sys.argv[2]))
