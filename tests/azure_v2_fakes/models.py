"""Fake of ``ModelOperations`` (``MLClient.models``): versions numbered by Azure, kept in
``kind("models")[(name, version_str)]``; a model from a job's artifacts (``azureml://jobs/<job>/outputs/artifacts/
<path>``) must point at files the job wrote (``kind("artifacts")``), an MLflow model at a folder with an
``MLmodel``; archived versions (``kind("archived_models")``) are left out of listings but still answer ``get``, as
in Azure."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, azure_sets, http_error, not_found, now

_JOB_PATH = re.compile(r"^azureml://jobs/([^/]+)/outputs/artifacts/(.+?)/?$")


class FakeModelOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def _files(self, path: str) -> dict[str, bytes]:
        """The artifacts under a job artifact path, by their path inside it."""
        found = _JOB_PATH.match(str(path))
        if not found:
            return {}
        job, prefix = found.groups()
        return {
            artifact[len(prefix) + 1 :]: body
            for (run, artifact), body in self.cloud.kind("artifacts").items()
            if run == job and artifact.startswith(prefix + "/")
        }

    def create_or_update(self, model: Any) -> Any:
        from azure.ai.ml._utils.utils import validate_ml_flow_folder
        from azure.ai.ml.entities import Model
        from azure.ai.ml.entities._system_data import SystemData

        self.cloud.called("models.create_or_update", model=model)
        assert isinstance(model, Model), model
        validate_ml_flow_folder(str(model.path), model.type)  # as the real operation, before the PUT
        model._to_rest_object()  # what the SDK sends: refuses what it cannot serialize
        with self.cloud.lock:
            if str(model.path).startswith("azureml://jobs/"):
                files = self._files(model.path)
                if not files:
                    raise http_error(400, f"No artifacts found at {model.path}", "UserError")
                if model.type == "mlflow_model" and "MLmodel" not in files:
                    raise http_error(400, f"{model.path} is not an MLflow model: it has no MLmodel file", "UserError")
            numbers = [int(v) for n, v in self.cloud.kind("models") if n == model.name and v.isdigit()]
            version = str(model.version) if model.version else str(max(numbers, default=0) + 1)
            if (model.name, version) in self.cloud.kind("models"):
                raise http_error(409, f"Model {model.name}:{version} already exists", "Conflict")
            stored = copy.deepcopy(model)
            stored.version = version
            job = _JOB_PATH.match(str(model.path))
            azure_sets(
                stored,
                creation_context=SystemData(created_at=now(), created_by="opml-tests"),
                id=f"/subscriptions/{self.cloud.subscription_id}/resourceGroups/{self.cloud.resource_group}/providers/"
                f"Microsoft.MachineLearningServices/workspaces/{self.cloud.workspace}/models/{model.name}/versions/"
                f"{version}",
            )
            if job:
                azure_sets(stored, job_name=job.group(1))
            self.cloud.kind("models")[(model.name, version)] = stored
            return copy.deepcopy(stored)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.cloud.called("models.get", name=name, version=version, label=label)
        models = self.cloud.kind("models")
        with self.cloud.lock:
            if version is None and label is None:
                raise http_error(400, "Must provide either version or label.", "BadArgument")
            if version is None and label == "latest":
                versions = sorted((int(v) for n, v in models if n == name), reverse=True)
                version = str(versions[0]) if versions else None
            model = models.get((name, str(version)))
            if model is None:
                raise not_found("Model", f"{name}:{version or label}")
            return copy.deepcopy(model)

    def list(self, name: str | None = None, stage: str | None = None, *, list_view_type: Any = "ActiveOnly") -> Any:
        """With a name, its active versions; without, one Model per name (a container: its name, no version)."""
        from azure.ai.ml.entities import Model

        self.cloud.called("models.list", name=name, stage=stage)
        with self.cloud.lock:
            archived = self.cloud.kind("archived_models")
            active = {key: model for key, model in self.cloud.kind("models").items() if key not in archived}
            if name is not None:
                return [copy.deepcopy(model) for (n, _), model in active.items() if n == name]
            return [Model(name=n) for n in sorted({n for n, _ in active})]

    def download(self, name: str, version: str, download_path: os.PathLike | str = ".") -> None:
        """As the SDK lays it out: ``download_path/<name>/<the folder's base name>/...``."""
        self.cloud.called("models.download", name=name, version=version, download_path=download_path)
        model = self.get(name, version=version)
        files = self._files(model.path)
        target = Path(download_path) / name / str(model.path).rstrip("/").rsplit("/", 1)[-1]
        for path, body in files.items():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_bytes(body)

    def archive(self, name: str, version: str | None = None, label: str | None = None, **kwargs: Any) -> None:
        self.cloud.called("models.archive", name=name, version=version, label=label)
        self.get(name, version=version, label=label)
        with self.cloud.lock:
            self.cloud.kind("archived_models")[(name, str(version))] = True
