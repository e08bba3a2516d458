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

import fnmatch
import importlib
import importlib.util
import io
import itertools
import json
import os
import subprocess
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from opml.backends.azure.sdk import AzureSDK


class AzureError(Exception):
    """Stands in for the SDK's exception classes where the class does not matter to opml."""


# -- what Azure raises: the SDK's own exception classes, built from Azure's answers by the SDK's own code --------


def _response(status: int, body: dict | None, url: str = "https://westeurope.api.azureml.ms/") -> Any:
    """An HTTP answer of Azure's, as the SDK's REST clients receive it (a requests Response; nothing is sent)."""
    import requests

    response = requests.models.Response()
    response.status_code, response.url = status, url
    response.reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
    response._content = json.dumps(body).encode() if body is not None else b""
    response.headers["Content-Type"] = "application/json"
    return response


def _deserializer(models_module: Any) -> Any:
    from msrest.serialization import Deserializer

    return Deserializer({name: cls for name, cls in vars(models_module).items() if isinstance(cls, type)})


def _through_client_base(error: Exception) -> Exception:
    """What azureml._restclient's ClientBase makes of a refused request: a 403 becomes a UserErrorException
    ("Operation returned an invalid status code 'Forbidden'. The possible reason could be: ..."), other 4xx
    answers stay as they are."""
    import logging

    from azureml._restclient.clientbase import ClientBase

    try:
        ClientBase._handle_retry(0, 1, 1, error, logging.getLogger(__name__), None)
    except Exception as raised:
        return raised
    return error


def history_error(status: int, message: str, code: str = "UserError") -> Exception:
    """The run history service (Run.get, Experiment, ...) refusing a request: a ServiceException with the HTTP
    status in ``status_code`` (ClientBase._execute_with_arguments wraps ErrorResponseException so)."""
    from azureml._restclient import models
    from azureml._restclient.exceptions import ServiceException
    from azureml._restclient.models.error_response import ErrorResponseException

    inner = {"code": {401: "AuthenticationError", 404: "NotFound"}.get(status, "Error")}
    body = {"error": {"code": code, "message": message, "details": [], "innerError": inner}}
    error = _through_client_base(ErrorResponseException(_deserializer(models), _response(status, body)))
    return ServiceException(error) if isinstance(error, ErrorResponseException) else error


def model_error(status: int, message: str, **lookup: Any) -> Exception:
    """The model management service refusing a request, as ModelsClient reports it: a WebserviceException
    ("ModelNotFound: Model with id x:3 not found in provided workspace" for a 404)."""
    from azureml._restclient import models
    from azureml._restclient.models import ModelErrorResponseException
    from azureml._restclient.models_client import ModelsClient

    body = {"code": "UserError", "statusCode": status, "message": message, "details": []}
    error = _through_client_base(ModelErrorResponseException(_deserializer(models), _response(status, body)))
    if not isinstance(error, ModelErrorResponseException):
        return error
    try:
        ModelsClient.model_error_response_to_webservice_exception(error, **lookup)
    except Exception as raised:
        return raised
    return error


def pipelines_error(status: int, message: str) -> Exception:
    """The pipelines service refusing a request: the aeva client's ErrorResponseException (an msrest
    HttpOperationError, the status in ``response.status_code``)."""
    from azureml.pipeline.core._restclients.aeva import models
    from azureml.pipeline.core._restclients.aeva.models import ErrorResponseException

    body = {"Error": {"Code": "UserError", "Message": message, "InnerError": {"Code": "Error"}}}
    return ErrorResponseException(_deserializer(models), _response(status, body))


def dataset_error(status: int, message: str) -> Exception:
    """The dataset service refusing a request, as azureml.data reports it (``_make_request``): a
    UserErrorException "Request failed (403): ..." for a 4xx answer."""
    from azureml.data._dataset_rest_helper import _make_request
    from msrest.exceptions import HttpOperationError
    from msrest.serialization import Deserializer

    def request():
        raise HttpOperationError(Deserializer({}), _response(status, {"error": {"message": message}}))

    return _make_request(request, retries=0)[1]


def dataset_not_found(name: str, version: Any) -> Exception:
    """Dataset.get_by_name's own error for a 404 (AbstractDataset._get_by_name)."""
    from azureml.exceptions import UserErrorException

    return UserErrorException(
        'Cannot find dataset registered with name "{}"{} in the workspace.'.format(
            name, "" if version == "latest" else f" (version: {version})"
        )
    )


def expired_sign_in() -> Exception:
    """Azure AD refusing to renew the token (what the SDK's msal credentials raise; no request reaches Azure ML)."""
    from azureml._vendor.azure_cli_core.azclierror import AuthenticationError

    return AuthenticationError(
        "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "
        "2026-01-05T09:12:44Z and was inactive for 90.00:00:00.",
        recommendation="Run the command below to authenticate interactively: az login",
    )


def network_error(host: str = "westeurope.api.azureml.ms") -> Exception:
    """No answer at all: msrest's ClientRequestError around requests' ConnectionError, as a REST client raises
    it once its retries are spent."""
    import requests
    from msrest.exceptions import ClientRequestError, raise_with_traceback

    cause = (
        f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /history/v1.0/runs "
        f"(Caused by NameResolutionError(\"Failed to resolve '{host}' ([Errno -3] Temporary failure in name "
        f'resolution)"))'
    )
    try:
        try:
            raise requests.exceptions.ConnectionError(cause)
        except requests.exceptions.ConnectionError:
            raise_with_traceback(ClientRequestError, "Error occurred in request.")
    except ClientRequestError as error:
        return error
    raise AssertionError("unreachable")


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
        self.datasets: dict[str, list[Any]] = {}  # name -> versions: FakeTabularDataset or FakeFileDataset
        self.datasets_that_do_not_load: set[str] = set()  # listed by Azure, but get_by_name fails on them
        self.dataset_lookup_errors: dict[str, Exception] = {}  # name -> what Azure answers a lookup of it
        self.computes: dict[str, Any] = {}
        self.runs: dict[str, Any] = {}
        self.experiments: set[str] = set()  # Azure keeps an experiment once made, with runs or without
        self.archived_experiments: set[str] = set()  # listed by Experiment.list only when asked (view_type)
        self.models: dict[str, list[Any]] = {}
        self.services: dict[str, Any] = {}
        self.published: dict[str, Any] = {}
        self.schedules: dict[str, Any] = {}
        self.environments = {"AzureML-sklearn-1.5": object()}
        self.calls: list[tuple[str, dict[str, Any]]] = []  # what opml asked of the SDK, in order
        self.fail_next: dict[str, Exception] = {}  # SDK call name -> exception to raise once
        self.automl_scores = [0.905, 0.912, 0.909, 0.918, 0.921]  # metric of each AutoML child, in order
        # service name -> (state, error) an ACI deployment ends in (Healthy, with no error, unless given)
        self.deployment_outcomes: dict[str, tuple[str, dict | None]] = {}
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
            state, error = self.deployment_outcomes.get(service.name, ("Healthy", None))
            service.state, service.error = state, error
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
        datastore.cloud.record(
            "Dataset.Tabular.from_delimited_files",
            path=path,
            separator=separator,
            support_multi_line=support_multi_line,
        )
        return FakeTabularDataset(datastore.cloud, path, separator)


class FakeFileDataset:
    """A FileDataset: registered ones are listed by Dataset.get_all beside the tabular ones."""

    def __init__(self, cloud, path, *, name=None, version=None, description=None, tags=None):
        self.cloud, self.path = cloud, path
        self.name, self.version, self.description, self.tags = name, version, description, tags
        self.id = uuid.uuid4().hex


class FakeFileDatasetFactory:
    @staticmethod
    def upload_directory(src_dir, target, pattern=None, overwrite=False, show_progress=True):
        """Uploads every file under src_dir (those whose absolute path matches ``pattern``, when given) to the
        datastore path, then answers an unregistered FileDataset of that path, as the SDK does."""
        if not (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], FakeDatastore)):
            raise ValueError(f"The target type is not supported, target: {target}")  # parse_target's error
        datastore, relative_path = target
        datastore.cloud.record("Dataset.File.upload_directory", src_dir=src_dir, target=target, overwrite=overwrite)
        root = Path(src_dir).absolute()
        for file in sorted(path for path in root.rglob("*") if path.is_file()):
            if pattern is not None and not fnmatch.fnmatch(file.as_posix(), pattern):
                continue
            blob = f"{relative_path.strip('/')}/{file.relative_to(root).as_posix()}"
            if overwrite or blob not in datastore.cloud.blobs:  # without overwrite, present files are skipped
                datastore.cloud.blobs[blob] = file.read_bytes()
        return FakeFileDataset(datastore.cloud, [(datastore, f"/{relative_path}")])


class FakeDataset:
    Tabular = FakeTabularDatasetFactory
    File = FakeFileDatasetFactory

    @staticmethod
    def get_by_name(workspace, name, version="latest", **kwargs):
        cloud = workspace.cloud
        cloud.record("Dataset.get_by_name", name=name, version=version)
        if name in cloud.dataset_lookup_errors:
            raise cloud.dataset_lookup_errors[name]
        if name in cloud.datasets_that_do_not_load:  # its stored definition does not deserialize
            raise dataset_error(400, f"Dataset {name} could not be loaded: unsupported definition")
        versions = cloud.datasets.get(name) or []
        if not versions or (version != "latest" and not 1 <= int(version) <= len(versions)):
            raise dataset_not_found(name, version)
        return versions[-1] if version == "latest" else versions[int(version) - 1]

    @staticmethod
    def get_all(workspace):
        """The SDK's own answer, a lazy _DatasetDict, over this workspace: it lists every registered dataset
        (file datasets too) and loads one when read; one whose get_by_name fails is None to it, and reading it
        raises KeyError."""
        from azureml._restclient.models import DatasetDefinitionDto, DatasetDto, PaginatedResultDatasetDto
        from azureml.data.abstract_dataset import _DatasetDict

        cloud = workspace.cloud

        def list_dataset(continuation_token):
            cloud.record("Dataset.get_all")
            listed = [
                DatasetDto(
                    dataset_id=versions[-1].id,
                    name=name,
                    description=versions[-1].description,
                    tags=versions[-1].tags,
                    dataset_type="tabular" if isinstance(versions[-1], FakeTabularDataset) else "file",
                    latest=DatasetDefinitionDto(version_id=str(len(versions)), saved_dataset_id=name),
                )
                for name, versions in cloud.datasets.items()
            ]
            return PaginatedResultDatasetDto(value=listed, continuation_token=None)

        def get_dataset(name):
            if name in cloud.datasets_that_do_not_load or name in cloud.dataset_lookup_errors:
                return None  # the SDK's lookup swallows whatever get_by_name raised
            if not cloud.datasets.get(name):
                return None
            return cloud.datasets[name][-1]

        return _DatasetDict(workspace=workspace, list_fn=list_dataset, get_fn=get_dataset)


class FakeEnvironment:
    @staticmethod
    def get(workspace, name, version=None, label=None):
        if name not in workspace.cloud.environments:
            raise AzureError(f"Environment {name} not found")
        return workspace.cloud.environments[name]


# -- computes ------------------------------------------------------------------------------


class FakeScaleSettings:
    def __init__(self, maximum_node_count, minimum_node_count=0):
        self.maximum_node_count, self.minimum_node_count = maximum_node_count, minimum_node_count


class FakeAmlCompute:
    type = "AmlCompute"

    def __init__(self, cloud, name, provisioning):
        self.cloud, self.name = cloud, name
        self.scale_settings = FakeScaleSettings(provisioning["max_nodes"], provisioning["min_nodes"])
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
        if run_config is None:  # as the real one: a RunConfiguration of its own, with the target and environment
            run_config = FakeRunConfiguration()
            run_config.target, run_config.environment = compute_target or "local", environment
        self.run_config = run_config


class FakeRunConfiguration:
    def __init__(self, script=None, arguments=None, framework=None, communicator=None, conda_dependencies=None,
                 _history_enabled=None, _path=None, _name=None, command=None):  # fmt: skip
        self.target, self.environment = "local", None
        self.environment_variables: dict[str, str] = {}  # set in the run's process on the compute


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


# AutoMLConfig's arguments that AutoMLBaseSettings takes under another name, or not at all (the data and compute
# are the fit's, checked against the workspace; the timeout is given in minutes, as AutoMLConfig converts it).
_SETTINGS_NAMES = {"task": "task_type"}
_FIT_ARGUMENTS = {"compute_target", "training_data", "validation_data", "test_data", "X", "y", "X_valid", "y_valid",
                  "sample_weight", "sample_weight_valid", "spark_context", "experiment_timeout_hours"}  # fmt: skip


def check_automl_settings(config: FakeAutoMLConfig) -> Any:
    """What the SDK checks of an AutoMLConfig when it is submitted (``Experiment.submit``) or its AutoMLStep built
    into a pipeline: the settings as the real ``AutoMLBaseSettings`` validates them, offline (the task's primary
    metrics, the task's model names for allowed_models and blocked_models, the bounds). Raises the SDK's own
    ConfigException, with Azure's message; returns the real settings object."""
    from azureml.automl.core.automl_base_settings import AutoMLBaseSettings

    settings = {
        _SETTINGS_NAMES.get(key, key): value for key, value in config.settings.items() if key not in _FIT_ARGUMENTS
    }
    if "experiment_timeout_hours" in config.settings:
        settings["experiment_timeout_minutes"] = int(config.settings["experiment_timeout_hours"] * 60)
    return AutoMLBaseSettings(**settings)


def automl_metric_objectives(task: str) -> dict[str, str]:
    """Azure's scalar metrics of a task, each "maximize" or "minimize" (``MetricObjective``)."""
    from azureml.automl.core.shared.constants import Metric, MetricObjective

    objectives = MetricObjective.Regression if task == "regression" else MetricObjective.Classification
    scalar = Metric.SCALAR_REGRESSION_SET if task == "regression" else Metric.SCALAR_CLASSIFICATION_SET
    return {name: objectives[name] for name in sorted(scalar) if objectives.get(name) in ("maximize", "minimize")}


def metrics_from_score(task: str, score: float) -> dict[str, float]:
    """Every scalar metric of a task (Azure's AutoML logs them all for each trial, whatever the primary metric),
    from one ``score`` of a trial's quality in [0, 1] (higher is better): each metric Azure maximizes rises with it,
    each it minimizes falls, so every metric ranks the trials alike."""
    metrics = {}
    for index, (name, objective) in enumerate(automl_metric_objectives(task).items()):
        spread = 0.01 * (index % 5)
        metrics[name] = score - spread if objective == "maximize" else (1 - score) * (1 + spread)
    return metrics


def automl_child_metrics(task: str, primary: str, score: float) -> dict[str, float]:
    """What an AutoML trial logs (``metrics_from_score``). A classification trial's primary metric and accuracy are
    ``score``, its AUC_weighted ``score + 0.03``; a regression trial's primary metric is ``score`` when Azure
    maximizes it."""
    objectives = automl_metric_objectives(task)
    metrics = metrics_from_score(task, score)
    if task == "regression":
        if objectives.get(primary) == "maximize":
            metrics[primary] = score
        return metrics
    return {**metrics, primary: score, "AUC_weighted": score + 0.03, "accuracy": score}


class FakeExperimentRef:
    def __init__(self, name, cloud=None):
        self.name, self.cloud = name, cloud


# What a fake AutoML run tries when no allowed_models are given (Azure tries many more)
DEFAULT_AUTOML_ALGORITHMS = {
    "classification": ["LightGBM", "XGBoostClassifier", "RandomForest"],
    "regression": ["LightGBM", "XGBoostRegressor", "ElasticNet"],
}


def _utc_text() -> str:
    """A time as Azure's RunDto gives it (``Run._run_dto["created_utc"]``: ISO 8601 ending in Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Run types whose SDK classes the SDK's type providers build from the run's id alone when a listing "rehydrates"
# the runs it lists (Run.list, Experiment.get_runs and get_children do by default): a GET of each such run while the
# listing is read. AutoMLRun._from_run_dto, HyperDriveRun._from_run_dto, PipelineRun._from_dto and StepRun._from_dto
# drop the listed RunDto; ScriptRun._from_run_dto keeps it, as Run._dto_to_run does (``_rehydrate_runs=False``).
REHYDRATED_BY_ID = ("automl", "hyperdrive", "azureml.PipelineRun", "azureml.StepRun", "azureml.ReusedStepRun")


def _listed(cloud: FakeCloud, runs: list, rehydrate: bool):
    """The SDK's Run objects of a listing, newest started first, as its generator hands them out."""
    for run in FakeRun._newest_first(runs):
        if rehydrate and run.type in REHYDRATED_BY_ID:
            cloud.record("Run.get", run_id=run.id)
        yield run._view()


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
        self.experiment = FakeExperimentRef(experiment, cloud)
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
        self._snapshot: dict[str, bytes] = {}  # the source directory's files, as uploaded at submit
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
            "name": self.display_name,  # a step run's name is its step's (PipelineRun.find_step_run reads it)
            "error": self._details.get("error"),  # Azure's error object, as get_details() gives it
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
        if self._parent is None:
            return None
        self.cloud.record("Run.parent", run_id=self._parent.id)  # the SDK's parent property GETs the parent run
        return self._parent._view()

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
        workspace.cloud.record("Run.get", run_id=run_id)
        run = workspace.cloud.runs.get(run_id)
        if run is None:
            raise history_error(404, f"Run {run_id} was not found")
        return run._view()

    def get_details(self):
        self.cloud.record("Run.get_details", run_id=self.id)  # a request to Azure: tests count them
        self._cached_dto["status"] = self._status  # as the real one does (update_cached_status)
        return {**self._details, "status": self._status, "properties": dict(self.properties)}

    def get_status(self):
        if self._cached_dto["status"] not in ENDED:
            self._cached_dto.update(self._dto())
        return self._cached_dto["status"]

    @staticmethod
    def list(experiment, type=None, tags=None, properties=None, status=None, include_children=False,
             _rehydrate_runs=True):  # fmt: skip
        cloud = experiment.workspace.cloud
        cloud.record("Run.list", experiment=experiment.name, type=type, include_children=include_children)
        runs = [r for r in cloud.runs.values() if r.experiment.name == experiment.name]
        if not include_children:
            runs = [r for r in runs if r._parent is None]
        if type is not None:
            runs = [r for r in runs if r.type == type]
        if status is not None:
            runs = [r for r in runs if r._status == status]
        for wanted, of in ((tags, lambda r: r.tags), (properties, lambda r: r.properties)):
            if isinstance(wanted, str):
                runs = [r for r in runs if wanted in of(r)]
            elif wanted:
                runs = [r for r in runs if all(of(r).get(k) == v for k, v in wanted.items())]
        return _listed(cloud, runs, _rehydrate_runs)

    def get_children(self, recursive=False, tags=None, properties=None, type=None, status=None, _rehydrate_runs=True):
        self.cloud.record("Run.get_children", run_id=self.id)
        return _listed(self.cloud, self._children, _rehydrate_runs)

    def get_metrics(self, name=None, recursive=False, run_type=None, populate=False):
        self.cloud.record("Run.get_metrics", run_id=self.id, recursive=recursive)
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
        """The command runs on the compute, in a copy of the run's snapshot, with the run configuration's
        environment variables (and none of the dashboard's, PATH and locale aside)."""
        environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "SYSTEMROOT") if name in os.environ}
        environment.update(self.config.run_config.environment_variables)
        with tempfile.TemporaryDirectory() as folder:
            for name, content in self._snapshot.items():
                (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / name).write_bytes(content)
            result = subprocess.run(
                self.config.command, cwd=folder, env=environment, capture_output=True, text=True, timeout=60
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
        task = settings.get("task", "classification")
        metric = settings.get("primary_metric") or ("spearman_correlation" if task == "regression" else "accuracy")
        blocked = set(settings.get("blocked_models") or ())
        algorithms = [
            name for name in settings.get("allowed_models") or DEFAULT_AUTOML_ALGORITHMS[task] if name not in blocked
        ]
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
                child._metrics = automl_child_metrics(task, metric, score)
                child._files = {
                    "outputs/model.pkl": f"model of {child.id}".encode(),
                    "outputs/scoring_file_v_1_0_0.py": b"def init(): pass\ndef run(data): return data\n",
                }
                child._status = "Completed"
            self.cloud.runs[child.id] = child
            self._children.append(child)
        self._outcome = "Completed"

    def _run_pipeline(self):
        """Each step as Azure runs it: the AutoML step as an AutoML run; the data-prep step calls the user's
        ``prepare`` and registers its output on completion; the register step runs opml's step script."""
        for step in self.config.steps:
            child = FakeRun(self.cloud, self.experiment.name, None, parent=self, run_type="azureml.StepRun")
            child.display_name = step.name
            self.cloud.runs[child.id] = child
            self._children.append(child)
            try:
                if isinstance(step, FakeAutoMLStep):
                    child.config = step.automl_config
                    child._run_automl()
                elif step.script_name == "prep_runner.py":
                    self._run_prep_step(step)
                elif step.script_name == "register_model.py":
                    self._run_register_step(step, child)
            except Exception as exc:  # a failing step fails the pipeline run, as on Azure
                child._fail(f"{type(exc).__name__}: {exc}")
                self._fail(f"step {step.name} failed")
                return
            child._status = "Completed"
        self._outcome = "Completed"

    def _run_prep_step(self, step):
        (_, _, raw), output = step.inputs[0], step.outputs[0]
        prepared = _step_module(step, "prep.py").prepare(raw.to_pandas_dataframe())
        if output.registration_name:
            blob = f"dataset/{self.id}/{output.name}/prepared.csv"
            self.cloud.blobs[blob] = prepared.to_csv(index=False).encode()
            dataset = FakeTabularDataset(self.cloud, [(FakeDatastore(self.cloud), blob)], output.separator)
            dataset.register(SimpleNamespace(cloud=self.cloud), output.registration_name, create_new_version=True)

    def _run_register_step(self, step, child):
        flags = dict(zip(step.arguments[0::2], step.arguments[1::2], strict=True))
        _step_module(step, "register_model.py").register_best(
            child,
            automl_step=flags["--automl_step"],
            model_name=flags["--model_name"],
            primary_metric=flags["--primary_metric"],
            dataset=flags["--dataset"],
            **({"task": flags["--task"]} if "--task" in flags else {}),
        )


def _step_module(step, filename):
    """A module of a step's source folder (the folder opml snapshots for Azure), imported as Azure would run it."""
    path = Path(step.source_directory) / filename
    spec = importlib.util.spec_from_file_location(f"step_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SNAPSHOT_MAX_FILES = 2000  # azureml._restclient.constants: the SDK refuses to snapshot more


def take_snapshot(folder: str) -> dict[str, bytes]:
    """The files of a run's source directory, as Experiment.submit uploads them (the SDK also leaves out what an
    .amlignore or .gitignore lists; no test folder here has one)."""
    root = Path(folder).resolve()
    files = list(itertools.islice((path for path in root.rglob("*") if path.is_file()), SNAPSHOT_MAX_FILES + 1))
    if len(files) > SNAPSHOT_MAX_FILES:
        from azureml.exceptions import SnapshotException

        raise SnapshotException(
            f"====================================================================\n\nWhile attempting to take "
            f"snapshot of {root}\nYour project exceeds the file limit of {SNAPSHOT_MAX_FILES}.\n"
        )
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in files}


class FakeExperiment:
    def __init__(self, workspace, name, _skip_name_validation=False, _id=None, _archived_time=None,
                 _create_in_cloud=True, _experiment_dto=None, **kwargs):  # fmt: skip
        """As the SDK's: a request that gets the experiment, and makes it (without runs) when Azure has none of that
        name; Experiment.list builds its answers without (``_create_in_cloud=False``)."""
        self.workspace, self.name = workspace, name
        if _create_in_cloud:
            workspace.cloud.record("Experiment", name=name)
            with workspace.cloud.lock:
                workspace.cloud.experiments.add(name)

    def submit(self, config, tags=None, **kwargs):
        cloud = self.workspace.cloud
        cloud.record("Experiment.submit", experiment=self.name, config=config, tags=tags)
        run = FakeRun(cloud, self.name, config, tags=tags)
        if isinstance(config, FakeScriptRunConfig):
            run._snapshot = take_snapshot(config.source_directory)
        elif isinstance(config, FakeAutoMLConfig):  # ExperimentDriver: path None is the current folder
            check_automl_settings(config)
            (Path(config.settings.get("path") or os.getcwd()) / ".azureml").mkdir(exist_ok=True)
        elif isinstance(config, FakePipeline):
            config.check_steps()
        with cloud.lock:
            cloud.experiments.add(self.name)
            cloud.runs[run.id] = run
        return run

    def get_runs(self, type=None, tags=None, properties=None, include_children=False):
        return FakeRun.list(self, type=type, tags=tags, properties=properties, include_children=include_children)

    @staticmethod
    def list(workspace, experiment_name=None, view_type="ActiveOnly", tags=None):
        """Every experiment Azure keeps (those without runs too), active ones only unless ``view_type`` says."""
        cloud = workspace.cloud
        cloud.record("Experiment.list", experiment_name=experiment_name, view_type=view_type)
        shown = {
            "ActiveOnly": cloud.experiments - cloud.archived_experiments,
            "ArchivedOnly": cloud.experiments & cloud.archived_experiments,
            "All": cloud.experiments,
        }[view_type]
        return [
            FakeExperiment(workspace, name, _create_in_cloud=False)
            for name in sorted(shown)
            if experiment_name in (None, name)
        ]


# -- models and services ---------------------------------------------------------------------


class FakeModel:
    def __init__(self, workspace, name=None, id=None, tags=None, properties=None, version=None, run_id=None,
                 model_framework=None, expand=True, **kwargs):  # fmt: skip
        workspace.cloud.record("Model", name=name, version=version)
        versions = workspace.cloud.models.get(name) or []
        found = versions[-1] if versions and version is None else None
        for model in versions:
            if version is not None and model.version == int(version):
                found = model
        if found is None and version is None:  # Model.__init__ on an empty query answer
            from azureml._model_management._util import populate_model_not_found_details
            from azureml.exceptions import WebserviceException

            raise WebserviceException(populate_model_not_found_details(name=name))
        if found is None:  # Model._get: a 404 of models/{name}:{version}
            raise model_error(404, f"Model {name}:{version} not found", id=f"{name}:{version}")
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
        service.tags = config["tags"]  # the SDK's kvTags: None when the deployment gave none
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
            "enable_app_insights": enable_app_insights, "description": description, "tags": tags,
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


class FakeOutputFileDatasetConfig:
    def __init__(self, name=None, destination=None, source=None, partition_format=None):
        self.name = name

    def read_delimited_files(self, include_path=False, separator=",", header=PROMOTE_HEADERS, partition_format=None,
                             path_glob=None, set_column_types=None):  # fmt: skip
        return FakeOutputTabularDatasetConfig(self, separator)


class FakeOutputTabularDatasetConfig:
    """What ``read_delimited_files`` returns: the output read as a tabular dataset, registered on completion."""

    def __init__(self, file_config, separator):
        self.name, self.separator, self.registration_name = file_config.name, separator, None

    def register_on_complete(self, name, description=None, tags=None):
        registered = FakeOutputTabularDatasetConfig(self, self.separator)
        registered.registration_name = name
        return registered


class FakeAutoMLStep:
    def __init__(self, name, automl_config, inputs=None, outputs=None, script_repl_params=None, allow_reuse=True,
                 version=None, hash_paths=None, enable_default_model_output=True,
                 enable_default_metrics_output=True, **kwargs):  # fmt: skip
        self.name, self.automl_config, self.outputs, self.allow_reuse = name, automl_config, outputs, allow_reuse


class FakePythonScriptStep:
    def __init__(self, script_name, name=None, arguments=None, compute_target=None, runconfig=None,
                 runconfig_pipeline_params=None, inputs=None, outputs=None, params=None, source_directory=None,
                 allow_reuse=True, version=None, hash_paths=None):  # fmt: skip
        self.script_name, self.name, self.arguments = script_name, name, arguments
        self.inputs, self.outputs, self.source_directory, self.runconfig = inputs, outputs, source_directory, runconfig
        self.allow_reuse = allow_reuse


class FakePipeline:
    def __init__(self, workspace, steps, description=None, default_datastore=None, default_source_directory=None,
                 resolve_closure=True, _workflow_provider=None, _service_endpoint=None, **kwargs):  # fmt: skip
        self.workspace, self.steps, self.description = workspace, list(steps), description

    def check_steps(self):
        """As the SDK builds the graph (to submit or publish it): each AutoMLStep's settings are validated."""
        for step in self.steps:
            if isinstance(step, FakeAutoMLStep):
                check_automl_settings(step.automl_config)

    def publish(self, name=None, description=None, version=None, continue_on_step_failure=None):
        cloud = self.workspace.cloud
        cloud.record("Pipeline.publish", name=name, description=description, version=version, steps=self.steps)
        self.check_steps()
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
        workspace.cloud.record("PublishedPipeline.get", id=id)
        if id not in workspace.cloud.published:
            raise pipelines_error(404, f"Pipeline with id {id} not found")
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


class FakeSchedule:
    @staticmethod
    def create(workspace, name, pipeline_id, experiment_name, recurrence=None, description=None,
               pipeline_parameters=None, wait_for_provisioning=False, wait_timeout=3600, datastore=None,
               polling_interval=5, data_path_parameter_name=None, continue_on_step_failure=None,
               path_on_datastore=None, _workflow_provider=None, _service_endpoint=None):  # fmt: skip
        if recurrence is not None:
            recurrence.validate()  # as the real Schedule.create does first (the recurrence is the SDK's own class)
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


def _real_class(module: str, name: str) -> Any:
    """A class of the installed SDK that works offline, used as is instead of a fake."""
    return getattr(importlib.import_module(module), name)


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
        TabularDataset=FakeTabularDataset,
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
        OutputFileDatasetConfig=FakeOutputFileDatasetConfig,
        TrainingOutput=FakeTrainingOutput,
        PipelineRun=FakePipelineRun,
        PublishedPipeline=FakePublishedPipeline,
        Schedule=FakeSchedule,
        ScheduleRecurrence=_real_class("azureml.pipeline.core", "ScheduleRecurrence"),  # pure: validates offline
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
    ("Run", None, ["get", "list", "get_details", "get_status", "get_children", "get_metrics", "cancel",
                   "get_details_with_logs", "get_file_names", "download_file", "get_environment", "register_model",
                   "set_tags"]),
    ("Model", None, ["__init__", "list", "delete", "download", "deploy"]),
    ("Dataset", None, ["get_by_name", "get_all"]),
    ("TabularDataset", None, ["register", "take", "to_pandas_dataframe", "as_named_input"]),
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
    ("OutputFileDatasetConfig", None, ["__init__", "read_delimited_files"]),
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
    ("azureml.data.dataset_factory:TabularDatasetFactory", FakeTabularDatasetFactory, ["from_delimited_files"]),
    ("azureml.data.dataset_factory:FileDatasetFactory", FakeFileDatasetFactory, ["upload_directory"]),
    ("azureml.pipeline.core.pipeline_output_dataset:PipelineOutputFileDataset", FakePipelineOutputFileDataset,
     ["parse_delimited_files"]),
    ("azureml.data.output_dataset_config:OutputTabularDatasetConfig", FakeOutputTabularDatasetConfig,
     ["register_on_complete"]),
]  # fmt: skip
