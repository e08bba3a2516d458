"""Pipelines: drafts kept in opml's state folder (Azure keeps no unpublished pipeline), built into Azure ML
pipelines (``pipeline_steps``) when run or published; published pipelines and their runs as Azure has them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opml.backends.azure.computes import AzureComputes
from opml.backends.azure.convert import created_time, listed_details, submitted_now, to_published
from opml.backends.azure.datasets import AzureDatasets
from opml.backends.azure.pipeline_steps import build_steps
from opml.backends.azure.runs import AzureRuns
from opml.backends.azure.workspace import AzurePart, AzureWorkspace
from opml.backends.azure_common.drafts import list_drafts, save_draft
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.entities import ACTIVE, Pipeline, PublishedPipeline, Run
from opml.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from opml.backends.base import Backend


def _same_value(value: Any, published: Any) -> bool:
    """Equal as the dashboard's form gives them back (numbers as floats)."""
    numbers = (int, float)
    if isinstance(value, numbers) and isinstance(published, numbers) and not isinstance(value, bool):
        return float(value) == float(published)
    return value == published


@translate_methods
class AzurePipelines(AzurePart):
    def __init__(
        self,
        workspace: AzureWorkspace,
        *,
        runs: AzureRuns,
        datasets: AzureDatasets,
        computes: AzureComputes,
        interface: Backend,
    ):
        super().__init__(workspace)
        self.runs, self.datasets, self.computes = runs, datasets, computes
        self.interface = interface  # the backend itself, to check AutoML settings against its datasets

    def create(
        self, *, name: str, steps: list[dict[str, Any]], parameters: dict[str, Any], compute: str, description: str
    ) -> Pipeline:
        self.computes.target(compute)
        return save_draft(
            self.state, name=name, steps=steps, parameters=parameters, compute=compute, description=description
        )

    def list(self) -> list[Pipeline]:
        return list_drafts(self.state)

    def get(self, pipeline_id: str) -> Pipeline:
        return self.state.pipeline(pipeline_id)

    def _azure_pipeline(self, pipeline: Pipeline, values: dict[str, Any]) -> Any:
        from opml.pipelines.spec import resolve

        steps = resolve(pipeline.steps, {**pipeline.parameters, **values})
        azure_steps = build_steps(
            steps,
            self.computes.target(pipeline.compute),
            runs=self.runs,
            datasets=self.datasets,
            workspace=self.interface,
        )
        return self.sdk.Pipeline(workspace=self.ws, steps=azure_steps, description=pipeline.description or None)

    def run(self, pipeline: Pipeline, *, experiment: str, parameters: dict[str, Any], trigger: str) -> Run:
        tags = {
            "opml_pipeline_id": pipeline.id,
            "opml_trigger": trigger,
            "opml_params": json.dumps({"pipeline_id": pipeline.id, "parameters": parameters}),
            **submitted_now(),
        }
        run = self.sdk.Experiment(self.ws, experiment).submit(self._azure_pipeline(pipeline, parameters), tags=tags)
        return self.runs.to_run(run)

    def publish(self, pipeline: Pipeline, *, name: str, description: str, version: str) -> PublishedPipeline:
        published = self._azure_pipeline(pipeline, {}).publish(name=name, description=description, version=version)
        created = datetime.now(UTC)
        self.state.save_published(
            published.id, pipeline_id=pipeline.id, created_at=created, parameters=pipeline.parameters
        )
        return to_published(published, pipeline_id=pipeline.id, created_at=created)

    def sdk_published(self, published_id: str) -> Any:
        """The SDK's PublishedPipeline. Raises NotFound when Azure has no such pipeline (other failures as
        ``translate`` says)."""
        try:
            return self.sdk.PublishedPipeline.get(self.ws, published_id)
        except Exception as exc:
            raise lookup_failed(exc, f"no published pipeline {published_id}") from exc

    def _to_published(self, published: Any) -> PublishedPipeline:
        known = self.state.published(published.id)
        return to_published(
            published, pipeline_id=known.get("pipeline_id", ""), created_at=parse_time(known.get("created_at"))
        )

    def list_published(self) -> list[PublishedPipeline]:
        found = [self._to_published(p) for p in self.sdk.PublishedPipeline.list(self.ws, active_only=False)]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def get_published(self, published_id: str) -> PublishedPipeline:
        return self._to_published(self.sdk_published(published_id))

    def set_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        published = self.sdk_published(published_id)
        if enabled:
            published.enable()
        else:
            published.disable()
        return self._to_published(published)

    def trigger(
        self,
        published: PublishedPipeline,
        *,
        experiment: str,
        parameters: dict[str, Any],
        trigger: str,
        description: str,
        tags: dict[str, str],
    ) -> Run:
        """Submit the published pipeline, then tag the run as opml tags the runs it starts (SDK v1's
        ``PublishedPipeline.submit`` takes no tags): the user's tags, its pipeline, the trigger, the time."""
        if published.status != ACTIVE:
            raise Conflict(f"published pipeline {published.id} is {published.status}: enable it first")
        self.check_published_values(published.id, parameters)
        run = self.sdk_published(published.id).submit(self.ws, experiment)
        bookkeeping = {"opml_trigger": trigger, **submitted_now()}
        if published.pipeline_id:
            bookkeeping["opml_pipeline_id"] = published.pipeline_id
        run.set_tags({**tags, **bookkeeping})
        if description:
            run.display_name = description
        return self.runs.to_run(run)

    def check_published_values(self, published_id: str, parameters: dict[str, Any]) -> None:
        """Azure runs a published pipeline with the values it was published with (SDK v1 AutoMLStep settings
        cannot be PipelineParameters): assignments are accepted only when they repeat those values."""
        published_values = self.state.published(published_id).get("parameters", {})
        changed = sorted(
            name
            for name, value in parameters.items()
            if name not in published_values or not _same_value(value, published_values[name])
        )
        if changed:
            raise InvalidInput(
                f"on Azure ML a published pipeline runs with the parameter values it was published with "
                f"({', '.join(changed)} differ); publish a new version to change them"
            )

    def list_runs(self, *, pipeline_id: str | None, published_pipeline_id: str | None, limit: int) -> list[Run]:
        """The newest ``limit`` pipeline runs across experiments, newest created first. Each listed run is chosen
        by the tags and properties it was listed with, ordered by its creation time, and only those returned are
        converted, from the RunDto listed (status, times, error: as fresh as the listing, no request each)."""
        runs = []
        for experiment in self.runs.experiments():
            for run in self.runs.runs_of(experiment, type="azureml.PipelineRun"):
                tags, properties = run.tags or {}, run.properties or {}
                if pipeline_id and tags.get("opml_pipeline_id") != pipeline_id:
                    continue
                if published_pipeline_id and properties.get("azureml.pipelineid") != published_pipeline_id:
                    continue
                runs.append(run)
        runs.sort(key=lambda run: created_time(run) or EPOCH, reverse=True)
        return [self.runs.to_run(run, listed_details(run)) for run in runs[:limit]]
