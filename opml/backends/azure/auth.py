"""Credentials for a workspace, in the order Azure's own tools try them.

1. A service principal from ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET``
   (automation, CI).
2. The Azure CLI's login (``az login``) when azure-cli is installed in this Python environment: the SDK's
   ``AzureCliAuthentication`` imports ``azure.cli.core`` and refuses to start without it, even when an
   ``az`` command is on the PATH.
3. Interactive login (``AZURE_TENANT_ID`` picks the tenant when set), which also reuses the token cache an
   ``az login`` left.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from opml.backends.azure.sdk import AzureSDK
from opml.backends.azure_common.credentials import service_principal, tenant


def make_auth(sdk: AzureSDK, environ: Mapping[str, str] | None = None, *, cli_available: bool | None = None) -> Any:
    principal = service_principal(environ)
    if principal:
        return sdk.ServicePrincipalAuthentication(
            tenant_id=principal["tenant_id"],
            service_principal_id=principal["client_id"],
            service_principal_password=principal["client_secret"],
        )
    if cli_available is None:
        cli_available = azure_cli_installed()
    if cli_available:
        return sdk.AzureCliAuthentication()
    return sdk.InteractiveLoginAuthentication(tenant_id=tenant(environ))


def azure_cli_installed() -> bool:
    """Whether ``azure.cli.core`` is importable in this environment (what AzureCliAuthentication needs)."""
    try:
        return importlib.util.find_spec("azure.cli.core") is not None
    except ModuleNotFoundError:  # no azure.cli package at all
        return False


def auth_kind(sdk: AzureSDK, auth: Any) -> str:
    for cls, kind in (
        (sdk.ServicePrincipalAuthentication, "service principal"),
        (sdk.AzureCliAuthentication, "Azure CLI login"),
        (sdk.InteractiveLoginAuthentication, "interactive login"),
    ):
        if isinstance(auth, cls):
            return kind
    return type(auth).__name__
