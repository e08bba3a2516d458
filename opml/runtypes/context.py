"""What a run type sees while it executes inside its run process."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from opml.entities import CANCEL_REQUESTED, Run


class RunRecords(Protocol):
    """The run records a run may read and write (its own, its children's)."""

    def insert(self, **run: Any) -> Run: ...
    def get(self, run_id: str) -> Run: ...
    def set_status(self, run_id: str, status: str) -> bool: ...
    def set_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...
    def update_progress(self, run_id: str, progress: Mapping[str, Any]) -> None: ...
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None: ...
    def metrics(self, run_id: str) -> dict[str, float]: ...
    def finish(self, run_id: str, status: str, error: str | None = None) -> bool: ...
    def finish_open_children(self, parent_id: str, status: str, error: str | None = None) -> int: ...


class RunFolders(Protocol):
    """Where a run's files go."""

    def run_dir(self, run_id: str) -> Path: ...
    def run_log(self, run_id: str) -> Path: ...
    def run_outputs(self, run_id: str) -> Path: ...


class RunHost(Protocol):
    """What a run may do in its workspace: its records and folders, the pipelines it runs, and the few
    workspace operations a step needs. The local backend is one; nothing here depends on it."""

    runs: RunRecords
    layout: RunFolders
    pipelines: Any  # get(pipeline_id) -> opml.entities.Pipeline

    def get_dataset(self, name: str, version: int | None = None) -> Any: ...
    def load_dataset(self, name: str, version: int | None = None, *, nrows: int | None = None) -> Any: ...
    def register_dataset(self, **dataset: Any) -> Any: ...
    def register_model(self, **model: Any) -> Any: ...
    def get_model_by_alias(self, name: str, alias: str) -> Any: ...
    def set_model_alias(self, name: str, alias: str, version: int, *, actor: str | None = None) -> Any: ...


class RunFailed(Exception):
    """Raised by a run type to fail its run with a message for the user (no traceback)."""


class RunContext:
    def __init__(self, backend: RunHost, run: Run):
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
