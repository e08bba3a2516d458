"""The Backend interface: what the dashboard and the CLI can ask of a workspace.

Each implementation (local, Azure ML) honours the contract written in these
docstrings; ``tests/contract`` checks it. Methods never return ``{"success": ...}``
dicts: they return entities or raise an ``OpmlError`` subclass.
"""

from __future__ import annotations

import abc
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.audit import AuditEvent, check_event
from opml.automl.settings import LOCAL_LIMITS, AutoMLLimits
from opml.entities import (
    ALERT_STATES,
    HEALTHY,
    MAX_SUMMARY_VALUES,
    RUN_STATUSES,
    SERVICE_FAILED,
    AgentStatus,
    Alert,
    AlertRule,
    AliasChange,
    Compute,
    Dataset,
    DatasetProfile,
    Deployment,
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
from opml.errors import Conflict, InvalidInput, NotFound, OperationTimeout
from opml.naming import (
    check_alias,
    check_lineage,
    check_max_nodes,
    check_name,
    check_port,
    check_recurrence,
    check_retention_days,
    check_sampling_rate,
    check_tags,
    check_version,
)
from opml.rollout import DEFAULT_DEPLOYMENT, check_deployment_name, check_percent
from opml.runsearch import RunQuery, parse
from opml.settings import current_user

if TYPE_CHECKING:
    import pandas as pd

    from opml.monitoring.drift import DriftOverTime, DriftReport

# What a dataset can be registered from: an http(s) URL or a local path (str or
# PathLike), or the bytes of an uploaded file.
DatasetSource = str | os.PathLike | bytes

SEARCH_SCAN_LIMIT = 10_000
MAX_PIPELINE_RUNS = 10_000  # the most list_pipeline_runs returns at once


def _mapping(value: object, what: str) -> dict[str, Any] | None:
    """A mapping argument as a plain dict (None stays None); InvalidInput for anything else."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping")
    return dict(value)


def _switch(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false, got {value!r}")
    return value


def _summary_arguments(since: object, bucket_seconds: object, recent: object) -> tuple[float, int, int]:
    if isinstance(since, bool) or not isinstance(since, (int, float)) or not math.isfinite(since):
        raise InvalidInput(f"since must be a time in epoch seconds, got {since!r}")
    if isinstance(bucket_seconds, bool) or not isinstance(bucket_seconds, int) or not 1 <= bucket_seconds <= 86_400:
        raise InvalidInput(f"bucket_seconds must be a whole number from 1 to 86,400, got {bucket_seconds!r}")
    if isinstance(recent, bool) or not isinstance(recent, int) or not 0 <= recent <= 1000:
        raise InvalidInput(f"recent must be a whole number from 0 to 1,000, got {recent!r}")
    return float(since), bucket_seconds, recent


def _time(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a time in epoch seconds, got {value!r}")
    return float(value)


def _window(since: object, until: object) -> tuple[float, float]:
    """A checked time window: ``since`` before ``until`` (default now), both epoch seconds."""
    start = _time(since, "since")
    end = time.time() if until is None else _time(until, "until")
    if start >= end:
        raise InvalidInput(f"since ({start:.0f}) must be before until ({end:.0f})")
    return start, end


def _whole(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return value


def nearest_rank(values: Sequence[float], quantile: float) -> float:
    """The smallest value whose rank (from 1) is at least ``quantile`` times the count."""
    ordered = sorted(values)
    return next(value for rank, value in enumerate(ordered, start=1) if rank >= quantile * len(ordered))


def summarize_telemetry(
    events: list[dict[str, Any]], *, since: float, bucket_seconds: int, recent: int
) -> TelemetrySummary:
    """``TelemetrySummary`` of requests as ``get_service_telemetry`` gives them (the reference the stores'
    own aggregation is tested against)."""
    events = [event for event in events if event["at"] >= since]
    grouped: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(int(event["at"] // bucket_seconds), []).append(event)
    buckets = []
    values: list[float] = []
    for bucket, members in sorted(grouped.items()):
        latencies = [event["latency_ms"] for event in members]
        predictions: dict[str, int] = {}
        numbers: list[float] = []
        made = 0
        for event in members:
            if isinstance(event["predictions"], list):  # a regression request's predicted numbers
                numbers.extend(float(value) for value in event["predictions"] if _is_number(value))
                made += event.get("records") or len(event["predictions"])  # the list keeps at most 1,000
                continue
            for label, count in event["predictions"].items():
                predictions[label] = predictions.get(label, 0) + count
        values += numbers
        buckets.append(
            {
                "at": float(bucket * bucket_seconds),
                "requests": len(members),
                "failed": sum(1 for event in members if event["status"] >= 400),
                **{f"p{q}": nearest_rank(latencies, q / 100) for q in (50, 95, 99)},
                "predictions": predictions,
                "values": {
                    "count": made,
                    "mean": sum(numbers) / len(numbers),
                    "min": min(numbers),
                    "max": max(numbers),
                }
                if numbers
                else None,
            }
        )
    newest = sorted(events, key=lambda event: event["at"], reverse=True)[:recent]
    return TelemetrySummary(
        since=since,
        bucket_seconds=bucket_seconds,
        requests=len(events),
        failed=sum(bucket["failed"] for bucket in buckets),
        buckets=buckets,
        recent=newest,
        predicted_values=values[:: max(1, math.ceil(len(values) / MAX_SUMMARY_VALUES))][:MAX_SUMMARY_VALUES],
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _trigger(value: object) -> str:
    """Who or what started a run (UI, REST, Schedule, CLI, Alert): short printable text."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or not value.isprintable():
        raise InvalidInput(f"trigger must be short text such as 'UI' or 'REST', got {value!r}")
    return value.strip()


MAX_OFFSET = 10**9  # runs a backend without a query language looks through per search


class Backend(abc.ABC):
    """A workspace: datasets, computes and runs (models, services and pipelines follow)."""

    kind: str = "abstract"
    sizes_deployments: bool = False
    """Whether a deployment takes an instance type (a VM size) and an instance count (``deploy_model``,
    ``create_deployment``): Azure ML managed online endpoints'. Elsewhere giving either is InvalidInput."""
    automl_limits: AutoMLLimits = LOCAL_LIMITS
    """What this backend's AutoML takes within the settings' own bounds (submit_run refuses the rest, and
    forms check them as the user types)."""

    # -- workspace -----------------------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> WorkspaceInfo:
        """Backend kind, location and object counts. Cheap; never blocks on remote work."""

    @abc.abstractmethod
    def agent_status(self) -> AgentStatus:
        """Whether the process that executes queued work is alive (for Azure: the service)."""

    # -- datasets ------------------------------------------------------------------

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
        """Register a tabular (CSV) dataset as a new immutable version of ``name``.

        Blocks until the data is read, validated, snapshotted and profiled.
        Idempotent on content: registering the same bytes again under the same
        name returns the existing version unchanged; different bytes make
        version N+1.

        Args:
            name: letters, digits, ``_ . -``; at most 64 characters.
            source: an http(s) URL, a local file path, or the file's bytes.
            filename: the original file name when ``source`` is bytes (for display).
            lineage: where bytes came from, recorded as the source instead of ``upload:<filename>``
                (e.g. "pipeline run R, step prep, from bank:3").

        Raises:
            InvalidInput: bad name; unreachable URL; missing file; empty, non-CSV,
                non-UTF-8 or oversize content; missing header; duplicate or empty
                column names. Nothing is registered.
        """
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        if filename is not None and not isinstance(filename, str):
            raise InvalidInput(f"filename must be text, got {filename!r}")
        return self._register_dataset(
            name=check_name(name, "dataset"),
            source=source,
            description=description,
            tags=check_tags(_mapping(tags, "tags")),
            filename=filename,
            lineage=check_lineage(lineage),
        )

    @abc.abstractmethod
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
        """``register_dataset`` with checked name, tags and lineage."""

    @abc.abstractmethod
    def list_datasets(self) -> list[Dataset]:
        """The latest version of every dataset, newest first."""

    @abc.abstractmethod
    def list_dataset_versions(self, name: str) -> list[Dataset]:
        """Every version of ``name``, newest first. Raises NotFound."""

    @abc.abstractmethod
    def get_dataset(self, name: str, version: int | None = None) -> Dataset:
        """One version (the latest when ``version`` is None). Raises NotFound."""

    @abc.abstractmethod
    def load_dataset(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        """The version's data as a DataFrame, typed as at registration. Raises NotFound."""

    @abc.abstractmethod
    def get_dataset_profile(self, name: str, version: int | None = None) -> DatasetProfile:
        """The profile computed once at registration. Raises NotFound."""

    # -- computes ------------------------------------------------------------------

    def create_compute(self, *, name: str, max_nodes: int, vm_size: str | None = None, min_nodes: int = 0) -> Compute:
        """Create a compute that runs at most ``max_nodes`` runs at once.

        ``vm_size`` is the Azure VM size of an AmlCompute cluster and ``min_nodes`` the nodes it keeps running
        while idle (Azure only: a local compute refuses both). Provisioning on Azure goes on after the call
        returns (state "Creating").
        Raises InvalidInput (bad name, max_nodes outside 1..64, min_nodes outside 0..max_nodes) or AlreadyExists.
        """
        if vm_size is not None and (not isinstance(vm_size, str) or not vm_size.strip()):
            raise InvalidInput(f"vm_size must be an Azure VM size such as STANDARD_DS3_V2, got {vm_size!r}")
        max_nodes = check_max_nodes(max_nodes)
        if isinstance(min_nodes, bool) or not isinstance(min_nodes, int) or not 0 <= min_nodes <= max_nodes:
            raise InvalidInput(f"min_nodes must be a whole number from 0 to max_nodes ({max_nodes}), got {min_nodes!r}")
        return self._create_compute(
            name=check_name(name, "compute"), max_nodes=max_nodes, vm_size=vm_size or None, min_nodes=min_nodes
        )

    @abc.abstractmethod
    def _create_compute(self, *, name: str, max_nodes: int, vm_size: str | None, min_nodes: int) -> Compute:
        """``create_compute`` with a checked name and sizes."""

    @abc.abstractmethod
    def list_computes(self) -> list[Compute]:
        """Every compute, with its active and queued run counts."""

    @abc.abstractmethod
    def get_compute(self, name: str) -> Compute:
        """Raises NotFound."""

    def wait_for_compute(self, name: str, *, timeout: float = 1800.0, poll_seconds: float = 5.0) -> Compute:
        """Poll until the compute is provisioned ("Succeeded") or "Failed"; returns it. Raises OperationTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            compute = self.get_compute(name)
            if compute.state in ("Succeeded", "Failed"):
                return compute
            if time.monotonic() >= deadline:
                raise OperationTimeout(f"compute {name} is still {compute.state} after {timeout:.0f} s")
            time.sleep(poll_seconds)

    @abc.abstractmethod
    def delete_compute(self, name: str) -> None:
        """Raises NotFound, or Conflict while runs are queued or active on it."""

    # -- runs ----------------------------------------------------------------------

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
        """Queue a run; returns at once with status Queued. Execution is asynchronous.

        Raises InvalidInput (unknown run type, bad params, bad experiment name)
        or NotFound (compute). Nothing is queued on error.
        """
        from opml.runtypes import get_run_type

        experiment = check_name(experiment, "experiment")
        clean_tags = check_tags(_mapping(tags, "tags"))
        params = _mapping(params, "run parameters") or {}
        if not isinstance(display_name, str):
            raise InvalidInput(f"display_name must be text, got {display_name!r}")
        if not isinstance(compute, str) or not compute.strip():
            raise InvalidInput("name the compute to run on")
        clean = get_run_type(run_type).validate(params, self)
        return self._submit_run(
            experiment=experiment,
            run_type=run_type,
            compute=compute,
            params=clean,
            tags=clean_tags,
            display_name=display_name,
        )

    @abc.abstractmethod
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
        """``submit_run`` with a checked experiment name and tags, and params its run type validated."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Raises NotFound."""

    @abc.abstractmethod
    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = None,
        top_level_only: bool = False,
        limit: int = 200,
    ) -> list[Run]:
        """Runs, newest first, filtered by experiment and/or parent."""

    def search_runs(
        self,
        *,
        filter: str = "",
        experiment: str | None = None,
        statuses: Sequence[str] | None = None,
        top_level_only: bool = True,
        limit: int = 200,
        offset: int = 0,
    ) -> RunPage:
        """Runs matching ``filter`` (MLflow style, see ``opml.runsearch``: ``metrics.accuracy > 0.91 and
        params.primary_metric = 'accuracy'``), of one experiment and some statuses when given, newest first:
        ``limit`` of them from ``offset``, with how many matched in all.

        Raises InvalidInput (a filter that does not parse, an unknown status, limit outside 1..1000 or a
        negative offset)."""
        clauses = parse(filter)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be between 1 and 1000, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET:,}, got {offset!r}")
        if experiment is not None and not isinstance(experiment, str):
            raise InvalidInput(f"experiment must be a name, got {experiment!r}")
        if isinstance(statuses, str) or not all(isinstance(status, str) for status in statuses or ()):
            raise InvalidInput(f"statuses must be a list of status names, got {statuses!r}")
        unknown = sorted(set(statuses or ()) - set(RUN_STATUSES))
        if unknown:
            raise InvalidInput(f"unknown run status(es): {', '.join(unknown)}; known: {', '.join(RUN_STATUSES)}")
        query = RunQuery(clauses, experiment, tuple(statuses or ()), top_level_only, limit, offset)
        return self._search_runs(query)

    def _search_runs(self, query: RunQuery) -> RunPage:
        """Search by listing and checking each run (backends with a query language do better)."""
        from opml.runsearch import matches

        found = []
        listed = self.list_runs(
            experiment=query.experiment, top_level_only=query.top_level_only, limit=SEARCH_SCAN_LIMIT
        )
        with_metrics = any(c.kind == "metric" for c in query.clauses)
        for run in listed:
            if query.statuses and run.status not in query.statuses:
                continue
            metrics = self.get_run_metrics(run.id) if with_metrics else {}
            if matches(run, metrics, query.clauses):
                found.append(run)
        page = found[query.offset : query.offset + query.limit]
        return RunPage(runs=page, total=len(found), offset=query.offset)

    def list_automl_runs(self, *, limit: int = 500) -> list[Run]:
        """AutoML runs whose trials make a leaderboard, newest first (pipeline AutoML steps too, where the
        backend can find them cheaply)."""
        return [run for run in self.list_runs(top_level_only=True, limit=limit) if run.run_type == "automl"]

    @abc.abstractmethod
    def cancel_run(self, run_id: str) -> Run:
        """Ask a run to stop. A queued run is Canceled at once; an active one moves to
        CancelRequested and then Canceled when its process has stopped. Idempotent:
        cancelling a finished run returns it unchanged. Raises NotFound."""

    @abc.abstractmethod
    def read_run_log(self, run_id: str, *, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        """Log text of the run from byte ``offset``, and the offset to read from next.

        Readable while the run is running. Raises NotFound.
        """

    @abc.abstractmethod
    def get_run_metrics(self, run_id: str) -> dict[str, float]:
        """The last value of each metric the run logged (empty while none). Raises NotFound."""

    def get_run_output(self, run_id: str, name: str) -> Any:
        """A JSON output the run wrote (e.g. ``details.json``, ``guardrails.json``), or None if it has
        not written it (yet). Raises NotFound for an unknown run, InvalidInput for a bad name."""
        if (
            not isinstance(name, str)
            or "/" in name
            or "\\" in name
            or name.startswith(".")
            or not name.endswith(".json")
        ):
            raise InvalidInput(f"not a JSON output name: {name!r}")
        return self._get_run_output(run_id, name)

    @abc.abstractmethod
    def _get_run_output(self, run_id: str, name: str) -> Any:
        """``get_run_output`` with a checked file name (``something.json``, no folders)."""

    # -- models --------------------------------------------------------------------

    def register_model(
        self, *, name: str, run_id: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Model:
        """Register the model of a run as the next version of ``name``.

        ``run_id`` is an AutoML child run, or an AutoML parent run (meaning its best
        child). Blocks; a child whose model was not refitted on all data during the run
        is refitted now (seconds to minutes). Idempotent on content where the backend keeps
        a content hash (local): a model file identical to a version of ``name`` returns that
        version. Azure ML always makes a new version. Raises NotFound, Conflict (the run has no
        model: not completed, failed) or InvalidInput (bad name).
        """
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        if not isinstance(run_id, str) or not run_id.strip():
            raise InvalidInput("name the run whose model to register")
        return self._register_model(
            name=check_name(name, "model"),
            run_id=run_id.strip(),
            description=description,
            tags=check_tags(_mapping(tags, "tags")),
        )

    @abc.abstractmethod
    def _register_model(self, *, name: str, run_id: str, description: str, tags: dict[str, str]) -> Model:
        """``register_model`` with a checked name and tags."""

    @abc.abstractmethod
    def list_models(self, name: str | None = None) -> list[Model]:
        """Every registered model version (of ``name`` only, if given), newest first."""

    @abc.abstractmethod
    def get_model(self, name: str, version: int | None = None) -> Model:
        """One version (latest when None). Raises NotFound."""

    @abc.abstractmethod
    def load_model(self, name: str, version: int | None = None) -> Any:
        """The model object (``OpmlClassifier``), after checking its sha256 against the registry.

        Raises NotFound, or TamperedModel (an InvalidInput) when the file was modified.
        """

    @abc.abstractmethod
    def download_model(self, name: str, version: int | None = None) -> Path:
        """A local path of the model file (``model.pkl``). Raises NotFound."""

    def delete_model(self, name: str, version: int) -> None:
        """Delete one version. Raises NotFound, or Conflict while a service uses it or an alias points at it."""
        model = self.get_model(name, version)
        if model.aliases:
            raise Conflict(f"model {model.id} holds alias(es) {', '.join(model.aliases)}: move or remove them first")
        self._delete_model(model.name, model.version)

    @abc.abstractmethod
    def _delete_model(self, name: str, version: int) -> None:
        """Delete one version (it exists and holds no alias). Raises Conflict while a service uses it."""

    # -- model aliases -------------------------------------------------------------

    def set_model_alias(self, name: str, alias: str, version: int, *, actor: str | None = None) -> Model:
        """Point ``alias`` (e.g. "champion") of model ``name`` at ``version``, taking it from the version
        that held it, and record who moved it and when. Returns the version now holding it.

        Raises NotFound (no such version) or InvalidInput (bad alias name)."""
        alias = check_alias(alias)
        model = self.get_model(name, check_version(version))
        self._move_model_alias(model.name, alias, model.version, actor or current_user())
        return self.get_model(model.name, model.version)

    def delete_model_alias(self, name: str, alias: str, *, actor: str | None = None) -> None:
        """Remove an alias (recorded in the history). Raises NotFound when the model has no such alias."""
        alias = check_alias(alias)
        if alias not in self._model_aliases(name):
            raise NotFound(f"model {name!r} has no alias {alias!r}")
        self._move_model_alias(name, alias, None, actor or current_user())

    def get_model_by_alias(self, name: str, alias: str) -> Model:
        """The version ``alias`` points at. Raises NotFound (unknown model or alias)."""
        alias = check_alias(alias)
        aliases = self._model_aliases(name)
        if alias not in aliases:
            self.get_model(name)  # an unknown model is NotFound as such
            known = ", ".join(sorted(aliases)) or "none"
            raise NotFound(f"model {name!r} has no alias {alias!r} (its aliases: {known})")
        return self.get_model(name, aliases[alias])

    def list_model_alias_history(self, name: str) -> list[AliasChange]:
        """Every move of the model's aliases, newest first. Raises NotFound for a model never registered
        that has no history either."""
        history = self._alias_history(name)
        if not history:
            self.get_model(name)
        return history

    def resolve_model(self, reference: str) -> Model:
        """A model from ``name``, ``name:VERSION`` or ``name@ALIAS`` (the latest version for a bare name).

        Raises NotFound or InvalidInput (a version that is not a number)."""
        if not isinstance(reference, str) or not reference.strip():
            raise InvalidInput("name a model: NAME, NAME:VERSION or NAME@ALIAS")
        reference = reference.strip()
        if "@" in reference:
            name, alias = reference.split("@", 1)
            return self.get_model_by_alias(name, alias)
        name, sep, version = reference.rpartition(":")
        if not sep:
            return self.get_model(reference)
        if not re.fullmatch(r"[0-9]{1,10}", version):
            raise InvalidInput(f"model version must be a whole number from 1, got {version!r} in {reference!r}")
        return self.get_model(name, check_version(int(version)))

    @abc.abstractmethod
    def _model_aliases(self, name: str) -> dict[str, int]:
        """Alias -> version of one model (empty when it has none or does not exist)."""

    @abc.abstractmethod
    def _move_model_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        """Point the alias at ``version`` (None: remove it) and append the change to its history, at once."""

    @abc.abstractmethod
    def _alias_history(self, name: str) -> list[AliasChange]:
        """The model's alias changes, newest first."""

    # -- services ------------------------------------------------------------------

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
        data_collection: bool = False,
        collection_sampling_rate: float = 1.0,
        collection_retention_days: int = 30,
        deployment_name: str = DEFAULT_DEPLOYMENT,
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Service:
        """Deploy a registered model as an HTTP scoring service; returns at once (state Transitioning).

        The service is an endpoint with one deployment, ``deployment_name``, taking all its traffic (more
        deployments: ``create_deployment``). It becomes Healthy when it answers (``wait_for_service``). With
        ``data_collection`` the inputs and outputs of a ``collection_sampling_rate`` share of its successful
        requests are kept for ``collection_retention_days`` (see ``update_service``). ``instance_type`` and
        ``instance_count`` size the deployment where the backend ``sizes_deployments`` (its defaults when None).
        Raises InvalidInput (bad name, port, rate, days or instances), NotFound (model), AlreadyExists (name or
        port taken), or BackendUnavailable (a backend that cannot collect data, asked to).
        """
        if model_version is not None:
            check_version(model_version)
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        return self._deploy_model(
            name=check_name(name, "service"),
            model_name=model_name,
            model_version=model_version,
            auth_enabled=_switch(auth_enabled, "auth_enabled"),
            app_insights_enabled=_switch(app_insights_enabled, "app_insights_enabled"),
            port=check_port(port),
            description=description,
            data_collection=_switch(data_collection, "data_collection"),
            collection_sampling_rate=check_sampling_rate(collection_sampling_rate),
            collection_retention_days=check_retention_days(collection_retention_days),
            deployment_name=check_deployment_name(deployment_name),
            **self._instances(instance_type, instance_count),
        )

    def _instances(self, instance_type: Any, instance_count: Any) -> dict[str, Any]:
        """The checked instance settings a sizing backend's ``_deploy_model``/``_create_deployment`` receive as
        keywords (``instance_type``, ``instance_count``: None for its default); none for another backend, which
        refuses them here."""
        if instance_type is None and instance_count is None:
            return {"instance_type": None, "instance_count": None} if self.sizes_deployments else {}
        if not self.sizes_deployments:
            raise InvalidInput(
                "instance type and count size Azure ML managed online deployments (SDK v2); a deployment of this "
                "workspace runs as it is: leave them out"
            )
        if instance_type is not None and (
            not isinstance(instance_type, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{1,63}", instance_type)
        ):
            raise InvalidInput(f"instance type {instance_type!r}: a VM size such as Standard_DS3_v2")
        if instance_count is not None and (
            isinstance(instance_count, bool) or not isinstance(instance_count, int) or not 1 <= instance_count <= 50
        ):
            raise InvalidInput(f"instance count must be a whole number from 1 to 50, got {instance_count!r}")
        return {"instance_type": instance_type, "instance_count": instance_count}

    @abc.abstractmethod
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
        """``deploy_model`` with a checked name, version, switches, port and collection settings."""

    @abc.abstractmethod
    def list_services(self) -> list[Service]:
        """Every service, newest first, with its current state."""

    @abc.abstractmethod
    def get_service(self, name: str) -> Service:
        """Raises NotFound."""

    @abc.abstractmethod
    def delete_service(self, name: str) -> None:
        """Stop and remove a service (asynchronous: it shows Deleting until its process has stopped).

        Raises NotFound."""

    @abc.abstractmethod
    def get_service_keys(self, name: str) -> ServiceKeys:
        """The primary and secondary keys. Raises NotFound."""

    def regenerate_service_key(self, name: str, key: str) -> ServiceKeys:
        """Replace the "Primary" or "Secondary" key (any case); the old one stops working at once.

        Raises NotFound or InvalidInput (unknown key name)."""
        which = key.capitalize() if isinstance(key, str) else key
        if which not in ("Primary", "Secondary"):
            raise InvalidInput(f"key must be 'Primary' or 'Secondary', got {key!r}")
        return self._regenerate_service_key(name, which)

    @abc.abstractmethod
    def _regenerate_service_key(self, name: str, key: str) -> ServiceKeys:
        """``regenerate_service_key`` with ``key`` exactly "Primary" or "Secondary"."""

    def update_service(
        self,
        name: str,
        *,
        app_insights_enabled: bool | None = None,
        auth_enabled: bool | None = None,
        data_collection: bool | None = None,
        collection_sampling_rate: float | None = None,
        collection_retention_days: int | None = None,
    ) -> Service:
        """Switch telemetry, auth or data collection, or change the collection's sampling rate (0 < r <= 1)
        or retention (1 to 3,650 days), without redeploying (effective on the next request). None leaves a
        setting as it is. Raises NotFound, InvalidInput (a switch that is not a boolean, a rate or a number of
        days out of range), or BackendUnavailable (a backend that cannot change data collection).

        A Failed service (one that crashed repeatedly) is not restarted by an update: delete and redeploy it."""
        return self._update_service(
            name,
            app_insights_enabled=None
            if app_insights_enabled is None
            else _switch(app_insights_enabled, "app_insights_enabled"),
            auth_enabled=None if auth_enabled is None else _switch(auth_enabled, "auth_enabled"),
            data_collection=None if data_collection is None else _switch(data_collection, "data_collection"),
            collection_sampling_rate=None
            if collection_sampling_rate is None
            else check_sampling_rate(collection_sampling_rate),
            collection_retention_days=None
            if collection_retention_days is None
            else check_retention_days(collection_retention_days),
        )

    @abc.abstractmethod
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
        """``update_service`` with switches that are booleans or None (unchanged), a checked rate and days."""

    @abc.abstractmethod
    def restart_service(self, name: str) -> Service:
        """Start a Failed service again (one that crashed ``MAX_CRASHES`` times within a short window and was
        given up on); its crash count starts afresh. Returns it Transitioning. Raises NotFound, or Conflict
        when the service is not Failed (a running service is restarted by the agent when its process dies)."""

    def get_service_logs(self, name: str, *, tail: int = 200) -> str:
        """The last ``tail`` lines (1 to 100,000) of the service's log. Raises NotFound or InvalidInput."""
        if isinstance(tail, bool) or not isinstance(tail, int) or not 1 <= tail <= 100_000:
            raise InvalidInput(f"tail must be a whole number of lines from 1 to 100,000, got {tail!r}")
        return self._get_service_logs(name, tail=tail)

    @abc.abstractmethod
    def _get_service_logs(self, name: str, *, tail: int) -> str:
        """``get_service_logs`` with a checked line count."""

    def get_service_telemetry(self, name: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """Recorded requests (while telemetry was on): at (epoch seconds), request_id, status, latency_ms,
        records, predictions ({label: count}), error, client. Raises NotFound or InvalidInput (``since``)."""
        if since is not None:
            since = _summary_arguments(since, 60, 0)[0]
        return self._get_service_telemetry(name, since=since)

    @abc.abstractmethod
    def _get_service_telemetry(self, name: str, *, since: float | None) -> list[dict[str, Any]]:
        """``get_service_telemetry`` with ``since`` a finite time or None."""

    def get_service_telemetry_summary(
        self, name: str, *, since: float, bucket_seconds: int = 60, recent: int = 50
    ) -> TelemetrySummary:
        """The requests recorded since ``since`` (epoch seconds), counted and ranked per ``bucket_seconds``
        (see ``TelemetrySummary``), with the ``recent`` newest ones. Backends that store telemetry aggregate
        it where it is stored; this default reads the requests. Raises NotFound or InvalidInput."""
        since, bucket_seconds, recent = _summary_arguments(since, bucket_seconds, recent)
        return self._telemetry_summary(name, since=since, bucket_seconds=bucket_seconds, recent=recent)

    def _telemetry_summary(self, name: str, *, since: float, bucket_seconds: int, recent: int) -> TelemetrySummary:
        """Summarise by reading every request (backends with a query language do better)."""
        events = self.get_service_telemetry(name, since=since)
        return summarize_telemetry(events, since=since, bucket_seconds=bucket_seconds, recent=recent)

    # -- collected data and ground truth ---------------------------------------------

    def get_collected_data(self, name: str, *, since: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` (1 to 10,000) records the service collected (since ``since``, epoch seconds,
        when given), newest first, as flat dicts of the collected columns (``request_id``, ``record``, ``at``,
        ``deployment``, ``input.<column>``, ``output.label``, ``output.proba.<class>``: see
        ``opml.monitoring.collected``). Raises NotFound, InvalidInput, or BackendUnavailable (a backend whose
        collected data opml cannot read)."""
        if since is not None:
            since = _time(since, "since")
        return self._get_collected_data(name, since=since, limit=_whole(limit, "limit", 1, 10_000))

    @abc.abstractmethod
    def _get_collected_data(self, name: str, *, since: float | None, limit: int) -> list[dict[str, Any]]:
        """``get_collected_data`` with a finite ``since`` (or None) and a checked limit."""

    def add_service_labels(self, name: str, labels: Sequence[Mapping[str, Any]]) -> int:
        """Store the ground truth of scored records: ``labels`` are ``{"request_id": the request's
        X-Ms-Request-Id, "label": one of the served model's classes (a number for a regression model),
        "record": the record's index in the request (default 0)}``, at most 100,000 per call. Labelling a
        record again replaces its label. Returns
        how many were stored. Raises NotFound, InvalidInput naming the first bad label (nothing is stored
        then), or BackendUnavailable (a backend that keeps no labels)."""
        from opml.monitoring.labels import check_labels

        classes = self._service_classes(name)
        return self._add_service_labels(name, check_labels(labels, classes, task=self._service_task(name)))

    @abc.abstractmethod
    def _service_classes(self, name: str) -> list[str]:
        """The classes of the model the service serves (what a label may be). Raises NotFound."""

    def _service_task(self, name: str) -> str:
        """The task of the model the service serves: "regression" takes numbers as labels. Backends that keep
        no labels need not say."""
        return "classification"

    @abc.abstractmethod
    def _add_service_labels(self, name: str, labels: list[tuple[str, int, str]]) -> int:
        """``add_service_labels`` with checked (request_id, record, label) rows."""

    def list_service_labels(self, name: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` (1 to 100,000) labels of the service, newest first: request_id, record,
        label, at (when it was given, epoch seconds). Raises NotFound, InvalidInput or BackendUnavailable."""
        return self._list_service_labels(name, limit=_whole(limit, "limit", 1, 100_000))

    @abc.abstractmethod
    def _list_service_labels(self, name: str, *, limit: int) -> list[dict[str, Any]]:
        """``list_service_labels`` with a checked limit."""

    def get_live_accuracy(self, name: str, *, since: float, bucket_seconds: int = 3600) -> LiveAccuracy:
        """How right the served model was on the labelled records of the requests made since ``since``
        (epoch seconds), per ``bucket_seconds`` (60 to 604,800) of request time, beside its cross-validated
        figures (see ``LiveAccuracy``). Raises NotFound, InvalidInput or BackendUnavailable."""
        return self._get_live_accuracy(
            name, since=_time(since, "since"), bucket_seconds=_whole(bucket_seconds, "bucket_seconds", 60, 604_800)
        )

    @abc.abstractmethod
    def _get_live_accuracy(self, name: str, *, since: float, bucket_seconds: int) -> LiveAccuracy:
        """``get_live_accuracy`` with a finite ``since`` and a checked bucket."""

    def get_service_drift(self, name: str, *, since: float, until: float | None = None) -> DriftReport:
        """How the inputs (and predictions) the service collected from ``since`` to ``until`` (epoch seconds;
        default now) differ from the served model's training data, per feature (PSI and Jensen-Shannon
        distance, most drifted first, with histograms; see ``opml.monitoring.drift``). The training data is the
        dataset version of the model's lineage. Raises NotFound, InvalidInput or BackendUnavailable."""
        since, until = _window(since, until)
        return self._get_service_drift(name, since=since, until=until)

    @abc.abstractmethod
    def _get_service_drift(self, name: str, *, since: float, until: float) -> DriftReport:
        """``get_service_drift`` with a checked window (``since < until``)."""

    def get_service_drift_over_time(
        self, name: str, *, since: float, until: float | None = None, bucket: str = "hour"
    ) -> DriftOverTime:
        """PSI and Jensen-Shannon distance per feature per ``bucket`` ("hour" or "day") from ``since`` to
        ``until``, for a chart. Raises NotFound, InvalidInput (also for more than 2,000 buckets) or
        BackendUnavailable."""
        since, until = _window(since, until)
        if bucket not in ("hour", "day"):
            raise InvalidInput(f'bucket must be "hour" or "day", got {bucket!r}')
        return self._get_service_drift_over_time(name, since=since, until=until, bucket=bucket)

    @abc.abstractmethod
    def _get_service_drift_over_time(self, name: str, *, since: float, until: float, bucket: str) -> DriftOverTime:
        """``get_service_drift_over_time`` with a checked window and bucket."""

    def wait_for_service(self, name: str, *, timeout: float = 120.0, poll_seconds: float = 0.25) -> Service:
        """Poll until the service is Healthy or Failed; returns it. Raises OperationTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            service = self.get_service(name)
            if service.state in (HEALTHY, SERVICE_FAILED):
                return service
            if time.monotonic() >= deadline:
                raise OperationTimeout(f"service {name} is still {service.state} after {timeout:.0f} s")
            time.sleep(poll_seconds)

    # -- deployments: safe rollout behind one endpoint (see opml.rollout) ------------

    def list_deployments(self, service: str) -> list[Deployment]:
        """The endpoint's deployments, oldest first, with their traffic and state. Raises NotFound."""
        return list(self.get_service(service).deployments)

    def create_deployment(
        self,
        service: str,
        *,
        name: str,
        model_name: str,
        model_version: int | None = None,
        traffic: int = 0,
        mirror: int = 0,
        allow_schema_change: bool = False,
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Deployment:
        """Add a deployment of a registered model (its latest version when ``model_version`` is None) behind the
        endpoint, as a challenger: with ``traffic`` percent of live requests (the other deployments keep their
        proportions of the rest) or ``mirror`` percent of requests copied to it as a shadow (at most 50; its
        answers are recorded, never returned), or idle (reachable with the ``azureml-model-deployment``
        header). The scoring URI and keys stay the endpoint's. It loads in the background (Transitioning):
        until it is Healthy its share goes to the others.

        A model whose input schema differs from the endpoint's is refused (SchemaChange, a Conflict naming the
        differences) unless ``allow_schema_change``: the endpoint's swagger.json then describes the new model's
        schema. ``instance_type``/``instance_count``: as for ``deploy_model``.
        Raises InvalidInput (name, percents, both traffic and mirror, a second shadow, instances), NotFound
        (service or model), AlreadyExists (the name is taken on this endpoint), Conflict, or BackendUnavailable."""
        if model_version is not None:
            check_version(model_version)
        traffic, mirror = check_percent(traffic, "traffic"), check_percent(mirror, "mirror traffic")
        if traffic and mirror:
            raise InvalidInput("a deployment takes live traffic or mirror traffic, not both; pick one")
        if not isinstance(model_name, str) or not model_name.strip():
            raise InvalidInput("model_name is required")
        return self._create_deployment(
            service,
            name=check_deployment_name(name),
            model_name=model_name.strip(),
            model_version=model_version,
            traffic=traffic,
            mirror=mirror,
            allow_schema_change=_switch(allow_schema_change, "allow_schema_change"),
            **self._instances(instance_type, instance_count),
        )

    @abc.abstractmethod
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
        """``create_deployment`` with a checked name, version and percents."""

    def delete_deployment(self, service: str, name: str) -> None:
        """Remove an idle deployment (no live or mirror traffic). Raises NotFound, Conflict (it takes traffic:
        move it first; or it is the last loaded one, still answering while the deployments given its traffic
        load or failed to) or BackendUnavailable."""
        self._delete_deployment(service, check_deployment_name(name))

    @abc.abstractmethod
    def _delete_deployment(self, service: str, name: str) -> None:
        """``delete_deployment`` with a checked name."""

    def set_traffic(self, service: str, traffic: Mapping[str, int]) -> Service:
        """Split the live traffic: ``{deployment: percent}``, whole percents summing to 100 (deployments left
        out get 0). Effective on the next request, with no restart. The split it replaces is kept for
        ``rollback_traffic``. Raises InvalidInput (unknown name, a sum other than 100, live traffic to the
        deployment receiving mirror traffic), NotFound or BackendUnavailable."""
        if not isinstance(traffic, Mapping):
            raise InvalidInput("traffic must map deployment names to percents, e.g. {'blue': 90, 'green': 10}")
        return self._set_traffic(service, dict(traffic))

    @abc.abstractmethod
    def _set_traffic(self, service: str, traffic: dict[str, Any]) -> Service:
        """``set_traffic`` (the split is checked against the endpoint's deployments by the backend)."""

    def set_mirror_traffic(self, service: str, mirror: Mapping[str, int]) -> Service:
        """Mirror ``{deployment: percent}`` of requests (at most one deployment, at most 50 %, one that takes
        no live traffic; ``{}`` or 0 stops mirroring). Raises InvalidInput, NotFound or BackendUnavailable."""
        if not isinstance(mirror, Mapping):
            raise InvalidInput("mirror traffic must map a deployment name to a percent, e.g. {'green': 10}")
        return self._set_mirror_traffic(service, dict(mirror))

    @abc.abstractmethod
    def _set_mirror_traffic(self, service: str, mirror: dict[str, Any]) -> Service:
        """``set_mirror_traffic`` (checked against the endpoint's deployments by the backend)."""

    def promote_deployment(self, service: str, name: str) -> Service:
        """All live traffic to deployment ``name`` (its mirror traffic stops); the endpoint's model becomes its
        model. Raises NotFound or BackendUnavailable."""
        return self._promote_deployment(service, check_deployment_name(name))

    @abc.abstractmethod
    def _promote_deployment(self, service: str, name: str) -> Service:
        """``promote_deployment`` with a checked name."""

    @abc.abstractmethod
    def rollback_traffic(self, service: str) -> Service:
        """Put back the live split in force before the last change (a promote, a new split); rolling back
        twice goes forth again. Raises NotFound, Conflict (no earlier split, or one of its deployments was
        deleted) or BackendUnavailable."""

    def compare_deployments(self, service: str, *, since: float, until: float | None = None) -> EndpointComparison:
        """The endpoint's deployments side by side from ``since`` to ``until`` (default now): requests,
        failures, latency percentiles, predicted class mix, agreement on mirrored requests and live accuracy
        where labels exist (see ``EndpointComparison``). Raises NotFound, InvalidInput or BackendUnavailable."""
        since, until = _window(since, until)
        return self._compare_deployments(service, since=since, until=until)

    @abc.abstractmethod
    def _compare_deployments(self, service: str, *, since: float, until: float) -> EndpointComparison:
        """``compare_deployments`` with a checked window."""

    def wait_for_deployment(
        self, service: str, name: str, *, timeout: float = 120.0, poll_seconds: float = 0.25
    ) -> Deployment:
        """Poll until the deployment is Healthy or Failed; returns it. Raises NotFound or OperationTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.list_deployments(service) if d.name == name]
            if not found:
                raise NotFound(f"endpoint {service!r} has no deployment named {name!r}")
            if found[0].state in (HEALTHY, SERVICE_FAILED):
                return found[0]
            if time.monotonic() >= deadline:
                raise OperationTimeout(
                    f"deployment {name} of {service} is still {found[0].state} after {timeout:.0f} s"
                )
            time.sleep(poll_seconds)

    # -- alerts --------------------------------------------------------------------

    def create_alert_rule(
        self,
        service: str,
        *,
        kind: str,
        threshold: float,
        window_minutes: float = 60,
        for_minutes: float = 0,
        webhook_url: str | None = None,
        pipeline: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        experiment: str | None = None,
        name: str | None = None,
    ) -> AlertRule:
        """A rule on ``service`` that the agent evaluates once a minute (enabled when created).

        ``kind`` and the meaning of ``threshold`` are listed in ``opml.monitoring.rules`` (drift: a PSI;
        accuracy: a fraction; failure_rate: percent, judged from ``MIN_REQUESTS`` requests in the window;
        latency_p99: ms; unhealthy: minutes not Healthy). The condition is measured over the last
        ``window_minutes`` (1 minute to 7 days) and must hold for ``for_minutes`` (0 to 1,440) before the rule
        fires. When it fires (and when it resolves) the alert is POSTed as JSON to ``webhook_url``; when it
        fires, the published pipeline ``pipeline`` is triggered with ``pipeline_parameters`` in ``experiment``
        (default: the published pipeline's name), with the trigger "Alert". ``name`` defaults to the condition
        in words.

        Raises NotFound (service, published pipeline), InvalidInput (naming the first problem), or
        BackendUnavailable where this backend's workspace cannot evaluate rules."""
        from opml.monitoring.rules import (
            MAX_FOR_MINUTES,
            MAX_WINDOW_MINUTES,
            TASK_KINDS,
            check_kind,
            check_kind_for_task,
            check_minutes,
            check_rule_name,
            check_threshold,
            check_webhook_url,
        )

        if not isinstance(service, str) or not service.strip():
            raise InvalidInput(f"name the service the rule watches, got {service!r}")
        rule_kind = check_kind(kind)
        clean_threshold = check_threshold(rule_kind, threshold)
        window = check_minutes(window_minutes, "window_minutes", low=1, high=MAX_WINDOW_MINUTES)
        hold = check_minutes(for_minutes, "for_minutes", low=0, high=MAX_FOR_MINUTES)
        url = check_webhook_url(webhook_url)
        rule_name = check_rule_name(name, rule_kind, clean_threshold)
        parameters = _mapping(pipeline_parameters, "pipeline_parameters") or {}
        if pipeline is None and (parameters or experiment is not None):
            raise InvalidInput("pipeline_parameters and experiment apply to a rule that names a published pipeline")
        watched = self.get_service(service)
        if rule_kind.name in TASK_KINDS:  # only then is the model read
            manifest = self.get_model(watched.model_name, watched.model_version).manifest
            check_kind_for_task(rule_kind, manifest.get("task") or "classification", service)
        published = None
        if pipeline is not None:
            if not isinstance(pipeline, str) or not pipeline.strip():
                raise InvalidInput(f"pipeline must be the id of a published pipeline, got {pipeline!r}")
            published = self.get_published_pipeline(pipeline.strip())
            experiment = check_name(
                published.name.replace(" ", "-") if experiment is None else experiment, "experiment"
            )
        return self._create_alert_rule(
            service=service,
            kind=rule_kind.name,
            threshold=clean_threshold,
            window_minutes=window,
            for_minutes=hold,
            webhook_url=url,
            published=published,
            pipeline_parameters=parameters,
            experiment=experiment,
            name=rule_name,
        )

    @abc.abstractmethod
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
        """``create_alert_rule`` on an existing service with checked settings (and an existing published
        pipeline, whose parameters the backend checks)."""

    def list_alert_rules(self, service: str | None = None) -> list[AlertRule]:
        """The alert rules (of one service when given), newest first, each with what its last evaluation
        found (``note``). Raises InvalidInput for a service that is not a name."""
        if service is not None and not isinstance(service, str):
            raise InvalidInput(f"service must be a name, got {service!r}")
        return self._list_alert_rules(service)

    @abc.abstractmethod
    def _list_alert_rules(self, service: str | None) -> list[AlertRule]:
        """``list_alert_rules`` with a checked service name (or None)."""

    @abc.abstractmethod
    def delete_alert_rule(self, rule_id: str) -> None:
        """Delete a rule; a firing alert of it is resolved, past alerts are kept. Raises NotFound."""

    def set_alert_rule_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        """Enable or disable a rule (disabling resolves its firing alert). Raises NotFound or InvalidInput."""
        return self._set_alert_rule_enabled(rule_id, _switch(enabled, "enabled"))

    @abc.abstractmethod
    def _set_alert_rule_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        """``set_alert_rule_enabled`` with a checked switch."""

    def list_alerts(self, service: str | None = None, *, state: str | None = None, limit: int = 100) -> list[Alert]:
        """The newest ``limit`` (1 to 10,000) alerts, newest first, of one service and state (Firing or
        Resolved) when given; kept after their rule or service is deleted. Raises InvalidInput."""
        if service is not None and not isinstance(service, str):
            raise InvalidInput(f"service must be a name, got {service!r}")
        if state is not None and state not in ALERT_STATES:
            raise InvalidInput(f"state must be one of {', '.join(ALERT_STATES)}, got {state!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 10,000, got {limit!r}")
        return self._list_alerts(service, state=state, limit=limit)

    @abc.abstractmethod
    def _list_alerts(self, service: str | None, *, state: str | None, limit: int) -> list[Alert]:
        """``list_alerts`` with checked arguments."""

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
        """Define a pipeline (see ``opml.pipelines.spec``). Raises InvalidInput naming the first problem (an
        AutoML step whose settings, with the parameters' defaults, this backend's AutoML refuses included:
        ``automl_limits``), or NotFound (compute)."""
        from opml.pipelines.spec import check_spec

        name = check_name(name, "pipeline")
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        clean_steps, clean_parameters = check_spec(steps, _mapping(parameters, "parameters"), self.automl_limits)
        return self._create_pipeline(
            name=name,
            steps=clean_steps,
            parameters=clean_parameters,
            compute=check_name(compute, "compute"),
            description=description,
        )

    @abc.abstractmethod
    def _create_pipeline(
        self, *, name: str, steps: list[dict[str, Any]], parameters: dict[str, Any], compute: str, description: str
    ) -> Pipeline:
        """``create_pipeline`` with a checked name and spec (``check_spec``)."""

    @abc.abstractmethod
    def list_pipelines(self) -> list[Pipeline]:
        """Every pipeline, newest first."""

    @abc.abstractmethod
    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        """Raises NotFound."""

    def run_pipeline(
        self, pipeline_id: str, *, experiment: str, parameters: Mapping[str, Any] | None = None, trigger: str = "UI"
    ) -> Run:
        """Queue a run of a pipeline on its compute; returns at once. Raises NotFound or InvalidInput
        (unknown parameters, named)."""
        from opml.pipelines.spec import check_assignments, check_values

        pipeline = self.get_pipeline(pipeline_id)
        experiment = check_name(experiment, "experiment")
        values = check_assignments(pipeline.parameters, _mapping(parameters, "parameters"))
        # The values must make a valid AutoML step (a metric of the step's task...) before the run is queued.
        check_values(pipeline.steps, {**pipeline.parameters, **values}, self.automl_limits)
        return self._run_pipeline(pipeline, experiment=experiment, parameters=values, trigger=_trigger(trigger))

    @abc.abstractmethod
    def _run_pipeline(self, pipeline: Pipeline, *, experiment: str, parameters: dict[str, Any], trigger: str) -> Run:
        """``run_pipeline`` of an existing pipeline, with a checked experiment name and declared parameters."""

    def publish_pipeline(
        self, pipeline_id: str, *, name: str, description: str = "", version: str = "1.0"
    ) -> PublishedPipeline:
        """Publish a pipeline behind its REST endpoint (status Active). Raises NotFound or InvalidInput.

        ``name`` may hold spaces ("Bankmarketing Train"), as on Azure; otherwise the rules of ``check_name``."""
        pipeline = self.get_pipeline(pipeline_id)
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("a published pipeline needs a name, e.g. 'Bankmarketing Train'")
        check_name(name.strip().replace(" ", "-"), "published pipeline")
        if not isinstance(version, str) or not version.strip():
            raise InvalidInput("version is required, e.g. '1.0'")
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        return self._publish_pipeline(pipeline, name=name.strip(), description=description, version=version.strip())

    @abc.abstractmethod
    def _publish_pipeline(self, pipeline: Pipeline, *, name: str, description: str, version: str) -> PublishedPipeline:
        """``publish_pipeline`` of an existing pipeline with a checked name and version."""

    @abc.abstractmethod
    def list_published_pipelines(self) -> list[PublishedPipeline]:
        """Every published pipeline, newest first."""

    @abc.abstractmethod
    def get_published_pipeline(self, published_id: str) -> PublishedPipeline:
        """Raises NotFound."""

    @abc.abstractmethod
    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        """Enable (Active) or disable (Disabled: its endpoint answers 409). Raises NotFound."""

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
        """Queue a run of a published pipeline. Raises NotFound, Conflict (disabled) or InvalidInput."""
        published = self.get_published_pipeline(published_id)
        experiment = check_name(experiment, "experiment")
        if not isinstance(description, str):
            raise InvalidInput("description must be text")
        return self._trigger_published_pipeline(
            published,
            experiment=experiment,
            parameters=_mapping(parameters, "parameters") or {},
            trigger=_trigger(trigger),
            description=description,
            tags=check_tags(_mapping(tags, "tags")),
        )

    @abc.abstractmethod
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
        """``trigger_published_pipeline`` of an existing published pipeline with a checked experiment name and
        tags; the backend checks the parameters (and the status: Conflict when disabled)."""

    def list_pipeline_runs(
        self, *, pipeline_id: str | None = None, published_pipeline_id: str | None = None, limit: int = 200
    ) -> list[Run]:
        """The newest ``limit`` (1 to 10,000) pipeline runs, newest first, of one pipeline or published pipeline
        when given. Raises InvalidInput for another limit."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PIPELINE_RUNS:
            raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PIPELINE_RUNS:,}, got {limit!r}")
        return self._list_pipeline_runs(
            pipeline_id=pipeline_id, published_pipeline_id=published_pipeline_id, limit=limit
        )

    @abc.abstractmethod
    def _list_pipeline_runs(
        self, *, pipeline_id: str | None, published_pipeline_id: str | None, limit: int
    ) -> list[Run]:
        """``list_pipeline_runs`` with a checked limit."""

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
        """Run a published pipeline on a recurrence: every ``interval_minutes``, or a cron expression.

        Without ``allow_overlap`` an occurrence is skipped while the previous run is still going.
        Raises NotFound or InvalidInput (bad recurrence, unknown parameters)."""
        name = check_name(name, "schedule")
        experiment = check_name(experiment, "experiment")
        interval_minutes, cron = check_recurrence(interval_minutes, cron)
        published = self.get_published_pipeline(published_id)
        return self._create_schedule(
            published,
            name=name,
            experiment=experiment,
            interval_minutes=interval_minutes,
            cron=cron,
            parameters=_mapping(parameters, "parameters") or {},
            allow_overlap=_switch(allow_overlap, "allow_overlap"),
        )

    @abc.abstractmethod
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
        """``create_schedule`` of an existing published pipeline with a checked name, experiment and recurrence
        (``check_recurrence``); the backend checks the parameters against the pipeline."""

    @abc.abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """Every schedule, newest first."""

    @abc.abstractmethod
    def set_schedule_paused(self, schedule_id: str, paused: bool) -> Schedule:
        """Pause or resume (resuming counts the recurrence from now). Raises NotFound."""

    @abc.abstractmethod
    def delete_schedule(self, schedule_id: str) -> None:
        """Raises NotFound."""

    # -- tokens --------------------------------------------------------------------

    @abc.abstractmethod
    def create_token(self, name: str) -> str:
        """A new workspace token for REST triggers, returned once. Raises AlreadyExists or InvalidInput."""

    @abc.abstractmethod
    def list_tokens(self) -> list[Token]:
        """Token names with their state (never the tokens)."""

    @abc.abstractmethod
    def revoke_token(self, name: str) -> None:
        """Revoke a token at once. Raises NotFound."""

    @abc.abstractmethod
    def auth_header(self) -> dict[str, str]:
        """The header a REST client needs, like Azure's ``get_authentication_header()``."""

    def published_trigger_body(self, published_id: str, experiment: str) -> dict[str, Any]:
        """The JSON body a REST client POSTs to a published pipeline's endpoint (with ``auth_header()``) to run it
        in ``experiment``: Azure ML SDK v1's (and opml's gateway's) ``{"ExperimentName": ...}`` here; a backend
        whose endpoints take another body (SDK v2's batch endpoints) says so. Shown in the dashboard's
        snippets. Raises NotFound."""
        self.get_published_pipeline(published_id)
        return {"ExperimentName": experiment}

    # -- audit ---------------------------------------------------------------------

    def record_audit_event(self, actor: str, action: str, target: str) -> AuditEvent:
        """Append to the workspace's audit trail that ``actor`` did ``action`` (a key of ``opml.audit.ACTIONS``:
        deployed a service, revealed a key, created a token, triggered a run, ...) to ``target``, now.

        Events are never changed or deleted. Raises InvalidInput (unknown action; an actor or target that is
        empty, longer than 300 characters or not printable); nothing is recorded then."""
        actor, action, target = check_event(actor, action, target)
        return self._record_audit_event(actor, action, target)

    @abc.abstractmethod
    def _record_audit_event(self, actor: str, action: str, target: str) -> AuditEvent:
        """``record_audit_event`` with checked texts."""

    def list_audit_events(self, *, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` (1 to 10,000) audit events, newest first, as recorded (also by other
        processes: the CLI, the gateway)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 10,000, got {limit!r}")
        return self._list_audit_events(limit)

    @abc.abstractmethod
    def _list_audit_events(self, limit: int) -> list[AuditEvent]:
        """``list_audit_events`` with a checked limit."""

    def list_experiments(self) -> list[str]:
        """Names of experiments with at least one run, sorted."""
        return sorted({run.experiment for run in self.list_runs(top_level_only=True, limit=10_000)})

    def wait_for_run(self, run_id: str, *, timeout: float = 600.0, poll_seconds: float = 0.5) -> Run:
        """Poll until the run is Completed, Failed or Canceled; returns it.

        Raises OperationTimeout when ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if run.is_terminal:
                return run
            if time.monotonic() >= deadline:
                raise OperationTimeout(f"run {run_id} is still {run.status} after {timeout:.0f} s")
            time.sleep(poll_seconds)
