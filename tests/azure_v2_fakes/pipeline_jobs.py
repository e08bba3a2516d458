"""Azure's side of a pipeline job in the fakes: its nodes run as child jobs on ticks.

``start_pipeline_job(cloud, job, experiment_name)`` keeps a submitted ``PipelineJob`` in ``kind("jobs")`` (what
``jobs.create_or_update`` of a pipeline job and a batch endpoint invocation both do). On the next tick it is
Running with one child job per node (named ``<parent>-<node>``, display name the node's name, ``parent_job_name``
set where the SDK's class has it, else in ``properties["azureml.parentrunid"]``); on the next, every child and the
parent are Completed. ``children_of(cloud, parent)`` is what ``jobs.list(parent_job_name=parent)`` lists.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, azure_sets, now

PARENT_PROPERTY = "azureml.parentrunid"


def parent_of(job: Any) -> str | None:
    return getattr(job, "parent_job_name", None) or (job.properties or {}).get(PARENT_PROPERTY)


def children_of(cloud: FakeAzureML, parent: str) -> list[Any]:
    with cloud.lock:
        return [job for job in cloud.kind("jobs").values() if parent_of(job) == parent]


def _created() -> Any:
    from azure.ai.ml.entities import SystemData

    return SystemData(created_at=now(), created_by="fake")


def start_pipeline_job(cloud: FakeAzureML, job: Any, experiment_name: str | None = None) -> Any:
    """Keep ``job`` (a PipelineJob) as Azure does on submission: named, NotStarted, created now."""
    from azure.ai.ml.entities import PipelineJob

    assert isinstance(job, PipelineJob), job
    job._to_rest_object()  # what the SDK sends: refuses a graph it cannot serialize
    stored = copy.deepcopy(job)
    stored.name = stored.name or f"pipeline-{uuid.uuid4().hex[:12]}"
    stored.experiment_name = experiment_name or stored.experiment_name or "Default"
    azure_sets(stored, status="NotStarted", creation_context=_created())
    with cloud.lock:
        cloud.kind("jobs")[stored.name] = stored
        if not getattr(cloud, "_pipeline_ticks", False):
            cloud._pipeline_ticks = True
            cloud.on_tick(lambda: _advance(cloud))
    return copy.deepcopy(stored)


def _child(parent: Any, node_name: str, node: Any) -> Any:
    from azure.ai.ml.entities import CommandJob

    name = f"{parent.name}-{node_name}"
    if getattr(node, "type", None) == "command":
        child = CommandJob(
            name=name,
            display_name=node_name,
            command=node.command,
            environment=node.environment,
            compute=node.compute,
            experiment_name=parent.experiment_name,
            parent_job_name=parent.name,
        )
    else:  # an AutoML node: the child is the AutoML job itself
        child = copy.deepcopy(node)
        child.name, child.display_name = name, node_name
        child.experiment_name = parent.experiment_name
        child.properties = {**(child.properties or {}), PARENT_PROPERTY: parent.name}
    return azure_sets(child, status="Running", creation_context=_created())


def _advance(cloud: FakeAzureML) -> None:
    for job in list(cloud.kind("jobs").values()):
        if job.type != "pipeline" or job.status in ("Completed", "Failed", "Canceled"):
            continue
        if job.status == "NotStarted":
            jobs = job.jobs if job.jobs else job.component.jobs  # a job of a component (a batch invocation)
            for node_name, node in jobs.items():
                child = _child(job, node_name, node)
                cloud.kind("jobs")[child.name] = child
            azure_sets(job, status="Running")
        elif job.status == "Running":
            for child in children_of(cloud, job.name):
                azure_sets(child, status="Completed")
            azure_sets(job, status="Completed")
