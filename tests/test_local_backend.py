"""The Backend contract, run against the local backend for real (SQLite + agent processes)."""

import pytest

from opml.backends.local import LocalBackend
from tests.contract import BackendContract, Capabilities
from tests.helpers import other_model_run

LOCAL = Capabilities(
    runs_in_local_agent=True,
    computes_provisioned_async=False,
    computes_take_vm_size=False,
    busy_compute_delete_refused=True,
    models_idempotent_on_content=True,
    loads_models=True,
    services_take_a_port=True,
    service_delete_is_asynchronous=True,
    service_telemetry_recorded=True,
    services_auth_optional=True,
    services_restart_in_place=True,
    service_data_collected=True,
    published_parameters_overridable=True,
    register_step_moves_aliases=True,
    schedules_fired_by_opml=True,
    workspace_tokens=True,
    alert_rules_evaluated_by_opml=True,
    deployments_compared_by_opml=True,
    deployments_sized=False,
    endpoints_hold_deployments=True,
)


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend(self, local_backend: LocalBackend) -> LocalBackend:
        return local_backend

    @pytest.fixture
    def executor(self, request: pytest.FixtureRequest):
        """A real agent for the test's workspace. A test that also uses ``model_runs`` gets its trained copy
        made first (in the folder ``local_backend`` opens), so that the agent serves that workspace."""
        if "model_runs" in request.fixturenames:
            request.getfixturevalue("model_runs")
        return request.getfixturevalue("agent")

    @pytest.fixture
    def model_runs(self, trained_backend: LocalBackend, automl_run_id):
        return trained_backend, automl_run_id, other_model_run(trained_backend, automl_run_id)

    @pytest.fixture
    def capabilities(self) -> Capabilities:
        return LOCAL
