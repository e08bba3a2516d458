"""What both Azure ML backends (SDK v1 and SDK v2) do alike: each operation checked by ``Backend`` is handed to
the part that owns it (datasets, computes, runs, models, services, pipelines, schedules), parts with the same
methods in either SDK's package; what opml keeps itself (aliases, the audit trail) is in the state folder; and
what only the local backend has (alert rules, workspace tokens, collected data) is refused alike.

A subclass opens the workspace, builds its parts as ``self.datasets``, ``self.computes``, ``self.runs``,
``self.models``, ``self.services``, ``self.pipelines``, ``self.schedules``, sets ``self.state``, and adds what
differs: ``describe``, ``agent_status``, ``auth_header`` and the deployments of an endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.audit import AuditEvent
from opml.backends.azure_common.errors import translate_methods
from opml.backends.base import Backend, DatasetSource
from opml.entities import (
    Alert,
    AlertRule,
    AliasChange,
    Compute,
    Dataset,
    DatasetProfile,
    LiveAccuracy,
    Model,
    Pipeline,
    PublishedPipeline,
    Run,
    RunPage,
    Schedule,
    Service,
    ServiceKeys,
    Token,
)
from opml.errors import BackendUnavailable, InvalidInput, NotFound
from opml.runsearch import RunQuery

if TYPE_CHECKING:
    import pandas as pd

# Azure's rule for experiment names (azureml/_base_sdk_common/common.py, checked by Experiment(); jobs of SDK v2
# are refused alike): stricter than opml's (no '.'), and the SDK's refusal would read as "Azure ML unavailable".
_EXPERIMENT_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")


def check_experiment_name(name: str) -> None:
    """Raise InvalidInput when Azure ML would refuse ``name`` as an experiment's name."""
    if not _EXPERIMENT_NAME.fullmatch(name):
        raise InvalidInput(
            f"experiment name {name!r}: on Azure ML up to 255 letters, digits, '_' and '-', starting with a letter "
            "or digit (no '.')"
        )


@translate_methods
class AzureBackend(Backend):
    """The operations both Azure backends hand to their parts alike (see the module's docstring)."""

    kind = "azure"
    sdk_version = ""  # "v1" or "v2"
    no_data_collection = ""  # why this SDK's services collect no data opml reads back

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
        return self.computes.create(name=name, max_nodes=max_nodes, vm_size=vm_size, min_nodes=min_nodes)

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
        check_experiment_name(experiment)
        return self.runs.submit(
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

    def list_experiments(self) -> list[str]:
        return self.runs.experiment_names()

    def cancel_run(self, run_id: str) -> Run:
        return self.runs.cancel(run_id)

    def read_run_log(self, run_id: str, *, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        return self.runs.read_log(run_id, offset=offset, max_bytes=max_bytes)

    def get_run_metrics(self, run_id: str) -> dict[str, float]:
        return self.runs.metrics(run_id)

    def _get_run_output(self, run_id: str, name: str) -> Any:
        return self.runs.output(run_id, name)

    # -- models --------------------------------------------------------------------

    def _register_model(self, *, name: str, run_id: str, description: str, tags: dict[str, str]) -> Model:
        return self.models.register(name=name, run_id=run_id, description=description, tags=tags)

    def list_models(self, name: str | None = None) -> list[Model]:
        return self.models.list(name)

    def get_model(self, name: str, version: int | None = None) -> Model:
        return self.models.get(name, version)

    def load_model(self, name: str, version: int | None = None) -> Any:
        return self.models.load(name, version)

    def download_model(self, name: str, version: int | None = None) -> Path:
        return self.models.download(name, version)

    def _delete_model(self, name: str, version: int) -> None:
        self.models.delete(name, version)

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
        **instances: Any,
    ) -> Service:
        """``instances``: the instance type and count of a backend that ``sizes_deployments`` (SDK v2)."""
        if data_collection:
            raise BackendUnavailable(self.no_data_collection)
        return self.services.deploy(
            name=name,
            model_name=model_name,
            model_version=model_version,
            auth_enabled=auth_enabled,
            app_insights_enabled=app_insights_enabled,
            port=port,
            description=description,
            deployment_name=deployment_name,
            **instances,
        )

    def list_services(self) -> list[Service]:
        return self.services.list()

    def get_service(self, name: str) -> Service:
        return self.services.get(name)

    def delete_service(self, name: str) -> None:
        self.services.delete(name)

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
        if data_collection or collection_sampling_rate is not None or collection_retention_days is not None:
            self.services.get(name)  # an unknown service is NotFound as such
            raise BackendUnavailable(self.no_data_collection)
        return self.services.update(name, app_insights_enabled=app_insights_enabled, auth_enabled=auth_enabled)

    def restart_service(self, name: str) -> Service:
        return self.services.restart(name)

    def _get_service_logs(self, name: str, *, tail: int) -> str:
        return self.services.logs(name, tail=tail)

    def _get_service_telemetry(self, name: str, *, since: float | None) -> list[dict[str, Any]]:
        return self.services.telemetry(name)

    def _get_collected_data(self, name: str, *, since: float | None, limit: int) -> list[dict[str, Any]]:
        return self.services.no_collected_data(name)

    def _service_classes(self, name: str) -> list[str]:
        return self.services.no_collected_data(name)

    def _add_service_labels(self, name: str, labels: list[tuple[str, int, str]]) -> int:
        return self.services.no_collected_data(name)

    def _list_service_labels(self, name: str, *, limit: int) -> list[dict[str, Any]]:
        return self.services.no_collected_data(name)

    def _get_live_accuracy(self, name: str, *, since: float, bucket_seconds: int) -> LiveAccuracy:
        return self.services.no_collected_data(name)

    def _get_service_drift(self, name: str, *, since: float, until: float) -> Any:
        return self.services.no_collected_data(name)

    def _get_service_drift_over_time(self, name: str, *, since: float, until: float, bucket: str) -> Any:
        return self.services.no_collected_data(name)

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
        check_experiment_name(experiment)
        return self.pipelines.run(pipeline, experiment=experiment, parameters=parameters, trigger=trigger)

    def _publish_pipeline(self, pipeline: Pipeline, *, name: str, description: str, version: str) -> PublishedPipeline:
        return self.pipelines.publish(pipeline, name=name, description=description, version=version)

    def list_published_pipelines(self) -> list[PublishedPipeline]:
        return self.pipelines.list_published()

    def get_published_pipeline(self, published_id: str) -> PublishedPipeline:
        return self.pipelines.get_published(published_id)

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        return self.pipelines.set_enabled(published_id, enabled)

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
        check_experiment_name(experiment)
        return self.pipelines.trigger(
            published, experiment=experiment, parameters=parameters, trigger=trigger, description=description, tags=tags
        )

    def _list_pipeline_runs(
        self, *, pipeline_id: str | None, published_pipeline_id: str | None, limit: int
    ) -> list[Run]:
        return self.pipelines.list_runs(
            pipeline_id=pipeline_id, published_pipeline_id=published_pipeline_id, limit=limit
        )

    # -- schedules -----------------------------------------------------------------

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
        check_experiment_name(experiment)
        return self.schedules.create(
            published,
            name=name,
            experiment=experiment,
            interval_minutes=interval_minutes,
            cron=cron,
            parameters=parameters,
        )

    def list_schedules(self) -> list[Schedule]:
        return self.schedules.list()

    def set_schedule_paused(self, schedule_id: str, paused: bool) -> Schedule:
        return self.schedules.set_paused(schedule_id, paused)

    def delete_schedule(self, schedule_id: str) -> None:
        self.schedules.delete(schedule_id)

    # -- alerts --------------------------------------------------------------------
    # opml's agent evaluates alert rules on this machine from the local telemetry table; an ACI service's
    # telemetry lives in Application Insights, which opml does not read. Azure's own alerting (Azure Monitor
    # alert rules on Application Insights metrics, with action groups for webhooks) covers this: a rule is
    # refused saying so, there are none to list, and none to delete or switch (as with workspace tokens).

    AZURE_ALERTS = (
        "alert rules are evaluated by opml's agent from the telemetry a local service records; an Azure ML "
        "service's telemetry is in Application Insights: create an Azure Monitor alert rule on its Application "
        "Insights resource (failed requests, server response time, availability), with an action group for the "
        "webhook, in the Azure portal or with `az monitor metrics alert create`"
    )

    def _create_alert_rule(self, **settings: Any) -> AlertRule:
        raise BackendUnavailable(self.AZURE_ALERTS)

    def _list_alert_rules(self, service: str | None) -> list[AlertRule]:
        return []

    def delete_alert_rule(self, rule_id: str) -> None:
        raise NotFound(f"no alert rule {rule_id!r}: {self.AZURE_ALERTS}")

    def _set_alert_rule_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        raise NotFound(f"no alert rule {rule_id!r}: {self.AZURE_ALERTS}")

    def _list_alerts(self, service: str | None, *, state: str | None, limit: int) -> list[Alert]:
        return []

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

    # -- audit ---------------------------------------------------------------------
    # Azure's activity log records what reaches Azure; opml's own trail (who revealed a key from this
    # dashboard, ...) is kept in the state folder.

    def _record_audit_event(self, actor: str, action: str, target: str) -> AuditEvent:
        return self.state.record_audit_event(actor, action, target)

    def _list_audit_events(self, limit: int) -> list[AuditEvent]:
        return self.state.audit_events(limit)
