"""Fake of ``DataOperations`` (``MLClient.data``): versions numbered by Azure, uploads kept as bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, azure_sets, http_error, not_found, now


def stored_data(cloud: FakeAzureML, data: Any, version: str) -> Any:
    """``data`` as Azure answers it once registered as ``version``."""
    from azure.ai.ml.entities import Data
    from azure.ai.ml.entities._system_data import SystemData

    stored = Data(
        name=data.name,
        version=version,
        type=data.type,
        path=data.path,
        description=data.description,
        tags=dict(data.tags or {}),
        properties=dict(data.properties or {}),
    )
    azure_sets(stored, creation_context=SystemData(created_at=now(), created_by="opml-tests"))
    cloud.kind("data")[(data.name, version)] = stored
    return stored


def add_external_data(cloud: FakeAzureML, name: str, version: str, *, type: str, path: str, tags=None) -> Any:
    """A data asset registered in Azure outside opml."""
    from azure.ai.ml.entities import Data

    with cloud.lock:
        return stored_data(cloud, Data(name=name, type=type, path=path, tags=tags or {}), version)


class FakeDataOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

    def _versions(self, name: str) -> list[Any]:
        return [data for (asset, _), data in self.cloud.kind("data").items() if asset == name]

    def list(self, name: str | None = None, *, list_view_type: Any = "ActiveOnly") -> Any:
        """Without a name: one Data per asset (a container: name, type, tags, ``latest_version``; no version)."""
        from azure.ai.ml.entities import Data

        self.cloud.called("data.list", name=name)
        with self.cloud.lock:
            if name is not None:
                return self._versions(name)
            containers = []
            for asset in sorted({asset for asset, _ in self.cloud.kind("data")}):
                latest = max(self._versions(asset), key=lambda d: d.creation_context.created_at)
                container = Data(name=asset, type=latest.type)
                container.latest_version = latest.version
                containers.append(container)
            return containers

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.cloud.called("data.get", name=name, version=version, label=label)
        if version is not None and label is not None:
            raise http_error(400, "Cannot specify both version and label.", "UserError")
        with self.cloud.lock:
            if label == "latest":
                versions = self._versions(name)
                if not versions:
                    raise not_found("Data container", name)
                return max(versions, key=lambda d: d.creation_context.created_at)
            found = self.cloud.kind("data").get((name, str(version)))
        if found is None:
            raise not_found("Data version", f"{name}:{version}")
        return found

    def create_or_update(self, data: Any) -> Any:
        """As the SDK: a local MLTable folder must hold an ``MLTable`` file whose paths exist; the folder is uploaded
        (its files kept in ``kind("blobs")``) and the asset points at the upload."""
        from azure.ai.ml._utils._data_utils import read_local_mltable_metadata_contents
        from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

        self.cloud.called("data.create_or_update", data=data)
        local = Path(str(data.path))
        if data.type == "mltable" and local.is_dir():
            metadata = MLTableMetadata._load(read_local_mltable_metadata_contents(path=str(local)), local / "MLTable")
            for uri in metadata.referenced_uris():
                assert (local / uri).resolve().is_file(), f"MLTable refers to a missing file {uri}"
        with self.cloud.lock:
            if local.exists():
                digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(local.rglob("*")) if p.is_file()))
                remote = (
                    f"azureml://datastores/workspaceblobstore/paths/LocalUpload/{digest.hexdigest()[:32]}/{local.name}"
                )
                for file in local.rglob("*"):
                    if file.is_file():
                        self.cloud.kind("blobs")[f"{remote}/{file.relative_to(local).as_posix()}"] = file.read_bytes()
                data.path = remote
            versions = self._versions(data.name)
            if data.version is None:  # auto-increment: the next whole number
                numbers = [int(d.version) for d in versions if str(d.version).isdigit()]
                version = str(max(numbers, default=0) + 1)
            else:
                version = str(data.version)
                if (data.name, version) in self.cloud.kind("data"):
                    raise http_error(409, f"Data {data.name}:{version} already exists and is immutable", "Conflict")
            return stored_data(self.cloud, data, version)
