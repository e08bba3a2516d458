"""Fake of ``ComputeOperations`` (``MLClient.compute``): clusters provision on the next tick."""

from __future__ import annotations

from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, not_found, now


def add_cluster(cloud: FakeAzureML, name: str, *, max_instances: int = 4, state: str = "Succeeded") -> Any:
    """A cluster the workspace already holds (made in Azure, not by opml)."""
    from azure.ai.ml.entities import AmlCompute

    cluster = AmlCompute(name=name, size="STANDARD_DS3_V2", min_instances=0, max_instances=max_instances)
    azure_sets(cluster, provisioning_state=state, created_on=now().isoformat())
    with cloud.lock:
        cloud.kind("computes")[name] = cluster
    return cluster


class FakeComputeOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud
        if not getattr(cloud, "_compute_ticks", False):
            cloud._compute_ticks = True
            cloud.on_tick(self._provision)

    def _provision(self) -> None:
        for cluster in self.cloud.kind("computes").values():
            if cluster.provisioning_state == "Creating":
                azure_sets(cluster, provisioning_state="Succeeded")

    def list(self, *, compute_type: str | None = None) -> Any:
        self.cloud.called("compute.list", compute_type=compute_type)
        with self.cloud.lock:
            return [c for c in self.cloud.kind("computes").values() if compute_type in (None, c.type)]

    def get(self, name: str) -> Any:
        self.cloud.called("compute.get", name=name)
        with self.cloud.lock:
            found = self.cloud.kind("computes").get(name)
        if found is None:
            raise not_found("Compute", name)
        return found

    def begin_create_or_update(self, compute: Any) -> Any:
        from azure.ai.ml.entities import AmlCompute

        self.cloud.called("compute.begin_create_or_update", compute=compute)
        assert isinstance(compute, AmlCompute), compute
        compute._to_rest_object()  # what the SDK sends: refuses what it cannot serialize
        with self.cloud.lock:
            azure_sets(compute, provisioning_state="Creating", created_on=now().isoformat())
            self.cloud.kind("computes")[compute.name] = compute
        return FakePoller(lambda: compute, lambda: compute.provisioning_state != "Creating")

    def begin_delete(self, name: str, *, action: str = "Delete") -> Any:
        self.cloud.called("compute.begin_delete", name=name, action=action)
        with self.cloud.lock:
            if self.cloud.kind("computes").pop(name, None) is None:
                raise not_found("Compute", name)
        return FakePoller(None)
