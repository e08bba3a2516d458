"""The SDK surface the Azure backend uses, gathered in one object.

``load_sdk()`` imports the real classes; tests pass an ``AzureSDK`` of fakes
with the same signatures (``tests/azure_fakes.py``). Keeping the surface in one
place is also what a later SDK v2 (``azure-ai-ml``) adapter would replace.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from opml.errors import BackendUnavailable

INSTALL_HINT = "install the Azure ML SDK v1: pip install -r requirements.txt (azureml-core, azureml-pipeline-core)"


@dataclass(frozen=True)
class AzureSDK:
    Workspace: Any
    Experiment: Any
    Run: Any
    Model: Any
    Dataset: Any
    TabularDataset: Any
    Datastore: Any
    Environment: Any
    ScriptRunConfig: Any
    RunConfiguration: Any
    ComputeTarget: Any
    AmlCompute: Any
    Webservice: Any
    AciWebservice: Any
    InferenceConfig: Any
    AutoMLConfig: Any
    Pipeline: Any
    PipelineParameter: Any
    PipelineData: Any
    OutputFileDatasetConfig: Any
    TrainingOutput: Any
    PipelineRun: Any
    PublishedPipeline: Any
    Schedule: Any
    ScheduleRecurrence: Any
    AutoMLStep: Any
    PythonScriptStep: Any
    InteractiveLoginAuthentication: Any
    ServicePrincipalAuthentication: Any
    AzureCliAuthentication: Any


# attribute -> (module, name): the real classes, imported by load_sdk()
REAL_CLASSES: dict[str, tuple[str, str]] = {
    "Workspace": ("azureml.core", "Workspace"),
    "Experiment": ("azureml.core", "Experiment"),
    "Run": ("azureml.core", "Run"),
    "Model": ("azureml.core", "Model"),
    "Dataset": ("azureml.core", "Dataset"),
    "TabularDataset": ("azureml.data", "TabularDataset"),
    "Datastore": ("azureml.core", "Datastore"),
    "Environment": ("azureml.core", "Environment"),
    "ScriptRunConfig": ("azureml.core", "ScriptRunConfig"),
    "RunConfiguration": ("azureml.core.runconfig", "RunConfiguration"),
    "ComputeTarget": ("azureml.core.compute", "ComputeTarget"),
    "AmlCompute": ("azureml.core.compute", "AmlCompute"),
    "Webservice": ("azureml.core.webservice", "Webservice"),
    "AciWebservice": ("azureml.core.webservice", "AciWebservice"),
    "InferenceConfig": ("azureml.core.model", "InferenceConfig"),
    "AutoMLConfig": ("azureml.train.automl", "AutoMLConfig"),
    "Pipeline": ("azureml.pipeline.core", "Pipeline"),
    "PipelineParameter": ("azureml.pipeline.core", "PipelineParameter"),
    "PipelineData": ("azureml.pipeline.core", "PipelineData"),
    "OutputFileDatasetConfig": ("azureml.data", "OutputFileDatasetConfig"),
    "TrainingOutput": ("azureml.pipeline.core", "TrainingOutput"),
    "PipelineRun": ("azureml.pipeline.core", "PipelineRun"),
    "PublishedPipeline": ("azureml.pipeline.core", "PublishedPipeline"),
    "Schedule": ("azureml.pipeline.core", "Schedule"),
    "ScheduleRecurrence": ("azureml.pipeline.core", "ScheduleRecurrence"),
    "AutoMLStep": ("azureml.pipeline.steps", "AutoMLStep"),
    "PythonScriptStep": ("azureml.pipeline.steps", "PythonScriptStep"),
    "InteractiveLoginAuthentication": ("azureml.core.authentication", "InteractiveLoginAuthentication"),
    "ServicePrincipalAuthentication": ("azureml.core.authentication", "ServicePrincipalAuthentication"),
    "AzureCliAuthentication": ("azureml.core.authentication", "AzureCliAuthentication"),
}

assert set(REAL_CLASSES) == {field.name for field in fields(AzureSDK)}


def load_sdk() -> AzureSDK:
    """The real SDK classes. Raises BackendUnavailable (with what to install) when an import fails."""
    import importlib

    classes = {}
    for attribute, (module_name, class_name) in REAL_CLASSES.items():
        try:
            classes[attribute] = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise BackendUnavailable(f"the Azure ML SDK cannot be loaded ({exc}); {INSTALL_HINT}") from None
    return AzureSDK(**classes)
