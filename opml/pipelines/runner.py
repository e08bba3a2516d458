"""The ``pipeline`` run type: run a pipeline's steps in order, each as a child run with its own log.

A failing step fails the pipeline run with the step named; the steps after it are marked Skipped.
The AutoML step runs the same AutoML job as an AutoML run, its trials being children of the step.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import traceback
from pathlib import Path
from typing import Any

from opml.entities import COMPLETED, FAILED, NOT_STARTED, RUNNING, SKIPPED
from opml.errors import Conflict, InvalidInput, NotFound, OpmlError
from opml.files import PRIVATE_FILE, make_private_dir
from opml.pipelines.spec import check_assignments, check_values, resolve
from opml.runtypes.context import RunContext, RunFailed

TRIGGERS = ("UI", "REST", "Schedule", "CLI", "Alert")  # who started a pipeline run


def load_prepare(script: str):
    spec = importlib.util.spec_from_file_location("opml_user_prep", script)
    if spec is None or spec.loader is None:
        raise RunFailed(f"cannot load {script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    prepare = getattr(module, "prepare", None)
    if not callable(prepare):
        raise RunFailed(f"{script} defines no prepare(df) function")
    return prepare


@contextlib.contextmanager
def step_log(path: Path):
    """Send what a step prints (stdout and stderr) to the step's own log file."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    with open(fd, "a", buffering=1) as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        yield


class PipelineRunType:
    name = "pipeline"

    def model_files(self, host: Any, run_id: str) -> tuple[str, Path]:
        raise Conflict(f"run {run_id} is a pipeline run: register the model of its AutoML step ({run_id}_<step>)")

    def validate(self, params: dict[str, Any], backend: Any) -> dict[str, Any]:
        unknown = set(params) - {"pipeline_id", "published_pipeline_id", "parameters", "trigger"}
        if unknown:
            raise InvalidInput(f"unknown pipeline run setting(s): {', '.join(sorted(unknown))}")
        pipeline = backend.pipelines.get(str(params.get("pipeline_id")))
        trigger = params.get("trigger", "UI")
        if trigger not in TRIGGERS:
            raise InvalidInput(f"trigger must be one of {', '.join(TRIGGERS)}")
        assignments = check_assignments(pipeline.parameters, params.get("parameters"))
        check_values(pipeline.steps, {**pipeline.parameters, **assignments})
        return {
            "pipeline_id": pipeline.id,
            "published_pipeline_id": params.get("published_pipeline_id"),
            "parameters": assignments,
            "trigger": trigger,
        }

    def execute(self, context: RunContext) -> None:
        run = context.run
        pipeline = context.get_pipeline(run.params["pipeline_id"])
        values = {**pipeline.parameters, **run.params.get("parameters", {})}
        steps = resolve(pipeline.steps, values)
        context.log(f"pipeline {pipeline.name} ({pipeline.id}) with parameters {values}")
        children = [
            context.start_child(
                run_id=f"{run.id}_{step['name']}",
                run_type=PipelineStepRunType.name,
                params={"step": step},
                display_name=step["name"],
                status=NOT_STARTED,
            ).id
            for step in steps
        ]
        context.set_progress(steps=[s["name"] for s in steps])
        outputs: dict[str, Any] = {}
        for index, (step, child_id) in enumerate(zip(steps, children, strict=True)):
            context.set_progress(current_step=step["name"])
            context.set_run_status(child_id, RUNNING)
            try:
                with step_log(context.log_path_of(child_id)):
                    print(f"[opml] step {step['name']} ({step['type']})", flush=True)
                    try:
                        result = self._run_step(context, step, child_id, outputs)
                    except Exception:
                        traceback.print_exc()  # into the step's own log
                        raise
            except Exception as exc:  # any failure of a step: recorded on it, the rest is skipped
                message = str(exc) if isinstance(exc, (OpmlError, RunFailed)) else f"{type(exc).__name__}: {exc}"
                context.finish_descendants(child_id, FAILED, "the step failed")
                context.finish(child_id, FAILED, message)
                for later in children[index + 1 :]:
                    context.finish(later, SKIPPED, f"skipped: step {step['name']!r} failed")
                raise RunFailed(f"step {step['name']!r} failed: {message}") from None
            outputs.update(result)
            context.update_progress(child_id, result)
            context.finish(child_id, COMPLETED)
        context.set_progress(current_step=None, outputs=outputs)

    def _run_step(self, context: RunContext, step: dict, child_id: str, outputs: dict) -> dict[str, Any]:
        if step["type"] == "data_prep":
            return self._prepare(context, step)
        if step["type"] == "automl":
            from opml.automl.runner import AutoMLJob  # heavy: imported by run processes only
            from opml.automl.settings import checked_params

            settings = checked_params(dict(step["settings"]), context)
            context.set_params(child_id, settings)
            AutoMLJob(context.child_context(child_id)).run()
            best = context.get_run(child_id).progress
            return {
                "automl_run": child_id,
                "best_child": best.get("best_child_id"),
                "best_metric": best.get("best_metric"),
            }
        return self._register(context, step, context.get_run(outputs["automl_run"]))

    def _prepare(self, context: RunContext, step: dict) -> dict[str, Any]:
        import pandas as pd

        source = context.get_dataset(step["input_dataset"])
        frame = context.load_dataset(source.name, source.version)
        prepared = load_prepare(step["script"])(frame.copy())
        if not isinstance(prepared, pd.DataFrame) or prepared.empty:
            raise RunFailed("prepare(df) must return a non-empty DataFrame")
        dropped = [c for c in frame.columns if c not in prepared.columns]
        added = [c for c in prepared.columns if c not in frame.columns]
        print(f"[opml] columns dropped: {', '.join(dropped) or 'none'}; added: {', '.join(added) or 'none'}")
        dataset = context.register_dataset(
            name=step["output_dataset"],
            source=prepared.to_csv(index=False).encode(),
            filename=f"{step['output_dataset']}.csv",
            description=f"output of pipeline step {step['name']}",
            lineage=f"pipeline run {context.run.id}, step {step['name']}, from {source.id}",
            tags={"pipeline_run": context.run.id, "step": step["name"], "input_dataset": source.id},
        )
        print(f"[opml] {len(frame):,} rows in, {len(prepared):,} rows out -> dataset {dataset.id}", flush=True)
        return {"output_dataset": dataset.id}

    def _register(self, context: RunContext, step: dict, automl: Any) -> dict[str, Any]:
        """Register the AutoML step's best model, unless the quality gate holds it back."""
        from opml.automl.names import score_for_ranking

        metric = automl.params.get("primary_metric", "accuracy")
        new_value = automl.progress.get("best_metric")
        gate = step.get("gate_alias")
        if gate:
            try:
                holder = context.get_model_by_alias(step["model_name"], gate)
            except NotFound:
                holder = None
                print(f"[opml] quality gate: no version of {step['model_name']} is {gate!r}; nothing to beat")
            old_value = holder.metrics.get(metric) if holder else None
            if holder is not None and old_value is None:
                print(f"[opml] quality gate: {holder.id} ({gate}) has no {metric}; registering")
            elif holder is not None:
                verdict = score_for_ranking(metric, new_value) > score_for_ranking(metric, old_value)
                print(
                    f"[opml] quality gate: new model {metric} {new_value:.4f} against {holder.id} ({gate}) "
                    f"{old_value:.4f} (cross-validated): {'better, registering' if verdict else 'not better'}",
                    flush=True,
                )
                if not verdict:
                    print("[opml] nothing registered", flush=True)
                    return {"model": None, "gate": f"held back: {new_value:.4f} vs {holder.id} {old_value:.4f}"}
        model = context.register_model(
            name=step["model_name"], run_id=automl.id, description=f"registered by pipeline run {context.run.id}"
        )
        print(f"[opml] registered model {model.id}", flush=True)
        if step.get("set_alias"):
            context.set_model_alias(
                model.name, step["set_alias"], model.version, actor=f"pipeline run {context.run.id}"
            )
            print(f"[opml] alias {step['set_alias']!r} -> {model.id}", flush=True)
        return {"model": model.id}


class PipelineStepRunType:
    """A step of a pipeline run: created, executed and ended by its pipeline run, never queued by itself.
    Its model is the AutoML step's best one."""

    name = "pipeline_step"

    def validate(self, params: dict[str, Any], backend: Any) -> dict[str, Any]:
        raise InvalidInput("pipeline steps are run by their pipeline: run the pipeline instead")

    def execute(self, context: RunContext) -> None:
        raise RunFailed("a pipeline step runs inside its pipeline run")

    def model_files(self, host: Any, run_id: str) -> tuple[str, Path]:
        from opml.automl.refit import ensure_model_files

        return ensure_model_files(host, run_id)


PIPELINE = PipelineRunType()
PIPELINE_STEP = PipelineStepRunType()
