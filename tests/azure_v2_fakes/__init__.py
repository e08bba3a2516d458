"""Fakes of Azure ML SDK v2 (``azure-ai-ml``) for tests: Azure is not reachable from here.

Only what talks to Azure is faked: ``MLClient``'s operations classes (one module each, every public method with
the real method's signature, compared by ``tests/test_azure_v2_sdk_boundary.py``) and the credentials. The
entities opml builds and reads are the SDK's real classes; what Azure fills in is set with ``azure_sets``, which
refuses attributes the real class lacks. State lives in a ``FakeAzureML``.
"""

from tests.azure_v2_fakes.client import OPERATIONS, FakeCredential, make_fake_sdk
from tests.azure_v2_fakes.cloud import FakeAzureML, FakePoller, azure_sets, expired_sign_in, http_error, not_found

__all__ = [
    "OPERATIONS",
    "FakeAzureML",
    "FakeCredential",
    "FakePoller",
    "azure_sets",
    "expired_sign_in",
    "http_error",
    "make_fake_sdk",
    "not_found",
]
