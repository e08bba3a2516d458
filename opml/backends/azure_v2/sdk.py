"""The SDK v2 surface the backend uses (``azure-ai-ml``, ``azure-identity``), gathered in one object.

``load_sdk()`` imports the real classes. The entity classes (``AmlCompute``, ``Data``, ``Model``,
``ManagedOnlineEndpoint``, the AutoML job, ``JobSchedule``, ...) are plain Python objects that build offline,
so tests use the real ones; only what talks to Azure (``MLClient``'s operations, the credentials) is replaced
by fakes with the same signatures (``tests/azure_v2_fakes/``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import Any

from opml.errors import BackendUnavailable

INSTALL_HINT = "install the Azure ML SDK v2: pip install -r requirements.txt (azure-ai-ml)"


@dataclass(frozen=True)
class AzureV2SDK:
    MLClient: Any
    DefaultAzureCredential: Any
    ClientSecretCredential: Any
    Input: Any
    Output: Any
    automl: Any  # the module azure.ai.ml.automl (classification(), ...)
    dsl: Any  # the module azure.ai.ml.dsl (@dsl.pipeline)
    command: Any  # azure.ai.ml.command(): a command component or job
    AssetTypes: Any
    AmlCompute: Any
    Data: Any
    Model: Any
    Environment: Any
    ManagedOnlineEndpoint: Any
    ManagedOnlineDeployment: Any
    BatchEndpoint: Any
    PipelineComponentBatchDeployment: Any
    JobSchedule: Any
    RecurrenceTrigger: Any
    CronTrigger: Any
    PipelineJob: Any


# attribute -> (module, name or None for the module itself)
REAL_CLASSES: dict[str, tuple[str, str | None]] = {
    "MLClient": ("azure.ai.ml", "MLClient"),
    "DefaultAzureCredential": ("azure.identity", "DefaultAzureCredential"),
    "ClientSecretCredential": ("azure.identity", "ClientSecretCredential"),
    "Input": ("azure.ai.ml", "Input"),
    "Output": ("azure.ai.ml", "Output"),
    "automl": ("azure.ai.ml.automl", None),
    "dsl": ("azure.ai.ml.dsl", None),
    "command": ("azure.ai.ml", "command"),
    "AssetTypes": ("azure.ai.ml.constants", "AssetTypes"),
    "AmlCompute": ("azure.ai.ml.entities", "AmlCompute"),
    "Data": ("azure.ai.ml.entities", "Data"),
    "Model": ("azure.ai.ml.entities", "Model"),
    "Environment": ("azure.ai.ml.entities", "Environment"),
    "ManagedOnlineEndpoint": ("azure.ai.ml.entities", "ManagedOnlineEndpoint"),
    "ManagedOnlineDeployment": ("azure.ai.ml.entities", "ManagedOnlineDeployment"),
    "BatchEndpoint": ("azure.ai.ml.entities", "BatchEndpoint"),
    "PipelineComponentBatchDeployment": ("azure.ai.ml.entities", "PipelineComponentBatchDeployment"),
    "JobSchedule": ("azure.ai.ml.entities", "JobSchedule"),
    "RecurrenceTrigger": ("azure.ai.ml.entities", "RecurrenceTrigger"),
    "CronTrigger": ("azure.ai.ml.entities", "CronTrigger"),
    "PipelineJob": ("azure.ai.ml.entities", "PipelineJob"),
}

assert set(REAL_CLASSES) == {field.name for field in fields(AzureV2SDK)}


def load_sdk() -> AzureV2SDK:
    """The real SDK v2. Raises BackendUnavailable (with what to install) when an import fails."""
    found = {}
    for attribute, (module_name, name) in REAL_CLASSES.items():
        try:
            module = importlib.import_module(module_name)
            found[attribute] = module if name is None else getattr(module, name)
        except (ImportError, AttributeError) as exc:
            raise BackendUnavailable(f"the Azure ML SDK v2 cannot be loaded ({exc}); {INSTALL_HINT}") from None
    return AzureV2SDK(**found)
