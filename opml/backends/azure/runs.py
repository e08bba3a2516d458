"""Runs as Azure ML runs: script runs and AutoML runs (``AutoMLConfig`` with a local run's settings)."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opml.automl.names import CLASSIFICATION, LOWER_IS_BETTER, default_metric
from opml.automl.settings import AutoMLLimits
from opml.backends.azure.computes import AzureComputes
from opml.backends.azure.convert import (
    created_time,
    listed_details,
    opml_status,
    parent_run_id,
    submitted_now,
    to_run,
)
from opml.backends.azure.datasets import AzureDatasets
from opml.backends.azure.workspace import AzurePart, AzureWorkspace, last_scalar
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.tasks import task_of_params
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.base import SEARCH_SCAN_LIMIT
from opml.entities import TERMINAL_STATUSES, Run, masked_params
from opml.errors import Conflict, InvalidInput, NotFound
from opml.files import make_private_dir
from opml.runsearch import RunQuery, matches
from opml.settings import get_settings


def is_automl_trial(run: Any) -> bool:
    """Whether a child of an AutoML parent is one of its trials (a remote parent also has a ``_setup`` child
    and, with ensembles, the ensembles' own children, marked so by Azure)."""
    return (run.properties or {}).get("runTemplate") == "automl_child"


AZURE_MAX_ITERATIONS = 1000  # azureml.train.automl.constants.MAX_ITERATIONS; the SDK refuses more at submit
# AutoMLBaseSettings.MIN_EXPTIMEOUT_MINUTES: the SDK refuses less at submit, in whole minutes (it keeps
# int(experiment_timeout_hours * 60)); on an AmlCompute cluster an iteration takes a node.
AZURE_AUTOML_LIMITS = AutoMLLimits(
    where="Azure ML",
    min_timeout_minutes=15,
    whole_minutes=True,
    max_iterations=AZURE_MAX_ITERATIONS,
    one_node_per_iteration=True,
)


NOTES_TAG = "opml_notes"  # what to know about a run's settings where it runs (JSON list), shown with its progress


def timeout_hours(minutes: float) -> float:
    """``experiment_timeout_hours`` that AutoMLConfig turns back into ``minutes``: it keeps int(hours * 60), and
    123 / 60 * 60 is 122.99999999999999 (so 123 minutes became 122)."""
    hours = minutes / 60
    while int(hours * 60) < minutes:
        hours = math.nextafter(hours, math.inf)
    return hours


@translate_methods
class AzureRuns(AzurePart):
    def __init__(self, workspace: AzureWorkspace, datasets: AzureDatasets, computes: AzureComputes):
        super().__init__(workspace)
        self.datasets, self.computes = datasets, computes

    def sdk_run(self, run_id: str) -> Any:
        """The SDK's Run. Raises NotFound when Azure has no such run (other failures as ``translate`` says)."""
        if not isinstance(run_id, str) or not run_id.strip():
            raise NotFound("no run with an empty id")
        try:
            return self.sdk.Run.get(self.ws, run_id)
        except Exception as exc:
            raise lookup_failed(exc, f"no run {run_id}") from exc

    def automl_progress(self, run: Any, details: dict[str, Any] | None = None) -> dict[str, Any]:
        params = json.loads((run.tags or {}).get("opml_params", "{}"))
        metric = params.get("primary_metric") or default_metric(task_of_params(params))
        children = [child for child in run.get_children(_rehydrate_runs=False) if is_automl_trial(child)]
        trials = {child.id for child in children}
        completed = {child.id for child in children if child.status == "Completed"}  # the best is a finished one
        best_id, best = None, None
        sign = -1 if metric in LOWER_IS_BETTER else 1  # regression errors fall as models improve
        for child_id, metrics in run.get_metrics(recursive=True).items():
            value = last_scalar(metrics.get(metric)) if child_id in completed else None
            if value is not None and (best is None or sign * value > sign * best):
                best_id, best = child_id, value
        details = details if details is not None else run.get_details()
        started = parse_time(details.get("startTimeUtc"))
        ended = parse_time(details.get("endTimeUtc")) or datetime.now(UTC)
        notes = json.loads((run.tags or {}).get(NOTES_TAG, "[]"))
        return ({"notes": notes} if notes else {}) | {
            "phase": details.get("status") or run.status,
            "iterations_done": len(trials),
            "primary_metric": metric,
            "best_metric": best,
            "best_child_id": best_id,
            "elapsed_seconds": round((ended - started).total_seconds(), 1) if started else 0,
            "timeout_seconds": float(params.get("experiment_timeout_minutes", 0)) * 60 or None,
        }

    def best_child(self, parent: Any) -> Any:
        progress = self.automl_progress(parent)
        if not progress["best_child_id"]:
            raise Conflict(f"AutoML run {parent.id} has no completed model yet")
        return self.sdk_run(progress["best_child_id"])

    def to_run(self, run: Any, details: dict[str, Any] | None = None) -> Run:
        """``details``: what ``run.get_details()`` says, when known (``listed_details``); asked of Azure otherwise (a
        request). An AutoML parent's progress costs two more (its children, their metrics)."""
        details = run.get_details() if details is None else details
        is_automl_parent = run.type == "automl" and parent_run_id(run) is None
        progress = self.automl_progress(run, details) if is_automl_parent else None
        return to_run(run, details=details, progress=progress)

    def submit(
        self,
        *,
        experiment: str,
        run_type: str,
        compute: str,
        params: dict[str, Any],
        tags: dict[str, str],
        display_name: str,
    ) -> Run:
        if run_type == "pipeline":
            raise InvalidInput("pipeline runs are started with run_pipeline() or a published pipeline")
        target = self.computes.target(compute)
        if run_type == "automl":
            config = self.automl_config(params, target)
            tags = {**tags, **self.automl_notes(params, target)}
        else:
            config = self.sdk.ScriptRunConfig(
                # The source directory is uploaded as the run's snapshot and is its working folder on the
                # compute. The user's cwd is their choice; without one, an empty folder (as a local run starts
                # in its empty output folder): the dashboard's own working folder may hold anything.
                source_directory=params.get("cwd") or self.empty_snapshot_folder(),
                command=params["command"],
                compute_target=target,
                environment=self.environment(),
            )
            # ScriptRunConfig takes no environment variables: its RunConfiguration does, for this run only.
            config.run_config.environment_variables.update(params.get("env") or {})
        # The tag keeps the params for the dashboard; env values (tokens, passwords) stay out of it.
        run_tags = {**tags, "opml_params": json.dumps(masked_params(params)), **submitted_now()}
        run = self.sdk.Experiment(self.ws, experiment).submit(config, tags=run_tags)
        if display_name:
            run.display_name = display_name
        return self.to_run(run)

    def empty_snapshot_folder(self) -> str:
        """An empty folder opml owns, for runs whose snapshot needs no files: Azure uploads a run's source
        directory (AutoMLConfig's ``path``, the current folder when None) as its snapshot, and an AutoML
        submission writes a ``.azureml`` folder into it."""
        return str(make_private_dir(self.state.folder / "empty_snapshot"))

    def automl_notes(self, params: dict[str, Any], compute_target: Any) -> dict[str, str]:
        """The tag of what to know about an AutoML run on this cluster, which its progress shows: Azure runs one
        iteration per node, so more concurrent iterations than nodes wait for one (a note, not an error: the
        local backend runs them as threads of the run)."""
        nodes = getattr(getattr(compute_target, "scale_settings", None), "maximum_node_count", None)
        if not isinstance(nodes, int):
            return {}
        concurrent = params["max_concurrent_iterations"]
        note = AZURE_AUTOML_LIMITS.concurrency_note(concurrent, compute_target.name, nodes)
        return {NOTES_TAG: json.dumps([note])} if note else {}

    def environment(self) -> Any:
        """The curated Azure ML environment opml's runs and steps use (``OPML_AZURE_ENVIRONMENT``)."""
        return self.sdk.Environment.get(self.ws, get_settings().azure_environment)

    def automl_config(self, params: dict[str, Any], compute_target: Any, training_data: Any = None) -> Any:
        """AutoMLConfig with the same settings as a local run (``opml.automl.settings``), after the limits Azure
        adds to them (``AZURE_AUTOML_LIMITS``, checked here, before anything is submitted: a timeout under 15
        minutes used to be raised to 15 silently, while the run's settings said otherwise).

        The task, its primary metric and its algorithms need no translation: opml's names are AutoMLConfig's
        (``task`` "classification" or "regression", Azure's metric names, and model names of
        ``SupportedModels.Classification`` / ``SupportedModels.Regression``), and the settings allow only the
        metrics and algorithms of the run's task (``opml.automl.names``)."""
        AZURE_AUTOML_LIMITS.check(params)
        if training_data is None:
            training_data = self.datasets.tabular(params["dataset"], params.get("dataset_version"))
        arguments: dict[str, Any] = {
            "task": params.get("task", CLASSIFICATION),
            "path": self.empty_snapshot_folder(),  # None would be the dashboard's working folder
            "primary_metric": params["primary_metric"],
            "compute_target": compute_target,
            "training_data": training_data,
            "label_column_name": params["label_column"],
            "experiment_timeout_hours": timeout_hours(params["experiment_timeout_minutes"]),
            "iterations": params["max_iterations"],
            "max_concurrent_iterations": params["max_concurrent_iterations"],
            "enable_early_stopping": params["enable_early_stopping"],
            "featurization": params["featurization"],
            "enable_voting_ensemble": params["enable_voting_ensemble"],
            "enable_stack_ensemble": params["enable_stack_ensemble"],
            # The SDK's own log, written where the config is built: opml's state folder, not the dashboard's cwd.
            "debug_log": str(self.state.folder / "automl.log"),
        }
        if params.get("n_cross_validations"):
            arguments["n_cross_validations"] = params["n_cross_validations"]
        else:
            arguments["validation_size"] = params["validation_size"]
        if params.get("allowed_algorithms"):
            arguments["allowed_models"] = list(params["allowed_algorithms"])
        if params.get("blocked_algorithms"):
            arguments["blocked_models"] = list(params["blocked_algorithms"])
        return self.sdk.AutoMLConfig(**arguments)

    def get(self, run_id: str) -> Run:
        return self.to_run(self.sdk_run(run_id))

    def experiments(self, name: str | None = None) -> list[Any]:
        """The workspace's experiments (``name`` only, when given) as ``Experiment.list`` answers in one request:
        the active ones (its default; an archived experiment's runs are not listed). Their runs are read from these
        objects: ``Experiment(ws, name)`` is a request of its own, and makes the experiment when Azure has none of
        that name."""
        return [experiment for experiment in self.sdk.Experiment.list(self.ws) if name in (None, experiment.name)]

    def experiment_names(self) -> list[str]:
        """``Backend.list_experiments`` without converting every run: the experiments ``Experiment.list`` gives that
        have a run. Azure keeps experiments without runs (``Experiment(ws, name)`` makes one, a submission Azure
        refused leaves one), so each is asked for its first page of runs, and none is converted."""
        have_runs = [
            experiment for experiment in self.experiments() if next(self.runs_of(experiment), None) is not None
        ]
        return sorted(experiment.name for experiment in have_runs)

    def runs_of(self, experiment: Any, *, include_children: bool = False, type: str | None = None) -> Iterator[Any]:
        """The runs of an experiment (``Experiment.list``'s), newest started first, as ``Run`` objects built from the
        RunDtos listed, 500 a request. Not as ``Experiment.get_runs`` builds them: it "rehydrates" each into its
        SDK class, and those of AutoML, pipeline, step and HyperDrive runs are built from the run id alone, a GET of
        each run listed."""
        return iter(self.sdk.Run.list(experiment, type=type, include_children=include_children, _rehydrate_runs=False))

    def list(
        self, *, experiment: str | None = None, parent_id: str | None = None, top_level_only: bool = False, limit: int
    ) -> list[Run]:
        """Newest created first, across experiments; only the ``limit`` returned are converted (each conversion asks
        Azure for the run's details, and for an AutoML run its children and metrics)."""
        runs = self.sdk_runs(experiment=experiment, parent_id=parent_id, top_level_only=top_level_only)
        return [self.to_run(run) for run in runs[:limit]]

    def search(self, query: RunQuery) -> tuple[list[Run], int]:
        """``Backend._search_runs`` (the newest ``SEARCH_SCAN_LIMIT`` runs listed, each checked, one page returned)
        without converting each run it checks: a run is checked as the RunDto it was listed with says (status,
        compute, times, tags, ...: no request), metric clauses only for runs the other clauses let through (a
        get_metrics each), and only the runs returned get an AutoML parent's progress (its children and metrics).
        The runs returned are those the generic search returns, as of the listing."""
        by_metrics = [clause for clause in query.clauses if clause.kind == "metric"]
        others = [clause for clause in query.clauses if clause.kind != "metric"]
        listed = self.sdk_runs(experiment=query.experiment, parent_id=None, top_level_only=query.top_level_only)
        found = []
        for run in listed[:SEARCH_SCAN_LIMIT]:
            details = listed_details(run)
            entity = to_run(run, details=details)
            if query.statuses and entity.status not in query.statuses:
                continue
            if not matches(entity, {}, others):
                continue
            if by_metrics and not matches(entity, self.metrics_of(run), by_metrics):
                continue
            found.append((run, details))
        page = found[query.offset : query.offset + query.limit]
        return [self.to_run(run, details) for run, details in page], len(found)

    def sdk_runs(self, *, experiment: str | None, parent_id: str | None, top_level_only: bool) -> list[Any]:
        """The SDK's Run objects, newest created first, across experiments. Azure lists runs 500 to a request,
        newest started first (a run still waiting has no start time): they are ordered here by the creation time
        each listed run carries."""
        if parent_id is not None:
            parent = self.sdk_run(parent_id)
            runs = list(parent.get_children(_rehydrate_runs=False))  # as runs_of: no GET of each child
            if parent.type == "automl":  # its trials only, as AutoMLRun lists them (not the _setup child)
                runs = [run for run in runs if is_automl_trial(run)]
            if experiment:
                runs = [run for run in runs if run.experiment.name == experiment]
        else:
            runs = []
            for listed in self.experiments(experiment):
                runs.extend(self.runs_of(listed, include_children=not top_level_only))
        runs.sort(key=lambda run: created_time(run) or EPOCH, reverse=True)
        return runs

    def cancel(self, run_id: str) -> Run:
        run = self.sdk_run(run_id)
        if opml_status(run.status) not in TERMINAL_STATUSES:
            run.cancel()
        return self.to_run(run)

    def read_log(self, run_id: str, *, offset: int, max_bytes: int) -> tuple[str, int]:
        logs = self.sdk_run(run_id).get_details_with_logs().get("logFiles") or {}
        text = "".join(f"===== {name} =====\n{content}\n" for name, content in sorted(logs.items()))
        data = text.encode()
        chunk = data[offset : offset + max_bytes]
        return chunk.decode(errors="replace"), offset + len(chunk)

    def metrics(self, run_id: str) -> dict[str, float]:
        return self.metrics_of(self.sdk_run(run_id))

    def metrics_of(self, run: Any) -> dict[str, float]:
        """The last value of each metric of an SDK Run (a request)."""
        return {name: value for name, raw in run.get_metrics().items() if (value := last_scalar(raw)) is not None}

    def output(self, run_id: str, name: str) -> Any:
        run = self.sdk_run(run_id)
        if f"outputs/{name}" not in run.get_file_names():
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            run.download_file(f"outputs/{name}", output_file_path=str(path))
            return json.loads(path.read_text())
