"""Pipelines through SDK v2: drafts kept in opml's state folder (as for v1: Azure keeps no unpublished pipeline),
built into v2 pipeline jobs (``pipeline_graph``) when run; "published" as a batch endpoint.

Publishing registers the pipeline job's ``PipelineComponent`` (``components.create_or_update``) and deploys it
behind a batch endpoint of its own (``BatchEndpoint``, Azure AD token auth) as a ``PipelineComponentBatchDeployment``,
the endpoint's default deployment. The published pipeline's id is the endpoint's name; its REST endpoint is the
endpoint's ``scoring_uri``, which takes ``POST`` with a token of ``https://ml.azure.com`` and answers with the
pipeline job it started (``trigger``). Azure cannot tag that job (see ``trigger``): opml keeps its bookkeeping in
the state folder.

Batch endpoints cannot be disabled on Azure: a disabled published pipeline is an endpoint without a default
deployment (an invocation naming no deployment is refused by Azure), its deployment kept and named in the tag
``opml_deployment`` so that enabling sets it back; the tag ``opml_status`` says which.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from opml.backends.azure_common.drafts import list_drafts, save_draft
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.azure_v2 import pipeline_graph
from opml.backends.azure_v2.computes import AzureV2Computes
from opml.backends.azure_v2.datasets import AzureV2Datasets
from opml.backends.azure_v2.jobs import AzureV2Jobs
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.entities import ACTIVE, DISABLED, Pipeline, PublishedPipeline, Run
from opml.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, Unauthorized

SUBMITTED_TAG = "opml_submitted_at"
DEPLOYMENT = "pipeline"  # the one deployment of a published pipeline's endpoint
TRIGGER_TIMEOUT = 60  # seconds for the batch endpoint to answer an invocation


def _same_value(value: Any, published: Any) -> bool:
    """Equal as the dashboard's form gives them back (numbers as floats)."""
    numbers = (int, float)
    if isinstance(value, numbers) and isinstance(published, numbers) and not isinstance(value, bool):
        return float(value) == float(published)
    return value == published


def endpoint_name(name: str) -> str:
    """A batch endpoint name for a published pipeline's display name: Azure's rule (3-32 characters: letters,
    digits, '-', starting with a letter) and unique in the region (endpoint names are), hence a random suffix."""
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name.lower()).strip("-")
    slug = "-".join(part for part in slug.split("-") if part)[:22].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"pl-{slug}".strip("-")
    return f"{slug}-{secrets.token_hex(4)}"


def default_deployment(endpoint: Any) -> str | None:
    """The endpoint's default deployment: ``defaults`` is a dict on an entity built here, Azure's
    ``BatchEndpointDefaults`` on one read back."""
    defaults = endpoint.defaults
    if isinstance(defaults, dict):
        return defaults.get("deployment_name")
    return getattr(defaults, "deployment_name", None)


def set_default_deployment(endpoint: Any, deployment: str | None) -> None:
    if endpoint.defaults is not None and not isinstance(endpoint.defaults, dict):
        endpoint.defaults.deployment_name = deployment
    else:
        endpoint.defaults = {"deployment_name": deployment} if deployment else None


def invoke_body(experiment: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a batch endpoint takes to start a pipeline component deployment's job, as ``batch_endpoints.invoke``
    writes it: ``inputData`` (each input as a job input: an mltable data asset, or a literal), the experiment in
    ``properties.experimentName``. A data asset's path is sent as ``invoke`` sends it: the asset's ARM id
    (``data_asset_arm_id``), never the short ``azureml:name:version`` form, which only the SDK resolves."""
    data = {}
    for name, value in inputs.items():
        if isinstance(value, dict):  # {"type": "mltable", "path": "azureml:name:version"}
            data[name] = {
                "jobInputType": {"mltable": "MLTable", "uri_file": "UriFile"}[value["type"]],
                "uri": value["path"],
            }
        else:
            data[name] = {"jobInputType": "Literal", "value": str(value)}
    return {"properties": {"inputData": data, "properties": {"experimentName": experiment}}}


_SHORT_ASSET = re.compile(r"^azureml:([^:/]+):([^:/]+)$")


def asset_arm_id(client: Any, kind: str, reference: str) -> str:
    """The ARM id of the workspace asset ``azureml:name:version`` of ``kind`` ("data", "components"), as the SDK's
    ``OperationOrchestrator.get_asset_arm_id`` resolves a reference before a request; anything else as it is."""
    found = _SHORT_ASSET.match(reference)
    if not found:
        return reference
    return (
        f"/subscriptions/{client.subscription_id}/resourceGroups/{client.resource_group_name}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{client.workspace_name}/{kind}/{found.group(1)}/versions/"
        f"{found.group(2)}"
    )


def data_asset_arm_id(client: Any, path: str) -> str:
    """The ARM id of the data asset ``azureml:name:version``, as ``batch_endpoints.invoke`` resolves an input's path
    before it POSTs (``_resolve_input``); any other path as it is."""
    return asset_arm_id(client, "data", path)


@translate_methods
class AzureV2Pipelines(AzureV2Part):
    """create(*, name, steps, parameters, compute, description); list(); get(pipeline_id); run(pipeline, *,
    experiment, parameters, trigger); publish(pipeline, *, name, description, version); list_published();
    get_published(published_id); set_enabled(published_id, enabled); trigger(published, *, experiment, parameters,
    trigger, description, tags); list_runs(*, pipeline_id, published_pipeline_id, limit)."""

    def __init__(
        self,
        workspace: AzureV2Workspace,
        *,
        runs: AzureV2Jobs,
        datasets: AzureV2Datasets,
        computes: AzureV2Computes,
        interface: Any,
    ):
        super().__init__(workspace)
        self.runs, self.datasets, self.computes, self.interface = runs, datasets, computes, interface

    # -- drafts ----------------------------------------------------------------------

    def create(
        self, *, name: str, steps: list[dict[str, Any]], parameters: dict[str, Any], compute: str, description: str
    ) -> Pipeline:
        self.computes.cluster(compute)  # NotFound before anything is kept
        return save_draft(
            self.state, name=name, steps=steps, parameters=parameters, compute=compute, description=description
        )

    def list(self) -> list[Pipeline]:
        return list_drafts(self.state)

    def get(self, pipeline_id: str) -> Pipeline:
        return self.state.pipeline(pipeline_id)

    # -- the pipeline job --------------------------------------------------------------

    def _automl_params(self, settings: dict[str, Any], after_prep: bool) -> dict[str, Any]:
        from opml.automl.settings import checked_params, parse_settings

        if after_prep:  # trains on the data-prep node's output: no registered dataset to check
            return {**parse_settings(settings).to_params(), "dataset_version": None}
        return checked_params(settings, self.interface)

    def _training_input(self, dataset: str) -> Any:
        """The pipeline's input: the latest version of ``dataset`` (NotFound names it)."""
        found = self.interface.get_dataset(dataset)
        return self.datasets.training_input(found.name, found.version)

    def pipeline_job(self, pipeline: Pipeline, values: dict[str, Any], *, tags: dict[str, str]) -> Any:
        """The ``PipelineJob`` of ``pipeline`` with parameter ``values`` (the defaults for the others), validated
        offline with the SDK."""
        from opml.pipelines.spec import resolve
        from opml.settings import get_settings

        steps = resolve(pipeline.steps, {**pipeline.parameters, **values})
        job = pipeline_graph.build(
            self.sdk,
            steps,
            name=pipeline.name,
            description=pipeline.description,
            compute=pipeline.compute,
            environment=get_settings().azure_environment,
            sources=self.state.folder / "step_sources" / pipeline.id,
            automl_params=self._automl_params,
            automl_job=self.runs.automl_job,
            training_input=self._training_input(str(pipeline_graph.input_dataset(steps))),
        )
        job.tags = dict(tags)
        pipeline_graph.validate(job)
        return job

    def run(self, pipeline: Pipeline, *, experiment: str, parameters: dict[str, Any], trigger: str) -> Run:
        job = self.pipeline_job(pipeline, parameters, tags=run_tags(pipeline.id, parameters, trigger))
        job.experiment_name = experiment
        submitted = self.client.jobs.create_or_update(job, experiment_name=experiment)
        return self.runs.get(submitted.name)

    # -- published pipelines: batch endpoints --------------------------------------------

    def publish(self, pipeline: Pipeline, *, name: str, description: str, version: str) -> PublishedPipeline:
        from opml.pipelines.spec import resolve

        job = self.pipeline_job(pipeline, {}, tags={})
        dataset = pipeline_graph.input_dataset(resolve(pipeline.steps, pipeline.parameters))
        training = self._training_input(str(dataset))
        endpoint_id = endpoint_name(name)
        component = job.component
        component.name = endpoint_id.replace("-", "_")
        component.version = "1"
        component.description = description or pipeline.description or None
        registered = self.client.components.create_or_update(component)
        created = datetime.now(UTC)
        tags = {
            "opml_name": name,
            "opml_version": version,
            "opml_pipeline_id": pipeline.id,
            "opml_status": ACTIVE,
            "opml_deployment": DEPLOYMENT,
            "opml_training_data": training.path,  # sent with every trigger: the component's input has no default
            # Azure's answer for a deployment does not name its component (BatchDeployment._from_rest_object): a
            # schedule's job reads it here
            "opml_component": f"azureml:{registered.name}:{registered.version}",
            "opml_compute": pipeline.compute,
            "opml_created_at": created.isoformat(),
        }
        endpoint = self.sdk.BatchEndpoint(
            name=endpoint_id, description=description or None, auth_mode="aad_token", tags=tags
        )
        self.client.batch_endpoints.begin_create_or_update(endpoint).result()
        try:
            self._deploy(pipeline, endpoint_id, registered, version)
        except Exception:
            # an endpoint without its pipeline would list as a (disabled) published pipeline: remove it
            self.client.batch_endpoints.begin_delete(endpoint_id)
            raise
        self.state.save_published(
            endpoint_id, pipeline_id=pipeline.id, created_at=created, parameters=pipeline.parameters
        )
        return self.get_published(endpoint_id)

    def _deploy(self, pipeline: Pipeline, endpoint_id: str, registered: Any, version: str) -> None:
        """The pipeline component's deployment on the endpoint, then made its default."""
        deployment = self.sdk.PipelineComponentBatchDeployment(
            name=DEPLOYMENT,
            endpoint_name=endpoint_id,
            component=f"azureml:{registered.name}:{registered.version}",  # registered: no re-upload
            settings={"default_compute": pipeline.compute, "continue_on_step_failure": "False"},
            description=f"opml pipeline {pipeline.name} ({pipeline.id}), version {version}",
            tags={"opml_pipeline_id": pipeline.id},
        )
        self.client.batch_deployments.begin_create_or_update(deployment).result()
        endpoint = self.client.batch_endpoints.get(endpoint_id)
        set_default_deployment(endpoint, DEPLOYMENT)
        self.client.batch_endpoints.begin_create_or_update(endpoint).result()

    def _endpoint(self, published_id: str) -> Any:
        try:
            endpoint = self.client.batch_endpoints.get(published_id)
        except Exception as exc:
            raise lookup_failed(exc, f"no published pipeline {published_id}") from exc
        if "opml_pipeline_id" not in (endpoint.tags or {}):
            raise NotFound(f"no published pipeline {published_id} (batch endpoint {published_id} is not opml's)")
        return endpoint

    def list_published(self) -> list[PublishedPipeline]:
        """opml's published pipelines: the batch endpoints it created (tagged with their pipeline); batch
        endpoints of models, or made outside opml, are not pipelines opml can show."""
        found = [
            to_published(endpoint)
            for endpoint in self.client.batch_endpoints.list()
            if "opml_pipeline_id" in (endpoint.tags or {})
        ]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def get_published(self, published_id: str) -> PublishedPipeline:
        return to_published(self._endpoint(published_id))

    def set_enabled(self, published_id: str, enabled: bool) -> PublishedPipeline:
        endpoint = self._endpoint(published_id)
        tags = dict(endpoint.tags or {})
        tags["opml_status"] = ACTIVE if enabled else DISABLED
        endpoint.tags = tags
        set_default_deployment(endpoint, tags.get("opml_deployment", DEPLOYMENT) if enabled else None)
        self.client.batch_endpoints.begin_create_or_update(endpoint).result()
        return self.get_published(published_id)

    # -- triggering over REST --------------------------------------------------------------

    def published_inputs(self, published: PublishedPipeline, parameters: dict[str, Any]) -> dict[str, Any]:
        """The inputs a run of the published pipeline takes: its ``training_data``, the data asset version it was
        published with, or the latest version of another dataset when ``parameters`` name one.
        Azure takes a pipeline component deployment's inputs, but opml's other parameters
        (AutoML settings, the model name) were fixed when the pipeline's graph was built: values other than the
        published ones are InvalidInput, naming them."""
        from opml.pipelines.spec import check_assignments, resolve

        known = self.state.published(published.id)
        published_values = known.get("parameters", {})
        pipeline = self.state.pipeline(published.pipeline_id) if published.pipeline_id else None
        declared = pipeline.parameters if pipeline else published_values
        values = check_assignments(declared, parameters)
        changed = sorted(
            name
            for name, value in values.items()
            if name not in published_values or not _same_value(value, published_values[name])
        )
        published_data = (self._endpoint(published.id).tags or {}).get("opml_training_data")
        if not changed:
            if not published_data:
                raise InvalidInput(f"published pipeline {published.id} names no training data (tag opml_training_data)")
            return {pipeline_graph.PIPELINE_INPUT: {"type": "mltable", "path": published_data}}
        if pipeline is None:
            raise InvalidInput(f"published pipeline {published.id} has no draft here: its parameters cannot change")
        fixed = [name for name in changed if not _only_dataset(pipeline.steps, name)]
        if fixed:
            raise InvalidInput(
                f"on Azure ML a published pipeline takes another dataset, but its other parameters keep the values "
                f"it was published with ({', '.join(fixed)} differ); publish a new version to change them"
            )
        dataset = pipeline_graph.input_dataset(resolve(pipeline.steps, {**published_values, **values}))
        found = self.interface.get_dataset(str(dataset))
        return {pipeline_graph.PIPELINE_INPUT: {"type": "mltable", "path": f"azureml:{found.name}:{found.version}"}}

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
        """POST the published pipeline's endpoint as a REST client does (an Azure AD token of Azure ML) and give
        the pipeline job it started.

        Azure takes no tags, display name or description in a batch invocation, and refuses to update a pipeline
        job the SDK reads back (``jobs.create_or_update`` of a fetched pipeline job: "the existing job's
        InputBindings cannot be changed"), so opml keeps what it would have tagged the job with (its pipeline, the
        published pipeline, the trigger, the values, the user's tags and description) in its state folder, by the
        job's name, and shows the run with them."""
        if published.status != ACTIVE:
            raise Conflict(f"published pipeline {published.id} is {published.status}: enable it first")
        inputs = self.invoke_inputs(published, parameters)
        answer = self._post(published.endpoint, invoke_body(experiment, inputs))
        job_name = answer.get("name") or str(answer.get("id", "")).rsplit("/", 1)[-1]
        if not job_name:
            raise BackendUnavailable(f"the batch endpoint {published.id} answered without a job: {answer}")
        values = {**self.state.published(published.id).get("parameters", {}), **parameters}
        self.state.save_triggered_run(
            job_name,
            tags={**tags, **run_tags(published.pipeline_id, values, trigger, opml_published_id=published.id)},
            description=description,
        )
        return self.runs.get(job_name)

    def trigger_body(self, published: PublishedPipeline, experiment: str) -> dict[str, Any]:
        """The body ``trigger`` POSTs for a run with the published values (what the dashboard's snippets show)."""
        return invoke_body(experiment, self.invoke_inputs(published, {}))

    def invoke_inputs(self, published: PublishedPipeline, parameters: dict[str, Any]) -> dict[str, Any]:
        """``published_inputs`` with each data asset named by its ARM id, as a batch invocation takes them."""
        return {
            name: {**value, "path": data_asset_arm_id(self.client, value["path"])} if isinstance(value, dict) else value
            for name, value in self.published_inputs(published, parameters).items()
        }

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        import requests

        headers = {**self.interface.auth_header(), "Content-Type": "application/json"}
        try:
            response = requests.post(url, json=body, headers=headers, timeout=TRIGGER_TIMEOUT)
        except requests.RequestException as exc:
            raise BackendUnavailable(f"cannot reach the batch endpoint {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            message = f"the batch endpoint answered HTTP {response.status_code}: {response.text[:500]}"
            if response.status_code in (401, 403):
                raise Unauthorized(f"{message} (sign in again, or ask for a role on the workspace)")
            if response.status_code == 404:
                raise NotFound(message)
            if response.status_code == 409:
                raise Conflict(message)
            if response.status_code < 500:
                raise InvalidInput(message)
            raise BackendUnavailable(message)
        try:
            return response.json()
        except ValueError:
            raise BackendUnavailable(
                f"the batch endpoint answered something else than JSON: {response.text[:200]}"
            ) from None

    # -- runs --------------------------------------------------------------------------

    def list_runs(self, *, pipeline_id: str | None, published_pipeline_id: str | None, limit: int) -> list[Run]:
        """The newest ``limit`` pipeline jobs opml started (run, scheduled: tagged; triggered through an endpoint:
        known in the state folder), newest created first."""
        triggered = self.state.triggered_runs()
        jobs = []
        for job in self.client.jobs.list():
            if job.type != "pipeline":
                continue
            tags = {**(job.tags or {}), **triggered.get(job.name, {}).get("tags", {})}
            if "opml_pipeline_id" not in tags and "opml_published_id" not in tags:
                continue
            if pipeline_id and tags.get("opml_pipeline_id") != pipeline_id:
                continue
            if published_pipeline_id and tags.get("opml_published_id") != published_pipeline_id:
                continue
            jobs.append(job)
        jobs.sort(key=lambda job: _created(job), reverse=True)
        return [self.runs.to_run(job) for job in jobs[:limit]]


def to_published(endpoint: Any) -> PublishedPipeline:
    tags = endpoint.tags or {}
    active = tags.get("opml_status", ACTIVE) == ACTIVE and default_deployment(endpoint) is not None
    return PublishedPipeline(
        id=endpoint.name,
        name=tags.get("opml_name", endpoint.name),
        description=endpoint.description or "",
        version=tags.get("opml_version", ""),
        pipeline_id=tags.get("opml_pipeline_id", ""),
        status=ACTIVE if active else DISABLED,
        endpoint=endpoint.scoring_uri or "",
        created_at=parse_time(tags.get("opml_created_at")) or EPOCH,
    )


def run_tags(
    pipeline_id: str, parameters: dict[str, Any], trigger: str, *, dated: bool = True, **more: str
) -> dict[str, str]:
    """The tags of a pipeline job opml starts: its pipeline, the trigger, the values (and when it was
    submitted, unless a schedule creates it)."""
    tags = {
        "opml_pipeline_id": pipeline_id,
        "opml_trigger": trigger,
        "opml_params": json.dumps({"pipeline_id": pipeline_id, "parameters": parameters}),
        **more,
    }
    if dated:
        tags[SUBMITTED_TAG] = datetime.now(UTC).isoformat()
    return tags


def _created(job: Any) -> datetime:
    context = job.creation_context
    created = getattr(context, "created_at", None) if context is not None else None
    return parse_time(created) or parse_time((job.tags or {}).get(SUBMITTED_TAG)) or EPOCH


def _only_dataset(steps: list[dict[str, Any]], parameter: str) -> bool:
    """``parameter`` is the first step's dataset (the pipeline's input) and nothing else."""
    from opml.pipelines.spec import references

    first = steps[0]
    if first["type"] == "data_prep":
        dataset = first.get("input_dataset")
        rest = [{k: v for k, v in first.items() if k != "input_dataset"}, *steps[1:]]
    else:
        dataset = first["settings"].get("dataset")
        rest = [{**first, "settings": {k: v for k, v in first["settings"].items() if k != "dataset"}}, *steps[1:]]
    return dataset == f"${{{parameter}}}" and parameter not in references(rest)
