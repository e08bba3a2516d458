"""Run types: what a queued run does when the agent starts it.

A run type is an object with a ``name``, ``validate(params, backend) -> dict``
(called at submission, in the submitting process: reject bad input before
anything is queued) and ``execute(context)`` (called in the run's own process).
They are registered here by import path so that the heavy imports of one type
(AutoML, pipelines) are paid only by the processes that run it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opml.errors import InvalidInput

if TYPE_CHECKING:
    from opml.runtypes.context import RunContext

RUN_TYPES: dict[str, str] = {
    "command": "opml.runtypes.command:COMMAND",
    "automl": "opml.automl.runner:AUTOML",
    "pipeline": "opml.pipelines.runner:PIPELINE",
    "pipeline_step": "opml.pipelines.runner:PIPELINE_STEP",
}


class RunType(Protocol):
    name: str

    def validate(self, params: dict[str, Any], backend: Any) -> dict[str, Any]:
        """The clean parameters of a run about to be queued (``backend``: the workspace it is submitted to).
        Raises InvalidInput; nothing is queued then."""

    def execute(self, context: RunContext) -> None: ...

    def model_files(self, host: Any, run_id: str) -> tuple[str, Path]:
        """(run id of the model, folder holding model.pkl and manifest.json) for registering the model of
        run ``run_id`` (refitting it first where needed). Raises Conflict when such a run has no model."""
        ...


def get_run_type(name: str) -> RunType:
    target = RUN_TYPES.get(name)
    if target is None:
        raise InvalidInput(f"unknown run type {name!r}; known types: {', '.join(sorted(RUN_TYPES))}")
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
