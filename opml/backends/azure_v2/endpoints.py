"""Services as managed online endpoints with their deployments (SDK v2).

A service is a ``ManagedOnlineEndpoint`` (key authentication; its scoring URI and keys are the endpoint's) and
its deployments are ``ManagedOnlineDeployment``s of registered MLflow models: a no-code deployment (Azure builds
the scoring server and environment from the MLflow model, so there is no scoring script or environment to send)
on the instance type and count asked for (``DEFAULT_INSTANCE_TYPE``, one instance, by default). Azure's endpoint
holds the live and mirror traffic split itself (``traffic``/``mirror_traffic``); the rules are opml's
(``opml.rollout``), which are Azure's. What Azure does not keep is in the state folder: the split before the last
change (what ``rollback`` restores), and the steps Azure cannot take yet (``endpoint_view``).

Everything returns at once: Azure provisions the endpoint and each deployment in the background (minutes); the
service and deployments show Transitioning until Azure says Succeeded (``endpoint_view.STATES``), and each look
at the endpoint sends the next step Azure is ready for (``advance``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from opml.backends.azure_common.errors import lookup_failed, translate, translate_methods
from opml.backends.azure_common.tasks import model_task
from opml.backends.azure_v2.endpoint_view import (
    DEFAULT_INSTANCE_COUNT,
    DEFAULT_INSTANCE_TYPE,
    EndpointView,
    Planned,
    created_at,
)
from opml.backends.azure_v2.models import INPUT_SCHEMA_PROPERTY, AzureV2Models
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.entities import Deployment, EndpointComparison, Service, ServiceKeys
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound, SchemaChange
from opml.rollout import MAX_DEPLOYMENTS, check_mirror, check_traffic, schema_differences, with_newcomer

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

# The VM sizes Azure accepts for managed online deployments (Microsoft's "Managed online endpoints SKU list",
# general purpose, compute and memory optimized, and the GPU sizes): a known one is spelled as Azure spells it.
MANAGED_INSTANCE_TYPES = (
    *(f"Standard_DS{n}_v2" for n in (1, 2, 3, 4, 5)),
    *(f"Standard_F{n}s_v2" for n in (2, 4, 8, 16, 32, 48, 64, 72)),
    *(f"Standard_E{n}s_v3" for n in (2, 4, 8, 16, 32, 48, 64)),
    *(f"Standard_NC{n}as_T4_v3" for n in (4, 8, 16, 64)),
    "Standard_NC24ads_A100_v4",
)


def instance_size(instance_type: str | None, instance_count: int | None) -> tuple[str, int]:
    """The VM size and count of a new deployment (Azure's defaults for None). A size Azure lists is spelled as
    Azure spells it; another ``Standard_`` size goes to Azure, which says whether this region has it."""
    if instance_type is None:
        return DEFAULT_INSTANCE_TYPE, instance_count or DEFAULT_INSTANCE_COUNT
    known = {size.lower(): size for size in MANAGED_INSTANCE_TYPES}
    if instance_type.lower() in known:
        return known[instance_type.lower()], instance_count or DEFAULT_INSTANCE_COUNT
    if not instance_type.lower().startswith("standard_"):
        raise InvalidInput(
            f"instance type {instance_type!r} is not a VM size of managed online endpoints; e.g. "
            f"{', '.join(MANAGED_INSTANCE_TYPES[:5])} (Azure's SKU list for managed online endpoints has the rest)"
        )
    return instance_type, instance_count or DEFAULT_INSTANCE_COUNT


# Azure's rule for endpoint names (the name is part of the scoring host, <name>.<region>.inference.ml.azure.com),
# lowercase only: ManagedOnlineEndpoint lowercases the name it is given, which would no longer be the service's
_ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


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

    def view(self, name: str, endpoint: Any = None) -> EndpointView:
        """The endpoint with what opml planned, after sending the next steps Azure is ready for."""
        endpoint = endpoint if endpoint is not None else self.endpoint(name)
        view = self._read(endpoint)
        if view.planned or view.pending_split is not None:
            self.advance(view)
            view = self._read(self.endpoint(name))
        return view

    def _read(self, endpoint: Any) -> EndpointView:
        # those Azure is deleting are gone for opml: they take no traffic and cannot be used again
        found = [d for d in self.client.online_deployments.list(endpoint.name) if d.provisioning_state != "Deleting"]
        found.sort(key=lambda d: (created_at(d), d.name))
        meta = self.state.endpoint(endpoint.name)
        planned = {
            name: Planned.from_state(name, item) for name, item in (meta.get("pending_deployments") or {}).items()
        }
        return EndpointView(
            endpoint=endpoint,
            deployments={d.name: d for d in found},
            planned={name: p for name, p in planned.items() if name not in {d.name for d in found}},
            pending_split=meta.get("pending_split"),
            split_error=meta.get("split_error"),
        )

    def advance(self, view: EndpointView) -> None:
        """Send what Azure is ready for: planned deployments once the endpoint has finished provisioning, the
        planned split once the endpoint and every deployment given a share have. A refusal is kept (shown as
        the deployment's or the service's error) instead of failing every later look at the endpoint."""
        if view.endpoint.provisioning_state != "Succeeded":
            return
        planned = dict(view.planned)
        waiting = [item for item in planned.values() if not item.error]
        for item in waiting:
            try:
                self._create(view.name, item)
            except Exception as exc:
                if _not_ready(exc):  # the endpoint is busy again: the next look retries
                    break
                item.error = str(translate(exc))
            else:
                del planned[item.name]
        if waiting:
            self.state.save_endpoint(view.name, pending_deployments={n: p.to_state() for n, p in planned.items()})
        if view.pending_split is None or view.split_error or planned.keys() & _shares(view.pending_split):
            return
        fresh = self._read(self.endpoint(view.name))
        if fresh.endpoint.provisioning_state != "Succeeded":
            return
        ready = {name for name, d in fresh.deployments.items() if d.provisioning_state == "Succeeded"}
        if not _shares(view.pending_split) <= ready:
            return
        try:
            self._put_split(fresh.endpoint, view.pending_split["traffic"], view.pending_split["mirror"])
        except Exception as exc:
            if not _not_ready(exc):
                self.state.save_endpoint(view.name, split_error=str(translate(exc)))
        else:
            self.state.save_endpoint(view.name, pending_split=None)

    def list(self) -> list[Service]:
        services = [self.view(e.name, e).to_service() for e in self.client.online_endpoints.list()]
        return sorted(services, key=lambda s: s.created_at, reverse=True)

    def get(self, name: str) -> Service:
        return self.view(name).to_service()

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
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Service:
        """A managed online endpoint ``name`` (key authentication) with one no-code deployment of the MLflow model,
        ``deployment_name``, taking all its traffic. Returns at once (Transitioning): the deployment is created
        once Azure has provisioned the endpoint, and given the traffic once it is provisioned itself."""
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
        size = instance_size(instance_type, instance_count)
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
        planned = Planned(deployment_name, f"{model.name}:{model.version}", app_insights_enabled, _now(), None, *size)
        self.state.save_endpoint(  # a new endpoint: nothing of an earlier one of the same name
            name,
            previous_traffic=None,
            pending_deployments={deployment_name: planned.to_state()},
            pending_split={"traffic": {deployment_name: 100}, "mirror": {}},
            split_error=None,
        )
        return self.get(name)

    def _create(self, endpoint: str, planned: Planned) -> None:
        """A no-code deployment of a registered MLflow model: no scoring script, no environment."""
        name, version = planned.model.rsplit(":", 1)
        self.client.online_deployments.begin_create_or_update(
            self.sdk.ManagedOnlineDeployment(
                name=planned.name,
                endpoint_name=endpoint,
                model=f"azureml:{name}:{version}",
                instance_type=planned.instance_type,
                instance_count=planned.instance_count,
                app_insights_enabled=planned.app_insights_enabled,
            )
        )

    def delete(self, name: str) -> None:
        self.endpoint(name)
        self.client.online_endpoints.begin_delete(name=name)
        self.state.save_endpoint(
            name, previous_traffic=None, pending_deployments={}, pending_split=None, split_error=None
        )

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
        view = self.view(name)
        if auth_enabled is False:
            raise InvalidInput(
                "managed online endpoints always authenticate (key or Azure ML token); authentication cannot be "
                "turned off"
            )
        if app_insights_enabled is not None:
            for deployment in view.deployments.values():
                if bool(deployment.app_insights_enabled) != app_insights_enabled:
                    deployment.app_insights_enabled = app_insights_enabled
                    self.client.online_deployments.begin_create_or_update(deployment)
            for planned in view.planned.values():
                planned.app_insights_enabled = app_insights_enabled
            self._save_planned(view)
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
        view = self.view(name)
        target = view.live() or (view.names[0] if view.names else None)
        if target is None:
            return ""
        if target not in view.deployments:
            return f"deployment {target} is not created yet: Azure is still provisioning endpoint {name}"
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
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Deployment:
        """A new no-code deployment of the model behind the endpoint, with ``traffic`` (the others keep their
        proportions of the rest) or ``mirror`` percent, on ``instance_count`` instances of ``instance_type``.
        Created on Azure at once when the endpoint is ready (Azure's refusal is the error), else as soon as it is.

        The schema check compares the input columns opml keeps in the models' lineage (``opml_input_schema``);
        when either model lacks them there is nothing to compare and Azure does not check either: the MLflow
        signature is enforced per request by the scoring server."""
        view = self.view(service)
        names = view.names
        if name in names:
            raise AlreadyExists(f"endpoint {service!r} already has a deployment named {name!r}")
        if len(names) >= MAX_DEPLOYMENTS:
            raise Conflict(
                f"endpoint {service!r} has {MAX_DEPLOYMENTS} deployments, the most one endpoint serves; delete an "
                "idle one first"
            )
        live, shadow = view.split
        if mirror:
            check_mirror({name: mirror}, [*names, name], {name: 0})
            others = [other for other, value in shadow.items() if value]
            if others:
                raise InvalidInput(
                    f"deployment {others[0]!r} already receives mirror traffic, and mirror traffic goes to one "
                    "deployment at a time; set its mirror traffic to 0 first"
                )
        model = self.models.sdk_model(model_name, model_version)
        if names:
            endpoint_model = view.model_of(view.live() or names[0])
            self._check_task(service, endpoint_model, model)
            self._check_schema(service, endpoint_model, model, allow_schema_change)
        main = view.live() or (names[0] if names else None)
        insights = bool(main and _insights(view, main))
        size = instance_size(instance_type, instance_count)
        planned = Planned(name, f"{model.name}:{model.version}", insights, _now(), None, *size)
        created = False
        if view.endpoint.provisioning_state == "Succeeded" and not view.planned:
            try:
                self._create(service, planned)  # Azure's refusal (quota, ...) is this call's error
                created = True
            except Exception as exc:
                if not _not_ready(exc):
                    raise
        if not created:
            view.planned[name] = planned
            self._save_planned(view)
        view = self._read(self.endpoint(service))
        if traffic or mirror:
            new_live = with_newcomer(live, name, traffic) if traffic else live
            self._plan_split(view, (live, shadow), new_live, {**shadow, name: mirror})
        created = self.get(service)
        return next(d for d in created.deployments if d.name == name)

    def _check_task(self, service: str, endpoint_model: str, model: Any) -> None:
        """A model of another task would answer another kind (numbers, labels): refused, as the local backend
        refuses it."""
        name, version = endpoint_model.rsplit(":", 1)
        serving = self.models.sdk_model(name, int(version))
        tasks = [model_task(m.properties or {}, m.tags or {}) for m in (model, serving)]
        if tasks[0] != tasks[1]:
            raise InvalidInput(
                f"model {model.name}:{model.version} is a {tasks[0]} model and endpoint {service!r} serves a "
                f"{tasks[1]} model ({endpoint_model}): deploy it as a service of its own"
            )

    def _check_schema(self, service: str, endpoint_model: str, model: Any, allow: bool) -> None:
        name, version = endpoint_model.rsplit(":", 1)
        before = _input_schema(self.models.sdk_model(name, int(version)))
        after = _input_schema(model)
        if before is None or after is None:
            return
        differences = schema_differences(before, after)
        if differences and not allow:
            raise SchemaChange(
                f"model {model.name}:{model.version}'s input schema differs from endpoint {service!r}'s "
                f"({endpoint_model}): {'; '.join(differences)}. Requests in the endpoint's schema may be refused by "
                "it. Confirm the schema change to deploy it anyway"
            )

    def delete_deployment(self, service: str, name: str) -> None:
        """Remove an idle deployment (no live or mirror traffic, asked for or still on Azure)."""
        view = self.view(service)
        _known(service, name, view.names)
        live, shadow = view.split
        if live[name] or shadow[name]:
            what = f"{live[name]} % of live traffic" if live[name] else "mirror traffic"
            raise Conflict(
                f"deployment {name!r} takes {what}; move its traffic to another deployment first (only an idle "
                "deployment is deleted)"
            )
        on_azure = view.azure_split
        if on_azure[0].get(name) or on_azure[1].get(name):
            raise Conflict(
                f"deployment {name!r} still answers on Azure until the deployments given its traffic are provisioned "
                f"(wait_for_deployment); delete it then"
            )
        if name in view.planned:
            del view.planned[name]
            self._save_planned(view)
        else:
            self.client.online_deployments.begin_delete(name, service)
        if view.pending_split is not None:
            split = {
                kind: {n: v for n, v in shares.items() if n != name} for kind, shares in view.pending_split.items()
            }
            self.state.save_endpoint(service, pending_split=split)
        previous = self.state.endpoint(service).get("previous_traffic")
        if previous and previous.get(name):
            self.state.save_endpoint(service, previous_traffic=None)  # the split it took part in cannot come back
        elif previous and name in previous:
            self.state.save_endpoint(service, previous_traffic={k: v for k, v in previous.items() if k != name})

    def set_traffic(self, service: str, split: dict[str, Any]) -> Service:
        view = self.view(service)
        current = view.split
        return self._plan_split(view, current, check_traffic(split, view.names, current[1]), current[1])

    def set_mirror_traffic(self, service: str, split: dict[str, Any]) -> Service:
        view = self.view(service)
        current = view.split
        return self._plan_split(view, current, current[0], check_mirror(split, view.names, current[0]))

    def promote(self, service: str, name: str) -> Service:
        """All live traffic to ``name`` (its mirror traffic stops)."""
        view = self.view(service)
        _known(service, name, view.names)
        current = view.split
        traffic = {other: 100 if other == name else 0 for other in view.names}
        return self._plan_split(view, current, traffic, {**current[1], name: 0})

    def rollback(self, service: str) -> Service:
        """The live split before the last change, back (twice: forth again)."""
        view = self.view(service)
        names = view.names
        previous = self.state.endpoint(service).get("previous_traffic")
        if not previous or sum(previous.values()) != 100 or set(previous) - set(names):
            raise Conflict(
                f"endpoint {service!r} has no earlier traffic split to roll back to (none was changed since it was "
                "deployed, or a deployment of the earlier split was deleted)"
            )
        current = view.split
        mirror = {other: 0 if previous.get(other) else value for other, value in current[1].items()}
        return self._plan_split(view, current, {n: previous.get(n, 0) for n in names}, mirror)

    def compare(self, service: str, *, since: float, until: float) -> EndpointComparison:
        self.endpoint(service)
        raise BackendUnavailable(COMPARE)

    # -- the split -----------------------------------------------------------------

    def _plan_split(
        self,
        view: EndpointView,
        current: tuple[dict[str, int], dict[str, int]],
        traffic: dict[str, int],
        mirror: dict[str, int],
    ) -> Service:
        """Ask for a new split (sent to Azure now if it is ready for it, else by a later look); the live split it
        replaces is kept for rollback when it differs."""
        if traffic != current[0]:
            self.state.save_endpoint(view.name, previous_traffic=current[0])
        self.state.save_endpoint(view.name, pending_split={"traffic": traffic, "mirror": mirror}, split_error=None)
        return self.get(view.name)

    def _put_split(self, endpoint: Any, traffic: dict[str, int], mirror: dict[str, int]) -> None:
        endpoint.traffic = dict(traffic)
        endpoint.mirror_traffic = dict(mirror)
        self.client.online_endpoints.begin_create_or_update(endpoint)

    def _save_planned(self, view: EndpointView) -> None:
        self.state.save_endpoint(
            view.name, pending_deployments={name: p.to_state() for name, p in view.planned.items()}
        )


def _not_ready(exc: Exception) -> bool:
    """Azure refused because the endpoint is busy with an earlier step ("Cannot create a deployment in endpoint X
    because it is in Updating provisioning state"): a later attempt succeeds."""
    return "provisioning state" in str(translate(exc))


def _insights(view: EndpointView, name: str) -> bool:
    if name in view.deployments:
        return bool(view.deployments[name].app_insights_enabled)
    return view.planned[name].app_insights_enabled


def _shares(split: dict[str, dict[str, int]]) -> set[str]:
    """The deployments a split gives live or mirror traffic."""
    return {name for shares in split.values() for name, value in shares.items() if value}


def _now() -> datetime:
    return datetime.now(UTC)


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
