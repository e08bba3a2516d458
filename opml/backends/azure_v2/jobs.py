"""Runs as Azure ML jobs (SDK v2): AutoML jobs (classification or regression tables) and command jobs.

A job's status, compute, tags and type are the job's own (``client.jobs``); its times and metrics are in the
workspace's MLflow tracking server (``mlflow_rest.py``); its log and outputs are downloaded once it has finished
(``jobs.download``: SDK v2 downloads only a finished job's files), kept in the state folder. An AutoML job's
trials are its child jobs (``jobs.list(parent_job_name=...)``, which the SDK gives as base jobs whose properties
say ``runTemplate: automl_child``); its progress and leaderboard come from them and their MLflow metrics.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opml.automl.names import CLASSIFICATION, LOWER_IS_BETTER, REGRESSION, default_metric, primary_metrics
from opml.automl.settings import AutoMLLimits
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.params import PARAMS_TAG, params_from
from opml.backends.azure_common.tasks import task_of_params
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.azure_v2.computes import AzureV2Computes
from opml.backends.azure_v2.convert import created_at, opml_status, user_tags
from opml.backends.azure_v2.datasets import AzureV2Datasets
from opml.backends.azure_v2.mlflow_rest import MlflowRest, metrics_of, tags_of
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.backends.base import SEARCH_SCAN_LIMIT
from opml.entities import FAILED, TERMINAL_STATUSES, Run, masked_params
from opml.errors import Conflict, InvalidInput, NotFound
from opml.files import make_private_dir
from opml.runsearch import RunQuery, matches
from opml.settings import get_settings

# What Azure ML's AutoML takes beyond opml's own bounds. The SDK v2 client checks none of it: the service does.
# max_trials: "an integer between 1 and 1000" (Azure's documentation of set_limits and of the studio's form);
# timeout_minutes is an int in the SDK's schema (whole minutes, sent as an ISO duration PT<n>M); the 15-minute
# minimum is the AutoML runtime's (MIN_EXPTIMEOUT_MINUTES, which v1's client enforced and whose setup step the
# service runs for v2 jobs too). On an AmlCompute cluster a trial takes a node.
AZURE_V2_AUTOML_LIMITS = AutoMLLimits(
    where="Azure ML", min_timeout_minutes=15, whole_minutes=True, max_iterations=1000, one_node_per_iteration=True
)

SUBMITTED_TAG = "opml_submitted_at"
NOTES_TAG = "opml_notes"  # what to know about a job's settings where it runs (JSON list), shown with its progress
MLFLOW_MODEL_PATH = "outputs/mlflow-model"  # where an AutoML v2 trial writes its MLflow model (its artifacts)
_JOB_TYPES = {"automl": "automl", "command": "command", "pipeline": "pipeline"}
_EXIT = re.compile(r"exit(ed)?\b.*\bcode\b|error|exception|traceback", re.I)


def run_type_of(job: Any, parent_type: str | None = None) -> str:
    """opml's run type of a job. A child job comes as a base job (the SDK builds it from the run's record): an
    AutoML job's child is "automl" (its trials, setup, ...), a pipeline's is "pipeline_step"."""
    if job.type != "base":
        return _JOB_TYPES.get(str(job.type), str(job.type))
    properties = job.properties or {}
    if parent_type == "automl" or str(properties.get("runTemplate", "")).startswith("automl"):
        return "automl"
    if parent_type == "pipeline" or "azureml.nodeid" in properties:  # a pipeline step's run carries its node id
        return "pipeline_step"
    return "command"


def is_automl_trial(job: Any) -> bool:
    """Whether a child of an AutoML job is one of its trials (not its setup or featurization child, nor an
    explanation or ensemble-download child), as Azure marks them."""
    return (job.properties or {}).get("runTemplate") == "automl_child"


def _task_enums(task: str) -> tuple[Any, Any]:
    """(models, primary metrics): the SDK's enums of a task (``azure.ai.ml.automl``)."""
    from azure.ai.ml import automl

    if task == REGRESSION:
        return automl.RegressionModels, automl.RegressionPrimaryMetrics
    return automl.ClassificationModels, automl.ClassificationPrimaryMetrics


def azure_algorithms(task: str = CLASSIFICATION) -> tuple[str, ...]:
    """Azure's names of a task's algorithms (``ClassificationModels``, ``RegressionModels``): opml's are among them."""
    models, _ = _task_enums(task)
    return tuple(model.value for model in models)


def azure_primary_metric(task: str, metric: str) -> str:
    """A primary metric of opml (Azure's v1 and MLflow name: "AUC_weighted", "normalized_root_mean_squared_error")
    in the SDK's spelling (``ClassificationPrimaryMetrics``, ``RegressionPrimaryMetrics``: "AUCWeighted",
    "NormalizedRootMeanSquaredError"), as the job sends it. InvalidInput for a metric the task lacks on Azure."""
    _, metrics = _task_enums(task)
    found = metrics.__members__.get(str(metric).upper())
    if found is None:
        raise InvalidInput(
            f"primary_metric: Azure ML's AutoML {task} has no primary metric {metric!r}; "
            f"choose one of: {', '.join(primary_metrics(task))}"
        )
    return found.value


def _millis(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
    except (TypeError, ValueError):
        return None


def params_of(job: Any) -> dict[str, Any]:
    """opml's view of a job's parameters (``params_from``)."""
    return params_from(job.tags, job.properties)


@translate_methods
class AzureV2Jobs(AzureV2Part):
    """submit(*, experiment, run_type, compute, params, tags, display_name) -> Run; get(run_id); list(*, experiment,
    parent_id, top_level_only, limit); search(query) -> (runs, total); experiment_names(); cancel(run_id);
    read_log(run_id, *, offset, max_bytes); metrics(run_id); output(run_id, name); automl_job(params, compute,
    training_input) -> the SDK's AutoML job (also a pipeline's node); best_child(job_name)."""

    def __init__(self, workspace: AzureV2Workspace, datasets: AzureV2Datasets, computes: AzureV2Computes):
        super().__init__(workspace)
        self.datasets, self.computes = datasets, computes
        self.mlflow = MlflowRest(workspace)

    # -- building jobs ---------------------------------------------------------------------

    def automl_job(self, params: dict[str, Any], compute: str, training_input: Any = None) -> Any:
        """The AutoML job of a local run's settings (``opml.automl.settings``, checked by the run type): a
        ``ClassificationJob`` (``automl.classification``) or a ``RegressionJob`` (``automl.regression``) as its task
        says, after Azure's limits (``AZURE_V2_AUTOML_LIMITS``) and names (the task's primary metrics and
        algorithms), checked here, before anything is submitted. ``training_input``: the mltable ``Input`` (the
        dataset of ``params`` when None; a pipeline passes its own)."""
        AZURE_V2_AUTOML_LIMITS.check(params)
        task = params.get("task", CLASSIFICATION)
        if task not in (CLASSIFICATION, REGRESSION):
            raise InvalidInput(f"task: Azure ML's AutoML tables are classification or regression, not {task!r}")
        metric = azure_primary_metric(task, params.get("primary_metric") or default_metric(task))
        known = set(azure_algorithms(task))
        for setting in ("allowed_algorithms", "blocked_algorithms"):
            unknown = [a for a in params.get(setting) or () if a not in known]
            if unknown:  # opml's names are Azure's; one Azure lacks would be refused there, later
                raise InvalidInput(
                    f"{setting}: Azure ML's AutoML {task} has no algorithm {', '.join(unknown)}; "
                    f"its algorithms are: {', '.join(sorted(known))}"
                )
        if training_input is None:
            training_input = self.datasets.training_input(params["dataset"], params.get("dataset_version"))
        split: dict[str, Any] = {}
        if params.get("n_cross_validations"):
            split["n_cross_validations"] = int(params["n_cross_validations"])
        else:
            split["validation_data_size"] = float(params["validation_size"])
        make_job = self.sdk.automl.regression if task == REGRESSION else self.sdk.automl.classification
        job = make_job(
            training_data=training_input,
            target_column_name=params["label_column"],
            primary_metric=metric,
            **split,
        )
        job.set_limits(
            timeout_minutes=int(params["experiment_timeout_minutes"]),
            max_trials=int(params["max_iterations"]),
            max_concurrent_trials=int(params["max_concurrent_iterations"]),
            enable_early_termination=bool(params["enable_early_stopping"]),
        )
        job.set_featurization(mode=params.get("featurization", "auto"))
        job.set_training(  # opml's algorithm names are Azure's (opml.automl.names)
            allowed_training_algorithms=list(params.get("allowed_algorithms") or ()) or None,
            blocked_training_algorithms=list(params.get("blocked_algorithms") or ()) or None,
            enable_vote_ensemble=bool(params.get("enable_voting_ensemble", True)),
            enable_stack_ensemble=bool(params.get("enable_stack_ensemble", True)),
        )
        job.compute = compute
        return job

    def command_job(self, params: dict[str, Any], compute: str) -> Any:
        """A command job: the command line in the curated environment opml's jobs use (``OPML_AZURE_ENVIRONMENT``),
        its working folder uploaded as the job's code (none: no code), its environment variables for this job."""
        return self.sdk.command(
            command=shlex.join(params["command"]),
            code=params.get("cwd") or None,
            environment=f"azureml:{get_settings().azure_environment}@latest",
            compute=compute,
            environment_variables=dict(params.get("env") or {}),
        )

    def automl_notes(self, params: dict[str, Any], cluster: Any) -> dict[str, str]:
        nodes = getattr(cluster, "max_instances", None)
        if not isinstance(nodes, int):
            return {}
        note = AZURE_V2_AUTOML_LIMITS.concurrency_note(params["max_concurrent_iterations"], cluster.name, nodes)
        return {NOTES_TAG: json.dumps([note])} if note else {}

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
        if run_type not in ("automl", "command"):
            raise InvalidInput(f"unknown run type {run_type!r} for Azure ML: automl or command")
        cluster = self.computes.cluster(compute)
        if run_type == "automl":
            job = self.automl_job(params, compute)
            tags = {**tags, **self.automl_notes(params, cluster)}
        else:
            job = self.command_job(params, compute)
        job.experiment_name = experiment
        if display_name:
            job.display_name = display_name
        # The tag keeps the params for the dashboard; env values (tokens, passwords) stay out of it.
        job.tags = {
            **tags,
            PARAMS_TAG: json.dumps(masked_params(params)),
            SUBMITTED_TAG: datetime.now(UTC).isoformat(),
        }
        created = self.client.jobs.create_or_update(job)
        return self.to_run(created)

    # -- reading jobs ----------------------------------------------------------------------

    def sdk_job(self, run_id: str) -> Any:
        """The SDK's Job. Raises NotFound when Azure has no such job (other failures as ``translate`` says)."""
        if not isinstance(run_id, str) or not run_id.strip():
            raise NotFound("no run with an empty id")
        try:
            return self.client.jobs.get(run_id)
        except Exception as exc:
            raise lookup_failed(exc, f"no run {run_id}") from exc

    def children(self, parent: Any) -> list[Any]:
        """The child jobs of ``parent`` (an AutoML job's: its trials only, as the leaderboard wants them)."""
        jobs = [job for job in self.client.jobs.list(parent_job_name=parent.name) if job is not None]
        if parent.type == "automl":
            jobs = [job for job in jobs if is_automl_trial(job)]
        return jobs

    def automl_progress(self, job: Any, mlflow_run: dict[str, Any] | None = None) -> dict[str, Any]:
        """``mlflow_run``: the job's own MLflow run, when fetched already."""
        params = params_of(job)
        metric = params.get("primary_metric") or default_metric(task_of_params(params))
        trials = self.children(job)
        completed = {child.name for child in trials if child.status == "Completed"}  # the best is a finished one
        if mlflow_run is None:
            mlflow_run = self.mlflow.run(job.name)
        # Azure names the best trial in the AutoML job's MLflow tags once it has chosen (ensembles included); until
        # then, or for a trial opml does not see completed, the best completed trial by the primary metric.
        named = tags_of(mlflow_run).get("automl_best_child_run_id")
        best_id, best = None, None
        sign = -1 if metric in LOWER_IS_BETTER else 1
        if completed:
            for run in self.mlflow.children(job.experiment_name, job.name):
                run_id = (run.get("info") or {}).get("run_id")
                value = metrics_of(run).get(metric)
                if run_id not in completed or value is None:
                    continue
                if run_id == named:
                    best_id, best = run_id, value
                    break
                if best is None or sign * value > sign * best:
                    best_id, best = run_id, value
        info = (mlflow_run or {}).get("info") or {}
        started = _millis(info.get("start_time"))
        ended = _millis(info.get("end_time")) or datetime.now(UTC)
        notes = json.loads((job.tags or {}).get(NOTES_TAG, "[]"))
        return ({"notes": notes} if notes else {}) | {
            "phase": job.status,
            "iterations_done": len(trials),
            "primary_metric": metric,
            "best_metric": best,
            "best_child_id": best_id,
            "elapsed_seconds": round((ended - started).total_seconds(), 1) if started else 0,
            "timeout_seconds": float(params.get("experiment_timeout_minutes", 0)) * 60 or None,
        }

    def best_child(self, job: Any) -> Any:
        """The best completed trial (the SDK's job) of an AutoML job (its name, or the SDK's job). Raises NotFound,
        or Conflict when it has none yet."""
        if isinstance(job, str):
            job = self.sdk_job(job)
        progress = self.automl_progress(job)
        if not progress["best_child_id"]:
            raise Conflict(f"AutoML run {job.name} has no completed model yet")
        return self.sdk_job(progress["best_child_id"])

    def to_run(
        self,
        job: Any,
        *,
        parent_id: str | None = None,
        experiment: str | None = None,
        mlflow_run: dict[str, Any] | None = None,
        parent_type: str | None = None,
        light: bool = False,
    ) -> Run:
        """``light``: from the job alone (no MLflow request, no download): what a search filters on."""
        if mlflow_run is None and not light:
            mlflow_run = self.mlflow.run(job.name)
        info = (mlflow_run or {}).get("info") or {}
        if parent_id is None and job.type == "base":  # a child listed or fetched alone: MLflow knows its parent
            parent_id = tags_of(mlflow_run).get("mlflow.parentRunId") or None
        if experiment is None:
            experiment = job.experiment_name or ""
            if job.type == "base" and parent_id and not light:  # the SDK gives a child the experiment's id
                experiment = self.sdk_job(parent_id).experiment_name or experiment
        status = opml_status(job.status)
        is_automl_parent = job.type == "automl" and not light
        tags = job.tags or {}
        run = Run(
            id=job.name,
            experiment=experiment,
            run_type=run_type_of(job, parent_type),
            status=status,
            compute=str(job.compute or "").rsplit("/", 1)[-1],
            created_at=created_at(job) or parse_time(tags.get(SUBMITTED_TAG)) or EPOCH,
            params=params_of(job),
            tags=user_tags(tags),
            parent_id=parent_id,
            started_at=_millis(info.get("start_time")),
            ended_at=_millis(info.get("end_time")) if status in TERMINAL_STATUSES else None,
            error=self.failure(job) if status == FAILED and not light else None,
            progress=self.automl_progress(job, mlflow_run) if is_automl_parent else {},
            display_name=job.display_name or "",
        )
        return self.with_trigger_bookkeeping(run) if job.type == "pipeline" else run

    def with_trigger_bookkeeping(self, run: Run) -> Run:
        """A pipeline job started through a batch endpoint with what opml keeps of it, because Azure could not
        be told (it refuses to update a pipeline job's tags afterwards): its parameters, the user's tags and
        the description given at the trigger (``AzureV2Pipelines.trigger``)."""
        known = self.state.triggered_runs().get(run.id)
        if not known:
            return run
        tags = known.get("tags", {})
        try:
            params = json.loads(tags.get("opml_params", "{}"))
        except ValueError:
            params = {}
        user = {k: v for k, v in tags.items() if not k.startswith("opml_")}
        return dataclasses.replace(
            run,
            params=params or run.params,
            tags={**run.tags, **user},
            display_name=known.get("description") or run.display_name,
        )

    def get(self, run_id: str) -> Run:
        return self.to_run(self.sdk_job(run_id))

    def top_level_jobs(self, experiment: str | None = None) -> list[Any]:
        """The workspace's jobs (Azure lists top-level jobs), newest created first."""
        jobs = [job for job in self.client.jobs.list() if job is not None]
        if experiment:
            jobs = [job for job in jobs if job.experiment_name == experiment]
        return sorted(jobs, key=lambda job: created_at(job) or EPOCH, reverse=True)

    def list(
        self, *, experiment: str | None = None, parent_id: str | None = None, top_level_only: bool = False, limit: int
    ) -> list[Run]:
        """Newest created first; only the ``limit`` returned are converted (an MLflow request each). Without a
        parent, the workspace's top-level jobs (an AutoML job's trials are listed under it)."""
        if parent_id is None:
            return [self.to_run(job) for job in self.top_level_jobs(experiment)[:limit]]
        parent = self.sdk_job(parent_id)
        if experiment and parent.experiment_name != experiment:
            return []
        children = sorted(self.children(parent), key=lambda job: created_at(job) or EPOCH, reverse=True)[:limit]
        mlflow_runs = self.mlflow.children(parent.experiment_name, parent_id)
        found = {(run.get("info") or {}).get("run_id"): run for run in mlflow_runs}
        return [
            self.to_run(
                child,
                parent_id=parent_id,
                experiment=parent.experiment_name,
                mlflow_run=found.get(child.name) or {},
                parent_type=parent.type,
            )
            for child in children
        ]

    def search(self, query: RunQuery) -> tuple[list[Run], int]:
        """``Backend._search_runs`` over the newest ``SEARCH_SCAN_LIMIT`` jobs, each checked as the listing says
        (no request), metric clauses with its MLflow metrics (a request, only for jobs the other clauses let
        through); only the page returned is converted."""
        by_metrics = [clause for clause in query.clauses if clause.kind == "metric"]
        others = [clause for clause in query.clauses if clause.kind != "metric"]
        found = []
        for job in self.top_level_jobs(query.experiment)[:SEARCH_SCAN_LIMIT]:
            entity = self.to_run(job, light=True)
            if query.statuses and entity.status not in query.statuses:
                continue
            if not matches(entity, {}, others):
                continue
            if by_metrics and not matches(entity, metrics_of(self.mlflow.run(job.name)), by_metrics):
                continue
            found.append(job)
        page = found[query.offset : query.offset + query.limit]
        return [self.to_run(job) for job in page], len(found)

    def experiment_names(self) -> list[str]:
        return sorted({job.experiment_name for job in self.top_level_jobs() if job.experiment_name})

    def cancel(self, run_id: str) -> Run:
        job = self.sdk_job(run_id)
        if opml_status(job.status) not in TERMINAL_STATUSES:
            self.client.jobs.begin_cancel(job.name)  # not waited on: the job says CancelRequested meanwhile
            job = self.sdk_job(run_id)
        return self.to_run(job)

    # -- a finished job's files ------------------------------------------------------------

    def files(self, job: Any) -> Path | None:
        """The folder of a finished job's default artifacts (its logs, ``outputs/``), downloaded once into the
        state folder; None while the job has not finished (SDK v2 downloads only a finished job's files)."""
        if opml_status(job.status) not in TERMINAL_STATUSES:
            return None
        folder = self.state.folder / "jobs" / job.name
        if not (folder / ".downloaded").exists():
            partial = Path(tempfile.mkdtemp(dir=make_private_dir(folder.parent)))  # whole or not at all
            try:
                self.client.jobs.download(job.name, download_path=str(partial))
                (partial / ".downloaded").touch()
                shutil.rmtree(folder, ignore_errors=True)
                partial.rename(folder)
            except OSError:
                if not (folder / ".downloaded").exists():  # not another process's download finishing first
                    raise
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        return folder / "artifacts"

    def log_files(self, folder: Path | None) -> dict[str, str]:
        if folder is None or not folder.exists():
            return {}
        return {
            path.relative_to(folder).as_posix(): path.read_text(errors="replace")
            for path in sorted(folder.rglob("*"))
            if path.is_file() and "logs" in path.relative_to(folder).parts[0]
        }

    def failure(self, job: Any) -> str:
        """Why a job failed, in words: SDK v2's job has no error field, its logs say it (the last line naming an
        exit code or an error: the system logs first, then the user's)."""
        logs = self.log_files(self.files(job))
        ordered = sorted(logs.items(), key=lambda item: not item[0].startswith("system_logs"))
        for _, text in ordered:
            lines = [line.strip() for line in text.splitlines() if _EXIT.search(line)]
            if lines:
                return lines[-1]
        return f"the job failed in Azure ML (see its log, or the job {job.name} in Azure ML studio)"

    def read_log(self, run_id: str, *, offset: int, max_bytes: int) -> tuple[str, int]:
        """A finished job's logs (SDK v2 gives a job's files once it has finished; Azure ML studio streams them
        meanwhile)."""
        logs = self.log_files(self.files(self.sdk_job(run_id)))
        data = "".join(f"===== {name} =====\n{content}\n" for name, content in logs.items()).encode()
        chunk = data[offset : offset + max_bytes]
        return chunk.decode(errors="replace"), offset + len(chunk)

    def metrics(self, run_id: str) -> dict[str, float]:
        job = self.sdk_job(run_id)
        return metrics_of(self.mlflow.run(job.name))

    def output(self, run_id: str, name: str) -> Any:
        folder = self.files(self.sdk_job(run_id))
        path = folder / "outputs" / name if folder is not None else None
        if path is None or not path.is_file():
            return None
        return json.loads(path.read_text())
