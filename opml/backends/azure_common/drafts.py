"""Pipeline drafts, which Azure does not keep (both SDKs build the Azure pipeline from a draft when it runs or is
published): kept in the state folder."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from opml.backends.azure_common.state import AzureState
from opml.entities import Pipeline
from opml.errors import InvalidInput


def save_draft(
    state: AzureState,
    *,
    name: str,
    steps: list[dict[str, Any]],
    parameters: dict[str, Any],
    compute: str,
    description: str,
) -> Pipeline:
    """A new draft (the caller has checked its compute). A register step's quality gate or alias is refused: a
    step running in Azure cannot read or move opml's model aliases."""
    if any(step.get("gate_alias") or step.get("set_alias") for step in steps):
        raise InvalidInput(
            "quality gates and aliases in a register step need the local backend: Azure ML keeps no model aliases "
            "that a step running in Azure could read; move aliases from the Models page instead"
        )
    pipeline = Pipeline(
        id=uuid.uuid4().hex,
        name=name,
        description=description,
        steps=steps,
        parameters=parameters,
        created_at=datetime.now(UTC),
        compute=compute,
    )
    state.save_pipeline(pipeline)
    return pipeline


def list_drafts(state: AzureState) -> list[Pipeline]:
    return sorted(state.pipelines(), key=lambda p: p.created_at, reverse=True)
