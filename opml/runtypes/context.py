"""What a run type sees while it executes inside its run process."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from opml.entities import CANCEL_REQUESTED, Run
from opml.files import make_private_dir


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
        make_private_dir(self.output_dir)

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

    # -- the run's children and its files ------------------------------------------------

    def start_child(
        self, *, run_id: str, run_type: str, params: Mapping[str, Any], display_name: str, status: str
    ) -> Run:
        """A child run of this one (an AutoML trial, a pipeline step), on the same experiment and compute."""
        return self.backend.runs.insert(
            experiment=self.run.experiment,
            run_type=run_type,
            compute=self.run.compute,
            params=params,
            parent_id=self.run.id,
            run_id=run_id,
            status=status,
            display_name=display_name,
        )

    def child_context(self, run_id: str) -> RunContext:
        """The context of a child that runs a job of its own (a pipeline's AutoML step)."""
        return RunContext(self.backend, self.backend.runs.get(run_id))

    def get_run(self, run_id: str) -> Run:
        return self.backend.runs.get(run_id)

    def set_run_status(self, run_id: str, status: str) -> None:
        self.backend.runs.set_status(run_id, status)

    def set_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.backend.runs.set_params(run_id, params)

    def update_progress(self, run_id: str, progress: Mapping[str, Any]) -> None:
        self.backend.runs.update_progress(run_id, progress)

    def finish(self, run_id: str, status: str, error: str | None = None) -> None:
        """End a child (or the run itself) once: a run already ended keeps its first end."""
        self.backend.runs.finish(run_id, status, error)

    def finish_descendants(self, run_id: str, status: str, error: str | None = None) -> None:
        self.backend.runs.finish_open_children(run_id, status, error)

    def outputs_of(self, run_id: str) -> Path:
        """The output folder of this run or of one of its children."""
        return self.backend.layout.run_outputs(run_id)

    def log_path_of(self, run_id: str) -> Path:
        return self.backend.layout.run_log(run_id)

    # -- the workspace operations a run needs -----------------------------------------------

    def get_pipeline(self, pipeline_id: str) -> Any:
        return self.backend.pipelines.get(pipeline_id)

    def get_dataset(self, name: str, version: int | None = None) -> Any:
        return self.backend.get_dataset(name, version)

    def load_dataset(self, name: str, version: int | None = None) -> Any:
        return self.backend.load_dataset(name, version)

    def register_dataset(self, **dataset: Any) -> Any:
        return self.backend.register_dataset(**dataset)

    def register_model(self, **model: Any) -> Any:
        return self.backend.register_model(**model)

    def get_model_by_alias(self, name: str, alias: str) -> Any:
        return self.backend.get_model_by_alias(name, alias)

    def set_model_alias(self, name: str, alias: str, version: int, *, actor: str) -> Any:
        return self.backend.set_model_alias(name, alias, version, actor=actor)

    def cancel_requested(self) -> bool:
        return self.backend.runs.get(self.run.id).status == CANCEL_REQUESTED
