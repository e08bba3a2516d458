"""The fake ``MLClient`` and credentials, and ``make_fake_sdk``: the real SDK v2 with what talks to Azure faked."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from opml.backends.azure_v2.sdk import AzureV2SDK, load_sdk
from tests.azure_v2_fakes.batch import (
    FakeBatchDeploymentOperations,
    FakeBatchEndpointOperations,
    FakeComponentOperations,
)
from tests.azure_v2_fakes.cloud import FakeAzureML
from tests.azure_v2_fakes.compute import FakeComputeOperations
from tests.azure_v2_fakes.data import FakeDataOperations
from tests.azure_v2_fakes.jobs import FakeJobOperations, FakeWorkspaceOperations
from tests.azure_v2_fakes.models import FakeModelOperations
from tests.azure_v2_fakes.online import FakeOnlineDeploymentOperations, FakeOnlineEndpointOperations
from tests.azure_v2_fakes.schedules import FakeScheduleOperations

# MLClient attribute -> the fake of its operations class (tests/test_azure_v2_sdk_boundary.py compares each
# fake's methods with the real class's)
OPERATIONS: dict[str, type] = {
    "compute": FakeComputeOperations,
    "data": FakeDataOperations,
    "jobs": FakeJobOperations,
    "workspaces": FakeWorkspaceOperations,
    "models": FakeModelOperations,
    "online_endpoints": FakeOnlineEndpointOperations,
    "online_deployments": FakeOnlineDeploymentOperations,
    "batch_endpoints": FakeBatchEndpointOperations,
    "batch_deployments": FakeBatchDeploymentOperations,
    "components": FakeComponentOperations,
    "schedules": FakeScheduleOperations,
}


class FakeAccessToken:
    def __init__(self, token: str, expires_on: int):
        self.token, self.expires_on = token, expires_on


class FakeCredential:
    """A TokenCredential: ``get_token`` gives a token naming its scope (what a loopback server can check)."""

    expired = False

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any):
        from tests.azure_v2_fakes.cloud import expired_sign_in

        if self.expired:
            raise expired_sign_in()
        return FakeAccessToken(f"token-for {' '.join(scopes)}", int(time.time()) + 3600)


class FakeDefaultAzureCredential(FakeCredential):
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class FakeClientSecretCredential(FakeCredential):
    def __init__(self, tenant_id: str, client_id: str, client_secret: str, **kwargs: Any) -> None:
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret


def make_fake_sdk(cloud: FakeAzureML) -> AzureV2SDK:
    """The real SDK v2 (entities, ``Input``, ``automl``, ``dsl``, ...), with ``MLClient`` and the credentials faked
    over ``cloud``."""

    class FakeMLClient:
        def __init__(
            self,
            credential: Any,
            subscription_id: str | None = None,
            resource_group_name: str | None = None,
            workspace_name: str | None = None,
            registry_name: str | None = None,
            **kwargs: Any,
        ) -> None:
            self.credential = credential
            self.subscription_id, self.resource_group_name = subscription_id, resource_group_name
            self.workspace_name = workspace_name
            for attribute, operations in OPERATIONS.items():
                setattr(self, attribute, operations(cloud))

    return dataclasses.replace(
        load_sdk(),
        MLClient=FakeMLClient,
        DefaultAzureCredential=FakeDefaultAzureCredential,
        ClientSecretCredential=FakeClientSecretCredential,
    )
