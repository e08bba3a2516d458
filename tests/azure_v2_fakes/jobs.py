"""Fakes of ``JobOperations`` (``MLClient.jobs``) and ``WorkspaceOperations`` (``MLClient.workspaces``).

Azure's side, one step a tick: a submitted job waits "Queued"; an AutoML job then runs ("Running"), makes its trials
(child jobs as the SDK lists them: base jobs whose properties say ``runTemplate: automl_child``, plus a setup child),
which finish with their task's metrics (``kind("metrics")``, Azure's names as in SDK v1) and an MLflow model in their
artifacts (``outputs/mlflow-model/``), and completes; a command job runs its command for real in a process on this
machine (its working folder a copy of the job's code), its output kept as the job's ``user_logs/std_log.txt`` and
whatever it wrote under ``./outputs`` as its outputs.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.azure_fakes import automl_metric_objectives, metrics_from_score
from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, http_error, not_found, now
from tests.azure_v2_fakes.mlflow import mlflow_server, parent_of

TERMINAL = ("Completed", "Failed", "Canceled")
# what a fake AutoML job tries when no allowed algorithms are given, per task (Azure tries many more)
DEFAULT_ALGORITHMS = {
    "classification": ("LightGBM", "LogisticRegression", "RandomForest"),
    "regression": ("LightGBM", "ElasticNet", "RandomForest"),
}
MODEL_FILES = ("MLmodel", "conda.yaml", "model.pkl")


def task_of(job: Any) -> str:
    """An AutoML job's task as opml names it ("classification", "regression"), from the SDK's ``TaskType``."""
    return str(getattr(job.task_type, "value", job.task_type)).lower()


def metric_name(job: Any) -> str:
    """The MLflow name of an AutoML job's primary metric: its enum member's name, as Azure's AutoML logs it (the
    SDK's "NormalizedRootMeanSquaredError" is ``normalized_root_mean_squared_error``, "AUCWeighted"
    ``AUC_weighted``)."""
    member = str(getattr(job.primary_metric, "name", job.primary_metric))
    names = {name.lower(): name for name in automl_metric_objectives(task_of(job))}
    return names[member.lower()]


def trial_metrics(task: str, score: float) -> dict[str, float]:
    """What a trial logs to MLflow: every scalar metric of its task (Azure's AutoML runtime logs them all), from a
    ``score`` of its quality (higher is better: each metric Azure minimizes falls as it rises); a classification
    trial's usual metrics at fixed offsets from ``score``."""
    metrics = metrics_from_score(task, score)
    if task == "regression":
        return metrics
    return metrics | {
        "accuracy": score,
        "AUC_weighted": score + 0.05,
        "average_precision_score_weighted": score + 0.02,
        "norm_macro_recall": score - 0.3,
        "precision_score_weighted": score + 0.01,
        "log_loss": 1 - score,
    }


def millis() -> int:
    return int(now().timestamp() * 1000)


def system_data() -> Any:
    from azure.ai.ml.entities._system_data import SystemData

    return SystemData(created_at=now(), created_by="opml-tests")


class FakeJobOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        if not getattr(cloud, "_job_ticks", False):
            cloud._job_ticks = True
            cloud._processes = {}
            cloud.on_tick(self._step)

    # -- Azure's side ----------------------------------------------------------------------

    def _set_status(self, name: str, status: str) -> None:
        job = self.cloud.kind("jobs")[name]
        azure_sets(job, status=status)
        times = self.cloud.kind("job_times").setdefault(name, {})
        if status == "Running":
            times.setdefault("start", millis())
        if status in TERMINAL:
            times.setdefault("start", millis())
            times.setdefault("end", millis())

    def _step(self) -> None:
        for name, job in list(self.cloud.kind("jobs").items()):
            if job.type == "automl":
                self._step_automl(name, job)
            elif job.type == "command":
                self._step_command(name, job)

    def _children(self, parent: str) -> list[str]:
        return [name for name in self.cloud.kind("jobs") if parent_of(self.cloud, name) == parent]

    def _add_child(self, parent: Any, name: str, properties: dict[str, str]) -> None:
        from azure.ai.ml.entities._job.base_job import _BaseJob

        child = _BaseJob(  # what the SDK makes of a child's RunDto (its experiment: the experiment's id)
            name=name,
            display_name=properties.get("run_algorithm", name),
            properties=properties,
            tags={},
            experiment_name=f"exp-{parent.experiment_name}",
            status="Running",
            creation_context=system_data(),
            compute=parent.compute,
        )
        self.cloud.kind("jobs")[name] = child
        self.cloud.kind("job_parents")[name] = parent.name
        self._set_status(name, "Running")

    def _step_automl(self, name: str, job: Any) -> None:
        status = job.status
        if status == "Queued":
            self._set_status(name, "Running")
            training = job.training
            allowed = list(training.allowed_training_algorithms or DEFAULT_ALGORITHMS[task_of(job)])
            blocked = set(training.blocked_training_algorithms or ())
            algorithms = [str(getattr(a, "value", a)) for a in allowed if str(getattr(a, "value", a)) not in blocked]
            trials = algorithms[: min(int(job.limits.max_trials or 3), 3)]
            self._add_child(job, f"{name}_setup", {"runTemplate": "automl_setup"})
            for index, algorithm in enumerate(trials):
                properties = {
                    "runTemplate": "automl_child",
                    "run_algorithm": algorithm,
                    "run_preprocessor": "MaxAbsScaler",
                }
                self._add_child(job, f"{name}_{index}", properties)
        elif status == "Running":
            running = [child for child in self._children(name) if self.cloud.kind("jobs")[child].status == "Running"]
            if not running:
                self._set_status(name, "Completed")
                trials = [c for c in self._children(name) if not c.endswith("_setup")]
                scored = [c for c in trials if metric_name(job) in self.cloud.kind("metrics").get(c, {})]
                pick = min if automl_metric_objectives(task_of(job))[metric_name(job)] == "minimize" else max
                best = pick(scored, key=lambda c: self.cloud.kind("metrics")[c][metric_name(job)], default=None)
                if best:  # Azure names the best trial in the parent's MLflow tags
                    self.cloud.kind("mlflow_tags")[name] = {"automl_best_child_run_id": best}
            for index, child in enumerate(sorted(running)):
                score = 0.80 + 0.03 * index  # the last trial is the best
                self.cloud.kind("metrics")[child] = trial_metrics(task_of(job), score)
                if not child.endswith("_setup"):
                    for file in MODEL_FILES:
                        content = pickle.dumps({"model of": child}) if file == "model.pkl" else f"{file} of {child}"
                        self.cloud.kind("artifacts")[(child, f"outputs/mlflow-model/{file}")] = (
                            content if isinstance(content, bytes) else content.encode()
                        )
                self._set_status(child, "Completed")
        elif status == "CancelRequested":
            for child in self._children(name):
                if self.cloud.kind("jobs")[child].status not in TERMINAL:
                    self._set_status(child, "Canceled")
            self._set_status(name, "Canceled")

    def _step_command(self, name: str, job: Any) -> None:
        processes = self.cloud._processes
        if job.status == "Queued":
            folder = Path(tempfile.mkdtemp(prefix="fake-azure-job-"))
            code = Path(str(job.code)) if job.code else None
            if code is not None and code.is_dir():
                shutil.copytree(code, folder, dirs_exist_ok=True)
            log = (folder / ".std_log.txt").open("wb")
            env = {**os.environ, **{k: str(v) for k, v in (job.environment_variables or {}).items()}}
            process = subprocess.Popen(
                ["/bin/sh", "-c", job.command], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            processes[name] = (process, folder, log)
            self._set_status(name, "Running")
        elif job.status in ("Running", "CancelRequested") and name in processes:
            process, folder, log = processes[name]
            if job.status == "CancelRequested":
                process.kill()
            code = process.poll()
            if code is None:
                return
            log.close()
            del processes[name]
            artifacts = self.cloud.kind("artifacts")
            artifacts[(name, "user_logs/std_log.txt")] = (folder / ".std_log.txt").read_bytes()
            for file in (folder / "outputs").rglob("*") if (folder / "outputs").is_dir() else ():
                if file.is_file():
                    artifacts[(name, file.relative_to(folder).as_posix())] = file.read_bytes()
            shutil.rmtree(folder, ignore_errors=True)
            if job.status == "CancelRequested":
                self._set_status(name, "Canceled")
            elif code == 0:
                self._set_status(name, "Completed")
            else:  # ASSUMPTION: where Azure ML's execution wrapper reports the user process's exit code
                artifacts[(name, "system_logs/lifecycler/execution-wrapper.txt")] = (
                    f"Execution failed. User process '/bin/sh' exited with status code {code}.\n".encode()
                )
                self._set_status(name, "Failed")

    # -- the operations ---------------------------------------------------------------------

    def create_or_update(
        self,
        job: Any,
        *,
        description: str | None = None,
        compute: str | None = None,
        tags: dict | None = None,
        experiment_name: str | None = None,
        skip_validation: bool = False,
        **kwargs: Any,
    ) -> Any:
        from azure.ai.ml.entities._builders import BaseNode
        from azure.ai.ml.entities._job.job_name_generator import generate_job_name

        self.cloud.called("jobs.create_or_update", job=job, compute=compute, experiment_name=experiment_name)
        if isinstance(job, BaseNode):  # as the SDK: a command() node is submitted as its CommandJob
            job = job._to_job()
        if experiment_name:
            job.experiment_name = experiment_name
        if compute:
            job.compute = compute
        if tags is not None:
            job.tags = tags
        from azure.ai.ml.entities._validation import PathAwareSchemaValidatableMixin

        if not skip_validation and isinstance(job, PathAwareSchemaValidatableMixin):
            job._validate(raise_error=True)  # as the real operation does first (pipeline jobs: their graph)
        job._to_rest_object()  # what the SDK sends: refuses what it cannot serialize
        with self.cloud.lock:
            if job.type == "automl":  # Azure resolves the training data: a registered mltable asset
                data = job.training_data
                name, _, version = str(data.path).removeprefix("azureml:").partition(":")
                found = self.cloud.kind("data").get((name, version))
                if found is None:
                    raise not_found("Data version", f"{name}:{version}")
                if data.type != "mltable" or found.type != "mltable":
                    raise http_error(400, f"AutoML training data must be an MLTable; {name}:{version} is {found.type}")
            if job.compute and job.compute not in self.cloud.kind("computes"):
                raise http_error(400, f"Compute {job.compute} not found in workspace", "UserError")
            if not job.name:
                job.name = generate_job_name()
            if not job.experiment_name:
                job.experiment_name = "Default"
            azure_sets(job, status="Queued", creation_context=system_data())
            self.cloud.kind("jobs")[job.name] = job
        return job

    def get(self, name: str) -> Any:
        self.cloud.called("jobs.get", name=name)
        with self.cloud.lock:
            found = self.cloud.kind("jobs").get(name)
        if found is None:
            raise not_found("Job", name)
        return found

    def list(self, *, parent_job_name: str | None = None, list_view_type: Any = "ActiveOnly", **kwargs: Any) -> Any:
        """Top-level jobs; with ``parent_job_name``, its children (as the SDK: the parent is fetched first)."""
        self.cloud.called("jobs.list", parent_job_name=parent_job_name)
        with self.cloud.lock:
            if parent_job_name:
                self.get(parent_job_name)
                return [self.cloud.kind("jobs")[name] for name in self._children(parent_job_name)]
            return [job for name, job in self.cloud.kind("jobs").items() if parent_of(self.cloud, name) is None]

    def begin_cancel(self, name: str, **kwargs: Any) -> Any:
        """A job still waiting is canceled at once; a running one is asked to stop (CancelRequested)."""
        self.cloud.called("jobs.begin_cancel", name=name)
        with self.cloud.lock:
            job = self.get(name)
            if job.status in ("Queued", "NotStarted"):
                self._set_status(name, "Canceled")
            elif job.status not in TERMINAL:
                self._set_status(name, "CancelRequested")
        return FakePoller(None, lambda: job.status in TERMINAL)

    def download(
        self,
        name: str,
        *,
        download_path: os.PathLike | str = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:
        """The job's default artifacts (logs, ``outputs/``) under ``download_path/artifacts``; refused, as by the
        SDK, while the job has not finished."""
        from azure.ai.ml.exceptions import ErrorTarget, JobException

        self.cloud.called("jobs.download", name=name, download_path=download_path, output_name=output_name, all=all)
        job = self.get(name)
        if job.status not in TERMINAL:
            message = f"This job is in state {job.status}. Download is allowed only in states {list(TERMINAL)}"
            raise JobException(message=message, target=ErrorTarget.JOB, no_personal_data_message=message)
        target = Path(download_path) / "artifacts"
        with self.cloud.lock:
            files = {path: body for (run, path), body in self.cloud.kind("artifacts").items() if run == name}
        for path, body in files.items():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_bytes(body)


class FakeWorkspaceOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def get(self, name: str | None = None, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import Workspace

        self.cloud.called("workspaces.get", name=name)
        if name not in (None, self.cloud.workspace):
            raise not_found("Workspace", str(name))
        workspace = Workspace(name=self.cloud.workspace, location="eastus")
        return azure_sets(workspace, mlflow_tracking_uri=mlflow_server(self.cloud).tracking_uri())
