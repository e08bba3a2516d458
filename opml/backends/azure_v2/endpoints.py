"""Services as managed online endpoints with their deployments (SDK v2).

A service is a ``ManagedOnlineEndpoint`` (key authentication; its scoring URI and keys are the endpoint's) and
its deployments are ``ManagedOnlineDeployment``s of registered MLflow models: a no-code deployment (Azure builds
the scoring server and environment from the MLflow model, so there is no scoring script or environment to send)
on ``DEFAULT_INSTANCE_TYPE``, one instance. Azure's endpoint holds the live and mirror traffic split itself
(``traffic``/``mirror_traffic``); the rules are opml's (``opml.rollout``), which are Azure's. What Azure does not
keep, the split before the last change (what ``rollback`` restores), is in the state folder.

Everything returns at once: Azure provisions the endpoint and each deployment in the background (minutes); the
service and deployments show Transitioning until Azure says Succeeded (``STATES``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from opml.backends.azure_common.errors import lookup_failed, translate, translate_methods
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.azure_v2.models import AzureV2Models
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.entities import (
    DELETING,
    HEALTHY,
    SERVICE_FAILED,
    TRANSITIONING,
    Deployment,
    EndpointComparison,
    Service,
    ServiceKeys,
)
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound, SchemaChange
from opml.rollout import (
    MAX_DEPLOYMENTS,
    check_mirror,
    check_traffic,
    live_deployment,
    schema_differences,
    with_newcomer,
)

NO_DATA_COLLECTION = (
    "opml does not collect the requests of an Azure ML managed online endpoint: a managed deployment can log its "
    "inputs and outputs with its data collector (SDK v1's ModelDataCollector became the deployment's "
    "data_collector in SDK v2), but only from a scoring script that calls azureml-ai-monitoring's Collector, which "
    "an MLflow no-code deployment has not, and only into blob storage as data assets, which opml does not read "
    "back; an endpoint's requests and latencies are in Application Insights (turn on app_insights_enabled) and "
    "Azure Monitor. Data collection, labels and live accuracy are for local services"
)
TELEMETRY = (
    "a managed online endpoint sends its requests to the workspace's Application Insights (app_insights_enabled) "
    "and its metrics to Azure Monitor: open them in the Azure portal"
)
COMPARE = (
    "Azure ML managed online endpoints keep per-deployment request counts, latencies and errors in Azure Monitor "
    "(metrics of the endpoint, split by deployment) and Application Insights, which opml does not read: compare "
    "the deployments there (Azure portal > the endpoint > Metrics)"
)

DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"  # 4 cores, 14 GB: Microsoft's suggested size for a CPU model
# The VM sizes Azure accepts for managed online deployments (Microsoft's "Managed online endpoints SKU list",
# general purpose, compute and memory optimized, and the GPU sizes); opml deploys on DEFAULT_INSTANCE_TYPE.
MANAGED_INSTANCE_TYPES = (
    *(f"Standard_DS{n}_v2" for n in (1, 2, 3, 4, 5)),
    *(f"Standard_F{n}s_v2" for n in (2, 4, 8, 16, 32, 48, 64, 72)),
    *(f"Standard_E{n}s_v3" for n in (2, 4, 8, 16, 32, 48, 64)),
    *(f"Standard_NC{n}as_T4_v3" for n in (4, 8, 16, 64)),
    "Standard_NC24ads_A100_v4",
)
INSTANCE_COUNT = 1

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
INPUT_SCHEMA_PROPERTY = "opml_input_schema"  # a registered model's input columns, when its lineage has them

# Azure's rule for endpoint names (the name is part of the scoring host, <name>.<region>.inference.ml.azure.com),
# lowercase only: ManagedOnlineEndpoint lowercases the name it is given, which would no longer be the service's
_ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
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


def _state(provisioning_state: Any) -> str:
    return STATES.get(str(provisioning_state or "Creating"), TRANSITIONING)


@translate_methods
class AzureV2Endpoints(AzureV2Part):
    """deploy(...); list(); get(name); delete(name); keys(name); regenerate_key(name, key); update(name, *,
    app_insights_enabled, auth_enabled); restart(name); logs(name, *, tail); telemetry(name); no_collected_data(name);
    create_deployment(service, *, name, model_name, model_version, traffic, mirror, allow_schema_change);
    delete_deployment(service, name); set_traffic(service, traffic); set_mirror_traffic(service, mirror);
    promote(service, name); rollback(service); compare(service, *, since, until)."""

    def __init__(self, workspace: AzureV2Workspace, models: AzureV2Models):
        super().__init__(workspace)
        self.models = models

    # -- reading -------------------------------------------------------------------

    def endpoint(self, name: str) -> Any:
        """The SDK's endpoint. Raises NotFound."""
        try:
            return self.client.online_endpoints.get(name)
        except Exception as exc:
            raise lookup_failed(exc, f"no service named {name!r}") from exc

    def _deployments(self, name: str) -> list[Any]:
        """The endpoint's deployments, oldest first; those Azure is deleting are gone for opml (they take no
        traffic and cannot be used again)."""
        found = [d for d in self.client.online_deployments.list(name) if d.provisioning_state != "Deleting"]
        return sorted(found, key=lambda d: (_created(d), d.name))

    def _to_service(self, endpoint: Any, deployments: list[Any]) -> Service:
        traffic = {d.name: int((endpoint.traffic or {}).get(d.name, 0)) for d in deployments}
        mirror = {d.name: int((endpoint.mirror_traffic or {}).get(d.name, 0)) for d in deployments}
        endpoint_state = _state(endpoint.provisioning_state)
        items = []
        for d in deployments:
            state = _state(d.provisioning_state) if endpoint_state == HEALTHY else endpoint_state
            error = None
            if state == SERVICE_FAILED:
                error = (
                    f"Azure ML could not provision deployment {d.name!r} (provisioning state {d.provisioning_state}); "
                    "Azure's reason is in its logs (opml service logs) and in Azure ML studio, Endpoints > "
                    f"{endpoint.name} > Logs"
                )
            items.append(
                Deployment(
                    service=endpoint.name,
                    name=d.name,
                    model=model_reference(d.model),
                    traffic=traffic[d.name],
                    mirror=mirror[d.name],
                    state=state,
                    created_at=_created(d),
                    error=error,
                )
            )
        live = live_deployment(traffic, [d.name for d in deployments])
        main = next((item for item in items if item.name == live), items[0] if items else None)
        main_sdk = next((d for d in deployments if main is not None and d.name == main.name), None)
        state = endpoint_state
        if endpoint_state == HEALTHY:
            state = main.state if main is not None else TRANSITIONING
        properties = endpoint.properties or {}
        created = parse_time(properties.get("createdAt")) or EPOCH
        return Service(
            name=endpoint.name,
            model=main.model if main is not None else ":0",
            state=state,
            auth_enabled=True,  # key or aml_token: a managed online endpoint always authenticates
            app_insights_enabled=bool(main_sdk is not None and main_sdk.app_insights_enabled),
            scoring_uri=endpoint.scoring_uri or "",
            swagger_uri=endpoint.openapi_uri or "",
            created_at=created,
            updated_at=parse_time(properties.get("lastModifiedAt")) or created,
            description=endpoint.description or "",
            error=main.error if main is not None and state == SERVICE_FAILED else None,
            compute_type="Managed",
            deployments=tuple(items),
            request_format=REQUEST_FORMAT,
        )

    def list(self) -> list[Service]:
        services = [self._to_service(e, self._deployments(e.name)) for e in self.client.online_endpoints.list()]
        return sorted(services, key=lambda s: s.created_at, reverse=True)

    def get(self, name: str) -> Service:
        endpoint = self.endpoint(name)
        return self._to_service(endpoint, self._deployments(name))

    # -- the endpoint --------------------------------------------------------------

    def deploy(
        self,
        *,
        name: str,
        model_name: str,
        model_version: int | None,
        auth_enabled: bool,
        app_insights_enabled: bool,
        port: int | None,
        description: str,
        deployment_name: str,
    ) -> Service:
        """A managed online endpoint ``name`` (key authentication) with one no-code deployment of the MLflow model,
        ``deployment_name``, taking all its traffic. Returns at once (Transitioning)."""
        if not _ENDPOINT_NAME.match(name):
            raise InvalidInput(
                f"service name {name!r}: 3-32 lowercase letters, digits and '-', starting with a letter and ending "
                "with a letter or digit (Azure's rule for managed online endpoints; the name is part of the scoring "
                "address, so it must be unique in the workspace's Azure region, not only in the workspace)"
            )
        if port is not None:
            raise InvalidInput("port is for local services; Azure chooses the address of a managed online endpoint")
        if not auth_enabled:
            raise InvalidInput(
                "managed online endpoints always authenticate (key or Azure ML token): deploy with auth_enabled"
            )
        try:
            self.client.online_endpoints.get(name)
        except Exception as exc:
            if not isinstance(translate(exc), NotFound):
                raise
        else:
            raise AlreadyExists(f"service {name} already exists")
        model = self.models.sdk_model(model_name, model_version)  # NotFound before anything is created
        endpoint = self.sdk.ManagedOnlineEndpoint(name=name, auth_mode="key", description=description or None)
        self.client.online_endpoints.begin_create_or_update(endpoint)
        self.state.save_endpoint(name, previous_traffic=None)  # a new endpoint has no earlier split
        self.client.online_deployments.begin_create_or_update(
            self._deployment(name, deployment_name, model, app_insights_enabled)
        )
        self._put_traffic(name, traffic={deployment_name: 100})
        return self.get(name)

    def _deployment(self, endpoint: str, name: str, model: Any, app_insights_enabled: bool) -> Any:
        """A no-code deployment of a registered MLflow model: no scoring script, no environment."""
        return self.sdk.ManagedOnlineDeployment(
            name=name,
            endpoint_name=endpoint,
            model=f"azureml:{model.name}:{model.version}",
            instance_type=DEFAULT_INSTANCE_TYPE,
            instance_count=INSTANCE_COUNT,
            app_insights_enabled=app_insights_enabled,
        )

    def delete(self, name: str) -> None:
        self.endpoint(name)
        self.client.online_endpoints.begin_delete(name=name)
        self.state.save_endpoint(name, previous_traffic=None)

    def keys(self, name: str) -> ServiceKeys:
        keys = self.client.online_endpoints.get_keys(name)
        if not getattr(keys, "primary_key", None):
            raise BackendUnavailable(
                f"endpoint {name!r} authenticates with Azure ML tokens, not keys: get a token with "
                f"az ml online-endpoint get-credentials --name {name}"
            )
        return ServiceKeys(primary=keys.primary_key, secondary=keys.secondary_key)

    def regenerate_key(self, name: str, key: str) -> ServiceKeys:
        self.endpoint(name)
        self.client.online_endpoints.begin_regenerate_keys(name, key_type=key.lower()).result()
        return self.keys(name)

    def update(self, name: str, *, app_insights_enabled: bool | None, auth_enabled: bool | None) -> Service:
        """Application Insights is a deployment's switch: every deployment of the endpoint is updated."""
        self.endpoint(name)
        if auth_enabled is False:
            raise InvalidInput(
                "managed online endpoints always authenticate (key or Azure ML token); authentication cannot be "
                "turned off"
            )
        if app_insights_enabled is not None:
            for deployment in self._deployments(name):
                if bool(deployment.app_insights_enabled) != app_insights_enabled:
                    deployment.app_insights_enabled = app_insights_enabled
                    self.client.online_deployments.begin_create_or_update(deployment)
        return self.get(name)

    def restart(self, name: str) -> Service:
        """Azure runs a managed deployment's containers itself and offers no restart: say what works."""
        self.endpoint(name)
        raise BackendUnavailable(
            f"Azure ML manages the containers of endpoint {name!r} and cannot restart them: create a new deployment "
            "of the same model (create_deployment) and move the traffic to it, or delete the service and deploy the "
            "model again"
        )

    def logs(self, name: str, *, tail: int) -> str:
        """The last ``tail`` lines of the inference server of the deployment taking the most traffic."""
        service = self.get(name)
        live = live_deployment(service.traffic, [d.name for d in service.deployments])
        target = live or (service.deployments[0].name if service.deployments else None)
        if target is None:
            return ""
        return self.client.online_deployments.get_logs(target, name, tail) or ""

    def telemetry(self, name: str) -> list[dict[str, Any]]:
        self.endpoint(name)
        raise BackendUnavailable(TELEMETRY)

    def no_collected_data(self, name: str) -> Any:
        self.endpoint(name)
        raise BackendUnavailable(NO_DATA_COLLECTION)

    # -- deployments ---------------------------------------------------------------

    def create_deployment(
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
        """A new no-code deployment of the model behind the endpoint, with ``traffic`` (the others keep their
        proportions of the rest) or ``mirror`` percent. The schema check compares the input columns opml keeps
        in the models' lineage (``opml_input_schema``); when either model lacks them there is nothing to compare
        and Azure does not check either: the MLflow signature is enforced per request by the scoring server."""
        endpoint = self.endpoint(service)
        deployments = self._deployments(service)
        names = [d.name for d in deployments]
        if name in names:
            raise AlreadyExists(f"endpoint {service!r} already has a deployment named {name!r}")
        if len(names) >= MAX_DEPLOYMENTS:
            raise Conflict(
                f"endpoint {service!r} has {MAX_DEPLOYMENTS} deployments, the most one endpoint serves; delete an "
                "idle one first"
            )
        current = _split(endpoint, names)
        mirror_split = dict(current[1])
        if mirror:
            check_mirror({name: mirror}, [*names, name], {name: 0})
            others = [other for other, value in current[1].items() if value]
            if others:
                raise InvalidInput(
                    f"deployment {others[0]!r} already receives mirror traffic, and mirror traffic goes to one "
                    "deployment at a time; set its mirror traffic to 0 first"
                )
            mirror_split[name] = mirror
        model = self.models.sdk_model(model_name, model_version)
        if names:
            live = live_deployment(current[0], names) or names[0]
            endpoint_model = next(d for d in deployments if d.name == live).model
            self._check_schema(service, endpoint_model, model, allow_schema_change)
        self.client.online_deployments.begin_create_or_update(
            self._deployment(service, name, model, bool(deployments and deployments[0].app_insights_enabled))
        )
        if traffic or mirror:
            new_traffic = with_newcomer(current[0], name, traffic) if traffic else current[0]
            self._change(service, endpoint, current, new_traffic, mirror_split)
        created = self.get(service)
        return next(d for d in created.deployments if d.name == name)

    def _check_schema(self, service: str, endpoint_model: Any, model: Any, allow: bool) -> None:
        name, version = model_reference(endpoint_model).rsplit(":", 1)
        before = _input_schema(self.models.sdk_model(name, int(version)))
        after = _input_schema(model)
        if before is None or after is None:
            return
        differences = schema_differences(before, after)
        if differences and not allow:
            raise SchemaChange(
                f"model {model.name}:{model.version}'s input schema differs from endpoint {service!r}'s "
                f"({name}:{version}): {'; '.join(differences)}. Requests in the endpoint's schema may be refused by "
                "it. Confirm the schema change to deploy it anyway"
            )

    def delete_deployment(self, service: str, name: str) -> None:
        """Remove an idle deployment (no live or mirror traffic)."""
        endpoint = self.endpoint(service)
        names = [d.name for d in self._deployments(service)]
        _known(service, name, names)
        traffic, mirror = _split(endpoint, names)
        if traffic[name] or mirror[name]:
            what = f"{traffic[name]} % of live traffic" if traffic[name] else "mirror traffic"
            raise Conflict(
                f"deployment {name!r} takes {what}; move its traffic to another deployment first (only an idle "
                "deployment is deleted)"
            )
        self.client.online_deployments.begin_delete(name, service)
        previous = self._previous(service)
        if previous and previous.get(name):
            self.state.save_endpoint(service, previous_traffic=None)  # the split it took part in cannot come back
        elif previous and name in previous:
            self.state.save_endpoint(service, previous_traffic={k: v for k, v in previous.items() if k != name})

    def set_traffic(self, service: str, split: dict[str, Any]) -> Service:
        endpoint = self.endpoint(service)
        names = [d.name for d in self._deployments(service)]
        current = _split(endpoint, names)
        return self._change(service, endpoint, current, check_traffic(split, names, current[1]), current[1])

    def set_mirror_traffic(self, service: str, split: dict[str, Any]) -> Service:
        endpoint = self.endpoint(service)
        names = [d.name for d in self._deployments(service)]
        current = _split(endpoint, names)
        return self._change(service, endpoint, current, current[0], check_mirror(split, names, current[0]))

    def promote(self, service: str, name: str) -> Service:
        """All live traffic to ``name`` (its mirror traffic stops)."""
        endpoint = self.endpoint(service)
        names = [d.name for d in self._deployments(service)]
        _known(service, name, names)
        current = _split(endpoint, names)
        traffic = {other: 100 if other == name else 0 for other in names}
        return self._change(service, endpoint, current, traffic, {**current[1], name: 0})

    def rollback(self, service: str) -> Service:
        """The live split before the last change, back (twice: forth again)."""
        endpoint = self.endpoint(service)
        names = [d.name for d in self._deployments(service)]
        previous = self._previous(service)
        if not previous or sum(previous.values()) != 100 or set(previous) - set(names):
            raise Conflict(
                f"endpoint {service!r} has no earlier traffic split to roll back to (none was changed since it was "
                "deployed, or a deployment of the earlier split was deleted)"
            )
        current = _split(endpoint, names)
        mirror = {other: 0 if previous.get(other) else value for other, value in current[1].items()}
        return self._change(service, endpoint, current, {n: previous.get(n, 0) for n in names}, mirror)

    def compare(self, service: str, *, since: float, until: float) -> EndpointComparison:
        self.endpoint(service)
        raise BackendUnavailable(COMPARE)

    # -- the split -----------------------------------------------------------------

    def _previous(self, service: str) -> dict[str, int] | None:
        return self.state.endpoint(service).get("previous_traffic")

    def _change(
        self,
        service: str,
        endpoint: Any,
        current: tuple[dict[str, int], dict[str, int]],
        traffic: dict[str, int],
        mirror: dict[str, int],
    ) -> Service:
        """Send the new split to Azure (one update of the endpoint); the live split it replaces is kept for
        rollback when it differs."""
        self._put_traffic(service, traffic=traffic, mirror=mirror, endpoint=endpoint)
        if traffic != current[0]:
            self.state.save_endpoint(service, previous_traffic=current[0])
        return self.get(service)

    def _put_traffic(
        self,
        name: str,
        *,
        traffic: dict[str, int],
        mirror: dict[str, int] | None = None,
        endpoint: Any = None,
    ) -> None:
        endpoint = endpoint if endpoint is not None else self.endpoint(name)
        endpoint.traffic = dict(traffic)
        endpoint.mirror_traffic = dict(mirror or {})
        self.client.online_endpoints.begin_create_or_update(endpoint)


def _split(endpoint: Any, names: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(live, mirror) of every deployment, 0 for those Azure leaves out."""
    live = {name: int((endpoint.traffic or {}).get(name, 0)) for name in names}
    mirror = {name: int((endpoint.mirror_traffic or {}).get(name, 0)) for name in names}
    return live, mirror


def _created(deployment: Any) -> Any:
    return parse_time(getattr(deployment.creation_context, "created_at", None)) or EPOCH


def _input_schema(model: Any) -> list[dict[str, Any]] | None:
    """The input columns kept in a model's lineage (a JSON list of {"name", "type"}), None when absent."""
    raw = (getattr(model, "properties", None) or {}).get(INPUT_SCHEMA_PROPERTY)
    try:
        schema = json.loads(raw) if raw else None
    except ValueError:
        return None
    return schema if isinstance(schema, list) else None


def _known(service: str, name: str, names: list[str]) -> None:
    if name not in names:
        raise NotFound(f"endpoint {service!r} has no deployment named {name!r}; its deployments: {', '.join(names)}")
