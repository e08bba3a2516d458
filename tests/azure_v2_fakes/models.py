"""Fake of ``ModelOperations`` (``MLClient.models``). MINIMAL until the models part lands (branch wt21):
``get`` over ``kind("models")[(name, version_str)]``, for the endpoints' tests."""

from __future__ import annotations

import copy
from typing import Any

from tests.azure_v2_fakes.cloud import FakeAzureML, http_error, not_found


class FakeModelOperations:
    def __init__(self, cloud: FakeAzureML):
        self.cloud = cloud

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
