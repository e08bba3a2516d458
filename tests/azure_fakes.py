"""Fakes of the Azure ML SDK v1 classes opml uses, for tests (Azure is not reachable from here).

Every fake method has the real method's signature (``SIGNATURES`` lists them and
``tests/test_azure_sdk_boundary.py`` compares each with the installed SDK), so a call
opml makes against a fake would bind the same way against the real class. State lives
in a ``FakeCloud``; ``FakeCloud.execute_pending()`` plays Azure's part in running
submitted work, one step per call (a tick): a run moves one state on (Queued, Preparing,
Running, Finalizing, then Completed, Failed or Canceled), and when it starts Running its
work is done: a command run really runs its command here, an AutoML run produces its
setup child and child runs with metrics and model files (and failed children when asked),
a deployment becomes Healthy.

As with the real SDK, a ``Run`` object is a snapshot: its ``status`` is what Azure said
when the object was fetched, until ``get_status()`` or ``get_details()`` refreshes it.
"""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from opml.backends.azure.sdk import AzureSDK


class AzureError(Exception):
    """Stands in for the SDK's exception classes (UserErrorException, WebserviceException, ...)."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


ENDED = ("Completed", "Failed", "Canceled")
# The states a run goes through on Azure, one per FakeCloud.execute_pending() tick (Finalizing then ends it
# as its work came out; CancelRequested ends Canceled).
NEXT_STATE = {"NotStarted": "Queued", "Queued": "Preparing", "Preparing": "Running", "Running": "Finalizing"}


class FakeCloud:
    """One Azure ML workspace's state."""

    def __init__(self, *, subscription_id="sub-1", resource_group="rg-1", workspace_name="ws-1"):
        self.coordinates = {
            "subscription_id": subscription_id,
            "resource_group": resource_group,
            "workspace_name": workspace_name,
        }
        self.lock = threading.RLock()
        self.blobs: dict[str, bytes] = {}
        self.datasets: dict[str, list[Any]] = {}
        self.computes: dict[str, Any] = {}
        self.runs: dict[str, Any] = {}
        self.experiments: set[str] = set()
        self.models: dict[str, list[Any]] = {}
        self.services: dict[str, Any] = {}
        self.published: dict[str, Any] = {}
        self.schedules: dict[str, Any] = {}
        self.environments = {"AzureML-sklearn-1.5": object()}
        self.calls: list[tuple[str, dict[str, Any]]] = []  # what opml asked of the SDK, in order
        self.fail_next: dict[str, Exception] = {}  # SDK call name -> exception to raise once
        self.automl_scores = [0.905, 0.912, 0.909, 0.918, 0.921]  # metric of each AutoML child, in order
        self.automl_failures: dict[int, str] = {}  # AutoML child number -> the error it fails with
        self._ids = itertools.count(1)

    def record(self, _call: str, /, **arguments: Any) -> None:
        with self.lock:
            self.calls.append((_call, arguments))
            error = self.fail_next.pop(_call, None)
        if error is not None:
            raise error

    def last_call(self, name: str) -> dict[str, Any]:
        return [arguments for call, arguments in self.calls if call == name][-1]

    def next_id(self) -> int:
        return next(self._ids)

    # -- Azure's side of the work ----------------------------------------------------------

    def execute_pending(self) -> None:
        """One tick of Azure's side: each run that has not ended moves one state on (``FakeRun._advance``)."""
        with self.lock:
            runs = [run for run in self.runs.values() if run._status not in ENDED]
            services = [s for s in self.services.values() if s.state == "Transitioning"]
        for run in runs:
            run._advance()
        for service in services:
            service.state = "Healthy"
        for compute in list(self.computes.values()):
            if compute.provisioning_state == "Creating":
                compute.provisioning_state = "Succeeded"

    def execute_all(self, ticks: int = 20) -> None:
        """Ticks until every run has ended (at most ``ticks``): Azure's side run to the end."""
        for _ in range(ticks):
            with self.lock:
                if all(run._status in ENDED for run in self.runs.values()):
                    return
            self.execute_pending()


# -- workspace and auth --------------------------------------------------------------------


class FakeAuth:
    def get_authentication_header(self):
        return {"Authorization": f"Bearer fake-aad-token-for-{type(self).__name__}"}


class FakeInteractiveLoginAuthentication(FakeAuth):
    def __init__(self, force=False, tenant_id=None, cloud=None):
        self.tenant_id = tenant_id


class FakeServicePrincipalAuthentication(FakeAuth):
    def __init__(self, tenant_id, service_principal_id, service_principal_password, cloud="AzureCloud",
                 _enable_caching=True):  # fmt: skip
        self.tenant_id, self.client_id, self.secret = tenant_id, service_principal_id, service_principal_password


class FakeAzureCliAuthentication(FakeAuth):
    def __init__(self, cloud=None):
        pass


class FakeWorkspace:
    cloud: FakeCloud  # set on the per-cloud subclass

    def __init__(self, subscription_id, resource_group, workspace_name, auth=None, _location=None,
                 _disable_service_check=False, _workspace_id=None, sku="basic", tags=None,
                 _cloud="AzureCloud"):  # fmt: skip
        self.subscription_id, self.resource_group, self.name = subscription_id, resource_group, workspace_name
        self.auth = auth

    @classmethod
    def _cloud(cls) -> FakeCloud:
        return cls.cloud

    @staticmethod
    def from_config(path=None, auth=None, _logger=None, _file_name=None):
        raise NotImplementedError  # replaced per cloud in make_fake_sdk


# -- datasets ------------------------------------------------------------------------------


class FakeDatastore:
    def __init__(self, cloud: FakeCloud):
        self.cloud, self.name = cloud, "workspaceblobstore"

    @staticmethod
    def get_default(workspace):
        return FakeDatastore(workspace.cloud)

    def upload_files(self, files, relative_root=None, target_path=None, overwrite=False, show_progress=True):
        self.cloud.record("Datastore.upload_files", files=files, target_path=target_path, overwrite=overwrite)
        for file in files:
            self.cloud.blobs[f"{target_path}/{Path(file).name}"] = Path(file).read_bytes()


class FakeTabularDataset:
    def __init__(self, cloud, path, separator, *, name=None, version=None, description=None, tags=None, limit=None):
        self.cloud, self.path, self.separator = cloud, path, separator
        self.name, self.version, self.description, self.tags, self.limit = name, version, description, tags, limit
        self.id = uuid.uuid4().hex

    def register(self, workspace, name, description=None, tags=None, create_new_version=False):
        cloud = workspace.cloud
        cloud.record("TabularDataset.register", name=name, tags=tags, create_new_version=create_new_version)
        with cloud.lock:
            versions = cloud.datasets.setdefault(name, [])
            registered = FakeTabularDataset(
                cloud, self.path, self.separator, name=name, version=len(versions) + 1, description=description,
                tags=dict(tags or {}),
            )  # fmt: skip
            versions.append(registered)
        return registered

    def take(self, count):
        return FakeTabularDataset(
            self.cloud, self.path, self.separator, name=self.name, version=self.version,
            description=self.description, tags=self.tags, limit=count,
        )  # fmt: skip

    def to_pandas_dataframe(self, on_error="null", out_of_range_datetime="null"):
        _, blob = self.path[0]
        content = self.cloud.blobs[blob]
        return pd.read_csv(io.BytesIO(content), sep=self.separator, nrows=self.limit)

    def as_named_input(self, name):
        return ("named_input", name, self)


class FakeTabularDatasetFactory:
    @staticmethod
    def from_delimited_files(path, validate=True, include_path=False, infer_column_types=True, set_column_types=None,
                             separator=",", header=True, partition_format=None, support_multi_line=False,
                             empty_as_string=False, encoding="utf8"):  # fmt: skip
        if isinstance(path, str):
            raise AzureError("the fakes hold no web files: register from a path or bytes in tests")
        datastore, _ = path[0]
        datastore.cloud.record("Dataset.Tabular.from_delimited_files", path=path, separator=separator)
        return FakeTabularDataset(datastore.cloud, path, separator)


class FakeDataset:
    Tabular = FakeTabularDatasetFactory

    @staticmethod
    def get_by_name(workspace, name, version="latest", **kwargs):
        versions = workspace.cloud.datasets.get(name) or []
        if not versions or (version != "latest" and not 1 <= int(version) <= len(versions)):
            raise AzureError(
                f"Cannot find dataset registered with name '{name}' (version: {version}) in the workspace."
            )
        return versions[-1] if version == "latest" else versions[int(version) - 1]

    @staticmethod
    def get_all(workspace):
        return {name: versions[-1] for name, versions in workspace.cloud.datasets.items()}


class FakeEnvironment:
    @staticmethod
    def get(workspace, name, version=None, label=None):
        if name not in workspace.cloud.environments:
            raise AzureError(f"Environment {name} not found")
        return workspace.cloud.environments[name]


# -- computes ------------------------------------------------------------------------------


class FakeScaleSettings:
    def __init__(self, maximum_node_count):
        self.maximum_node_count = maximum_node_count


class FakeAmlCompute:
    type = "AmlCompute"

    def __init__(self, cloud, name, provisioning):
        self.cloud, self.name = cloud, name
        self.scale_settings = FakeScaleSettings(provisioning["max_nodes"])
        self.vm_size = provisioning["vm_size"]
        self.provisioning_state = "Creating"

    @staticmethod
    def provisioning_configuration(vm_size="", vm_priority="dedicated", min_nodes=0, max_nodes=None,
                                   idle_seconds_before_scaledown=1800, admin_username=None,
                                   admin_user_password=None, admin_user_ssh_key=None, vnet_resourcegroup_name=None,
                                   vnet_name=None, subnet_name=None, tags=None, description=None,
                                   remote_login_port_public_access="NotSpecified", identity_type=None,
                                   identity_id=None, location=None, enable_node_public_ip=True):  # fmt: skip
        return {"vm_size": vm_size, "min_nodes": min_nodes, "max_nodes": max_nodes}

    def get_active_runs(self, type=None, tags=None, properties=None, status=None):
        for run in list(self.cloud.runs.values()):
            if run._details.get("target") == self.name and run._status not in ENDED and status in (None, run._status):
                yield run._view()

    def delete(self):
        self.cloud.record("ComputeTarget.delete", name=self.name)
        self.cloud.computes.pop(self.name, None)


class FakeComputeTarget:
    @staticmethod
    def create(workspace, name, provisioning_configuration):
        cloud = workspace.cloud
        cloud.record("ComputeTarget.create", name=name, provisioning_configuration=provisioning_configuration)
        target = FakeAmlCompute(cloud, name, provisioning_configuration)
        cloud.computes[name] = target
        return target

    @staticmethod
    def list(workspace):
        return list(workspace.cloud.computes.values())


# -- runs ----------------------------------------------------------------------------------


class FakeScriptRunConfig:
    def __init__(self, source_directory, script=None, arguments=None, run_config=None, _telemetry_values=None,
                 compute_target=None, environment=None, distributed_job_config=None, resume_from=None,
                 max_run_duration_seconds=2592000, command=None, docker_runtime_config=None):  # fmt: skip
        self.source_directory, self.command = source_directory, command
        self.compute_target, self.environment = compute_target, environment


class FakeRunConfiguration:
    def __init__(self, script=None, arguments=None, framework=None, communicator=None, conda_dependencies=None,
                 _history_enabled=None, _path=None, _name=None, command=None):  # fmt: skip
        self.environment = None


class FakeAutoMLConfig:
    def __init__(self, task, path=None, iterations=None, primary_metric=None, positive_label=None,
                 compute_target=None, spark_context=None, X=None, y=None, sample_weight=None, X_valid=None,
                 y_valid=None, sample_weight_valid=None, cv_splits_indices=None, validation_size=None,
                 n_cross_validations=None, y_min=None, y_max=None, num_classes=None, featurization="auto",
                 max_cores_per_iteration=1, max_concurrent_iterations=1, iteration_timeout_minutes=None,
                 mem_in_mb=None, enforce_time_on_windows=False, experiment_timeout_hours=None,
                 experiment_exit_score=None, enable_early_stopping=True, blocked_models=None,
                 blacklist_models=None, exclude_nan_labels=True, verbosity=20, enable_tf=False,
                 model_explainability=True, allowed_models=None, whitelist_models=None,
                 enable_onnx_compatible_models=False, enable_voting_ensemble=True, enable_stack_ensemble=None,
                 debug_log="automl.log", training_data=None, validation_data=None, test_data=None, test_size=None,
                 label_column_name=None, weight_column_name=None, cv_split_column_names=None,
                 enable_local_managed=False, enable_dnn=None, forecasting_parameters=None, **kwargs):  # fmt: skip
        self.settings = {
            key: value for key, value in locals().items() if key not in ("self", "kwargs") and value is not None
        }


class FakeExperimentRef:
    def __init__(self, name):
        self.name = name


def _utc_text() -> str:
    """A time as Azure's RunDto gives it (``Run._run_dto["created_utc"]``: ISO 8601 ending in Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeRun:
    """A run as Azure holds it (the object in ``FakeCloud.runs``, whose ``_status`` is Azure's state) and the
    SDK's ``Run`` objects over it (``_view()``: each keeps a snapshot, ``_cached_dto``, of what Azure said when
    it was fetched). As the real ``Run`` reads its cached RunDto, ``status`` is that snapshot: ``get_status()``
    refreshes it (unless it has ended) and ``get_details()`` updates its status. Every other attribute and
    method of a view acts on the run itself. Runs that another run's work makes (AutoML children, pipeline
    steps) are ended by that work (their ``_status`` set), not by ticks."""

    _VIEW_OWN = ("_record", "_cached_dto")

    def __init__(self, cloud, experiment, config, *, tags=None, parent=None, run_id=None, run_type=None):
        self.cloud = cloud
        self.experiment = FakeExperimentRef(experiment)
        self.id = run_id or f"{experiment}_{cloud.next_id()}_{uuid.uuid4().hex[:6]}"
        self.config = config
        self.tags = dict(tags or {})
        self.properties: dict[str, str] = {}
        self._parent = parent
        self.display_name = ""
        self.type = run_type or self._type_of(config)
        self._created = _utc_text()
        self._status = "Queued"  # Azure has queued a submitted run by the time the submit call returns ...
        self._outcome, self._error = None, None  # how its work came out, shown once it has finalized
        self._details: dict[str, Any] = {"runId": self.id, "target": self._target_name(config)}
        self._metrics: dict[str, Any] = {}
        self._logs: dict[str, str] = {}
        self._files: dict[str, bytes] = {}
        self._children: list[FakeRun] = []
        self._cached_dto = {**self._dto(), "status": "NotStarted"}  # ... which answered with the created run

    def __getattr__(self, name):  # a view: what it does not keep itself is the run's
        record = self.__dict__.get("_record")
        if record is None:
            raise AttributeError(name)
        return getattr(record, name)

    def __setattr__(self, name, value):  # a view changes the run itself (as the SDK's setters patch it)
        target = self if name in self._VIEW_OWN else self.__dict__.get("_record", self)
        object.__setattr__(target, name, value)

    def _view(self):
        """A ``Run`` object as the SDK hands one out: the run's state as of now."""
        record = self.__dict__.get("_record", self)
        view = object.__new__(type(record))
        view.__dict__.update(_record=record, _cached_dto=record._dto())
        return view

    def _dto(self):
        """Azure's RunDto of the run now, as ``Run._run_dto`` gives it (field names, times as text)."""
        return {
            "run_id": self.id,
            "parent_run_id": self._parent.id if self._parent is not None else None,
            "status": self._status,
            "created_utc": self._created,
            "start_time_utc": self._details.get("startTimeUtc"),
            "end_time_utc": self._details.get("endTimeUtc"),
            "target": self._details.get("target"),
            "run_type": self.type,
        }

    @staticmethod
    def _type_of(config):
        if isinstance(config, FakeAutoMLConfig):
            return "automl"
        if isinstance(config, FakePipeline | FakePublishedPipeline):
            return "azureml.PipelineRun"
        return "azureml.scriptrun"

    @staticmethod
    def _target_name(config):
        target = getattr(config, "compute_target", None) or getattr(config, "settings", {}).get("compute_target")
        return getattr(target, "name", "")

    @property
    def status(self):
        return self._cached_dto["status"]

    @property
    def _run_dto(self):
        return dict(self._cached_dto)

    @property
    def parent(self):
        return self._parent._view() if self._parent is not None else None

    @staticmethod
    def _newest_first(runs):
        """Azure's order (the SDK asks for "StartTimeUtc desc"); it does not say where runs that have not started
        go: here, after every started run."""
        never = datetime.min.replace(tzinfo=UTC)
        started = [(datetime.fromisoformat(run._details.get("startTimeUtc") or never.isoformat()), run) for run in runs]
        return [run for _, run in sorted(started, key=lambda pair: pair[0], reverse=True)]

    # the SDK's methods

    @staticmethod
    def get(workspace, run_id):
        run = workspace.cloud.runs.get(run_id)
        if run is None:
            raise AzureError(f"RunNotFound: Run {run_id} was not found")
        return run._view()

    def get_details(self):
        self.cloud.record("Run.get_details", run_id=self.id)  # a request to Azure: tests count them
        self._cached_dto["status"] = self._status  # as the real one does (update_cached_status)
        return {**self._details, "status": self._status, "properties": dict(self.properties)}

    def get_status(self):
        if self._cached_dto["status"] not in ENDED:
            self._cached_dto.update(self._dto())
        return self._cached_dto["status"]

    def get_children(self, recursive=False, tags=None, properties=None, type=None, status=None, _rehydrate_runs=True):
        return (child._view() for child in self._newest_first(self._children))

    def get_metrics(self, name=None, recursive=False, run_type=None, populate=False):
        if recursive:
            return {run.id: dict(run._metrics) for run in [self, *self._children]}
        return dict(self._metrics)

    def cancel(self):
        self.cloud.record("Run.cancel", run_id=self.id)
        with self.cloud.lock:
            if self._status in ("Queued", "NotStarted"):
                self._status = "Canceled"
                self._details["endTimeUtc"] = _now()
            elif self._status in ("Preparing", "Running", "Finalizing"):
                self._status = "CancelRequested"

    def get_details_with_logs(self):
        return {**self.get_details(), "logFiles": dict(self._logs)}

    def set_tags(self, tags):
        self.cloud.record("Run.set_tags", run_id=self.id, tags=dict(tags))
        self.tags.update(tags)

    def get_file_names(self):
        return list(self._files)

    def download_file(self, name, output_file_path=None, _validate_checksum=False):
        Path(output_file_path).write_bytes(self._files[name])

    def get_environment(self):
        return ("environment-of", self.id)

    def register_model(self, model_name, model_path=None, tags=None, properties=None, model_framework=None,
                       model_framework_version=None, description=None, datasets=None, sample_input_dataset=None,
                       sample_output_dataset=None, resource_configuration=None, **kwargs):  # fmt: skip
        self.cloud.record(
            "Run.register_model", run_id=self.id, model_name=model_name, model_path=model_path, tags=tags,
            properties=properties, description=description,
        )  # fmt: skip
        return FakeModel._add(self.cloud, model_name, self.id, tags, properties, description, self._files[model_path])

    # Azure's side

    def _advance(self):
        """One tick: the next state (``NEXT_STATE``); on starting to run, the work is done; Finalizing ends as the
        work came out, CancelRequested ends Canceled."""
        with self.cloud.lock:
            state = self._status
            if state in ("Finalizing", "CancelRequested"):
                self._status = self._outcome if state == "Finalizing" else "Canceled"
                if self._status == "Failed":
                    self._details["error"] = self._error
                self._details["endTimeUtc"] = _now()
                return
            if state not in NEXT_STATE:
                return
            self._status = NEXT_STATE[state]
            if self._status != "Running":
                return
            self._details["startTimeUtc"] = _now()
        self._execute()

    def _execute(self):
        if isinstance(self.config, FakeScriptRunConfig):
            self._run_command()
        elif isinstance(self.config, FakeAutoMLConfig):
            self._run_automl()
        else:
            self._run_pipeline()

    def _fail(self, message):
        """The work failed: a run going through its states shows it once it has finalized; a child, which its
        parent's work makes and ends (an AutoML iteration, a pipeline step), is Failed at once."""
        self._outcome = "Failed"
        self._error = {"error": {"code": "UserError", "message": message}}
        if self._parent is not None:
            self._status = "Failed"
            self._details["error"] = self._error

    def _run_command(self):
        result = subprocess.run(
            self.config.command, cwd=self.config.source_directory, capture_output=True, text=True, timeout=60
        )
        self._logs["user_logs/std_log.txt"] = result.stdout + result.stderr
        if result.returncode:
            self._fail(
                f"Execution failed. User process '{self.config.command[0]}' exited with status code "
                f"{result.returncode}. Please check log file 'user_logs/std_log.txt' for more details."
            )
        else:
            self._outcome = "Completed"

    def _run_automl(self):
        settings = self.config.settings
        metric = settings.get("primary_metric", "accuracy")
        algorithms = settings.get("allowed_models") or ["LightGBM", "XGBoostClassifier", "RandomForest"]
        self._logs["azureml-logs/automl_driver.txt"] = f"AutoML {metric} on {settings.get('label_column_name')}\n"
        # A remote AutoML parent first runs a setup child (featurization sweeps, data checks), as on Azure.
        setup = FakeRun(self.cloud, self.experiment.name, None, parent=self, run_id=f"{self.id}_setup",
                        run_type="automl")  # fmt: skip
        setup.properties.update(runTemplate="automl_setup")
        setup._status = "Completed"
        self.cloud.runs[setup.id] = setup
        self._children.append(setup)
        for index, score in enumerate(self.cloud.automl_scores):
            last = index == len(self.cloud.automl_scores) - 1
            algorithm = "VotingEnsemble" if last else algorithms[index % len(algorithms)]
            child = FakeRun(self.cloud, self.experiment.name, None, parent=self, run_id=f"{self.id}_{index}",
                            run_type="azureml.scriptrun")  # fmt: skip
            child.properties.update(
                runTemplate="automl_child", run_algorithm=algorithm, run_preprocessor="MaxAbsScaler"
            )
            child._details.update(startTimeUtc=_now(), endTimeUtc=_now())
            if index in self.cloud.automl_failures:  # a failed iteration: Azure's error, no metrics, no model
                child._status = "Failed"
                child._details["error"] = {"error": {"code": "UserError", "message": self.cloud.automl_failures[index]}}
            else:
                child._metrics = {metric: score, "AUC_weighted": score + 0.03, "accuracy": score}
                child._files = {
                    "outputs/model.pkl": f"model of {child.id}".encode(),
                    "outputs/scoring_file_v_1_0_0.py": b"def init(): pass\ndef run(data): return data\n",
                }
                child._status = "Completed"
            self.cloud.runs[child.id] = child
            self._children.append(child)
        self._outcome = "Completed"

    def _run_pipeline(self):
        for step in self.config.steps:
            child = FakeRun(self.cloud, self.experiment.name, None, parent=self, run_type="azureml.StepRun")
            child.display_name = step.name
            child._status = "Completed"
            self.cloud.runs[child.id] = child
            self._children.append(child)
        self._outcome = "Completed"


class FakeExperiment:
    def __init__(self, workspace, name, _skip_name_validation=False, _id=None, _archived_time=None,
                 _create_in_cloud=True, _experiment_dto=None, **kwargs):  # fmt: skip
        self.workspace, self.name = workspace, name

    def submit(self, config, tags=None, **kwargs):
        cloud = self.workspace.cloud
        cloud.record("Experiment.submit", experiment=self.name, config=config, tags=tags)
        run = FakeRun(cloud, self.name, config, tags=tags)
        with cloud.lock:
            cloud.experiments.add(self.name)
            cloud.runs[run.id] = run
        return run

    def get_runs(self, type=None, tags=None, properties=None, include_children=False):
        runs = [r for r in self.workspace.cloud.runs.values() if r.experiment.name == self.name]
        if not include_children:
            runs = [r for r in runs if r._parent is None]
        if type is not None:
            runs = [r for r in runs if r.type == type]
        return (run._view() for run in FakeRun._newest_first(runs))

    @staticmethod
    def list(workspace, experiment_name=None, view_type="ActiveOnly", tags=None):
        return [FakeExperiment(workspace, name) for name in sorted(workspace.cloud.experiments)]


# -- models and services ---------------------------------------------------------------------


class FakeModel:
    def __init__(self, workspace, name=None, id=None, tags=None, properties=None, version=None, run_id=None,
                 model_framework=None, expand=True, **kwargs):  # fmt: skip
        versions = workspace.cloud.models.get(name) or []
        found = versions[-1] if versions and version is None else None
        for model in versions:
            if version is not None and model.version == int(version):
                found = model
        if found is None:
            raise AzureError(f"ModelNotFoundException: Model with name {name} and version {version} not found")
        self.__dict__.update(found.__dict__)

    @classmethod
    def _add(cls, cloud, name, run_id, tags, properties, description, content):
        model = cls.__new__(cls)
        with cloud.lock:
            versions = cloud.models.setdefault(name, [])
            model.__dict__.update(
                cloud=cloud, name=name, version=len(versions) + 1, run_id=run_id, tags=dict(tags or {}),
                properties=dict(properties or {}), description=description, created_time=_now(),
                content=content,
            )  # fmt: skip
            model.id = f"{name}:{model.version}"
            versions.append(model)
        return model

    @staticmethod
    def list(workspace, name=None, tags=None, properties=None, run_id=None, latest=False, dataset_id=None,
             expand=True, page_count=255, model_framework=None):  # fmt: skip
        models = [m for n, versions in workspace.cloud.models.items() if name in (None, n) for m in versions]
        return [m for m in models if m.version == len(workspace.cloud.models[m.name])] if latest else models

    def delete(self):
        self.cloud.record("Model.delete", name=self.name, version=self.version)
        self.cloud.models[self.name] = [m for m in self.cloud.models[self.name] if m.version != self.version]

    def download(self, target_dir=".", exist_ok=False, exists_ok=None):
        path = Path(target_dir) / "model.pkl"
        path.write_bytes(self.content)
        return str(path)

    @staticmethod
    def deploy(workspace, name, models, inference_config=None, deployment_config=None, deployment_target=None,
               overwrite=False, show_output=False):  # fmt: skip
        cloud = workspace.cloud
        cloud.record(
            "Model.deploy", name=name, models=models, inference_config=inference_config,
            deployment_config=deployment_config, overwrite=overwrite,
        )  # fmt: skip
        if name in cloud.services and not overwrite:
            raise AzureError(f"WebserviceException: service {name} already exists")
        service = FakeAciWebservice._create(cloud, name, models, deployment_config)
        cloud.services[name] = service
        return service


class FakeInferenceConfig:
    def __init__(self, entry_script, runtime=None, conda_file=None, extra_docker_file_steps=None,
                 source_directory=None, enable_gpu=None, description=None, base_image=None,
                 base_image_registry=None, cuda_version=None, environment=None):  # fmt: skip
        self.entry_script, self.environment = entry_script, environment


class FakeAciWebservice:
    compute_type = "ACI"

    @classmethod
    def _create(cls, cloud, name, models, config):
        service = cls.__new__(cls)
        service.cloud, service.name, service.models = cloud, name, list(models)
        service.state = "Transitioning"
        service.auth_enabled = bool(config["auth_enabled"])
        service.enable_app_insights = bool(config["enable_app_insights"])
        service.description = config["description"]
        service.scoring_uri = f"http://{name}.westeurope.azurecontainer.io/score"
        service.swagger_uri = f"http://{name}.westeurope.azurecontainer.io/swagger.json"
        service.created_time = service.updated_time = _now()
        service.error = None
        service.keys = [uuid.uuid4().hex, uuid.uuid4().hex]
        service.log = "2026-11-28 Booting worker\nscoring service ready\n"
        return service

    @staticmethod
    def deploy_configuration(cpu_cores=None, memory_gb=None, tags=None, properties=None, description=None,
                             location=None, auth_enabled=None, ssl_enabled=None, enable_app_insights=None,
                             ssl_cert_pem_file=None, ssl_key_pem_file=None, ssl_cname=None, dns_name_label=None,
                             primary_key=None, secondary_key=None, collect_model_data=None, cmk_vault_base_url=None,
                             cmk_key_name=None, cmk_key_version=None, vnet_name=None, subnet_name=None):  # fmt: skip
        return {
            "cpu_cores": cpu_cores, "memory_gb": memory_gb, "auth_enabled": auth_enabled,
            "enable_app_insights": enable_app_insights, "description": description,
        }  # fmt: skip

    def get_keys(self):
        return tuple(self.keys)

    def regen_key(self, key, set_key=None):
        self.cloud.record("Webservice.regen_key", name=self.name, key=key)
        self.keys[0 if key == "Primary" else 1] = set_key or uuid.uuid4().hex

    def update(self, image=None, tags=None, properties=None, description=None, auth_enabled=None, ssl_enabled=None,
               ssl_cert_pem_file=None, ssl_key_pem_file=None, ssl_cname=None, enable_app_insights=None, models=None,
               inference_config=None):  # fmt: skip
        self.cloud.record("AciWebservice.update", name=self.name, auth_enabled=auth_enabled,
                          enable_app_insights=enable_app_insights)  # fmt: skip
        if auth_enabled is not None:
            self.auth_enabled = auth_enabled
        if enable_app_insights is not None:
            self.enable_app_insights = enable_app_insights
        self.updated_time = _now()

    def get_logs(self, num_lines=5000, init=False):
        return "\n".join(self.log.splitlines()[-num_lines:])

    def delete(self):
        self.cloud.record("Webservice.delete", name=self.name)
        self.cloud.services.pop(self.name, None)


class FakeWebservice:
    @staticmethod
    def list(workspace, compute_type=None, image_name=None, image_id=None, model_name=None, model_id=None, tags=None,
             properties=None, image_digest=None):  # fmt: skip
        services = list(workspace.cloud.services.values())
        if model_name is not None:
            services = [s for s in services if any(m.name == model_name for m in s.models)]
        return services


# -- pipelines -------------------------------------------------------------------------------


class _PromoteHeaders:
    """Equal to the SDK's default ``header`` (PromoteHeadersBehavior.ALL_FILES_HAVE_SAME_HEADERS)."""

    def __eq__(self, other):
        return getattr(other, "name", None) == "ALL_FILES_HAVE_SAME_HEADERS"

    __hash__ = object.__hash__


PROMOTE_HEADERS = _PromoteHeaders()


class FakePipelineParameter:
    def __init__(self, name, default_value):
        self.name, self.default_value = name, default_value


class FakeTrainingOutput:
    def __init__(self, type, iteration=None, metric=None, model_file=None):
        self.type = type


class FakePipelineData:
    def __init__(self, name, datastore=None, output_name=None, output_mode="mount", output_path_on_compute=None,
                 output_overwrite=None, data_type=None, is_directory=None, pipeline_output_name=None,
                 training_output=None):  # fmt: skip
        self.name, self.pipeline_output_name, self.training_output = name, pipeline_output_name, training_output

    def as_dataset(self):
        return FakePipelineOutputFileDataset(self)


class FakePipelineOutputFileDataset:
    def __init__(self, pipeline_data):
        self.pipeline_data = pipeline_data

    def parse_delimited_files(self, include_path=False, separator=",", header=PROMOTE_HEADERS, partition_format=None,
                              file_extension="", set_column_types=None, quoted_line_breaks=False):  # fmt: skip
        return ("tabular", self.pipeline_data, separator)


class FakeAutoMLStep:
    def __init__(self, name, automl_config, inputs=None, outputs=None, script_repl_params=None, allow_reuse=True,
                 version=None, hash_paths=None, enable_default_model_output=True,
                 enable_default_metrics_output=True, **kwargs):  # fmt: skip
        self.name, self.automl_config, self.outputs = name, automl_config, outputs


class FakePythonScriptStep:
    def __init__(self, script_name, name=None, arguments=None, compute_target=None, runconfig=None,
                 runconfig_pipeline_params=None, inputs=None, outputs=None, params=None, source_directory=None,
                 allow_reuse=True, version=None, hash_paths=None):  # fmt: skip
        self.script_name, self.name, self.arguments = script_name, name, arguments
        self.inputs, self.outputs, self.source_directory, self.runconfig = inputs, outputs, source_directory, runconfig


class FakePipeline:
    def __init__(self, workspace, steps, description=None, default_datastore=None, default_source_directory=None,
                 resolve_closure=True, _workflow_provider=None, _service_endpoint=None, **kwargs):  # fmt: skip
        self.workspace, self.steps, self.description = workspace, list(steps), description

    def publish(self, name=None, description=None, version=None, continue_on_step_failure=None):
        cloud = self.workspace.cloud
        cloud.record("Pipeline.publish", name=name, description=description, version=version, steps=self.steps)
        published = FakePublishedPipeline._create(cloud, self, name, description, version)
        cloud.published[published.id] = published
        return published


class FakePublishedPipeline:
    @classmethod
    def _create(cls, cloud, pipeline, name, description, version):
        published = cls.__new__(cls)
        published.cloud, published.pipeline = cloud, pipeline
        published.id = str(uuid.uuid4())
        published.name, published.description, published.version = name, description, version
        published.status = "Active"
        published.endpoint = (
            f"https://westeurope.api.azureml.ms/pipelines/v1.0/subscriptions/{cloud.coordinates['subscription_id']}"
            f"/resourceGroups/{cloud.coordinates['resource_group']}/providers/Microsoft.MachineLearningServices"
            f"/workspaces/{cloud.coordinates['workspace_name']}/PipelineRuns/PipelineSubmit/{published.id}"
        )
        published.steps = pipeline.steps
        return published

    @staticmethod
    def get(workspace, id, _workflow_provider=None, _service_endpoint=None):
        if id not in workspace.cloud.published:
            raise AzureError(f"PipelineNotFound: published pipeline {id} not found")
        return workspace.cloud.published[id]

    @staticmethod
    def list(workspace, active_only=True, _service_endpoint=None):
        found = list(workspace.cloud.published.values())
        return [p for p in found if p.status == "Active"] if active_only else found

    def enable(self):
        self.status = "Active"

    def disable(self):
        self.status = "Disabled"

    def submit(self, workspace, experiment_name, pipeline_parameters=None, _workflow_provider=None,
               _service_endpoint=None, parent_run_id=None, continue_on_step_failure=None):  # fmt: skip
        cloud = workspace.cloud
        cloud.record("PublishedPipeline.submit", id=self.id, experiment_name=experiment_name,
                     pipeline_parameters=pipeline_parameters)  # fmt: skip
        run = FakeRun(cloud, experiment_name, self)
        run.properties["azureml.pipelineid"] = self.id
        with cloud.lock:
            cloud.experiments.add(experiment_name)
            cloud.runs[run.id] = run
        return run


class FakePipelineRun(FakeRun):
    def __init__(self, experiment, run_id, _service_endpoint=None, **kwags):
        raise NotImplementedError("opml reads pipeline runs through Run.get")


class FakeScheduleRecurrence:
    def __init__(self, frequency, interval, start_time=None, time_zone=None, hours=None, minutes=None,
                 week_days=None, time_of_day=None):  # fmt: skip
        self.frequency, self.interval, self.hours, self.minutes, self.week_days = (
            frequency, interval, hours, minutes, week_days,
        )  # fmt: skip


class FakeSchedule:
    @staticmethod
    def create(workspace, name, pipeline_id, experiment_name, recurrence=None, description=None,
               pipeline_parameters=None, wait_for_provisioning=False, wait_timeout=3600, datastore=None,
               polling_interval=5, data_path_parameter_name=None, continue_on_step_failure=None,
               path_on_datastore=None, _workflow_provider=None, _service_endpoint=None):  # fmt: skip
        cloud = workspace.cloud
        cloud.record("Schedule.create", name=name, pipeline_id=pipeline_id, experiment_name=experiment_name,
                     recurrence=recurrence, pipeline_parameters=pipeline_parameters)  # fmt: skip
        schedule = FakeSchedule()
        schedule.id, schedule.name, schedule.pipeline_id = str(uuid.uuid4()), name, pipeline_id
        schedule.recurrence, schedule.status = recurrence, "Active"
        cloud.schedules[schedule.id] = schedule
        return schedule

    @staticmethod
    def list(workspace, active_only=True, pipeline_id=None, pipeline_endpoint_id=None, _workflow_provider=None,
             _service_endpoint=None):  # fmt: skip
        found = list(workspace.cloud.schedules.values())
        return [s for s in found if s.status == "Active"] if active_only else found

    def enable(self, wait_for_provisioning=False, wait_timeout=3600):
        self.status = "Active"

    def disable(self, wait_for_provisioning=False, wait_timeout=3600):
        self.status = "Disabled"


def make_fake_sdk(cloud: FakeCloud) -> AzureSDK:
    """An AzureSDK whose classes act on ``cloud``."""

    def from_config(path=None, auth=None, _logger=None, _file_name=None):
        config = json.loads(Path(path).read_text())
        cloud.record("Workspace.from_config", path=path, auth=auth)
        if config["workspace_name"] != cloud.coordinates["workspace_name"]:
            raise AzureError(
                f"ProjectSystemException: Workspace not found: {config['workspace_name']} in resource group "
                f"{config['resource_group']}"
            )
        workspace = Workspace(**config, auth=auth)
        return workspace

    Workspace = type("Workspace", (FakeWorkspace,), {"cloud": cloud, "from_config": staticmethod(from_config)})
    return AzureSDK(
        Workspace=Workspace,
        Experiment=FakeExperiment,
        Run=FakeRun,
        Model=FakeModel,
        Dataset=FakeDataset,
        Datastore=FakeDatastore,
        Environment=FakeEnvironment,
        ScriptRunConfig=FakeScriptRunConfig,
        RunConfiguration=FakeRunConfiguration,
        ComputeTarget=FakeComputeTarget,
        AmlCompute=FakeAmlCompute,
        Webservice=FakeWebservice,
        AciWebservice=FakeAciWebservice,
        InferenceConfig=FakeInferenceConfig,
        AutoMLConfig=FakeAutoMLConfig,
        Pipeline=FakePipeline,
        PipelineParameter=FakePipelineParameter,
        PipelineData=FakePipelineData,
        TrainingOutput=FakeTrainingOutput,
        PipelineRun=FakePipelineRun,
        PublishedPipeline=FakePublishedPipeline,
        Schedule=FakeSchedule,
        ScheduleRecurrence=FakeScheduleRecurrence,
        AutoMLStep=FakeAutoMLStep,
        PythonScriptStep=FakePythonScriptStep,
        InteractiveLoginAuthentication=FakeInteractiveLoginAuthentication,
        ServicePrincipalAuthentication=FakeServicePrincipalAuthentication,
        AzureCliAuthentication=FakeAzureCliAuthentication,
    )


# (SDK attribute, real class path or None for the same as the attribute, methods) whose signatures must match.
SIGNATURES: list[tuple[str, str | None, list[str]]] = [
    ("Workspace", None, ["from_config", "__init__"]),
    ("Experiment", None, ["__init__", "submit", "get_runs", "list"]),
    ("Run", None, ["get", "get_details", "get_status", "get_children", "get_metrics", "cancel",
                   "get_details_with_logs", "get_file_names", "download_file", "get_environment", "register_model",
                   "set_tags"]),
    ("Model", None, ["__init__", "list", "delete", "download", "deploy"]),
    ("Dataset", None, ["get_by_name", "get_all"]),
    ("Datastore", None, ["get_default"]),
    ("Environment", None, ["get"]),
    ("ScriptRunConfig", None, ["__init__"]),
    ("RunConfiguration", None, ["__init__"]),
    ("ComputeTarget", None, ["create", "list"]),
    ("AmlCompute", None, ["provisioning_configuration", "get_active_runs", "delete"]),
    ("Webservice", None, ["list"]),
    ("AciWebservice", None, ["deploy_configuration", "update", "get_keys", "regen_key", "get_logs", "delete"]),
    ("InferenceConfig", None, ["__init__"]),
    ("AutoMLConfig", None, ["__init__"]),
    ("Pipeline", None, ["__init__", "publish"]),
    ("PipelineParameter", None, ["__init__"]),
    ("PipelineData", None, ["__init__", "as_dataset"]),
    ("TrainingOutput", None, ["__init__"]),
    ("PipelineRun", None, ["__init__"]),
    ("PublishedPipeline", None, ["get", "list", "enable", "disable", "submit"]),
    ("Schedule", None, ["create", "list", "enable", "disable"]),
    ("ScheduleRecurrence", None, ["__init__"]),
    ("AutoMLStep", None, ["__init__"]),
    ("PythonScriptStep", None, ["__init__"]),
    ("InteractiveLoginAuthentication", None, ["__init__", "get_authentication_header"]),
    ("ServicePrincipalAuthentication", None, ["__init__", "get_authentication_header"]),
    ("AzureCliAuthentication", None, ["__init__", "get_authentication_header"]),
]  # fmt: skip

# Methods of objects the SDK returns rather than of the classes above: (real class, fake class, methods).
RETURNED_SIGNATURES: list[tuple[str, type, list[str]]] = [
    ("azureml.data.tabular_dataset:TabularDataset", FakeTabularDataset,
     ["register", "take", "to_pandas_dataframe", "as_named_input"]),
    ("azureml.data.dataset_factory:TabularDatasetFactory", FakeTabularDatasetFactory, ["from_delimited_files"]),
    ("azureml.data.azure_storage_datastore:AzureBlobDatastore", FakeDatastore, ["upload_files"]),
    ("azureml.pipeline.core.pipeline_output_dataset:PipelineOutputFileDataset", FakePipelineOutputFileDataset,
     ["parse_delimited_files"]),
]  # fmt: skip
