"""Computes as AmlCompute clusters (SDK v2). STUB: to be written (see the brief)."""

from __future__ import annotations

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.workspace import AzureV2Part


@translate_methods
class AzureV2Computes(AzureV2Part):
    """create(*, name, max_nodes, vm_size) -> Compute; list() -> list[Compute]; get(name) -> Compute;
    delete(name) -> None; cluster(name) -> the SDK's AmlCompute (NotFound)."""
