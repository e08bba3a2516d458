"""``LocalBackend``: the Backend interface over a workspace folder (SQLite store + artifacts)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.audit import AuditEvent
from opml.backends.base import Backend, DatasetSource
from opml.backends.local.agents import AgentRepository
from opml.backends.local.alerts import AlertRepository
from opml.backends.local.audit import AuditRepository
from opml.backends.local.computes import ComputeRepository
from opml.backends.local.datasets import DatasetRepository
from opml.backends.local.deployments import DeploymentRepository
from opml.backends.local.labels import LabelRepository
from opml.backends.local.layout import WorkspaceLayout
from opml.backends.local.models import ModelRepository
from opml.backends.local.pipelines import PipelineRepository
from opml.backends.local.runs import RunRepository
from opml.backends.local.schedules import ScheduleRepository
from opml.backends.local.services import ServiceRepository
from opml.backends.local.store import Store
from opml.backends.local.tokens import TokenRepository
from opml.entities import (
    ACTIVE,
    HEALTHY,
    SERVICE_FAILED,
    AgentStatus,
    Alert,
    AlertRule,
    AliasChange,
    Compute,
    Dataset,
    DatasetProfile,
    Deployment,
    DeploymentStats,
    EndpointComparison,
    LiveAccuracy,
    Model,
    Pipeline,
    PublishedPipeline,
    Run,
    RunPage,
    Schedule,
    Service,
    ServiceKeys,
    TelemetrySummary,
    Token,
    WorkspaceInfo,
)
from opml.errors import Conflict, InvalidInput, NotFound, SchemaChange
from opml.files import tail_lines
from opml.locks import AgentLock
from opml.monitoring.accuracy import cross_validated, cross_validated_errors
from opml.monitoring.collected import COLLECTED
from opml.rollout import schema_differences
from opml.runsearch import RunQuery
from opml.runtypes import get_run_type
from opml.settings import default_workspace, get_settings

BASELINE_FILE = "baseline.json"  # a model version's training baseline for drift, beside its files

if TYPE_CHECKING:
    import pandas as pd


class LocalBackend(Backend):
    kind = "local"

    def __init__(self, path: str | os.PathLike | None = None):
        self.layout = WorkspaceLayout(Path(path or default_workspace()).expanduser().resolve())
        self.layout.create()
        self.store = Store(self.layout.db)
        self.datasets = DatasetRepository(self.store, self.layout)
        self.computes = ComputeRepository(self.store)
        self.runs = RunRepository(self.store)
        self.models = ModelRepository(self.store, self.layout)
        self.services = ServiceRepository(self.store, self.layout)
        self.deployments = DeploymentRepository(self.store, self.services)
        self.labels = LabelRepository(self.store)
        self.pipelines = PipelineRepository(self.store)
        self.tokens = TokenRepository(self.store, self.layout)
        self.schedules = ScheduleRepository(self.store)
        self.agents = AgentRepository(self.store)
        self.audit = AuditRepository(self.store)
        self.alerts = AlertRepository(self.store)
        self.computes.ensure_default()

    @property
    def path(self) -> Path:
        return self.layout.root

    # -- workspace -----------------------------------------------------------------

    def describe(self) -> WorkspaceInfo:
        return WorkspaceInfo(
            backend=self.kind,
            location=str(self.path),
            counts={
                "datasets": self.datasets.count(),
                "runs": self.runs.count(),
                "computes": self.computes.count(),
                "models": self.models.count(),
                "model versions": self.models.count_versions(),
                "services": self.services.count(),
                "pipelines": self.pipelines.count(),
            },
        )

    def agent_status(self) -> AgentStatus:
        pid = AgentLock(self.layout.agent_lock).holder_pid()
        started, heartbeat = self.agents.last_seen()
        if pid is None:
            return AgentStatus(False, None, started, heartbeat, "no agent is running for this workspace")
        return AgentStatus(True, pid, started, heartbeat, f"agent running (pid {pid})")

    # -- datasets ------------------------------------------------------------------

    def _register_dataset(
        self,
        *,
        name: str,
        source: DatasetSource,
        description: str,
        tags: dict[str, str],
        filename: str | None,
        lineage: str | None,
    ) -> Dataset:
        return self.datasets.register(
            name=name, source=source, description=description, tags=tags, filename=filename, lineage=lineage
        )

    def list_datasets(self) -> list[Dataset]:
        return self.datasets.list_latest()

    def list_dataset_versions(self, name: str) -> list[Dataset]:
        return self.datasets.list_versions(name)

    def get_dataset(self, name: str, version: int | None = None) -> Dataset:
        return self.datasets.get(name, version)

    def load_dataset(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        return self.datasets.load(name, version, nrows=nrows)

    def get_dataset_profile(self, name: str, version: int | None = None) -> DatasetProfile:
        return self.datasets.profile(name, version)

    # -- computes ------------------------------------------------------------------

    def _create_compute(self, *, name: str, max_nodes: int, vm_size: str | None, min_nodes: int) -> Compute:
        if vm_size:
            raise InvalidInput("vm_size applies to Azure ML computes; a local compute runs on this machine")
        if min_nodes:
            raise InvalidInput("min_nodes applies to Azure ML clusters; a local compute has no nodes to keep running")
        return self.computes.create(name=name, max_nodes=max_nodes)

    def list_computes(self) -> list[Compute]:
        return self.computes.list()

    def get_compute(self, name: str) -> Compute:
        return self.computes.get(name)

    def delete_compute(self, name: str) -> None:
        self.computes.delete(name)

    # -- runs ----------------------------------------------------------------------

    def _submit_run(
        self,
        *,
        experiment: str,
        run_type: str,
        compute: str,
        params: dict[str, Any],
        tags: dict[str, str],
        display_name: str,
    ) -> Run:
        return self.runs.insert(
            experiment=experiment,
            run_type=run_type,
            compute=compute,
            params=params,
            tags=tags,
            display_name=display_name,
        )

    def get_run(self, run_id: str) -> Run:
        return self.runs.get(run_id)

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = None,
        top_level_only: bool = False,
        limit: int = 200,
    ) -> list[Run]:
        return self.runs.list(experiment=experiment, parent_id=parent_id, top_level_only=top_level_only, limit=limit)

    def _search_runs(self, query: RunQuery) -> RunPage:
        runs, total = self.runs.search(query)
        return RunPage(runs=runs, total=total, offset=query.offset)

    def list_automl_runs(self, *, limit: int = 500) -> list[Run]:
        return self.runs.automl(limit=limit)

    def cancel_run(self, run_id: str) -> Run:
        return self.runs.request_cancel(run_id)

    def read_run_log(self, run_id: str, *, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        self.runs.get(run_id)
        log = self.layout.run_log(run_id)
        if not log.exists():
            return "", 0
        with log.open("rb") as handle:
            handle.seek(max(0, offset))
            data = handle.read(max_bytes)
        return data.decode("utf-8", errors="replace"), max(0, offset) + len(data)

    def get_run_metrics(self, run_id: str) -> dict[str, float]:
        self.runs.get(run_id)
        return self.runs.metrics(run_id)

    def _get_run_output(self, run_id: str, name: str) -> Any:
        self.runs.get(run_id)
        path = self.layout.run_outputs(run_id) / name
        return json.loads(path.read_text()) if path.exists() else None

    # -- models --------------------------------------------------------------------

    def _register_model(self, *, name: str, run_id: str, description: str, tags: dict[str, str]) -> Model:
        run = self.runs.get(run_id)
        child_id, folder = get_run_type(run.run_type).model_files(self, run_id)
        return self.models.register(name=name, source=folder, run_id=child_id, description=description, tags=tags)

    def list_models(self, name: str | None = None) -> list[Model]:
        return self.models.list(name)

    def get_model(self, name: str, version: int | None = None) -> Model:
        return self.models.get(name, version)

    def load_model(self, name: str, version: int | None = None) -> Any:
        return self.models.load(name, version)

    def download_model(self, name: str, version: int | None = None) -> Path:
        return self.models.path(name, version)

    def _delete_model(self, name: str, version: int) -> None:
        self.models.delete(name, version, in_use_by=self.services.using_model(name, version))

    def _model_aliases(self, name: str) -> dict[str, int]:
        return self.models.aliases(name)

    def _move_model_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        self.models.move_alias(name, alias, version, actor)

    def _alias_history(self, name: str) -> list[AliasChange]:
        return self.models.alias_history(name)

    # -- services ------------------------------------------------------------------

    def _deploy_model(
        self,
        *,
        name: str,
        model_name: str,
        model_version: int | None,
        auth_enabled: bool,
        app_insights_enabled: bool,
        port: int | None,
        description: str,
        data_collection: bool,
        collection_sampling_rate: float,
        collection_retention_days: int,
        deployment_name: str,
    ) -> Service:
        model = self.models.get(model_name, model_version)
        return self.services.create(
            deployment=deployment_name,
            name=name,
            model_name=model.name,
            model_version=model.version,
            auth_enabled=auth_enabled,
            app_insights_enabled=app_insights_enabled,
            port=port,
            host=get_settings().bind_address,
            description=description,
            collection={
                "data_collection": data_collection,
                "collection_sampling_rate": collection_sampling_rate,
                "collection_retention_days": collection_retention_days,
            },
        )

    def list_services(self) -> list[Service]:
        return self.services.list()

    def get_service(self, name: str) -> Service:
        return self.services.get(name)

    def delete_service(self, name: str) -> None:
        self.services.mark_deleted(name)

    def get_service_keys(self, name: str) -> ServiceKeys:
        return self.services.keys(name)

    def _regenerate_service_key(self, name: str, key: str) -> ServiceKeys:
        return self.services.regenerate_key(name, key)

    def _update_service(
        self,
        name: str,
        *,
        app_insights_enabled: bool | None,
        auth_enabled: bool | None,
        data_collection: bool | None,
        collection_sampling_rate: float | None,
        collection_retention_days: int | None,
    ) -> Service:
        return self.services.update(
            name,
            app_insights_enabled=app_insights_enabled,
            auth_enabled=auth_enabled,
            collection={
                "data_collection": data_collection,
                "collection_sampling_rate": collection_sampling_rate,
                "collection_retention_days": collection_retention_days,
            },
        )

    def restart_service(self, name: str) -> Service:
        return self.services.restart(name)

    def _get_service_logs(self, name: str, *, tail: int) -> str:
        self.services.row(name)
        path = self.layout.service_log(name)
        wanted = tail
        lines = tail_lines(path, wanted)
        if len(lines) < wanted:  # the log was rotated not long ago: the rest is in the previous one
            lines = tail_lines(path.with_name(path.name + ".1"), wanted - len(lines)) + lines
        return "\n".join(lines)

    def _get_service_telemetry(self, name: str, *, since: float | None) -> list[dict[str, Any]]:
        self.services.row(name)
        return self.services.telemetry(name, since=since)

    def _telemetry_summary(self, name: str, *, since: float, bucket_seconds: int, recent: int) -> TelemetrySummary:
        self.services.row(name)
        return self.services.telemetry_summary(name, since=since, bucket_seconds=bucket_seconds, recent=recent)

    # -- collected data and ground truth ---------------------------------------------

    def _get_collected_data(self, name: str, *, since: float | None, limit: int) -> list[dict[str, Any]]:
        from opml.monitoring.collected import collected_files, read_collected, span_of

        self.services.row(name)
        newest_first = lambda row: (-row["at"], row["request_id"], row["record"])  # noqa: E731
        rows: list[dict[str, Any]] = []
        for path in reversed(collected_files(self.layout.service_dir(name), since=since)):
            if len(rows) >= limit and span_of(path)[1] <= rows[limit - 1]["at"]:
                break  # files come newest first: this one and the rest hold only older rows than those kept
            rows.extend(row for row in read_collected([path]).to_pylist() if since is None or row["at"] >= since)
            rows.sort(key=newest_first)
            del rows[limit:]
        return rows

    def _service_classes(self, name: str) -> list[str]:
        row = self.services.row(name)
        return [str(c) for c in self.models.get(row["model_name"], row["model_version"]).manifest.get("classes", [])]

    def _service_task(self, name: str) -> str:
        row = self.services.row(name)
        return self.models.get(row["model_name"], row["model_version"]).manifest.get("task") or "classification"

    def _add_service_labels(self, name: str, labels: list[tuple[str, int, str]]) -> int:
        return self.labels.add(name, labels)

    def _list_service_labels(self, name: str, *, limit: int) -> list[dict[str, Any]]:
        self.services.row(name)
        return self.labels.list(name, limit=limit)

    def _get_live_accuracy(self, name: str, *, since: float, bucket_seconds: int) -> LiveAccuracy:
        from opml.monitoring.accuracy import live_accuracy

        row = self.services.row(name)
        model = self.models.get(row["model_name"], row["model_version"])
        return live_accuracy(
            self.layout.service_dir(name),
            self.labels.since(name, since),
            classes=[str(c) for c in model.manifest.get("classes", [])],
            manifest=model.manifest,
            since=since,
            until=time.time(),
            bucket_seconds=bucket_seconds,
        )

    # -- deployments -------------------------------------------------------------

    def _create_deployment(
        self,
        service: str,
        *,
        name: str,
        model_name: str,
        model_version: int | None,
        traffic: int,
        mirror: int,
        allow_schema_change: bool,
    ) -> Deployment:
        row = self.services.row(service)
        model = self.models.get(model_name, model_version)
        endpoint = self.models.get(row["model_name"], row["model_version"])
        tasks = [entry.manifest.get("task") or "classification" for entry in (model, endpoint)]
        if tasks[0] != tasks[1]:  # its answers would be another kind (numbers, labels): no client expects both
            raise InvalidInput(
                f"model {model.id} is a {tasks[0]} model and endpoint {service!r} serves a {tasks[1]} model "
                f"({endpoint.id}): deploy it as a service of its own"
            )
        differences = schema_differences(endpoint.manifest["input_schema"], model.manifest["input_schema"])
        if differences and not allow_schema_change:
            raise SchemaChange(
                f"model {model.id}'s input schema differs from endpoint {service!r}'s ({endpoint.id}): "
                f"{'; '.join(differences)}. Requests in the endpoint's schema may be refused by it. Confirm the "
                "schema change to deploy it anyway; the endpoint's swagger.json then describes the new schema"
            )
        created = self.deployments.create(
            service, name=name, model=model.id, traffic=traffic, mirror=mirror, schema_changed=bool(differences)
        )
        return next(deployment for deployment in created.deployments if deployment.name == name)

    def _delete_deployment(self, service: str, name: str) -> None:
        self._refuse_last_answering(service, name)
        self.deployments.delete(service, name)

    def _refuse_last_answering(self, service: str, name: str) -> None:
        """Conflict when ``name`` is loaded and no deployment taking live traffic is: until one is, the
        process sends their traffic to the loaded ones (see ``opml.serving.router``), so deleting it would
        leave the endpoint nothing to answer with."""
        deployments = self.services.get(service).deployments
        target = next((d for d in deployments if d.name == name), None)
        if target is None or target.state != HEALTHY:
            return  # unknown (the repository says so) or not answering anything
        taking = [d for d in deployments if d.name != name and d.traffic]
        if taking and not any(d.state == HEALTHY for d in taking):
            states = ", ".join(f"{d.name} {d.state}" for d in taking)
            raise Conflict(
                f"deployment {name!r} still answers the endpoint's requests: the deployment(s) given its traffic "
                f"are not loaded ({states}); wait until one is Healthy, or move the traffic back to {name!r}"
            )

    def _refuse_failed(self, service: str, names: list[str]) -> None:
        """Conflict when live traffic would go to a deployment whose model failed to load."""
        for deployment in self.services.get(service).deployments:
            if deployment.name in names and deployment.state == SERVICE_FAILED:
                raise Conflict(
                    f"deployment {deployment.name!r} failed to load ({deployment.error}); it cannot take traffic: "
                    "delete it and deploy a model that loads"
                )

    def _set_traffic(self, service: str, traffic: dict[str, Any]) -> Service:
        self._refuse_failed(service, [name for name, share in traffic.items() if share])
        return self.deployments.set_traffic(service, traffic)

    def _set_mirror_traffic(self, service: str, mirror: dict[str, Any]) -> Service:
        return self.deployments.set_mirror(service, mirror)

    def _promote_deployment(self, service: str, name: str) -> Service:
        self._refuse_failed(service, [name])
        return self.deployments.promote(service, name)

    def rollback_traffic(self, service: str) -> Service:
        previous = self.services.row(service)["previous_traffic"]
        if previous:  # the split it restores gives traffic to these, refused as set_traffic refuses it
            self._refuse_failed(service, [name for name, share in json.loads(previous).items() if share])
        return self.deployments.rollback(service)

    def _compare_deployments(self, service: str, *, since: float, until: float) -> EndpointComparison:
        from opml.monitoring.accuracy import live_accuracy
        from opml.monitoring.collected import MIRRORED

        endpoint = self.services.get(service)
        stats = self.services.deployment_stats(service, since=since, until=until)
        labels = self.labels.since(service, since)
        compared = []
        for deployment in endpoint.deployments:
            figures = stats.get(deployment.name, {})
            manifest = self.models.get(deployment.model_name, deployment.model_version).manifest
            accuracy = None
            for folder in (COLLECTED, MIRRORED):
                if not labels:
                    break
                accuracy = live_accuracy(
                    self.layout.service_dir(service),
                    labels,
                    classes=[str(c) for c in manifest.get("classes", [])],
                    manifest=manifest,
                    since=since,
                    until=until,
                    bucket_seconds=86_400,
                    deployment=deployment.name,
                    folder=folder,
                )
                if accuracy.labelled:
                    break
            compared.append(
                DeploymentStats(
                    name=deployment.name,
                    model=deployment.model,
                    traffic=deployment.traffic,
                    mirror=deployment.mirror,
                    labelled=accuracy.labelled if accuracy else 0,
                    accuracy=accuracy.accuracy if accuracy else None,
                    cv_accuracy=cross_validated(manifest)[0],
                    rmse=accuracy.rmse if accuracy else None,
                    mae=accuracy.mae if accuracy else None,
                    cv_rmse=cross_validated_errors(manifest)[1],
                    **figures,
                )
            )
        notes = []
        if not endpoint.app_insights_enabled:
            notes.append("telemetry is off: switch it on to count requests, latency and agreement per deployment")
        if not labels:
            notes.append(
                "no labels in this window: live accuracy needs ground truth (a CSV on Monitoring → Accuracy, "
                "`opml services labels`, or POST /labels on the endpoint)"
            )
        elif not endpoint.data_collection:
            notes.append("data collection is off: live accuracy joins labels with the collected answers")
        return EndpointComparison(service, since, until, compared, note="; ".join(notes))

    # -- drift -------------------------------------------------------------------

    def _drift_inputs(self, name: str) -> tuple[Any, Path]:
        """(the served model's training baseline, the service's folder). The baseline is built once per model
        version from the dataset version of its lineage and kept beside the model (``baseline.json``)."""
        from opml.files import write_private_file
        from opml.monitoring.baseline import Baseline, build_baseline

        row = self.services.row(name)
        model = self.models.get(row["model_name"], row["model_version"])
        cached = self.layout.model_dir(model.name, model.version) / BASELINE_FILE
        if cached.exists():
            baseline = Baseline.from_json(cached.read_text())
            if not baseline.outdated_for(model.manifest):
                return baseline, self.layout.service_dir(name)
        lineage = model.manifest.get("dataset") or ""
        dataset, _, version = lineage.rpartition(":")
        if not dataset or not version.isdigit():
            raise InvalidInput(
                f"model {model.id} does not name the dataset version it was trained on, so drift has nothing to "
                "compare with"
            )
        try:
            training = self.load_dataset(dataset, int(version))
        except NotFound:
            raise NotFound(
                f"model {model.id} was trained on dataset {lineage}, which is no longer in the workspace: drift "
                "compares with it"
            ) from None
        baseline = build_baseline(training, model.manifest)
        write_private_file(cached, baseline.to_json().encode())
        return baseline, self.layout.service_dir(name)

    def _get_service_drift(self, name: str, *, since: float, until: float) -> Any:
        from opml.monitoring.collected import collected_files
        from opml.monitoring.drift import drift_of_files

        baseline, folder = self._drift_inputs(name)
        files = collected_files(folder, since=since, until=until)
        return drift_of_files(baseline, files, since=since, until=until)

    def _get_service_drift_over_time(self, name: str, *, since: float, until: float, bucket: str) -> Any:
        from opml.monitoring.collected import collected_files
        from opml.monitoring.drift import drift_over_time_of_files

        baseline, folder = self._drift_inputs(name)
        files = collected_files(folder, since=since, until=until)
        return drift_over_time_of_files(baseline, files, bucket=bucket, since=since, until=until)

    # -- alerts --------------------------------------------------------------------

    def _create_alert_rule(
        self,
        *,
        service: str,
        kind: str,
        threshold: float,
        window_minutes: float,
        for_minutes: float,
        webhook_url: str | None,
        published: PublishedPipeline | None,
        pipeline_parameters: dict[str, Any],
        experiment: str | None,
        name: str,
    ) -> AlertRule:
        from opml.pipelines.spec import check_assignments

        if published is not None:
            pipeline_parameters = check_assignments(
                self.pipelines.get(published.pipeline_id).parameters, pipeline_parameters
            )
        return self.alerts.create_rule(
            service=service,
            kind=kind,
            threshold=threshold,
            window_minutes=window_minutes,
            for_minutes=for_minutes,
            webhook_url=webhook_url,
            pipeline=published.id if published else None,
            pipeline_parameters=pipeline_parameters,
            experiment=experiment,
            name=name,
        )

    def _list_alert_rules(self, service: str | None) -> list[AlertRule]:
        return self.alerts.rules(service)

    def delete_alert_rule(self, rule_id: str) -> None:
        self.alerts.delete_rule(rule_id, time.time())

    def _set_alert_rule_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        return self.alerts.set_enabled(rule_id, enabled, time.time())

    def _list_alerts(self, service: str | None, *, state: str | None, limit: int) -> list[Alert]:
        return self.alerts.alerts(service, state, limit)

    # -- pipelines -----------------------------------------------------------------

    def _create_pipeline(
        self, *, name: str, steps: list[dict[str, Any]], parameters: dict[str, Any], compute: str, description: str
    ) -> Pipeline:
        return self.pipelines.create(
            name=name, steps=steps, parameters=parameters, compute=compute, description=description
        )

    def list_pipelines(self) -> list[Pipeline]:
        return self.pipelines.list()

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        return self.pipelines.get(pipeline_id)

    def _run_pipeline(self, pipeline: Pipeline, *, experiment: str, parameters: dict[str, Any], trigger: str) -> Run:
        return self.submit_run(
            experiment=experiment,
            run_type="pipeline",
            compute=pipeline.compute,
            params={"pipeline_id": pipeline.id, "parameters": parameters, "trigger": trigger},
            display_name=pipeline.name,
        )

    def _publish_pipeline(self, pipeline: Pipeline, *, name: str, description: str, version: str) -> PublishedPipeline:
        settings = get_settings()
        base_url = f"http://{settings.bind_address}:{settings.gateway_port}"
        return self.pipelines.publish(
            pipeline_id=pipeline.id, name=name, description=description, version=version, base_url=base_url
        )

    def list_published_pipelines(self) -> list[PublishedPipeline]:
        return self.pipelines.list_published()

    def get_published_pipeline(self, published_id: str) -> PublishedPipeline:
        return self.pipelines.get_published(published_id)

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        return self.pipelines.set_status(published_id, enabled)

    def _trigger_published_pipeline(
        self,
        published: PublishedPipeline,
        *,
        experiment: str,
        parameters: dict[str, Any],
        trigger: str,
        description: str,
        tags: dict[str, str],
    ) -> Run:
        if published.status != ACTIVE:
            raise Conflict(f"published pipeline {published.name!r} is disabled; enable it to trigger runs")
        pipeline = self.pipelines.get(published.pipeline_id)
        return self.submit_run(
            experiment=experiment,
            run_type="pipeline",
            compute=pipeline.compute,
            tags=tags,
            params={
                "pipeline_id": pipeline.id,
                "published_pipeline_id": published.id,
                "parameters": parameters,
                "trigger": trigger,
            },
            display_name=description or published.name,
        )

    def _list_pipeline_runs(
        self, *, pipeline_id: str | None, published_pipeline_id: str | None, limit: int
    ) -> list[Run]:
        runs = [r for r in self.runs.list(top_level_only=True, limit=10_000) if r.run_type == "pipeline"]
        if pipeline_id is not None:
            runs = [r for r in runs if r.params.get("pipeline_id") == pipeline_id]
        if published_pipeline_id is not None:
            runs = [r for r in runs if r.params.get("published_pipeline_id") == published_pipeline_id]
        return runs[:limit]

    def _create_schedule(
        self,
        published: PublishedPipeline,
        *,
        name: str,
        experiment: str,
        interval_minutes: float | None,
        cron: str | None,
        parameters: dict[str, Any],
        allow_overlap: bool,
    ) -> Schedule:
        from opml.pipelines.spec import check_assignments

        values = check_assignments(self.pipelines.get(published.pipeline_id).parameters, parameters)
        return self.schedules.create(
            published_id=published.id,
            name=name,
            experiment=experiment,
            interval_minutes=interval_minutes,
            cron=cron,
            parameters=values,
            allow_overlap=allow_overlap,
        )

    def list_schedules(self) -> list[Schedule]:
        return self.schedules.list()

    def set_schedule_paused(self, schedule_id: str, paused: bool) -> Schedule:
        return self.schedules.set_paused(schedule_id, paused)

    def delete_schedule(self, schedule_id: str) -> None:
        self.schedules.delete(schedule_id)

    # -- tokens --------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        return self.tokens.create(name)

    def list_tokens(self) -> list[Token]:
        return self.tokens.list()

    def revoke_token(self, name: str) -> None:
        self.tokens.revoke(name)

    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.owner_token()}"}

    # -- audit ---------------------------------------------------------------------

    def _record_audit_event(self, actor: str, action: str, target: str) -> AuditEvent:
        return self.audit.record(actor, action, target)

    def _list_audit_events(self, limit: int) -> list[AuditEvent]:
        return self.audit.list(limit)

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r})"
