"""The Backend interface over an Azure ML workspace (SDK v1).

Long operations are submitted and return at once, like the local backend's:
compute provisioning, AutoML runs, deployments and pipeline runs are polled
with ``get_*`` / ``wait_for_*``. What Azure does not keep (pipeline drafts,
dataset profiles, the published pipeline a draft became) is kept in a small
owner-only state folder inside the opml workspace folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.backends.azure.auth import auth_kind, make_auth
from opml.backends.azure.convert import (
    EPOCH,
    opml_status,
    parse_time,
    to_compute,
    to_model,
    to_published,
    to_run,
    to_service,
)
from opml.backends.azure.errors import translate_methods
from opml.backends.azure.pipelines import build_steps
from opml.backends.azure.schedules import recurrence_from
from opml.backends.azure.sdk import AzureSDK, load_sdk
from opml.backends.azure.state import AzureState
from opml.backends.base import Backend, DatasetSource
from opml.entities import (
    ACTIVE,
    COMPLETED,
    TERMINAL_STATUSES,
    AgentStatus,
    AliasChange,
    Compute,
    Dataset,
    DatasetProfile,
    Model,
    Pipeline,
    PublishedPipeline,
    Run,
    Schedule,
    Service,
    ServiceKeys,
    Token,
    WorkspaceInfo,
)
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound
from opml.naming import check_lineage, check_max_nodes, check_name, check_tags
from opml.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")
DEFAULT_VM_SIZE = "STANDARD_DS3_V2"
PROFILE_SAMPLE_ROWS = 10_000
SCORING_FILE = "outputs/scoring_file_v_1_0_0.py"  # what an AutoML child run writes for deployment
MODEL_FILE = "outputs/model.pkl"
_COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


def read_config(path: Path) -> dict[str, str]:
    """The workspace coordinates of a portal ``config.json``; InvalidInput names what is wrong."""
    if not path.is_file():
        raise InvalidInput(f"Azure ML config file {path} does not exist (download config.json from the portal)")
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON config file: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"{path} must hold a JSON object with {', '.join(CONFIG_KEYS)}")
    missing = [key for key in CONFIG_KEYS if not isinstance(config.get(key), str) or not config[key].strip()]
    if missing:
        raise InvalidInput(f"{path} is missing {', '.join(missing)}")
    return {key: config[key] for key in CONFIG_KEYS}


def _same_value(value: Any, published: Any) -> bool:
    """Equal as the dashboard's form gives them back (numbers as floats)."""
    numbers = (int, float)
    if isinstance(value, numbers) and isinstance(published, numbers) and not isinstance(value, bool):
        return float(value) == float(published)
    return value == published


def _last_scalar(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@translate_methods
class AzureMLBackend(Backend):
    kind = "azure"

    def __init__(
        self, *, config: Path, sdk: AzureSDK | None = None, auth: Any = None, state_dir: Path | None = None
    ) -> None:
        self.config_path = Path(config).expanduser()
        self.coordinates = read_config(self.config_path)
        self.sdk = sdk or load_sdk()
        self.auth = auth if auth is not None else make_auth(self.sdk)
        try:
            self.ws = self.sdk.Workspace.from_config(path=str(self.config_path), auth=self.auth)
        except Exception as exc:
            from opml.backends.azure.errors import translate

            raise translate(exc) from exc
        folder = state_dir or get_settings().workspace / "azure" / self.coordinates["workspace_name"]
        self.state = AzureState(folder)

    # -- workspace -----------------------------------------------------------------

    def describe(self) -> WorkspaceInfo:
        c = self.coordinates
        counts = {
            "datasets": len(self.sdk.Dataset.get_all(self.ws)),
            "computes": len(self.sdk.ComputeTarget.list(self.ws)),
            "models": len(self.sdk.Model.list(self.ws, latest=True)),
            "model versions": len(self.sdk.Model.list(self.ws)),
            "services": len(self.sdk.Webservice.list(self.ws)),
            "pipelines": len(self.state.pipelines()),
        }
        location = f"{c['workspace_name']} (resource group {c['resource_group']}, subscription {c['subscription_id']})"
        return WorkspaceInfo(backend=self.kind, location=location, counts=counts)

    def agent_status(self) -> AgentStatus:
        return AgentStatus(
            running=True,
            pid=None,
            started_at=None,
            heartbeat_at=None,
            detail=f"runs execute in Azure ML workspace {self.coordinates['workspace_name']} "
            f"({auth_kind(self.sdk, self.auth)})",
        )

    # -- datasets ------------------------------------------------------------------

    def _to_dataset(self, tabular: Any) -> Dataset:
        tags = dict(tabular.tags or {})
        meta = self.state.dataset_meta(tabular.name, int(tabular.version))
        columns = tuple(meta.get("columns") or ())
        return Dataset(
            name=tabular.name,
            version=int(tabular.version),
            description=tabular.description or "",
            tags={k: v for k, v in tags.items() if not k.startswith("opml_")},
            sha256=tags.get("opml_sha256", ""),
            rows=int(tags.get("opml_rows", meta.get("rows", 0))),
            columns=columns,
            source=tags.get("opml_source", "Azure ML"),
            size_bytes=int(tags.get("opml_size_bytes", 0)),
            created_at=parse_time(tags.get("opml_created_at")) or EPOCH,
            delimiter=tags.get("opml_delimiter", ","),
        )

    def _tabular(self, name: str, version: int | None = None) -> Any:
        check_name(name, "dataset")
        try:
            return self.sdk.Dataset.get_by_name(self.ws, name, version="latest" if version is None else version)
        except Exception as exc:
            raise NotFound(f"no dataset {name}" + (f" version {version}" if version else "") + f" ({exc})") from None

    def register_dataset(
        self,
        *,
        name: str,
        source: DatasetSource,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        filename: str | None = None,
        lineage: str | None = None,
    ) -> Dataset:
        from opml.data.csv_format import parse_csv
        from opml.data.profile import profile_frame
        from opml.data.sources import fetch_source, is_url

        name = check_name(name, "dataset")
        clean_tags = check_tags(tags)
        lineage = check_lineage(lineage)
        settings = get_settings()
        content, label = fetch_source(
            source, max_bytes=settings.max_dataset_mb << 20, timeout=settings.url_timeout_seconds
        )
        frame, fmt = parse_csv(content)
        sha256 = hashlib.sha256(content).hexdigest()
        existing = {d.name: d for d in self.list_datasets()}.get(name)
        if existing is not None and existing.sha256 == sha256:
            return existing
        if is_url(source):
            tabular = self.sdk.Dataset.Tabular.from_delimited_files(path=str(source), separator=fmt.delimiter)
        else:
            datastore = self.sdk.Datastore.get_default(self.ws)
            target = f"opml/datasets/{name}/{sha256[:16]}"
            with tempfile.TemporaryDirectory() as folder:
                local = Path(folder) / (Path(filename or str(label)).name or "data.csv")
                local.write_bytes(content)
                datastore.upload_files(files=[str(local)], target_path=target, overwrite=True, show_progress=False)
                path = [(datastore, f"{target}/{local.name}")]
            tabular = self.sdk.Dataset.Tabular.from_delimited_files(path=path, separator=fmt.delimiter)
        source_label = (lineage or f"upload:{filename}") if isinstance(source, bytes) else label
        bookkeeping = {
            "opml_sha256": sha256,
            "opml_rows": str(len(frame)),
            "opml_source": source_label,
            "opml_size_bytes": str(len(content)),
            "opml_created_at": datetime.now(UTC).isoformat(),
            "opml_delimiter": fmt.delimiter,
        }
        registered = tabular.register(
            workspace=self.ws,
            name=name,
            description=description,
            tags={**clean_tags, **bookkeeping},
            create_new_version=True,
        )
        version = int(registered.version)
        self.state.save_dataset_meta(name, version, {"columns": list(frame.columns), "rows": len(frame)})
        self.state.save_profile(name, version, profile_frame(frame))
        return self._to_dataset(registered)

    def list_datasets(self) -> list[Dataset]:
        datasets = [self._to_dataset(d) for d in self.sdk.Dataset.get_all(self.ws).values()]
        return sorted(datasets, key=lambda d: d.created_at, reverse=True)

    def list_dataset_versions(self, name: str) -> list[Dataset]:
        latest = self._tabular(name)
        return [self._to_dataset(self._tabular(name, v)) for v in range(int(latest.version), 0, -1)]

    def get_dataset(self, name: str, version: int | None = None) -> Dataset:
        dataset = self._to_dataset(self._tabular(name, version))
        if not dataset.columns:  # registered outside opml: read the header once
            header = self.load_dataset(name, dataset.version, nrows=1)
            self.state.save_dataset_meta(name, dataset.version, {"columns": list(header.columns)})
            dataset = dataclasses.replace(dataset, columns=tuple(header.columns))
        return dataset

    def load_dataset(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        tabular = self._tabular(name, version)
        if nrows is not None:
            tabular = tabular.take(nrows)
        return tabular.to_pandas_dataframe()

    def get_dataset_profile(self, name: str, version: int | None = None) -> DatasetProfile:
        from opml.data.profile import profile_frame

        dataset = self._to_dataset(self._tabular(name, version))
        profile = self.state.profile(dataset.name, dataset.version)
        if profile is None:  # registered outside opml: profile a sample, once
            profile = profile_frame(self.load_dataset(name, dataset.version, nrows=PROFILE_SAMPLE_ROWS))
            self.state.save_profile(dataset.name, dataset.version, profile)
        return profile

    # -- computes ------------------------------------------------------------------

    def _compute_target(self, name: str) -> Any:
        for target in self.sdk.ComputeTarget.list(self.ws):
            if target.name == name:
                return target
        raise NotFound(f"no compute named {name!r} in workspace {self.coordinates['workspace_name']}")

    def create_compute(self, *, name: str, max_nodes: int, vm_size: str | None = None) -> Compute:

        if not isinstance(name, str) or not _COMPUTE_NAME.match(name):
            raise InvalidInput(
                f"compute name {name!r}: 2-16 letters, digits and '-', starting with a letter (Azure's rule)"
            )
        max_nodes = check_max_nodes(max_nodes)
        if any(target.name == name for target in self.sdk.ComputeTarget.list(self.ws)):
            raise AlreadyExists(f"compute {name} already exists")
        provisioning = self.sdk.AmlCompute.provisioning_configuration(
            vm_size=vm_size or DEFAULT_VM_SIZE, min_nodes=0, max_nodes=max_nodes
        )
        target = self.sdk.ComputeTarget.create(self.ws, name, provisioning)
        return to_compute(target)  # provisioning goes on in Azure: state "Creating" until it is done

    def list_computes(self) -> list[Compute]:
        return [to_compute(target) for target in self.sdk.ComputeTarget.list(self.ws)]

    def get_compute(self, name: str) -> Compute:
        return to_compute(self._compute_target(name))

    def delete_compute(self, name: str) -> None:
        self._compute_target(name).delete()

    # -- runs ----------------------------------------------------------------------

    def _run(self, run_id: str) -> Any:
        if not isinstance(run_id, str) or not run_id.strip():
            raise NotFound("no run with an empty id")
        try:
            return self.sdk.Run.get(self.ws, run_id)
        except Exception as exc:
            raise NotFound(f"no run {run_id} ({exc})") from None

    def _automl_progress(self, run: Any, details: dict[str, Any] | None = None) -> dict[str, Any]:
        params = json.loads((run.tags or {}).get("opml_params", "{}"))
        metric = params.get("primary_metric", "accuracy")
        children = run.get_metrics(recursive=True)
        best_id, best = None, None
        for child_id, metrics in children.items():
            value = _last_scalar(metrics.get(metric)) if child_id != run.id else None
            if value is not None and (best is None or value > best):
                best_id, best = child_id, value
        details = details if details is not None else run.get_details()
        started = parse_time(details.get("startTimeUtc"))
        ended = parse_time(details.get("endTimeUtc")) or datetime.now(UTC)
        return {
            "phase": run.status,
            "iterations_done": sum(1 for child_id in children if child_id != run.id),
            "primary_metric": metric,
            "best_metric": best,
            "best_child_id": best_id,
            "elapsed_seconds": round((ended - started).total_seconds(), 1) if started else 0,
            "timeout_seconds": float(params.get("experiment_timeout_minutes", 0)) * 60 or None,
        }

    def _to_run(self, run: Any) -> Run:
        details = run.get_details()  # one call per run: it is a request to Azure
        is_automl_parent = run.type == "automl" and run.parent is None
        progress = self._automl_progress(run, details) if is_automl_parent else None
        return to_run(run, details=details, progress=progress)

    def submit_run(
        self,
        *,
        experiment: str,
        run_type: str,
        compute: str,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        display_name: str = "",
    ) -> Run:
        from opml.runtypes import get_run_type

        check_name(experiment, "experiment")
        clean_tags = check_tags(tags)
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput("run parameters must be a mapping")
        if run_type == "pipeline":
            raise InvalidInput("pipeline runs are started with run_pipeline() or a published pipeline")
        clean = get_run_type(run_type).validate(dict(params or {}), self)
        target = self._compute_target(compute)
        if run_type == "automl":
            config = self._automl_config(clean, target)
        else:
            config = self.sdk.ScriptRunConfig(
                source_directory=clean.get("cwd", "."),
                command=clean["command"],
                compute_target=target,
                environment=self._environment(),
            )
        run_tags = {**clean_tags, "opml_params": json.dumps(clean)}
        run = self.sdk.Experiment(self.ws, experiment).submit(config, tags=run_tags)
        if display_name:
            run.display_name = display_name
        return self._to_run(run)

    def _environment(self) -> Any:
        return self.sdk.Environment.get(self.ws, get_settings().azure_environment)

    def _automl_config(self, params: dict[str, Any], compute_target: Any, training_data: Any = None) -> Any:
        """AutoMLConfig with the same settings as a local run (``opml.automl.settings``)."""
        if training_data is None:
            training_data = self._tabular(params["dataset"], params.get("dataset_version"))
        arguments: dict[str, Any] = {
            "task": params["task"],
            "primary_metric": params["primary_metric"],
            "compute_target": compute_target,
            "training_data": training_data,
            "label_column_name": params["label_column"],
            "experiment_timeout_hours": max(0.25, params["experiment_timeout_minutes"] / 60),
            "iterations": params["max_iterations"],
            "max_concurrent_iterations": params["max_concurrent_iterations"],
            "enable_early_stopping": params["enable_early_stopping"],
            "featurization": params["featurization"],
            "enable_voting_ensemble": params["enable_voting_ensemble"],
            "enable_stack_ensemble": params["enable_stack_ensemble"],
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

    def get_run(self, run_id: str) -> Run:
        return self._to_run(self._run(run_id))

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = None,
        top_level_only: bool = False,
        limit: int = 200,
    ) -> list[Run]:
        if parent_id is not None:
            runs = list(self._run(parent_id).get_children())
        else:
            names = [experiment] if experiment else [e.name for e in self.sdk.Experiment.list(self.ws)]
            runs = []
            for name in names:
                runs.extend(self.sdk.Experiment(self.ws, name).get_runs(include_children=not top_level_only))
        converted = [self._to_run(run) for run in runs]
        if experiment and parent_id is not None:
            converted = [run for run in converted if run.experiment == experiment]
        converted.sort(key=lambda run: run.created_at, reverse=True)
        return converted[:limit]

    def cancel_run(self, run_id: str) -> Run:
        run = self._run(run_id)
        if opml_status(run.status) not in TERMINAL_STATUSES:
            run.cancel()
        return self._to_run(run)

    def read_run_log(self, run_id: str, *, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        logs = self._run(run_id).get_details_with_logs().get("logFiles") or {}
        text = "".join(f"===== {name} =====\n{content}\n" for name, content in sorted(logs.items()))
        data = text.encode()
        chunk = data[offset : offset + max_bytes]
        return chunk.decode(errors="replace"), offset + len(chunk)

    def get_run_metrics(self, run_id: str) -> dict[str, float]:
        metrics = self._run(run_id).get_metrics()
        return {name: value for name, raw in metrics.items() if (value := _last_scalar(raw)) is not None}

    def get_run_output(self, run_id: str, name: str) -> Any:
        run = self._run(run_id)
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            raise InvalidInput(f"not a JSON output name: {name!r}")
        if f"outputs/{name}" not in run.get_file_names():
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            run.download_file(f"outputs/{name}", output_file_path=str(path))
            return json.loads(path.read_text())

    # -- models --------------------------------------------------------------------

    def _best_child(self, parent: Any) -> Any:
        progress = self._automl_progress(parent)
        if not progress["best_child_id"]:
            raise Conflict(f"AutoML run {parent.id} has no completed model yet")
        return self._run(progress["best_child_id"])

    def register_model(
        self, *, name: str, run_id: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Model:
        name = check_name(name, "model")
        clean_tags = check_tags(tags)
        run = self._run(run_id)
        if run.type == "automl" and run.parent is None:
            run = self._best_child(run)
        if run.status != COMPLETED:
            raise Conflict(f"run {run.id} is {run.status}: only a completed run has a model to register")
        if MODEL_FILE not in run.get_file_names():
            raise Conflict(f"run {run.id} has no {MODEL_FILE} to register")
        parent = run.parent
        parent_params = json.loads(((parent.tags if parent is not None else run.tags) or {}).get("opml_params", "{}"))
        metrics = {k: v for k, raw in run.get_metrics().items() if (v := _last_scalar(raw)) is not None}
        dataset = parent_params.get("dataset")
        properties = {
            "opml_algorithm": (run.properties or {}).get("run_algorithm", ""),
            "opml_primary_metric": parent_params.get("primary_metric", ""),
            "opml_metrics": json.dumps(metrics),
            "opml_dataset": f"{dataset}:{parent_params.get('dataset_version')}" if dataset else "",
        }
        model = run.register_model(
            model_name=name, model_path=MODEL_FILE, tags=clean_tags, properties=properties, description=description
        )
        return self._with_aliases(to_model(model))

    def _with_aliases(self, model: Model) -> Model:
        held = tuple(sorted(a for a, v in self.state.model_aliases(model.name).items() if v == model.version))
        return dataclasses.replace(model, aliases=held)

    def list_models(self, name: str | None = None) -> list[Model]:
        models = [self._with_aliases(to_model(m)) for m in self.sdk.Model.list(self.ws, name=name)]
        return sorted(models, key=lambda m: (m.created_at, m.version), reverse=True)

    def _model(self, name: str, version: int | None = None) -> Any:
        try:
            return self.sdk.Model(self.ws, name=name, version=version)
        except Exception as exc:
            raise NotFound(f"no model {name}" + (f" version {version}" if version else "") + f" ({exc})") from None

    def get_model(self, name: str, version: int | None = None) -> Model:
        return self._with_aliases(to_model(self._model(name, version)))

    def load_model(self, name: str, version: int | None = None) -> Any:
        raise BackendUnavailable(
            "models trained by Azure AutoML load only with azureml-train-automl-runtime (not installed with opml): "
            "score them through their deployed service, or download the file"
        )

    def download_model(self, name: str, version: int | None = None) -> Path:
        model = self._model(name, version)
        target = self.state.folder / "models" / f"{model.name}-{model.version}"
        target.mkdir(parents=True, exist_ok=True)
        return Path(model.download(target_dir=str(target), exist_ok=True))

    def _delete_model(self, name: str, version: int) -> None:
        model = self._model(name, version)
        users = [
            s.name
            for s in self.sdk.Webservice.list(self.ws, model_name=name)
            if any(m.name == name and int(m.version) == int(version) for m in (s.models or []))
        ]
        if users:
            raise Conflict(f"model {name}:{version} is used by service(s) {', '.join(users)}: delete them first")
        model.delete()

    # Azure ML (SDK v1) has no model aliases: opml keeps them, with their history, in the state folder.
    def _model_aliases(self, name: str) -> dict[str, int]:
        return self.state.model_aliases(name)

    def _move_model_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        self.state.move_model_alias(name, alias, version, actor)

    def _alias_history(self, name: str) -> list[AliasChange]:
        return self.state.alias_history(name)

    # -- services ------------------------------------------------------------------

    def _webservice(self, name: str) -> Any:
        for service in self.sdk.Webservice.list(self.ws):
            if service.name == name:
                return service
        raise NotFound(f"no service named {name!r}")

    def deploy_model(
        self,
        *,
        name: str,
        model_name: str,
        model_version: int | None = None,
        auth_enabled: bool = True,
        app_insights_enabled: bool = False,
        port: int | None = None,
        description: str = "",
    ) -> Service:
        if not isinstance(name, str) or not _SERVICE_NAME.match(name):
            raise InvalidInput(
                f"service name {name!r}: 3-32 lowercase letters, digits and '-', starting with a letter (Azure's rule)"
            )
        if port is not None:
            raise InvalidInput("port is for local services; Azure chooses the address of an ACI service")
        if any(service.name == name for service in self.sdk.Webservice.list(self.ws)):
            raise AlreadyExists(f"service {name} already exists")
        model = self._model(model_name, model_version)
        source = self._run(model.run_id)
        if SCORING_FILE not in source.get_file_names():
            raise Conflict(f"run {source.id} has no {SCORING_FILE}: only AutoML models can be deployed by opml")
        folder = self.state.folder / "deployments" / name
        folder.mkdir(parents=True, exist_ok=True)
        entry_script = folder / "score.py"
        source.download_file(SCORING_FILE, output_file_path=str(entry_script))
        inference = self.sdk.InferenceConfig(entry_script=str(entry_script), environment=source.get_environment())
        deployment = self.sdk.AciWebservice.deploy_configuration(
            cpu_cores=1,
            memory_gb=2,
            auth_enabled=bool(auth_enabled),
            enable_app_insights=bool(app_insights_enabled),
            description=description,
        )
        service = self.sdk.Model.deploy(
            self.ws, name, [model], inference_config=inference, deployment_config=deployment, overwrite=False
        )
        return to_service(service)

    def list_services(self) -> list[Service]:
        services = [to_service(s) for s in self.sdk.Webservice.list(self.ws)]
        return sorted(services, key=lambda s: s.created_at, reverse=True)

    def get_service(self, name: str) -> Service:
        return to_service(self._webservice(name))

    def delete_service(self, name: str) -> None:
        self._webservice(name).delete()

    def get_service_keys(self, name: str) -> ServiceKeys:
        primary, secondary = self._webservice(name).get_keys()
        return ServiceKeys(primary=primary, secondary=secondary)

    def regenerate_service_key(self, name: str, key: str) -> ServiceKeys:
        if key not in ("Primary", "Secondary"):
            raise InvalidInput(f"key must be 'Primary' or 'Secondary', got {key!r}")
        service = self._webservice(name)
        service.regen_key(key)
        primary, secondary = service.get_keys()
        return ServiceKeys(primary=primary, secondary=secondary)

    def update_service(
        self, name: str, *, app_insights_enabled: bool | None = None, auth_enabled: bool | None = None
    ) -> Service:
        service = self._webservice(name)
        changes = {}
        if app_insights_enabled is not None:
            changes["enable_app_insights"] = bool(app_insights_enabled)
        if auth_enabled is not None:
            changes["auth_enabled"] = bool(auth_enabled)
        if changes:
            service.update(**changes)
        return to_service(service)

    def get_service_logs(self, name: str, *, tail: int = 200) -> str:
        return self._webservice(name).get_logs(num_lines=tail)

    def get_service_telemetry(self, name: str, *, since: float | None = None) -> list[dict[str, Any]]:
        self._webservice(name)
        raise BackendUnavailable(
            "an Azure service sends its telemetry to the workspace's Application Insights: open it in the Azure portal"
        )

    # -- pipelines -----------------------------------------------------------------

    def create_pipeline(
        self,
        *,
        name: str,
        steps: list[dict[str, Any]],
        parameters: Mapping[str, Any] | None = None,
        compute: str = "cpu-cluster",
        description: str = "",
    ) -> Pipeline:
        from opml.pipelines.spec import check_spec

        name = check_name(name, "pipeline")
        clean_steps, clean_parameters = check_spec(steps, dict(parameters) if parameters is not None else None)
        if any(step.get("gate_alias") or step.get("set_alias") for step in clean_steps):
            raise InvalidInput(
                "quality gates and aliases in a register step need the local backend: Azure ML (SDK v1) keeps no "
                "model aliases that a step running in Azure could read; move aliases from the Models page instead"
            )
        self._compute_target(compute)
        pipeline = Pipeline(
            id=uuid.uuid4().hex,
            name=name,
            description=description,
            steps=clean_steps,
            parameters=clean_parameters,
            created_at=datetime.now(UTC),
            compute=compute,
        )
        self.state.save_pipeline(pipeline)
        return pipeline

    def list_pipelines(self) -> list[Pipeline]:
        return sorted(self.state.pipelines(), key=lambda p: p.created_at, reverse=True)

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        return self.state.pipeline(pipeline_id)

    def _azure_pipeline(self, pipeline: Pipeline, values: dict[str, Any]) -> Any:
        from opml.pipelines.spec import resolve

        steps = resolve(pipeline.steps, {**pipeline.parameters, **values})
        azure_steps = build_steps(self, steps, self._compute_target(pipeline.compute))
        return self.sdk.Pipeline(workspace=self.ws, steps=azure_steps, description=pipeline.description or None)

    def run_pipeline(
        self, pipeline_id: str, *, experiment: str, parameters: Mapping[str, Any] | None = None, trigger: str = "UI"
    ) -> Run:
        from opml.pipelines.spec import check_assignments

        pipeline = self.get_pipeline(pipeline_id)
        check_name(experiment, "experiment")
        values = check_assignments(pipeline.parameters, dict(parameters) if parameters is not None else None)
        tags = {
            "opml_pipeline_id": pipeline.id,
            "opml_trigger": trigger,
            "opml_params": json.dumps({"pipeline_id": pipeline.id, "parameters": values}),
        }
        run = self.sdk.Experiment(self.ws, experiment).submit(self._azure_pipeline(pipeline, values), tags=tags)
        return self._to_run(run)

    def publish_pipeline(
        self, pipeline_id: str, *, name: str, description: str = "", version: str = "1.0"
    ) -> PublishedPipeline:
        pipeline = self.get_pipeline(pipeline_id)
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise InvalidInput("a published pipeline needs a name (at most 128 characters)")
        published = self._azure_pipeline(pipeline, {}).publish(
            name=name.strip(), description=description, version=str(version)
        )
        created = datetime.now(UTC)
        self.state.save_published(
            published.id, pipeline_id=pipeline.id, created_at=created, parameters=pipeline.parameters
        )
        return to_published(published, pipeline_id=pipeline.id, created_at=created)

    def _published(self, published_id: str) -> Any:
        try:
            return self.sdk.PublishedPipeline.get(self.ws, published_id)
        except Exception as exc:
            raise NotFound(f"no published pipeline {published_id} ({exc})") from None

    def _to_published(self, published: Any) -> PublishedPipeline:
        known = self.state.published(published.id)
        return to_published(
            published, pipeline_id=known.get("pipeline_id", ""), created_at=parse_time(known.get("created_at"))
        )

    def list_published_pipelines(self) -> list[PublishedPipeline]:
        found = [self._to_published(p) for p in self.sdk.PublishedPipeline.list(self.ws, active_only=False)]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def get_published_pipeline(self, published_id: str) -> PublishedPipeline:
        return self._to_published(self._published(published_id))

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        published = self._published(published_id)
        if enabled:
            published.enable()
        else:
            published.disable()
        return self._to_published(published)

    def trigger_published_pipeline(
        self,
        published_id: str,
        *,
        experiment: str,
        parameters: Mapping[str, Any] | None = None,
        trigger: str = "UI",
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        published = self._published(published_id)
        check_name(experiment, "experiment")
        if published.status != ACTIVE:
            raise Conflict(f"published pipeline {published_id} is {published.status}: enable it first")
        self._check_published_values(published_id, parameters)
        run = published.submit(self.ws, experiment)
        return self._to_run(run)

    def _check_published_values(self, published_id: str, parameters: Mapping[str, Any] | None) -> None:
        """Azure runs a published pipeline with the values it was published with (SDK v1 AutoMLStep settings
        cannot be PipelineParameters): assignments are accepted only when they repeat those values."""
        published_values = self.state.published(published_id).get("parameters", {})
        changed = sorted(
            name
            for name, value in (parameters or {}).items()
            if name not in published_values or not _same_value(value, published_values[name])
        )
        if changed:
            raise InvalidInput(
                f"on Azure ML a published pipeline runs with the parameter values it was published with "
                f"({', '.join(changed)} differ); publish a new version to change them"
            )

    def list_pipeline_runs(
        self, *, pipeline_id: str | None = None, published_pipeline_id: str | None = None
    ) -> list[Run]:
        runs = []
        for experiment in self.sdk.Experiment.list(self.ws):
            for run in self.sdk.Experiment(self.ws, experiment.name).get_runs(type="azureml.PipelineRun"):
                tags, properties = run.tags or {}, run.properties or {}
                if pipeline_id and tags.get("opml_pipeline_id") != pipeline_id:
                    continue
                if published_pipeline_id and properties.get("azureml.pipelineid") != published_pipeline_id:
                    continue
                runs.append(self._to_run(run))
        return sorted(runs, key=lambda run: run.created_at, reverse=True)

    # -- schedules -----------------------------------------------------------------

    def _to_schedule(self, schedule: Any) -> Schedule:
        known = self.state.schedule(schedule.id)
        return Schedule(
            id=schedule.id,
            name=schedule.name,
            published_pipeline_id=schedule.pipeline_id,
            experiment=known.get("experiment", ""),
            recurrence=known.get("recurrence", ""),
            parameters={},
            allow_overlap=True,  # Azure starts every occurrence, whether or not the previous run ended
            status=ACTIVE if schedule.status == ACTIVE else "Paused",
            next_run_at=None,
            last_run_id=None,
            created_at=parse_time(known.get("created_at")) or EPOCH,
        )

    def _schedule(self, schedule_id: str) -> Any:
        for schedule in self.sdk.Schedule.list(self.ws, active_only=False):
            if schedule.id == schedule_id and not self.state.schedule(schedule.id).get("deleted"):
                return schedule
        raise NotFound(f"no schedule {schedule_id}")

    def create_schedule(
        self,
        published_id: str,
        *,
        name: str,
        experiment: str,
        interval_minutes: float | None = None,
        cron: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        allow_overlap: bool = False,
    ) -> Schedule:
        name = check_name(name, "schedule")
        check_name(experiment, "experiment")
        self._published(published_id)
        self._check_published_values(published_id, parameters)
        recurrence, text = recurrence_from(self.sdk, interval_minutes, cron)
        schedule = self.sdk.Schedule.create(
            self.ws, name=name, pipeline_id=published_id, experiment_name=experiment, recurrence=recurrence
        )
        self.state.save_schedule(
            schedule.id, experiment=experiment, recurrence=text, created_at=datetime.now(UTC).isoformat()
        )
        return self._to_schedule(schedule)

    def list_schedules(self) -> list[Schedule]:
        found = [
            self._to_schedule(s)
            for s in self.sdk.Schedule.list(self.ws, active_only=False)
            if not self.state.schedule(s.id).get("deleted")
        ]
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def set_schedule_paused(self, schedule_id: str, paused: bool) -> Schedule:
        schedule = self._schedule(schedule_id)
        if paused:
            schedule.disable()
        else:
            schedule.enable()
        return self._to_schedule(schedule)

    def delete_schedule(self, schedule_id: str) -> None:
        # SDK v1 cannot delete a schedule: disable it for good and stop listing it.
        schedule = self._schedule(schedule_id)
        if schedule.status == ACTIVE:
            schedule.disable()
        self.state.save_schedule(schedule_id, deleted=True)

    # -- tokens --------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        raise InvalidInput(
            "workspace tokens belong to the local backend; on Azure ML a REST client signs in with Azure AD "
            "(a service principal, az login, or the header auth_header() gives)"
        )

    def list_tokens(self) -> list[Token]:
        return []

    def revoke_token(self, name: str) -> None:
        raise NotFound(f"no token {name!r}: Azure ML uses Azure AD sign-in instead of workspace tokens")

    def auth_header(self) -> dict[str, str]:
        return dict(self.auth.get_authentication_header())
