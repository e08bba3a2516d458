"""SDK objects as opml entities. Only attributes the real SDK classes have are read
(``tests/test_azure_sdk_boundary.py`` checks each against the installed SDK)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from opml.backends.azure_common.params import params_from
from opml.backends.azure_common.tasks import model_task
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.entities import (
    CANCEL_REQUESTED,
    CANCELED,
    COMPLETED,
    FAILED,
    FINALIZING,
    NOT_STARTED,
    PREPARING,
    QUEUED,
    RUNNING,
    Compute,
    Deployment,
    Model,
    PublishedPipeline,
    Run,
    Service,
)
from opml.errors import InvalidInput
from opml.rollout import check_deployment_name

OPML_TAG_PREFIX = "opml_"
SUBMITTED_TAG = "opml_submitted_at"  # when opml submitted a run (ISO 8601, UTC)
DEPLOYMENT_TAG = "opml_deployment"  # the deployment name opml gave an ACI web service (its one deployment)
UNTAGGED_DEPLOYMENT = "default"  # the deployment of a web service opml did not deploy (or did not tag)


def submitted_now() -> dict[str, str]:
    """The tag that dates a run opml submits."""
    return {SUBMITTED_TAG: datetime.now(UTC).isoformat()}


# Azure's run statuses folded onto opml's (the rest are spelled the same).
_STATUSES = {
    "NotStarted": NOT_STARTED,
    "Queued": QUEUED,
    "Starting": PREPARING,
    "Preparing": PREPARING,
    "Provisioning": PREPARING,
    "Running": RUNNING,
    "NotResponding": RUNNING,
    "Finalizing": FINALIZING,
    "CancelRequested": CANCEL_REQUESTED,
    "Completed": COMPLETED,
    "Failed": FAILED,
    "Canceled": CANCELED,
}

# Azure's run types as opml's.
_RUN_TYPES = {"automl": "automl", "azureml.PipelineRun": "pipeline", "azureml.StepRun": "pipeline_step"}


def opml_status(azure_status: str) -> str:
    return _STATUSES.get(azure_status, azure_status)


def user_tags(tags: dict | None) -> dict[str, str]:
    """Tags without opml's own bookkeeping tags."""
    return {k: str(v) for k, v in (tags or {}).items() if not str(k).startswith(OPML_TAG_PREFIX)}


def _error_message(details: dict) -> str | None:
    error = details.get("error") or {}
    if isinstance(error, dict):
        inner = error.get("error") or error
        message = inner.get("message") if isinstance(inner, dict) else None
        return message or (json.dumps(error) if error else None)
    return str(error) or None


def run_params(run: Any) -> dict[str, Any]:
    """opml's view of a run's parameters (``params_from``)."""
    return params_from(run.tags, run.properties)


def _cached_dto(run: Any) -> dict[str, Any] | None:
    dto = getattr(run, "_run_dto", None)
    return dto if isinstance(dto, dict) else None


def created_time(run: Any) -> datetime | None:
    """When Azure created ``run``: ``created_utc`` of the RunDto the run object was listed or fetched with (the
    SDK keeps it as ``Run._run_dto``, a dict of its fields, times as ISO 8601 text), so reading it costs no
    request. ``get_details()`` has no creation time."""
    dto = _cached_dto(run)
    return parse_time(dto.get("created_utc")) if dto is not None else None


def parent_run_id(run: Any) -> str | None:
    """The id of the run's parent, from the RunDto the run object came with (``Run.parent`` GETs the parent)."""
    dto = _cached_dto(run)
    if dto is not None:
        return dto.get("parent_run_id") or None
    parent = run.parent
    return parent.id if parent is not None else None


def listed_details(run: Any) -> dict[str, Any]:
    """What ``run.get_details()`` says of the status, compute, times and error of a run, read from the RunDto the run
    object was listed (or fetched) with, which holds the same fields (``Run._run_dto``: snake_case names, times as
    ISO 8601 text, the error as Azure's object): as fresh as the listing, and no request."""
    dto = _cached_dto(run) or {}
    return {
        "status": dto.get("status") or run.status,
        "target": dto.get("target"),
        "startTimeUtc": dto.get("start_time_utc"),
        "endTimeUtc": dto.get("end_time_utc"),
        "error": dto.get("error"),
    }


def to_run(run: Any, *, details: dict[str, Any], progress: dict[str, Any] | None = None) -> Run:
    """``details`` is ``run.get_details()``, fetched once by the caller (or ``listed_details(run)``)."""
    started = parse_time(details.get("startTimeUtc"))
    submitted = parse_time((run.tags or {}).get(SUBMITTED_TAG))
    return Run(
        id=run.id,
        experiment=run.experiment.name,
        run_type=_RUN_TYPES.get(run.type, "command" if run.type == "azureml.scriptrun" else str(run.type)),
        status=opml_status(details.get("status") or run.status),  # Azure's answer now, not the object's snapshot
        compute=details.get("target") or "",
        created_at=created_time(run) or submitted or started or EPOCH,
        params=run_params(run),
        tags=user_tags(run.tags),
        parent_id=parent_run_id(run),
        started_at=started,
        ended_at=parse_time(details.get("endTimeUtc")),
        error=_error_message(details),
        progress=progress or {},
        display_name=run.display_name or "",
    )


_QUEUED_RUN_STATES = ("NotStarted", "Queued")


def to_compute(target: Any, active_runs: list[Any] | None = None) -> Compute:
    """``active_runs``: the RunDtos of ``target.get_active_runs()`` (queued ones included), when fetched."""
    scale = getattr(target, "scale_settings", None)
    max_nodes = getattr(scale, "maximum_node_count", None) or 1
    states = [str(getattr(run, "status", "")) for run in active_runs or ()]
    queued = sum(1 for state in states if state in _QUEUED_RUN_STATES)
    return Compute(
        name=target.name,
        max_nodes=int(max_nodes),
        kind=target.type,
        state=target.provisioning_state or "Unknown",
        created_at=None,
        active_runs=len(states) - queued,
        queued_runs=queued,
        min_nodes=int(getattr(scale, "minimum_node_count", None) or 0),
    )


def to_model(model: Any) -> Model:
    properties = model.properties or {}
    try:
        metrics = json.loads(properties.get("opml_metrics", "{}"))
    except ValueError:
        metrics = {}
    return Model(
        name=model.name,
        version=int(model.version),
        description=model.description or "",
        tags=user_tags(model.tags),
        run_id=model.run_id or "",
        algorithm=properties.get("opml_algorithm", ""),
        dataset=properties.get("opml_dataset", ""),
        primary_metric=properties.get("opml_primary_metric", ""),
        metrics=metrics,
        sha256="",  # Azure keeps no content hash of a model; the local backend's tamper check does not apply
        size_bytes=0,
        created_at=parse_time(model.created_time) or EPOCH,
        # its task as a local model's manifest says it (what scoring reads: numbers for regression, labels else)
        manifest={"azure_id": model.id, "properties": dict(properties), "task": model_task(properties)},
    )


def service_error(error: Any) -> str | None:
    """An ACI service's error in words: Azure's message, then each detail's (``error`` is Azure's JSON object:
    code, message and details such as CrashLoopBackOff with the container's own message)."""
    if not error:
        return None
    if not isinstance(error, dict):
        return str(error)
    parts = [str(error.get("message") or error.get("code") or json.dumps(error))]
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and (detail.get("message") or detail.get("code")):
            parts.append(f"{detail.get('code', 'detail')}: {detail.get('message', '')}".rstrip(": "))
    return "\n".join(parts)


def deployment_name(tags: dict[str, str] | None) -> str:
    """The name of an ACI web service's one deployment: the one opml tagged it with at deploy, else
    ``default`` (a service deployed outside opml, or a tag edited into something that is not a name)."""
    try:
        return check_deployment_name((tags or {}).get(DEPLOYMENT_TAG))
    except InvalidInput:
        return UNTAGGED_DEPLOYMENT


def to_service(service: Any) -> Service:
    """An ACI web service as an endpoint. SDK v1's web service serves one model (the first of its models),
    so the endpoint holds one deployment taking all its traffic, in the service's own state."""
    models = service.models or []
    model = f"{models[0].name}:{models[0].version}" if models else ":0"
    created = parse_time(service.created_time) or EPOCH
    state = service.state or "Transitioning"
    error = service_error(service.error)
    deployment = Deployment(
        service=service.name,
        name=deployment_name(service.tags),
        model=model,
        traffic=100,
        mirror=0,
        state=state,
        created_at=created,
        error=error,
    )
    return Service(
        name=service.name,
        model=model,
        state=state,
        auth_enabled=bool(getattr(service, "auth_enabled", False)),
        app_insights_enabled=bool(getattr(service, "enable_app_insights", False)),
        scoring_uri=service.scoring_uri or "",
        swagger_uri=service.swagger_uri or "",
        created_at=created,
        updated_at=parse_time(service.updated_time) or created,
        description=service.description or "",
        error=error,
        compute_type=service.compute_type or "ACI",
        deployments=(deployment,),
    )


def to_published(published: Any, *, pipeline_id: str = "", created_at: datetime | None = None) -> PublishedPipeline:
    return PublishedPipeline(
        id=published.id,
        name=published.name,
        description=published.description or "",
        version=published.version or "",
        pipeline_id=pipeline_id,
        status=published.status,
        endpoint=published.endpoint,
        created_at=created_at or EPOCH,
    )
