"""Typed entities shared by every backend (frozen dataclasses, no behaviour)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Run statuses, as Azure ML names them.
NOT_STARTED = "NotStarted"
QUEUED = "Queued"
PREPARING = "Preparing"
RUNNING = "Running"
FINALIZING = "Finalizing"
CANCEL_REQUESTED = "CancelRequested"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"

SKIPPED = "Skipped"  # a pipeline step not run because an earlier step failed

RUN_STATUSES = (
    NOT_STARTED,
    QUEUED,
    PREPARING,
    RUNNING,
    FINALIZING,
    CANCEL_REQUESTED,
    COMPLETED,
    FAILED,
    CANCELED,
    SKIPPED,
)
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED, SKIPPED})
ACTIVE_STATUSES = frozenset({PREPARING, RUNNING, FINALIZING, CANCEL_REQUESTED})


def as_dict(entity: Any) -> dict[str, Any]:
    """A JSON-friendly dict of an entity (datetimes as ISO strings)."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        return value

    document = {key: convert(value) for key, value in dataclasses.asdict(entity).items()}
    if isinstance(entity, Run):
        document["params"] = convert(entity.shown_params)
    return document


MASK = "••••••"


def masked_params(params: dict[str, Any]) -> dict[str, Any]:
    """Run parameters as they are shown: the values of a command's environment (tokens, passwords) masked."""
    env = params.get("env")
    if isinstance(env, dict) and env:
        return {**params, "env": dict.fromkeys(env, MASK)}
    return params


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str  # "numeric", "categorical", "boolean" or "datetime"
    missing: int
    missing_pct: float
    distinct: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    # Most frequent values with their counts (all of them for low-cardinality columns).
    top_values: dict[str, int] = field(default_factory=dict)
    # Histogram of numeric columns: bin edges and counts.
    histogram: tuple[tuple[float, ...], tuple[int, ...]] | None = None


@dataclass(frozen=True)
class DatasetProfile:
    rows: int
    columns: tuple[ColumnProfile, ...]
    duplicate_rows: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        """A profile back from ``dataclasses.asdict`` (as stored in JSON)."""
        columns = []
        for column in data["columns"]:
            histogram = column.get("histogram")
            column = {**column, "histogram": (tuple(histogram[0]), tuple(histogram[1])) if histogram else None}
            columns.append(ColumnProfile(**column))
        return cls(rows=data["rows"], columns=tuple(columns), duplicate_rows=data["duplicate_rows"])

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass(frozen=True)
class Dataset:
    name: str
    version: int
    description: str
    tags: dict[str, str]
    sha256: str
    rows: int
    columns: tuple[str, ...]
    source: str  # where it was registered from: a URL, a path or "upload:<filename>"
    size_bytes: int
    created_at: datetime
    delimiter: str = ","
    decimal: str = "."

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Compute:
    name: str
    max_nodes: int
    kind: str  # "local" or "AmlCompute"
    state: str  # "Succeeded", "Creating", "Failed", ...
    created_at: datetime | None
    active_runs: int = 0
    queued_runs: int = 0
    min_nodes: int = 0  # nodes an Azure cluster keeps running when idle (a local compute has none to keep)


@dataclass(frozen=True)
class Run:
    id: str
    experiment: str
    run_type: str
    status: str
    compute: str
    created_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    parent_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    display_name: str = ""

    @property
    def shown_params(self) -> dict[str, Any]:
        """``params`` with secrets masked, for the dashboard and the CLI (``masked_params``)."""
        return masked_params(self.params)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at or datetime.now(self.started_at.tzinfo)
        return max(0.0, (end - self.started_at).total_seconds())


@dataclass(frozen=True)
class RunPage:
    """One page of a run search: the runs, and how many matched in all."""

    runs: list[Run]
    total: int
    offset: int = 0


@dataclass(frozen=True)
class AgentStatus:
    running: bool
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    detail: str


@dataclass(frozen=True)
class WorkspaceInfo:
    backend: str  # "local" or "azure"
    location: str  # folder path, or Azure workspace coordinates
    counts: dict[str, int]


@dataclass(frozen=True)
class Model:
    name: str
    version: int
    description: str
    tags: dict[str, str]
    run_id: str
    algorithm: str
    dataset: str  # "name:version" it was trained on
    primary_metric: str
    metrics: dict[str, float]
    sha256: str
    size_bytes: int
    created_at: datetime
    manifest: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # names pointing at this version (e.g. "champion"), sorted

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class AliasChange:
    """One move of a model alias: to ``version`` (None: removed) from ``previous_version`` (None: new)."""

    model: str
    alias: str
    version: int | None
    previous_version: int | None
    actor: str
    at: datetime


# Service states, as Azure ML names them.
TRANSITIONING = "Transitioning"
HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"
SERVICE_FAILED = "Failed"
DELETING = "Deleting"


class _ModelReference:
    """``model_name`` and ``model_version`` of an entity whose ``model`` is "name:version"."""

    model: str

    @property
    def model_name(self) -> str:
        return self.model.rsplit(":", 1)[0]

    @property
    def model_version(self) -> int:
        return int(self.model.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Deployment(_ModelReference):
    """One registered model version behind an endpoint, with its share of the traffic.

    ``state``: Healthy (loaded and answering), Transitioning (being loaded), Failed (its model could not be
    loaded: ``error`` says why; it takes no traffic meanwhile, its share goes to the others), or the
    endpoint's own state while the endpoint is not Healthy."""

    service: str
    name: str
    model: str  # "name:version"
    traffic: int  # percent of live requests
    mirror: int  # percent of requests copied to it; its answers are recorded, not returned
    state: str
    created_at: datetime
    error: str | None = None
    instance_type: str = ""  # the VM size of an Azure ML managed online deployment ("" elsewhere)
    instance_count: int = 0  # ... and how many instances serve it (0: not sized)


@dataclass(frozen=True)
class Service(_ModelReference):
    name: str
    model: str  # "name:version"
    state: str
    auth_enabled: bool
    app_insights_enabled: bool
    scoring_uri: str
    swagger_uri: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    error: str | None = None
    restarts: int = 0
    compute_type: str = "local"  # "ACI" on Azure
    telemetry_dropped: int = 0  # requests the service could not record (its queue was full or a write failed)
    telemetry_note: str = ""  # where telemetry goes: App Insights export on, off, or failing
    mirror_dropped: int = 0  # mirrored requests not scored since the process started: the shadow's queue was full
    data_collection: bool = False  # the inputs and outputs of sampled requests are kept (opt-in)
    collection_sampling_rate: float = 1.0  # the share of successful requests collected (0 < r <= 1)
    collection_retention_days: int = 30  # collected files older than this are deleted by the agent
    collection_rows: int = 0  # records written to the collected files by the running process
    collection_dropped: int = 0  # sampled records the service could not keep (queue full, write failed)
    collection_error: str | None = None  # the last write error of the collection, if any
    # The deployments behind the endpoint, oldest first (one for a service deployed the simple way). ``model``
    # above is the endpoint's model: the one whose input schema swagger.json describes (see opml.rollout).
    deployments: tuple[Deployment, ...] = ()
    # The request body the scoring URI takes: "data" (``{"data": [records]}``: local services and SDK v1 services)
    # or "input_data" (``{"input_data": {"columns", "index", "data"}}``: MLflow models on SDK v2 managed online
    # endpoints). Clients (opml.client.score, the CLI, the Score page) pick the shape from it.
    request_format: str = "data"

    @property
    def traffic(self) -> dict[str, int]:
        """Live traffic per deployment, in percent (sums to 100)."""
        return {deployment.name: deployment.traffic for deployment in self.deployments}

    @property
    def mirror_traffic(self) -> dict[str, int]:
        """Mirror traffic per deployment, in percent of requests (at most one above 0)."""
        return {deployment.name: deployment.mirror for deployment in self.deployments}

    @property
    def base_uri(self) -> str:
        return self.scoring_uri.rsplit("/score", 1)[0]


@dataclass(frozen=True)
class TelemetrySummary:
    """A service's recorded requests since a moment, aggregated where they are stored.

    ``buckets``: one per ``bucket_seconds`` with requests, in time order: ``at`` (bucket start, epoch
    seconds), ``requests``, ``failed`` (status >= 400), ``p50``/``p95``/``p99`` (latency in ms, nearest
    rank), ``predictions`` ({label: count}, a classifier's) and ``values`` (a regression model's predicted
    numbers: {"count", "mean", "min", "max"}, the count of all of them, the rest of those read, which may be
    those of a sample of the requests when the window holds very many; None in a bucket without them).
    ``predicted_values``: regression predictions of the window for a histogram, at most
    ``MAX_SUMMARY_VALUES``, spread evenly over the window. ``recent``: the newest requests, newest first, as
    ``get_service_telemetry`` gives them (``predictions`` there: {label: count}, or the list of predicted
    numbers of a regression request)."""

    since: float
    bucket_seconds: int
    requests: int
    failed: int
    buckets: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    predicted_values: list[float] = field(default_factory=list)


MAX_SUMMARY_VALUES = 20_000  # predicted numbers a TelemetrySummary keeps for its histogram


@dataclass(frozen=True)
class DeploymentStats:
    """What one deployment of an endpoint did over a window (``EndpointComparison``).

    ``requests``/``failed``/``p50``/``p95``/``p99`` are of its live answers (None without requests);
    ``mirrored``/``mirror_failed``/``mirror_p50`` of the mirrored requests it answered in the shadow;
    ``agreement``: the share of mirrored records on which it predicted what the live deployment returned
    (None without mirrored records); ``predictions``: {label: records} of its live answers (mirrored ones
    when it took no live traffic); ``accuracy``/``labelled``: live accuracy on the labelled records it
    answered (mirrored ones for a shadow), None without labels or collected data; for a regression model
    ``rmse``/``mae`` on those records instead (``accuracy`` None) beside its cross-validated ``cv_rmse``."""

    name: str
    model: str
    traffic: int
    mirror: int
    requests: int = 0
    failed: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mirrored: int = 0
    mirror_failed: int = 0
    mirror_p50: float | None = None
    agreement: float | None = None
    agreed_records: int = 0
    compared_records: int = 0
    predictions: dict[str, int] = field(default_factory=dict)
    labelled: int = 0
    accuracy: float | None = None
    cv_accuracy: float | None = None
    rmse: float | None = None
    mae: float | None = None
    cv_rmse: float | None = None


@dataclass(frozen=True)
class EndpointComparison:
    """The deployments of one endpoint side by side, from ``since`` to ``until`` (epoch seconds), from the
    endpoint's telemetry (and, for accuracy, its collected data and labels). ``note`` says what is missing
    (telemetry off, no labels) in words."""

    service: str
    since: float
    until: float
    deployments: list[DeploymentStats]
    note: str = ""

    def stats(self, name: str) -> DeploymentStats:
        for stats in self.deployments:
            if stats.name == name:
                return stats
        raise KeyError(name)


@dataclass(frozen=True)
class LiveAccuracy:
    """How right a service's model is on the requests labelled later (ground truth), since a moment.

    Labels are joined with the collected outputs by (request id, record). ``buckets``: one per
    ``bucket_seconds`` of the requests' time that holds labelled records, in time order: ``at`` (bucket start,
    epoch seconds), ``labelled``, ``correct``, ``accuracy`` and ``auc`` (AUC_weighted: one-vs-rest AUC of each
    class's probability weighted by its share of the labels, which for two classes is the AUC of
    ``positive_class``'s; None unless two classes are among the bucket's labels). ``unmatched``: labels given
    since ``since`` whose request is not among the collected records of the window (collection off or not
    sampled, or an older request). ``cv_accuracy`` and ``cv_auc_weighted``: the model's cross-validated figures,
    for comparison.

    A regression model's (``task`` "regression") labels are numbers: ``accuracy``, ``auc`` and ``correct`` are
    None/0 and ``mae``, ``rmse``, ``r2`` (None with fewer than two labelled records or constant true values) say
    how far the predictions were, beside the cross-validated ``cv_mae``, ``cv_rmse``, ``cv_r2``; its buckets hold
    ``labelled``, ``mae``, ``rmse`` and ``r2``."""

    since: float
    bucket_seconds: int
    labelled: int
    correct: int
    accuracy: float | None
    auc: float | None
    unmatched: int
    buckets: list[dict[str, Any]]
    positive_class: str | None = None
    cv_accuracy: float | None = None
    cv_auc_weighted: float | None = None
    skipped_files: tuple[str, ...] = ()  # collected files that could not be read (left out whole)
    task: str = "classification"
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None
    cv_mae: float | None = None
    cv_rmse: float | None = None
    cv_r2: float | None = None


@dataclass(frozen=True)
class ServiceKeys:
    primary: str
    secondary: str


ACTIVE, DISABLED = "Active", "Disabled"


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    description: str
    steps: list[dict[str, Any]]
    parameters: dict[str, Any]  # declared parameters with their defaults
    created_at: datetime
    compute: str = "cpu-cluster"


@dataclass(frozen=True)
class PublishedPipeline:
    id: str
    name: str
    description: str
    version: str
    pipeline_id: str
    status: str  # Active or Disabled
    endpoint: str  # the full REST submit URL
    created_at: datetime


@dataclass(frozen=True)
class Token:
    name: str
    created_at: datetime
    revoked: bool
    owner: bool = False  # the workspace owner's own token (``auth_header()``)


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    published_pipeline_id: str
    experiment: str
    recurrence: str  # "every N minutes" or a cron expression
    parameters: dict[str, Any]
    allow_overlap: bool
    status: str  # Active or Paused
    next_run_at: datetime | None
    last_run_id: str | None
    created_at: datetime


# Alerts on scoring services (see ``opml.monitoring.rules`` for what each kind measures).
FIRING, RESOLVED = "Firing", "Resolved"
ALERT_STATES = (FIRING, RESOLVED)


@dataclass(frozen=True)
class AlertRule:
    """A condition on one service that the agent checks once a minute.

    ``note`` says in words what the last evaluation found (the measured value, or why there was nothing to
    judge: "no collected data yet"); ``pending_since`` is when the condition started holding while it waits
    ``for_minutes`` before firing."""

    id: str
    service: str
    name: str
    kind: str  # drift, accuracy, failure_rate, latency_p99 or unhealthy
    threshold: float
    window_minutes: float
    for_minutes: float
    enabled: bool
    created_at: datetime
    webhook_url: str | None = None
    pipeline: str | None = None  # a published pipeline id, triggered when the rule fires
    pipeline_parameters: dict[str, Any] = field(default_factory=dict)
    experiment: str | None = None
    note: str = ""
    evaluated_at: datetime | None = None
    pending_since: datetime | None = None


@dataclass(frozen=True)
class Alert:
    """One firing of a rule: Firing until its condition stops holding, then Resolved (never both at once)."""

    id: str
    rule_id: str
    rule_name: str
    service: str
    kind: str
    state: str  # Firing or Resolved
    value: float  # the measured value when it fired
    threshold: float
    message: str
    fired_at: datetime
    resolved_at: datetime | None = None
    webhook_status: str | None = None  # what became of the POST to the rule's webhook, if it has one
    run_id: str | None = None  # the pipeline run the firing started, if the rule names a published pipeline
