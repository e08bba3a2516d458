"""What a run type sees while it executes inside its run process."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.entities import CANCEL_REQUESTED, Run

if TYPE_CHECKING:
    from opml.backends.local.backend import LocalBackend


class RunFailed(Exception):
    """Raised by a run type to fail its run with a message for the user (no traceback)."""


class RunContext:
    def __init__(self, backend: LocalBackend, run: Run):
        self.backend = backend
        self.run = run
        self.output_dir: Path = backend.layout.run_dir(run.id) / "outputs"
        self.output_dir.mkdir(parents=True, exist_ok=True)

    @property
    def params(self) -> dict[str, Any]:
        return self.run.params

    def log(self, message: str) -> None:
        """Append a line to the run's log (stdout is the log file)."""
        print(message, file=sys.stdout, flush=True)

    def set_status(self, status: str) -> None:
        self.backend.runs.set_status(self.run.id, status)

    def set_progress(self, **progress: Any) -> None:
        self.backend.runs.update_progress(self.run.id, progress)

    def log_metrics(self, metrics: Mapping[str, float], *, run_id: str | None = None) -> None:
        self.backend.runs.log_metrics(run_id or self.run.id, metrics)

    def cancel_requested(self) -> bool:
        return self.backend.runs.get(self.run.id).status == CANCEL_REQUESTED
