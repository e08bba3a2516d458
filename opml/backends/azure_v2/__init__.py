"""The Azure ML backend over SDK v2 (``azure-ai-ml``): managed online endpoints, AutoML v2 jobs, v2 pipelines
published as batch endpoints, job schedules.

Every ``azure.ai.ml`` / ``azure.identity`` import of the product lives in this package, and happens when a
backend is opened (``opml.workspace.open_workspace(config=..., sdk="v2")``), never at import time.
"""

from opml.backends.azure_v2.backend import AzureMLv2Backend

__all__ = ["AzureMLv2Backend"]
