"""Fakes of ``OnlineEndpointOperations`` and ``OnlineDeploymentOperations``: managed online endpoints as Azure
keeps them.

Store: ``kind("online_endpoints")[name]`` (a ``ManagedOnlineEndpoint``), ``kind("online_deployments")[(endpoint,
name)]`` (a ``ManagedOnlineDeployment``), ``kind("endpoint_keys")[name] = (primary, secondary)``, and the
deployments' container logs in ``kind("online_logs")[(endpoint, name)]`` (lines).

Azure's side, on ticks: an endpoint goes Creating -> Succeeded (and Updating -> Succeeded after a change of its
traffic; Azure refuses to create a deployment in, or to update, an endpoint that is not Succeeded), a deployment
Creating -> Succeeded once its endpoint has, or Failed (its model is not registered, or its instance type is not
a managed online SKU), with Azure's reason in its logs (the deployment resource itself carries no error
message); Deleting ones go away.
Refused at once, as Azure refuses the PUT: traffic that does not add up to 100 over existing deployments, mirror
traffic above 50 %, to more than one deployment or to one that takes live traffic, deleting a deployment that
takes traffic. Like the real ``begin_create_or_update``, zero shares are dropped from the traffic dicts before
they are sent, so what Azure keeps and gives back has no zeroes.
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, http_error, not_found, now

REGION = "westeurope"
# What Azure accepts for managed online deployments (kept in step with opml's own list, which is checked
# against this one by the tests: both come from Microsoft's "Managed online endpoints SKU list").
MANAGED_SKUS = frozenset(
    {
        "Standard_DS1_v2",
        "Standard_DS2_v2",
        "Standard_DS3_v2",
        "Standard_DS4_v2",
        "Standard_DS5_v2",
        "Standard_F2s_v2",
        "Standard_F4s_v2",
        "Standard_F8s_v2",
        "Standard_F16s_v2",
        "Standard_F32s_v2",
        "Standard_F48s_v2",
        "Standard_F64s_v2",
        "Standard_F72s_v2",
        "Standard_E2s_v3",
        "Standard_E4s_v3",
        "Standard_E8s_v3",
        "Standard_E16s_v3",
        "Standard_E32s_v3",
        "Standard_E48s_v3",
        "Standard_E64s_v3",
        "Standard_NC4as_T4_v3",
        "Standard_NC8as_T4_v3",
        "Standard_NC16as_T4_v3",
        "Standard_NC64as_T4_v3",
        "Standard_NC24ads_A100_v4",
    }
)
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
_MODEL_ARM = re.compile(r"/models/([^/]+)/versions/([^/]+)$")
_MODEL_SHORT = re.compile(r"^azureml:([^:/]+):([^:/]+)$")
_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"  # how the SDK writes createdAt/lastModifiedAt into an endpoint's properties


def _bad_request(message: str) -> Exception:
    return http_error(400, message, "BadArgument")


def _live(endpoint: Any) -> dict[str, int]:
    return {name: value for name, value in (endpoint.traffic or {}).items() if value}


class FakeOnlineEndpointOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        self.endpoints = cloud.kind("online_endpoints")
        self.deployments = cloud.kind("online_deployments")
        self.keys = cloud.kind("endpoint_keys")
        if not getattr(cloud, "_online_ticking", False):  # one ticker per workspace, however many clients
            cloud._online_ticking = True
            cloud.on_tick(self._tick)

    # -- Azure's side ------------------------------------------------------------------

    def _tick(self) -> None:
        for name, endpoint in list(self.endpoints.items()):
            if endpoint.provisioning_state in ("Creating", "Updating"):
                azure_sets(endpoint, provisioning_state="Succeeded")
            elif endpoint.provisioning_state == "Deleting":
                del self.endpoints[name]
                self.keys.pop(name, None)
                for key in [key for key in self.deployments if key[0] == name]:
                    del self.deployments[key]
        models = self.cloud.kind("models")
        logs = self.cloud.kind("online_logs")
        for key, deployment in list(self.deployments.items()):
            endpoint = self.endpoints.get(key[0])
            if deployment.provisioning_state == "Deleting":
                del self.deployments[key]
            elif deployment.provisioning_state in ("Creating", "Updating") and endpoint is not None:
                if endpoint.provisioning_state != "Succeeded":
                    continue
                model = model_key(deployment.model)
                if deployment.instance_type not in MANAGED_SKUS:
                    reason = (
                        f"The specified instance type {deployment.instance_type} is not supported for managed online "
                        "deployments. See https://learn.microsoft.com/azure/machine-learning/reference-managed-online-"
                        "endpoints-vm-sku-list"
                    )
                elif model not in models:
                    reason = f"Model {model[0]}:{model[1]} not found in workspace {self.cloud.workspace}"
                else:
                    reason = None
                if reason:
                    azure_sets(deployment, provisioning_state="Failed")
                    logs[key] = [f"ERROR: Deployment {key[1]} failed: {reason}"]
                else:
                    azure_sets(deployment, provisioning_state="Succeeded")
                    logs[key] = [
                        "Starting AzureML Inferencing Server",
                        f"Loading MLflow model {model[0]}:{model[1]} (no-code deployment)",
                        "Initializing logger",
                        "Scoring timeout is set to 60000",
                        "Listening on 0.0.0.0:31311",
                    ]

    def _stored(self, name: str) -> Any:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise not_found("Online endpoint", name)
        return endpoint

    # -- the operations ----------------------------------------------------------------

    def list(self, *, local: bool = False) -> Any:
        self.cloud.called("online_endpoints.list")
        with self.cloud.lock:
            return [copy.deepcopy(endpoint) for endpoint in self.endpoints.values()]

    def get(self, name: str, *, local: bool = False) -> Any:
        self.cloud.called("online_endpoints.get", name=name)
        with self.cloud.lock:
            endpoint = copy.deepcopy(self._stored(name))
            # as the real get: every deployment without live or mirror traffic is given a zero in ``traffic``
            endpoint.traffic = dict(endpoint.traffic or {})
            mirror = endpoint.mirror_traffic or {}
            for endpoint_name, deployment in self.deployments:
                if endpoint_name == name and not endpoint.traffic.get(deployment) and not mirror.get(deployment):
                    endpoint.traffic[deployment] = 0
            return endpoint

    def get_keys(self, name: str) -> Any:
        from azure.ai.ml.entities import EndpointAuthKeys

        self.cloud.called("online_endpoints.get_keys", name=name)
        with self.cloud.lock:
            self._stored(name)
            primary, secondary = self.keys[name]
            return EndpointAuthKeys(primary_key=primary, secondary_key=secondary)

    def begin_regenerate_keys(self, name: str, *, key_type: str = "primary") -> Any:
        self.cloud.called("online_endpoints.begin_regenerate_keys", name=name, key_type=key_type)
        with self.cloud.lock:
            self._stored(name)
            primary, secondary = self.keys[name]
            if key_type == "primary":
                self.keys[name] = (secrets.token_urlsafe(24), secondary)
            elif key_type == "secondary":
                self.keys[name] = (primary, secrets.token_urlsafe(24))
            else:
                raise _bad_request(f"Invalid key type {key_type}: primary or secondary")
        return FakePoller(None)

    def begin_delete(self, name: str | None = None, *, local: bool = False) -> Any:
        self.cloud.called("online_endpoints.begin_delete", name=name)
        with self.cloud.lock:
            endpoint = self._stored(name)
            azure_sets(endpoint, provisioning_state="Deleting")
        return FakePoller(None, done=lambda: name not in self.endpoints)

    def begin_create_or_update(self, endpoint: Any, *, local: bool = False) -> Any:
        self.cloud.called("online_endpoints.begin_create_or_update", endpoint=endpoint)
        # the real operation drops zero shares from the entity it is given before the PUT
        if endpoint.traffic:
            endpoint.traffic = {name: value for name, value in endpoint.traffic.items() if value}
        if endpoint.mirror_traffic:
            endpoint.mirror_traffic = {name: value for name, value in endpoint.mirror_traffic.items() if value}
        traffic, mirror = dict(endpoint.traffic or {}), dict(endpoint.mirror_traffic or {})
        endpoint._to_rest_online_endpoint(location=REGION)  # what the SDK sends: refuses what it cannot serialize
        with self.cloud.lock:
            existing = self.endpoints.get(endpoint.name)
            if existing is None and not _ENDPOINT_NAME.match(endpoint.name or ""):
                raise _bad_request(
                    f"Endpoint name {endpoint.name} is invalid: 3-32 characters, letters, digits and '-', starting "
                    "with a letter"
                )
            if existing is not None and existing.provisioning_state == "Deleting":
                raise http_error(409, f"Endpoint {endpoint.name} is being deleted", "Conflict")
            if (endpoint.auth_mode or "key").lower() not in ("key", "aml_token", "aad_token"):
                raise _bad_request(f"Invalid auth mode {endpoint.auth_mode}: key, aml_token or aad_token")
            self._check_traffic(endpoint.name, traffic, mirror)
            stored = copy.deepcopy(endpoint)
            stored.traffic, stored.mirror_traffic = traffic, mirror
            stamp = now().strftime(_TIME)
            if existing is None:
                host = f"https://{endpoint.name}.{REGION}.inference.ml.azure.com"
                stored.properties = {
                    **(endpoint.properties or {}),
                    "createdBy": "someone@example.com",
                    "createdAt": stamp,
                    "lastModifiedAt": stamp,
                }
                azure_sets(
                    stored,
                    provisioning_state="Creating",
                    scoring_uri=f"{host}/score",
                    openapi_uri=f"{host}/swagger.json",
                    id=f"{self._arm_prefix()}/onlineEndpoints/{endpoint.name}",
                )
                stored.auth_mode = (endpoint.auth_mode or "key").lower()
                self.keys[endpoint.name] = (secrets.token_urlsafe(24), secrets.token_urlsafe(24))
            else:
                if existing.provisioning_state not in ("Succeeded", "Failed"):
                    raise http_error(
                        409,
                        f"Cannot update endpoint {endpoint.name} because it is in {existing.provisioning_state} "
                        "provisioning state.",
                        "Conflict",
                    )
                changed = (existing.traffic, existing.mirror_traffic) != (traffic, mirror)
                stored.properties = {**(existing.properties or {}), "lastModifiedAt": stamp}
                azure_sets(
                    stored,
                    provisioning_state="Updating" if changed else existing.provisioning_state,
                    scoring_uri=existing.scoring_uri,
                    openapi_uri=existing.openapi_uri,
                    id=existing.id,
                )
            self.endpoints[endpoint.name] = stored
        return FakePoller(lambda: copy.deepcopy(self.endpoints.get(endpoint.name)))

    def _check_traffic(self, name: str, traffic: dict[str, int], mirror: dict[str, int]) -> None:
        """Azure's rules for an endpoint's traffic (what the PUT is refused for)."""
        known = {key[1] for key, d in self.deployments.items() if key[0] == name and d.provisioning_state != "Deleting"}
        unknown = sorted((set(traffic) | set(mirror)) - known)
        if unknown:
            raise _bad_request(f"Deployment(s) {', '.join(unknown)} do not exist in endpoint {name}")
        if traffic and sum(traffic.values()) != 100:
            raise _bad_request(f"Traffic of endpoint {name} must add up to 100, got {sum(traffic.values())}")
        if len(mirror) > 1:
            raise _bad_request("Mirror traffic can be set to one deployment only")
        for deployment, value in mirror.items():
            if value > 50:
                raise _bad_request(f"Mirror traffic of deployment {deployment} cannot exceed 50%")
            if traffic.get(deployment):
                raise _bad_request(f"Deployment {deployment} cannot receive both live and mirror traffic")

    def _arm_prefix(self) -> str:
        c = self.cloud
        return (
            f"/subscriptions/{c.subscription_id}/resourceGroups/{c.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{c.workspace}"
        )


def model_key(reference: Any) -> tuple[str, str]:
    """(name, version) of a deployment's model: an ARM id or ``azureml:name:version``."""
    text = str(getattr(reference, "id", None) or reference)
    found = _MODEL_ARM.search(text) or _MODEL_SHORT.match(text)
    if not found:
        raise _bad_request(f"Invalid model reference {text}")
    return found.group(1), found.group(2)


class FakeOnlineDeploymentOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        self.endpoints = FakeOnlineEndpointOperations(cloud)
        self.deployments = cloud.kind("online_deployments")

    def _stored(self, name: str, endpoint_name: str) -> Any:
        deployment = self.deployments.get((endpoint_name, name))
        if deployment is None:
            self.endpoints._stored(endpoint_name)
            raise not_found("Deployment", f"{name} of endpoint {endpoint_name}")
        return deployment

    def begin_create_or_update(
        self,
        deployment: Any,
        *,
        local: bool = False,
        vscode_debug: bool = False,
        skip_script_validation: bool = False,
        local_enable_gpu: bool = False,
        **kwargs: Any,
    ) -> Any:
        from azure.ai.ml.entities import SystemData

        self.cloud.called("online_deployments.begin_create_or_update", deployment=deployment)
        deployment._to_rest_object(location=REGION)  # what the SDK sends: refuses what it cannot serialize
        with self.cloud.lock:
            endpoint = self.endpoints._stored(deployment.endpoint_name)
            if endpoint.provisioning_state != "Succeeded":  # Azure's words
                raise http_error(
                    409,
                    f"Cannot create a deployment in endpoint {endpoint.name} because it is in "
                    f"{endpoint.provisioning_state} provisioning state.",
                    "Conflict",
                )
            if not deployment.instance_count or deployment.instance_count < 1:
                raise _bad_request("instance_count must be at least 1")
            key = (deployment.endpoint_name, deployment.name)
            existing = self.deployments.get(key)
            name, version = model_key(deployment.model)
            stored = copy.deepcopy(deployment)
            stored.model = f"{self.endpoints._arm_prefix()}/models/{name}/versions/{version}"
            if existing is None:
                azure_sets(stored, provisioning_state="Creating", creation_context=SystemData(created_at=now()))
            else:
                changed = (existing.model, existing.instance_type) != (stored.model, stored.instance_type)
                state = "Updating" if changed else existing.provisioning_state
                azure_sets(stored, provisioning_state=state, creation_context=existing.creation_context)
            self.deployments[key] = stored
        return FakePoller(lambda: copy.deepcopy(self.deployments.get(key)))

    def get(self, name: str, endpoint_name: str, *, local: bool | None = False) -> Any:
        self.cloud.called("online_deployments.get", name=name, endpoint_name=endpoint_name)
        with self.cloud.lock:
            return copy.deepcopy(self._stored(name, endpoint_name))

    def begin_delete(self, name: str, endpoint_name: str, *, local: bool | None = False) -> Any:
        self.cloud.called("online_deployments.begin_delete", name=name, endpoint_name=endpoint_name)
        with self.cloud.lock:
            deployment = self._stored(name, endpoint_name)
            endpoint = self.endpoints._stored(endpoint_name)
            if _live(endpoint).get(name) or (endpoint.mirror_traffic or {}).get(name):
                raise _bad_request(
                    f"Deployment {name} cannot be deleted because it has traffic; set its traffic to 0 first"
                )
            azure_sets(deployment, provisioning_state="Deleting")
        return FakePoller(None, done=lambda: (endpoint_name, name) not in self.deployments)

    def get_logs(
        self,
        name: str,
        endpoint_name: str,
        lines: int,
        *,
        container_type: str | None = None,
        local: bool = False,
    ) -> str:
        self.cloud.called("online_deployments.get_logs", name=name, endpoint_name=endpoint_name, lines=lines)
        with self.cloud.lock:
            self._stored(name, endpoint_name)
            logs = self.cloud.kind("online_logs").get((endpoint_name, name), [])
            return "\n".join(logs[-lines:]) if lines > 0 else ""

    def list(self, endpoint_name: str, *, local: bool = False) -> Any:
        self.cloud.called("online_deployments.list", endpoint_name=endpoint_name)
        with self.cloud.lock:
            self.endpoints._stored(endpoint_name)
            return [copy.deepcopy(d) for key, d in self.deployments.items() if key[0] == endpoint_name]
