"""Fakes of ``BatchEndpointOperations``, ``BatchDeploymentOperations`` and ``ComponentOperations``.

A batch endpoint's ``scoring_uri`` points at the workspace's loopback batch server (``batch_server``), which plays
Azure's invocation REST API: ``POST <scoring_uri>`` with an Azure ML token starts a pipeline job of the default
deployment's component. Entities are stored and returned as copies: opml changes Azure only by calling it.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, http_error, not_found, now


def _copy(entity: Any) -> Any:
    """A copy of an endpoint or deployment (what a new answer would be): what opml changes on it reaches Azure
    only through an update call."""
    return copy.deepcopy(entity)


class FakeBatchEndpointOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def list(self) -> Any:
        self.cloud.called("batch_endpoints.list")
        with self.cloud.lock:
            return [_copy(e) for e in self.cloud.kind("batch_endpoints").values()]

    def get(self, name: str) -> Any:
        self.cloud.called("batch_endpoints.get", name=name)
        with self.cloud.lock:
            found = self.cloud.kind("batch_endpoints").get(name)
        if found is None:
            raise not_found("BatchEndpoint", name)
        return _copy(found)

    def begin_create_or_update(self, endpoint: Any) -> Any:
        from azure.ai.ml.entities import BatchEndpoint

        from tests.azure_v2_fakes.batch_server import batch_server

        self.cloud.called("batch_endpoints.begin_create_or_update", endpoint=endpoint)
        assert isinstance(endpoint, BatchEndpoint), endpoint
        # what Azure keeps is what the SDK sends (Azure's naming rule checked), read back as the SDK reads it: e.g.
        # ``defaults`` comes back as the REST model BatchEndpointDefaults, not the dict opml may have set
        stored = BatchEndpoint._from_rest_object(endpoint._to_rest_batch_endpoint("eastus"))
        stored.name = endpoint.name
        with self.cloud.lock:
            deployment = _default(stored)
            if deployment and (stored.name, deployment) not in self.cloud.kind("batch_deployments"):
                raise http_error(400, f"Deployment {deployment} not found in endpoint {stored.name}", "BadArgument")
            azure_sets(
                stored,
                provisioning_state="Succeeded",
                scoring_uri=f"{batch_server(self.cloud).base}/endpoints/{stored.name}/jobs",
                openapi_uri=f"{batch_server(self.cloud).base}/endpoints/{stored.name}/swagger.json",
            )
            self.cloud.kind("batch_endpoints")[stored.name] = stored
        return FakePoller(lambda: _copy(stored))

    def begin_delete(self, name: str) -> Any:
        self.cloud.called("batch_endpoints.begin_delete", name=name)
        with self.cloud.lock:
            if self.cloud.kind("batch_endpoints").pop(name, None) is None:
                raise not_found("BatchEndpoint", name)
            for key in [k for k in self.cloud.kind("batch_deployments") if k[0] == name]:
                del self.cloud.kind("batch_deployments")[key]
        return FakePoller(None)

    def invoke(
        self,
        endpoint_name: str,
        *,
        deployment_name: str | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        raise AssertionError("opml triggers a published pipeline over REST (its scoring_uri), as its users do")

    def list_jobs(self, endpoint_name: str) -> Any:
        raise AssertionError("opml lists a published pipeline's runs by their tags")


def _default(endpoint: Any) -> str | None:
    """The default deployment of an endpoint Azure keeps (its ``defaults``: the REST model)."""
    return getattr(endpoint.defaults, "deployment_name", None)


class FakeBatchDeploymentOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def begin_create_or_update(self, deployment: Any, *, skip_script_validation: bool = False, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import PipelineComponentBatchDeployment

        self.cloud.called("batch_deployments.begin_create_or_update", deployment=deployment)
        assert isinstance(deployment, PipelineComponentBatchDeployment), deployment
        deployment._to_rest_object(location="eastus")  # what the SDK sends
        stored = _copy(deployment)
        with self.cloud.lock:
            if stored.endpoint_name not in self.cloud.kind("batch_endpoints"):
                raise not_found("BatchEndpoint", stored.endpoint_name)
            reference = stored.component if isinstance(stored.component, str) else None
            if reference is not None:
                name, version = reference.removeprefix("azureml:").rsplit(":", 1)
                if (name, version) not in self.cloud.kind("components"):
                    raise http_error(400, f"Component {name}:{version} not found in workspace", "BadArgument")
            azure_sets(stored, provisioning_state="Succeeded")
            self.cloud.kind("batch_deployments")[(stored.endpoint_name, stored.name)] = stored
        return FakePoller(lambda: _copy(stored))

    def _as_read(self, deployment: Any) -> Any:
        """What the SDK makes of Azure's answer: a plain ``BatchDeployment`` (``BatchDeployment._from_rest_object``),
        whose pipeline component is not given back and whose settings are folded into ``properties``."""
        from azure.ai.ml.entities import BatchDeployment

        rest = deployment._to_rest_object(location="eastus")
        rest.name = deployment.name
        rest.id = (
            f"/subscriptions/{self.cloud.subscription_id}/resourceGroups/{self.cloud.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.cloud.workspace}/batchEndpoints/"
            f"{deployment.endpoint_name}/deployments/{deployment.name}"
        )
        return azure_sets(BatchDeployment._from_rest_object(rest), provisioning_state="Succeeded")

    def get(self, name: str, endpoint_name: str) -> Any:
        self.cloud.called("batch_deployments.get", name=name, endpoint_name=endpoint_name)
        with self.cloud.lock:
            found = self.cloud.kind("batch_deployments").get((endpoint_name, name))
        if found is None:
            raise not_found("BatchDeployment", name)
        return self._as_read(found)

    def begin_delete(self, name: str, endpoint_name: str) -> Any:
        self.cloud.called("batch_deployments.begin_delete", name=name, endpoint_name=endpoint_name)
        with self.cloud.lock:
            if self.cloud.kind("batch_deployments").pop((endpoint_name, name), None) is None:
                raise not_found("BatchDeployment", name)
        return FakePoller(None)

    def list(self, endpoint_name: str) -> Any:
        self.cloud.called("batch_deployments.list", endpoint_name=endpoint_name)
        with self.cloud.lock:
            return [
                self._as_read(d) for (e, _), d in self.cloud.kind("batch_deployments").items() if e == endpoint_name
            ]


class FakeComponentOperations:
    def __init__(self, cloud: FakeAzureML):
        from tests.azure_v2_fakes.pipeline_jobs import play_pipeline_jobs

        self.cloud = cloud
        play_pipeline_jobs(cloud)  # pipeline jobs (of components, or built by dsl) run their nodes on ticks

    def create_or_update(
        self, component: Any, version: str | None = None, *, skip_validation: bool = False, **kwargs: Any
    ) -> Any:
        from azure.ai.ml.entities import PipelineComponent

        self.cloud.called("components.create_or_update", component=component, version=version)
        assert isinstance(component, PipelineComponent), component
        result = component._validate()
        if not result.passed:
            raise http_error(400, f"Component is not valid: {result.error_messages}", "ValidationError")
        component._to_rest_object()  # what the SDK sends
        stored = component  # kept as sent (a PipelineComponent's node dicts cannot be deep-copied)
        stored.version = version or stored.version or "1"
        with self.cloud.lock:
            key = (stored.name, str(stored.version))
            if key in self.cloud.kind("components"):
                raise http_error(409, f"Component {key[0]}:{key[1]} already exists with another definition", "Conflict")
            azure_sets(stored, creation_context=_created())
            self.cloud.kind("components")[key] = stored
        return stored

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.cloud.called("components.get", name=name, version=version, label=label)
        with self.cloud.lock:
            versions = {v: c for (n, v), c in self.cloud.kind("components").items() if n == name}
        chosen = versions.get(version) if version else (versions[max(versions, key=int)] if versions else None)
        if chosen is None:
            raise not_found("Component", f"{name}:{version}")
        return chosen


def _created() -> Any:
    from azure.ai.ml.entities import SystemData

    return SystemData(created_at=now(), created_by="fake")
