"""Models as MLflow models in the workspace's registry (SDK v2).

An AutoML v2 trial writes its model as an MLflow model among its artifacts (``outputs/mlflow-model``); opml registers
that folder (``azureml://jobs/<trial>/outputs/artifacts/outputs/mlflow-model``, type ``mlflow_model``, which a
managed online endpoint deploys without a scoring script), with its lineage in the version's properties (algorithm,
task, primary metric, metrics, dataset name:version, run id). A model's task decides what its endpoint answers: a
bare list of numbers for regression, of labels for classification (MLflow's pyfunc ``predict``). SDK v2 cannot delete
a model version: opml archives it (Azure then leaves it out of listings) and remembers it as deleted. Aliases, which
Azure ML's registry lacks, are kept with their history in the state folder, as with SDK v1.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.tasks import TASK_PROPERTY, task_of_params
from opml.backends.azure_common.times import EPOCH
from opml.backends.azure_v2.convert import to_model
from opml.backends.azure_v2.jobs import MLFLOW_MODEL_PATH, AzureV2Jobs, is_automl_trial, params_of
from opml.backends.azure_v2.mlflow_rest import metrics_of, tags_of
from opml.backends.azure_v2.workspace import AzureV2Part, AzureV2Workspace
from opml.entities import AliasChange, Model
from opml.errors import BackendUnavailable, Conflict, NotFound, OpmlError
from opml.files import make_private_dir

INPUT_SCHEMA_PROPERTY = "opml_input_schema"  # a registered model's input columns and kinds (JSON), from its lineage

_MODEL_ARM = re.compile(r"/models/([^/]+)/versions/([^/]+)$")  # an ARM id of a model version
_MODEL_SHORT = re.compile(r"^azureml:([^:/]+):([^:/]+)$")  # azureml:<name>:<version>


def model_reference(model: Any) -> tuple[str, str] | None:
    """(name, version) of the model a deployment serves: a Model entity, an ARM id or ``azureml:name:version``."""
    if model is None:
        return None
    if not isinstance(model, str):
        return (str(model.name), str(model.version)) if getattr(model, "name", None) else None
    found = _MODEL_ARM.search(model) or _MODEL_SHORT.match(model)
    return (found.group(1), found.group(2)) if found else None


@translate_methods
class AzureV2Models(AzureV2Part):
    """register(*, name, run_id, description, tags); list(name); get(name, version); load(name, version);
    download(name, version); delete(name, version); aliases(name); move_alias(name, alias, version, actor);
    alias_history(name); sdk_model(name, version) -> the SDK's Model (NotFound)."""

    def __init__(self, workspace: AzureV2Workspace, runs: AzureV2Jobs):
        super().__init__(workspace)
        self.runs = runs

    # -- registering ----------------------------------------------------------------------

    def register(self, *, name: str, run_id: str, description: str, tags: dict[str, str]) -> Model:
        job = self.runs.sdk_job(run_id)
        parent = None
        if job.type == "automl":
            if job.status != "Completed":  # its trials finish while it runs: the best so far is not its model
                raise Conflict(
                    f"AutoML run {job.name} is {job.status}: it has no completed model until it has finished"
                )
            parent, job = job, self.runs.best_child(job)
        # A trial is known by Azure's mark (runTemplate), whatever job class the SDK rebuilds it as (a base job
        # today): the mark, not the class, is what Azure's own AutoML samples go by.
        if not is_automl_trial(job):
            kind = "" if job.type == "base" else f" (a {job.type} job)"
            raise Conflict(
                f"run {job.name}{kind} is not an AutoML trial: opml registers the MLflow models of AutoML trials"
            )
        if job.status != "Completed":
            raise Conflict(f"run {job.name} is {job.status}: only a completed run has a model to register")
        mlflow_run = self.runs.mlflow.run(job.name)
        if parent is None:
            parent_id = tags_of(mlflow_run).get("mlflow.parentRunId")
            parent = self.runs.sdk_job(parent_id) if parent_id else None
        parent_params = params_of(parent) if parent is not None else {}
        dataset = parent_params.get("dataset")
        properties = {
            "opml_run_id": job.name,
            "opml_algorithm": (job.properties or {}).get("run_algorithm", ""),
            "opml_primary_metric": parent_params.get("primary_metric", ""),
            TASK_PROPERTY: task_of_params(parent_params),
            "opml_metrics": json.dumps(metrics_of(mlflow_run)),
            "opml_dataset": f"{dataset}:{parent_params.get('dataset_version')}" if dataset else "",
        }
        schema = self._input_schema(parent_params)
        if schema:
            properties[INPUT_SCHEMA_PROPERTY] = json.dumps(schema)
        model = self.sdk.Model(
            name=name,
            type=self.sdk.AssetTypes.MLFLOW_MODEL,
            path=f"azureml://jobs/{job.name}/outputs/artifacts/{MLFLOW_MODEL_PATH}",
            description=description,
            tags=dict(tags),
            properties=properties,
        )  # no version: Azure numbers it (the next whole number)
        return self._with_aliases(to_model(self.client.models.create_or_update(model)))

    def _input_schema(self, params: dict[str, Any]) -> list[dict[str, str]] | None:
        """The model's input columns and their kinds, from the profile of the dataset version it was trained on
        (the label aside): what a new deployment's schema is compared with. None when the lineage names no
        dataset or its profile cannot be read (a dataset deleted since): the model registers all the same."""
        dataset, label = params.get("dataset"), params.get("label_column")
        if not dataset:
            return None
        try:
            profile = self.runs.datasets.profile(dataset, params.get("dataset_version"))
        except OpmlError:
            return None
        return [{"name": column.name, "type": column.dtype} for column in profile.columns if column.name != label]

    # -- reading --------------------------------------------------------------------------

    def _with_aliases(self, model: Model) -> Model:
        held = tuple(sorted(a for a, v in self.state.model_aliases(model.name).items() if v == model.version))
        return dataclasses.replace(model, aliases=held)

    def _versions(self, name: str) -> list[Any]:
        """The versions of ``name`` Azure lists (archived ones aside) that opml can number and has not deleted."""
        try:
            listed = list(self.client.models.list(name=name))
        except Exception as exc:
            error = lookup_failed(exc, f"no model {name}")
            if isinstance(error, NotFound):
                return []
            raise error from exc
        return [
            model
            for model in listed
            if str(model.version).isdigit() and not self.state.model_deleted(model.name, model.version)
        ]

    def list(self, name: str | None = None) -> list[Model]:
        names = [name] if name is not None else sorted({model.name for model in self.client.models.list()})
        models = [self._with_aliases(to_model(model)) for each in names for model in self._versions(each)]
        return sorted(models, key=lambda m: (m.created_at or EPOCH, m.version), reverse=True)

    def sdk_model(self, name: str, version: int | None = None) -> Any:
        """The SDK's Model (the latest version when None). Raises NotFound when Azure has no such model, or opml
        deleted (archived) it (other failures as ``translate`` says)."""
        what = f"no model {name}" + (f" version {version}" if version else "")
        if version is None:
            versions = self._versions(name)
            if not versions:
                raise NotFound(what)
            version = max(int(model.version) for model in versions)
        if self.state.model_deleted(name, version):
            raise NotFound(f"{what} (deleted)")
        try:
            return self.client.models.get(name, version=str(version))
        except Exception as exc:
            raise lookup_failed(exc, what) from exc

    def get(self, name: str, version: int | None = None) -> Model:
        return self._with_aliases(to_model(self.sdk_model(name, version)))

    def load(self, name: str, version: int | None = None) -> Any:
        self.sdk_model(name, version)  # NotFound first
        raise BackendUnavailable(
            "models trained by Azure AutoML load only with Azure's AutoML runtime (azureml-train-automl-runtime, "
            "not installed with opml): score them through their managed online endpoint, or download the MLflow "
            "model"
        )

    def download(self, name: str, version: int | None = None) -> Path:
        """The model's ``model.pkl`` in its MLflow folder, downloaded once into the state folder (the folder when
        an MLflow model made outside opml has no such file)."""
        model = self.sdk_model(name, version)
        target = self.state.folder / "models" / f"{model.name}-{model.version}"
        found = sorted(target.rglob("model.pkl")) if target.exists() else []
        if not found:
            make_private_dir(target)
            self.client.models.download(model.name, str(model.version), download_path=str(target))
            found = sorted(target.rglob("model.pkl"))
        return found[0] if found else target

    def users(self, name: str, version: int) -> list[str]:
        """The online deployments (``endpoint/deployment``) that serve ``name:version``."""
        wanted = (name, str(version))
        users = []
        for endpoint in self.client.online_endpoints.list():
            for deployment in self.client.online_deployments.list(endpoint.name):
                if model_reference(deployment.model) == wanted:
                    users.append(f"{endpoint.name}/{deployment.name}")
        return users

    def delete(self, name: str, version: int) -> None:
        model = self.sdk_model(name, version)
        users = self.users(name, version)
        if users:
            raise Conflict(f"model {name}:{version} is served by deployment(s) {', '.join(users)}: delete them first")
        # SDK v2 cannot delete a model version: archived, Azure lists it no more; opml treats it as deleted.
        self.client.models.archive(model.name, str(model.version))
        self.state.mark_model_deleted(name, version)

    # Azure ML's registry has no model aliases: opml keeps them, with their history, in the state folder.
    def aliases(self, name: str) -> dict[str, int]:
        return self.state.model_aliases(name)

    def move_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        self.state.move_model_alias(name, alias, version, actor)

    def alias_history(self, name: str) -> list[AliasChange]:
        return self.state.alias_history(name)
