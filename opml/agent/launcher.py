"""Start the agent of a workspace in the background when none is running."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from opml.agent.processes import spawn_detached
from opml.backends.local.layout import WorkspaceLayout
from opml.errors import BackendUnavailable
from opml.locks import AgentLock


def start_agent(
    workspace: Path, *, wait_seconds: float = 15.0, extra_env: dict[str, str] | None = None
) -> subprocess.Popen | None:
    """Start ``opml agent`` for ``workspace`` unless one runs already.

    Returns the new process, or None when an agent was already running. Blocks
    until the new agent holds the workspace lock. Raises BackendUnavailable if it
    does not come up (its log is named in the message).
    """
    layout = WorkspaceLayout(Path(workspace).resolve())
    layout.create()
    lock = AgentLock(layout.agent_lock)
    if lock.holder_pid() is not None:
        return None
    process, _ = spawn_detached(
        "opml",
        "--workspace",
        str(layout.root),
        "agent",
        workspace=layout.root,
        log_path=layout.agent_log,
        extra_env=extra_env,
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if lock.holder_pid() is not None:
            return process
        if process.poll() is not None:
            if lock.holder_pid() is not None:  # another agent won the race
                return None
            break
        time.sleep(0.05)
    raise BackendUnavailable(f"the agent did not start; see {layout.agent_log}")
