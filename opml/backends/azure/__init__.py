"""The Azure ML backend, over the SDK v1 (``azureml-core``, ``azureml-pipeline-core``).

Every ``azureml`` import of the product lives in this package, and happens when
a backend is opened (``opml.workspace.open_workspace(config=...)``), never at
import time: the local backend and the dashboard start without the SDK.
"""

from opml.backends.azure.backend import AzureMLBackend

__all__ = ["AzureMLBackend"]
