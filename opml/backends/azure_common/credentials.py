"""Which sign-in a workspace is opened with: the decision both SDKs share.

A service principal when ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET`` are all set
(automation, CI); otherwise the signed-in user (the Azure CLI's login, then an interactive sign-in), each
SDK with its own classes (``opml.backends.azure.auth``, ``opml.backends.azure_v2.auth``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SERVICE_PRINCIPAL_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


def service_principal(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The service principal the environment names (tenant_id, client_id, client_secret), or None."""
    environ = os.environ if environ is None else environ
    if all(environ.get(name) for name in SERVICE_PRINCIPAL_VARIABLES):
        return {
            "tenant_id": environ["AZURE_TENANT_ID"],
            "client_id": environ["AZURE_CLIENT_ID"],
            "client_secret": environ["AZURE_CLIENT_SECRET"],
        }
    return None


def tenant(environ: Mapping[str, str] | None = None) -> str | None:
    """The tenant an interactive sign-in goes to (``AZURE_TENANT_ID``), or None for the user's home tenant."""
    environ = os.environ if environ is None else environ
    return environ.get("AZURE_TENANT_ID") or None
