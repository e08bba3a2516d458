"""Credentials for a workspace opened with SDK v2, in the order Azure's own tools try them.

1. A service principal from ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET``
   (``ClientSecretCredential``), as with SDK v1.
2. ``DefaultAzureCredential``: environment, workload or managed identity, the Azure CLI's ``az login``
   (the ``az`` command, unlike SDK v1's AzureCliAuthentication, which needs azure-cli in this Python),
   Azure PowerShell, azd; and an interactive browser sign-in as the last resort.
Nothing is asked of Azure until the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opml.backends.azure_common.credentials import service_principal, tenant
from opml.backends.azure_v2.sdk import AzureV2SDK

ARM_SCOPE = "https://management.azure.com/.default"  # Azure Resource Manager, MLflow's REST API on Azure ML
ML_SCOPE = "https://ml.azure.com/.default"  # batch endpoints' REST API (aad_token)


def make_credential(sdk: AzureV2SDK, environ: Mapping[str, str] | None = None) -> Any:
    principal = service_principal(environ)
    if principal:
        return sdk.ClientSecretCredential(**principal)
    return sdk.DefaultAzureCredential(
        exclude_interactive_browser_credential=False, interactive_browser_tenant_id=tenant(environ)
    )


def credential_kind(sdk: AzureV2SDK, credential: Any) -> str:
    if isinstance(credential, sdk.ClientSecretCredential):
        return "service principal"
    if isinstance(credential, sdk.DefaultAzureCredential):
        return "Azure sign-in (az login, managed identity or browser)"
    return type(credential).__name__


def bearer_header(credential: Any, scope: str) -> dict[str, str]:
    """The Authorization header of a request to an Azure REST API (a token of ``scope``)."""
    return {"Authorization": f"Bearer {credential.get_token(scope).token}"}
