"""SDK v2 entities as opml entities, shared by the parts. Only attributes the real SDK classes have are read."""

from __future__ import annotations

import json
from typing import Any

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
    Model,
)

OPML_TAG_PREFIX = "opml_"

# Azure ML v2 job statuses (azure.ai.ml.constants.JobStatus) folded onto opml's.
_STATUSES = {
    "NotStarted": NOT_STARTED,
    "Queued": QUEUED,
    "Starting": PREPARING,
    "Preparing": PREPARING,
    "Provisioning": PREPARING,
    "Running": RUNNING,
    "NotResponding": RUNNING,  # Azure lost the job's heartbeat for a while: it may come back
    "Paused": RUNNING,
    "Finalizing": FINALIZING,
    "CancelRequested": CANCEL_REQUESTED,
    "Completed": COMPLETED,
    "Failed": FAILED,
    "Canceled": CANCELED,
    "Unknown": QUEUED,  # Azure has not said yet; not terminal, so opml keeps polling
}
QUEUED_STATES = frozenset({"NotStarted", "Queued", "Unknown"})
ACTIVE_STATES = frozenset(
    {"Starting", "Preparing", "Provisioning", "Running", "NotResponding", "Paused", "Finalizing", "CancelRequested"}
)


def opml_status(azure_status: str | None) -> str:
    return _STATUSES.get(str(azure_status or "Unknown"), str(azure_status))


def user_tags(tags: dict | None) -> dict[str, str]:
    """Tags without opml's own bookkeeping tags."""
    return {str(k): str(v) for k, v in (tags or {}).items() if not str(k).startswith(OPML_TAG_PREFIX)}


def created_at(entity: Any) -> Any:
    """When Azure created an entity (its ``creation_context``, a SystemData), or None."""
    context = getattr(entity, "creation_context", None)
    return parse_time(getattr(context, "created_at", None)) if context is not None else None


def to_compute(cluster: Any, *, active: int = 0, queued: int = 0) -> Compute:
    return Compute(
        name=cluster.name,
        max_nodes=int(getattr(cluster, "max_instances", None) or 1),
        kind="AmlCompute" if cluster.type in ("amlcompute", "AmlCompute") else str(cluster.type),
        state=cluster.provisioning_state or "Unknown",
        created_at=parse_time(cluster.created_on),
        active_runs=active,
        queued_runs=queued,
        min_nodes=int(getattr(cluster, "min_instances", None) or 0),
    )


def to_model(model: Any, aliases: tuple[str, ...] = ()) -> Model:
    properties = dict(model.properties or {})
    tags = dict(model.tags or {})
    try:
        metrics = json.loads(properties.get("opml_metrics", "{}"))
    except ValueError:
        metrics = {}
    return Model(
        name=model.name,
        version=int(model.version),
        description=model.description or "",
        tags=user_tags(tags),
        run_id=properties.get("opml_run_id", "") or (model.job_name or ""),
        algorithm=properties.get("opml_algorithm", ""),
        # a pipeline's register step registers through MLflow, which keeps its lineage in tags instead
        dataset=properties.get("opml_dataset") or tags.get("opml_dataset", ""),
        primary_metric=properties.get("opml_primary_metric") or tags.get("opml_primary_metric", ""),
        metrics={k: float(v) for k, v in metrics.items()},
        sha256="",  # Azure keeps no content hash of a model; the local backend's tamper check does not apply
        size_bytes=0,
        created_at=created_at(model) or EPOCH,
        manifest={
            "azure_id": model.id or "",
            "type": model.type or "",
            "path": str(model.path or ""),
            "task": model_task(properties, tags),  # as a local model's manifest says it
        },
        aliases=aliases,
    )
