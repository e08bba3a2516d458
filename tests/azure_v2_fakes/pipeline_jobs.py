"""Azure's side of a pipeline job in the fakes: its nodes run as child jobs on ticks.

A pipeline job reaches ``kind("jobs")`` through ``jobs.create_or_update`` (``FakeJobOperations``), a batch
endpoint invocation or a schedule firing (``start_pipeline_job``: Azure creates the job itself). On the next tick
it is Running with one child job per node, as the SDK lists a pipeline's steps: base jobs (``_BaseJob``) named
``<parent>-<node>``, the node's name as display name and in ``properties["azureml.nodeid"]``, the parent recorded
in ``kind("job_parents")`` as for every child job of the fakes; on the next, the children and the parent are
Completed.
"""

from __future__ import annotations

import re
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, azure_sets, now

_COMPONENT_ARM = re.compile(
    r"/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+/components/([^/]+)/versions/([^/]+)$"
)
_COMPONENT_SHORT = re.compile(r"^azureml:([^:/]+):([^:/]+)$")


def _created() -> Any:
    from azure.ai.ml.entities import SystemData

    return SystemData(created_at=now(), created_by="fake")


def children_of(cloud: FakeAzureML, parent: str) -> list[Any]:
    with cloud.lock:
        return [cloud.kind("jobs")[name] for name, of in cloud.kind("job_parents").items() if of == parent]


def start_pipeline_job(cloud: FakeAzureML, job: Any, experiment_name: str | None = None) -> Any:
    """A pipeline job Azure starts itself (a batch endpoint invocation, a schedule's occurrence): what the SDK
    would send for it, kept as Azure keeps it (named, Queued, created now)."""
    from azure.ai.ml.entities import Job, PipelineJob
    from azure.ai.ml.entities._job.job_name_generator import generate_job_name

    assert isinstance(job, PipelineJob), job
    stored = Job._from_rest_object(job._to_rest_object())  # a new job of that definition
    stored.name = generate_job_name()
    stored.experiment_name = experiment_name or stored.experiment_name or "Default"
    azure_sets(stored, status="Queued", creation_context=_created())
    with cloud.lock:
        cloud.kind("jobs")[stored.name] = stored
    play_pipeline_jobs(cloud)
    return stored


def play_pipeline_jobs(cloud: FakeAzureML) -> None:
    """Make ticks advance the workspace's pipeline jobs (once per workspace)."""
    with cloud.lock:
        if not getattr(cloud, "_pipeline_ticks", False):
            cloud._pipeline_ticks = True
            cloud.on_tick(lambda: _advance(cloud))


def _child(cloud: FakeAzureML, parent: Any, node_name: str, node: Any) -> None:
    from azure.ai.ml.entities._job.base_job import _BaseJob

    name = f"{parent.name}-{node_name}"
    child = _BaseJob(  # what the SDK makes of a step's run record (its experiment: the experiment's id)
        name=name,
        display_name=node_name,
        properties={"azureml.nodeid": node_name, "StepType": str(getattr(node, "type", ""))},
        tags={},
        experiment_name=f"exp-{parent.experiment_name}",
        status="Running",
        creation_context=_created(),
        compute=getattr(node, "compute", None) or parent.settings.default_compute,
    )
    cloud.kind("jobs")[name] = child
    cloud.kind("job_parents")[name] = parent.name


def component_key(reference: Any) -> tuple[str, str] | None:
    """(name, version) of a registered component named by its ARM id (``.../components/<name>/versions/<v>``) or
    ``azureml:<name>:<version>``; None for anything else."""
    found = _COMPONENT_ARM.search(str(reference)) or _COMPONENT_SHORT.match(str(reference))
    return (found.group(1), found.group(2)) if found else None


def _component_jobs(cloud: FakeAzureML, reference: Any) -> dict[str, Any]:
    """The nodes of the registered pipeline component a job runs."""
    return cloud.kind("components")[component_key(reference)].jobs


def _advance(cloud: FakeAzureML) -> None:
    for job in list(cloud.kind("jobs").values()):
        if job.type != "pipeline" or job.status in ("Completed", "Failed", "Canceled"):
            continue
        if job.status in ("Queued", "NotStarted"):
            for node_name, node in (job.jobs or _component_jobs(cloud, job.component)).items():
                _child(cloud, job, node_name, node)
            azure_sets(job, status="Running")
        elif job.status == "Running":
            for child in children_of(cloud, job.name):
                azure_sets(child, status="Completed")
            azure_sets(job, status="Completed")
