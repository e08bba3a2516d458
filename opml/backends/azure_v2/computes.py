"""Computes as AmlCompute clusters (SDK v2): created with ``begin_create_or_update`` (Azure provisions the cluster
while opml returns: "Creating" until it is "Succeeded"), deleted with ``begin_delete``."""

from __future__ import annotations

import re
from typing import Any

from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_v2.convert import ACTIVE_STATES, QUEUED_STATES, to_compute
from opml.backends.azure_v2.workspace import AzureV2Part
from opml.entities import Compute
from opml.errors import AlreadyExists, InvalidInput, NotFound

DEFAULT_VM_SIZE = "STANDARD_DS3_V2"
# Azure's rule for a compute name: 2-16 letters, digits and '-', starting with a letter, not ending with '-'
_COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")


def check_compute_name(name: Any) -> str:
    if not isinstance(name, str) or not _COMPUTE_NAME.match(name):
        raise InvalidInput(
            f"compute name {name!r}: 2-16 letters, digits and '-', starting with a letter (Azure's rule)"
        )
    return name


@translate_methods
class AzureV2Computes(AzureV2Part):
    """create(*, name, max_nodes, vm_size) -> Compute; list() -> list[Compute]; get(name) -> Compute;
    delete(name) -> None; cluster(name) -> the SDK's AmlCompute (NotFound)."""

    def cluster(self, name: str) -> Any:
        """The SDK's compute of that name. Raises NotFound when Azure has none (other failures as ``translate``)."""
        if not isinstance(name, str) or not name.strip():
            raise NotFound("no compute with an empty name")
        try:
            return self.client.compute.get(name)
        except Exception as exc:
            raise lookup_failed(exc, f"no compute named {name!r} in workspace {self.workspace.name}") from exc

    def create(self, *, name: str, max_nodes: int, vm_size: str | None, min_nodes: int = 0) -> Compute:
        check_compute_name(name)
        try:
            self.cluster(name)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"compute {name} already exists")
        cluster = self.sdk.AmlCompute(
            name=name, size=vm_size or DEFAULT_VM_SIZE, min_instances=min_nodes, max_instances=max_nodes
        )
        # The poller is not waited on: provisioning goes on in Azure, the compute shows "Creating" until done.
        self.client.compute.begin_create_or_update(cluster)
        return self.get(name)

    def _job_counts(self) -> dict[str, tuple[int, int]]:
        """compute name -> (active, queued) jobs on it, from one listing of the workspace's jobs."""
        counts: dict[str, list[int]] = {}
        for job in self.client.jobs.list():
            if job is None or not job.compute:
                continue
            compute = str(job.compute).rsplit("/", 1)[-1]  # a job may name its compute by ARM id
            slot = counts.setdefault(compute, [0, 0])
            if job.status in ACTIVE_STATES:
                slot[0] += 1
            elif job.status in QUEUED_STATES:
                slot[1] += 1
        return {name: (active, queued) for name, (active, queued) in counts.items()}

    def _to_compute(self, cluster: Any, counts: dict[str, tuple[int, int]]) -> Compute:
        active, queued = counts.get(cluster.name, (0, 0))
        return to_compute(cluster, active=active, queued=queued)

    def list(self) -> list[Compute]:
        clusters = list(self.client.compute.list())
        counts = self._job_counts() if clusters else {}
        return [self._to_compute(cluster, counts) for cluster in clusters]

    def get(self, name: str) -> Compute:
        cluster = self.cluster(name)
        return self._to_compute(cluster, self._job_counts())

    def delete(self, name: str) -> None:
        self.cluster(name)  # NotFound as opml says it
        self.client.compute.begin_delete(name)
