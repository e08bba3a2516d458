"""Computes as AmlCompute clusters."""

from __future__ import annotations

import re
from typing import Any

from opml.backends.azure.convert import to_compute
from opml.backends.azure.workspace import AzurePart
from opml.backends.azure_common.errors import translate_methods
from opml.entities import Compute
from opml.errors import AlreadyExists, InvalidInput, NotFound

DEFAULT_VM_SIZE = "STANDARD_DS3_V2"
_COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")


@translate_methods
class AzureComputes(AzurePart):
    def target(self, name: str) -> Any:
        """The SDK's ComputeTarget. Raises NotFound."""
        for target in self.sdk.ComputeTarget.list(self.ws):
            if target.name == name:
                return target
        raise NotFound(f"no compute named {name!r} in workspace {self.workspace.name}")

    def create(self, *, name: str, max_nodes: int, vm_size: str | None, min_nodes: int = 0) -> Compute:
        if not _COMPUTE_NAME.match(name):
            raise InvalidInput(
                f"compute name {name!r}: 2-16 letters, digits and '-', starting with a letter (Azure's rule)"
            )
        if any(target.name == name for target in self.sdk.ComputeTarget.list(self.ws)):
            raise AlreadyExists(f"compute {name} already exists")
        provisioning = self.sdk.AmlCompute.provisioning_configuration(
            vm_size=vm_size or DEFAULT_VM_SIZE, min_nodes=min_nodes, max_nodes=max_nodes
        )
        target = self.sdk.ComputeTarget.create(self.ws, name, provisioning)
        return to_compute(target)  # provisioning goes on in Azure: state "Creating" until it is done

    def _to_compute(self, target: Any) -> Compute:
        listing = getattr(target, "get_active_runs", None)  # AmlCompute has it; attached computes do not
        runs = list(listing()) if listing is not None else []
        return to_compute(target, runs)

    def list(self) -> list[Compute]:
        return [self._to_compute(target) for target in self.sdk.ComputeTarget.list(self.ws)]

    def get(self, name: str) -> Compute:
        return self._to_compute(self.target(name))

    def delete(self, name: str) -> None:
        self.target(name).delete()
