"""Models in the Azure ML model registry; aliases (which SDK v1 lacks) in opml's state folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from opml.backends.azure.convert import to_model
from opml.backends.azure.runs import AzureRuns
from opml.backends.azure.workspace import AzurePart, AzureWorkspace, last_scalar
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.tasks import TASK_PROPERTY, task_of_params
from opml.entities import COMPLETED, AliasChange, Model
from opml.errors import BackendUnavailable, Conflict
from opml.files import make_private_dir

MODEL_FILE = "outputs/model.pkl"


@translate_methods
class AzureModels(AzurePart):
    def __init__(self, workspace: AzureWorkspace, runs: AzureRuns):
        super().__init__(workspace)
        self.runs = runs

    def register(self, *, name: str, run_id: str, description: str, tags: dict[str, str]) -> Model:
        run = self.runs.sdk_run(run_id)
        if run.type == "automl" and run.parent is None:
            if run.status != COMPLETED:  # its children finish while it runs: the best so far is not its model
                raise Conflict(f"AutoML run {run.id} is {run.status}: it has no completed model until it has finished")
            run = self.runs.best_child(run)
        if run.status != COMPLETED:
            raise Conflict(f"run {run.id} is {run.status}: only a completed run has a model to register")
        if MODEL_FILE not in run.get_file_names():
            raise Conflict(f"run {run.id} has no {MODEL_FILE} to register")
        parent = run.parent
        parent_params = json.loads(((parent.tags if parent is not None else run.tags) or {}).get("opml_params", "{}"))
        metrics = {k: v for k, raw in run.get_metrics().items() if (v := last_scalar(raw)) is not None}
        dataset = parent_params.get("dataset")
        properties = {
            "opml_algorithm": (run.properties or {}).get("run_algorithm", ""),
            "opml_primary_metric": parent_params.get("primary_metric", ""),
            TASK_PROPERTY: task_of_params(parent_params),
            "opml_metrics": json.dumps(metrics),
            "opml_dataset": f"{dataset}:{parent_params.get('dataset_version')}" if dataset else "",
        }
        model = run.register_model(
            model_name=name, model_path=MODEL_FILE, tags=tags, properties=properties, description=description
        )
        return self._with_aliases(to_model(model))

    def _with_aliases(self, model: Model) -> Model:
        held = tuple(sorted(a for a, v in self.state.model_aliases(model.name).items() if v == model.version))
        return dataclasses.replace(model, aliases=held)

    def list(self, name: str | None = None) -> list[Model]:
        models = [self._with_aliases(to_model(m)) for m in self.sdk.Model.list(self.ws, name=name)]
        return sorted(models, key=lambda m: (m.created_at, m.version), reverse=True)

    def sdk_model(self, name: str, version: int | None = None) -> Any:
        """The SDK's Model (latest version when None). Raises NotFound when Azure has no such model (other
        failures as ``translate`` says)."""
        try:
            return self.sdk.Model(self.ws, name=name, version=version)
        except Exception as exc:
            raise lookup_failed(exc, f"no model {name}" + (f" version {version}" if version else "")) from exc

    def get(self, name: str, version: int | None = None) -> Model:
        return self._with_aliases(to_model(self.sdk_model(name, version)))

    def load(self, name: str, version: int | None = None) -> Any:
        raise BackendUnavailable(
            "models trained by Azure AutoML load only with azureml-train-automl-runtime (not installed with opml): "
            "score them through their deployed service, or download the file"
        )

    def download(self, name: str, version: int | None = None) -> Path:
        model = self.sdk_model(name, version)
        target = self.state.folder / "models" / f"{model.name}-{model.version}"
        make_private_dir(target)
        return Path(model.download(target_dir=str(target), exist_ok=True))

    def delete(self, name: str, version: int) -> None:
        model = self.sdk_model(name, version)
        users = [
            s.name
            for s in self.sdk.Webservice.list(self.ws, model_name=name)
            if any(m.name == name and int(m.version) == int(version) for m in (s.models or []))
        ]
        if users:
            raise Conflict(f"model {name}:{version} is used by service(s) {', '.join(users)}: delete them first")
        model.delete()

    # Azure ML (SDK v1) has no model aliases: opml keeps them, with their history, in the state folder.
    def aliases(self, name: str) -> dict[str, int]:
        return self.state.model_aliases(name)

    def move_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        self.state.move_model_alias(name, alias, version, actor)

    def alias_history(self, name: str) -> list[AliasChange]:
        return self.state.alias_history(name)
