"""Datasets as data assets (SDK v2). STUB: to be written (see the brief)."""

from __future__ import annotations

from opml.backends.azure_common.errors import translate_methods
from opml.backends.azure_v2.workspace import AzureV2Part


@translate_methods
class AzureV2Datasets(AzureV2Part):
    """register(*, name, source, description, tags, filename, lineage) -> Dataset; list_latest(); list_versions(name);
    get(name, version); load(name, version, *, nrows); profile(name, version); training_input(name, version) -> the
    SDK's Input an AutoML job or a pipeline takes."""
