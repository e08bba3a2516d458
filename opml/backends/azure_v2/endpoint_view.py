"""An endpoint as opml shows it: what Azure holds, plus what opml has asked for and Azure cannot take yet.

Azure takes the steps of a rollout only in order: a deployment is created on an endpoint that has finished
provisioning ("Cannot create a deployment in endpoint X because it is in Creating/Updating provisioning
state"), and opml gives live or mirror traffic only to deployments Azure has finished provisioning. Every
operation returns at once, so what cannot be sent yet is kept in the state folder (``pending_deployments``:
name -> model and settings; ``pending_split``: the live and mirror split asked for) and sent by the next look at
the endpoint that finds Azure ready (``AzureV2Endpoints.advance``). Meanwhile the service shows the split asked
for, as a local endpoint does while a deployment loads: a share given to a deployment that is not ready yet goes
to the others on Azure's side until it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opml.backends.azure_common.times import EPOCH, parse_time
from opml.entities import DELETING, HEALTHY, SERVICE_FAILED, TRANSITIONING, Deployment, Service
from opml.rollout import live_deployment

# Azure's provisioning states of endpoints and deployments -> opml's service states
STATES = {
    "Succeeded": HEALTHY,
    "Creating": TRANSITIONING,
    "Updating": TRANSITIONING,
    "Scaling": TRANSITIONING,
    "Failed": SERVICE_FAILED,
    "Canceled": SERVICE_FAILED,
    "Deleting": DELETING,
}
REQUEST_FORMAT = "input_data"  # MLflow models on managed endpoints: {"input_data": {"columns", "index", "data"}}

_MODEL_ARM = re.compile(r"/models/([^/]+)/versions/(\d+)$")
_MODEL_SHORT = re.compile(r"^azureml:([^:/]+):(\d+)$")


def model_reference(model: Any) -> str:
    """opml's "name:version" of a deployment's model: the ARM id Azure gives back (``.../models/NAME/versions/
    V``), ``azureml:NAME:V`` or a ``Model`` entity."""
    if getattr(model, "name", None) and getattr(model, "version", None):
        return f"{model.name}:{model.version}"
    text = str(model or "")
    found = _MODEL_ARM.search(text) or _MODEL_SHORT.match(text)
    return f"{found.group(1)}:{found.group(2)}" if found else ":0"


def state_of(provisioning_state: Any) -> str:
    return STATES.get(str(provisioning_state or "Creating"), TRANSITIONING)


def created_at(deployment: Any) -> datetime:
    return parse_time(getattr(deployment.creation_context, "created_at", None)) or EPOCH


DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"  # 4 cores, 14 GB: Microsoft's suggested size for a CPU model
DEFAULT_INSTANCE_COUNT = 1


@dataclass
class Planned:
    """A deployment opml has asked for and Azure does not hold yet."""

    name: str
    model: str  # "name:version"
    app_insights_enabled: bool
    created: datetime
    error: str | None = None  # Azure refused to create it
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = DEFAULT_INSTANCE_COUNT

    def to_state(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "app_insights_enabled": self.app_insights_enabled,
            "created": self.created.isoformat(),
            "error": self.error,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
        }

    @classmethod
    def from_state(cls, name: str, item: dict[str, Any]) -> Planned:
        return cls(
            name=name,
            model=item["model"],
            app_insights_enabled=bool(item.get("app_insights_enabled")),
            created=parse_time(item.get("created")) or EPOCH,
            error=item.get("error"),
            instance_type=item.get("instance_type") or DEFAULT_INSTANCE_TYPE,
            instance_count=int(item.get("instance_count") or DEFAULT_INSTANCE_COUNT),
        )


@dataclass
class EndpointView:
    """One endpoint: Azure's entity and deployments, opml's planned deployments and split."""

    endpoint: Any
    deployments: dict[str, Any]  # name -> the SDK's deployment, oldest first (none Azure is deleting)
    planned: dict[str, Planned] = field(default_factory=dict)
    pending_split: dict[str, dict[str, int]] | None = None  # {"traffic": {...}, "mirror": {...}}
    split_error: str | None = None  # Azure refused the last split sent

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def names(self) -> list[str]:
        """Every deployment, Azure's and planned, oldest first."""
        created = {name: created_at(d) for name, d in self.deployments.items()}
        created |= {name: p.created for name, p in self.planned.items() if name not in created}
        return sorted(created, key=lambda name: (created[name], name))

    @property
    def azure_split(self) -> tuple[dict[str, int], dict[str, int]]:
        """(live, mirror) as Azure holds them, every deployment (0 for those Azure leaves out)."""
        live = {name: int((self.endpoint.traffic or {}).get(name, 0)) for name in self.names}
        mirror = {name: int((self.endpoint.mirror_traffic or {}).get(name, 0)) for name in self.names}
        return live, mirror

    @property
    def split(self) -> tuple[dict[str, int], dict[str, int]]:
        """(live, mirror) asked for: the pending split when there is one, else Azure's."""
        if self.pending_split is None:
            return self.azure_split
        pending = self.pending_split
        live = {name: int(pending["traffic"].get(name, 0)) for name in self.names}
        mirror = {name: int(pending["mirror"].get(name, 0)) for name in self.names}
        return live, mirror

    def model_of(self, name: str) -> str:
        if name in self.deployments:
            return model_reference(self.deployments[name].model)
        return self.planned[name].model

    def live(self) -> str | None:
        """The deployment with the most live traffic asked for (the endpoint's model)."""
        return live_deployment(self.split[0], self.names)

    def to_service(self) -> Service:
        endpoint = self.endpoint
        traffic, mirror = self.split
        endpoint_state = state_of(endpoint.provisioning_state)
        items = [self._deployment(name, traffic[name], mirror[name], endpoint_state) for name in self.names]
        live = self.live()
        main = next((item for item in items if item.name == live), items[0] if items else None)
        state = endpoint_state
        if endpoint_state == HEALTHY:
            state = main.state if main is not None else TRANSITIONING
        error = main.error if main is not None and state == SERVICE_FAILED else None
        if endpoint_state == SERVICE_FAILED:
            error = (
                f"Azure ML could not provision endpoint {endpoint.name!r} (provisioning state "
                f"{endpoint.provisioning_state}): see the endpoint's activity log in the Azure portal, then delete "
                "the service and deploy again"
            )
        if self.split_error:
            error = f"Azure ML refused the traffic split opml sent: {self.split_error}"
        properties = endpoint.properties or {}
        created = parse_time(properties.get("createdAt")) or EPOCH
        if main is None:
            insights = False
        elif main.name in self.deployments:
            insights = bool(self.deployments[main.name].app_insights_enabled)
        else:
            insights = self.planned[main.name].app_insights_enabled
        return Service(
            name=endpoint.name,
            model=main.model if main is not None else ":0",
            state=state,
            auth_enabled=True,  # key or aml_token: a managed online endpoint always authenticates
            app_insights_enabled=insights,
            scoring_uri=endpoint.scoring_uri or "",
            swagger_uri=endpoint.openapi_uri or "",
            created_at=created,
            updated_at=parse_time(properties.get("lastModifiedAt")) or created,
            description=endpoint.description or "",
            error=error,
            compute_type="Managed",
            deployments=tuple(items),
            request_format=REQUEST_FORMAT,
        )

    def _deployment(self, name: str, traffic: int, mirror: int, endpoint_state: str) -> Deployment:
        error = None
        if name in self.deployments:
            sdk = self.deployments[name]
            state = state_of(sdk.provisioning_state) if endpoint_state == HEALTHY else endpoint_state
            created = created_at(sdk)
            size = (sdk.instance_type or "", int(sdk.instance_count or 0))
            if state == SERVICE_FAILED:
                error = (
                    f"Azure ML could not provision deployment {name!r} (provisioning state {sdk.provisioning_state});"
                    f" Azure's reason is in its logs (opml service logs) and in Azure ML studio, Endpoints > "
                    f"{self.name} > Logs"
                )
        else:
            planned = self.planned[name]
            created = planned.created
            size = (planned.instance_type, planned.instance_count)
            state = SERVICE_FAILED if planned.error else TRANSITIONING
            if planned.error:
                error = f"Azure ML refused to create deployment {name!r}: {planned.error}"
            elif endpoint_state in (SERVICE_FAILED, DELETING):
                state = endpoint_state
        return Deployment(
            service=self.name,
            name=name,
            model=self.model_of(name),
            traffic=traffic,
            mirror=mirror,
            state=state,
            created_at=created,
            error=error,
            instance_type=size[0],
            instance_count=size[1],
        )
