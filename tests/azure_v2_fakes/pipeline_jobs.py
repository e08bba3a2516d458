"""Azure's side of a pipeline job in the fakes: its nodes run as child jobs on ticks.

``start_pipeline_job(cloud, job, experiment_name)`` keeps a submitted ``PipelineJob`` in ``kind("jobs")`` (what
``jobs.create_or_update`` of a pipeline job and a batch endpoint invocation both do). On the next tick it is
Running with one child job per node (named ``<parent>-<node>``, display name the node's name, ``parent_job_name``
set where the SDK's class has it, else in ``properties["azureml.parentrunid"]``); on the next, every child and the
parent are Completed. ``children_of(cloud, parent)`` is what ``jobs.list(parent_job_name=parent)`` lists.
"""

from __future__ import annotations

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
    from azure.ai.ml.entities import Job, PipelineJob

    assert isinstance(job, PipelineJob), job
    # what Azure keeps is what the SDK sends (its REST body), read back as the SDK reads an answer
    stored = Job._from_rest_object(job._to_rest_object())
    stored.name = stored.name or f"pipeline-{uuid.uuid4().hex[:12]}"
    stored.experiment_name = experiment_name or stored.experiment_name or "Default"
    azure_sets(stored, status="NotStarted", creation_context=_created())
    with cloud.lock:
        cloud.kind("jobs")[stored.name] = stored
        if not getattr(cloud, "_pipeline_ticks", False):
            cloud._pipeline_ticks = True
            cloud.on_tick(lambda: _advance(cloud))
    return stored


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
    else:  # an AutoML node: the child is an AutoML job, its data resolved as Azure resolves the node's binding
        from azure.ai.ml import Input, automl

        binding = str(node.training_data)
        given = parent.inputs.get("training_data") if binding == "${{parent.inputs.training_data}}" else None
        path = getattr(getattr(given, "_data", given), "path", None) or (
            f"azureml://datastores/workspaceblobstore/paths/azureml/{parent.name}/{node_name}/training_data/"
        )
        child = automl.classification(
            training_data=Input(type="mltable", path=path),
            target_column_name=node.target_column_name,
            primary_metric=node.primary_metric,
            compute=node.compute,
            experiment_name=parent.experiment_name,
            name=name,
            display_name=node_name,
            properties={PARENT_PROPERTY: parent.name},
        )
    return azure_sets(child, status="Running", creation_context=_created())


def _advance(cloud: FakeAzureML) -> None:
    for job in list(cloud.kind("jobs").values()):
        if job.type != "pipeline" or job.status in ("Completed", "Failed", "Canceled"):
            continue
        if job.status == "NotStarted":
            jobs = job.jobs or _component_jobs(cloud, job.component)  # a job of a registered component
            for node_name, node in jobs.items():
                child = _child(job, node_name, node)
                cloud.kind("jobs")[child.name] = child
            azure_sets(job, status="Running")
        elif job.status == "Running":
            for child in children_of(cloud, job.name):
                azure_sets(child, status="Completed")
            azure_sets(job, status="Completed")


def _component_jobs(cloud: FakeAzureML, reference: Any) -> dict[str, Any]:
    """The nodes of the registered pipeline component ``azureml:<name>:<version>`` a job runs."""
    name, version = str(reference).removeprefix("azureml:").rsplit(":", 1)
    return cloud.kind("components")[(name, version)].jobs
