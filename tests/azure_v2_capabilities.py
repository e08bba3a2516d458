"""What the SDK v2 backend does differently where the Backend contract leaves it room (``tests/contract``)."""

from tests.contract import Capabilities

AZURE_V2 = Capabilities(
    runs_in_local_agent=False,
    computes_provisioned_async=True,
    computes_take_vm_size=True,
    busy_compute_delete_refused=False,
    models_idempotent_on_content=False,
    loads_models=False,
    services_take_a_port=False,
    service_delete_is_asynchronous=True,
    service_telemetry_recorded=False,
    services_auth_optional=False,
    services_restart_in_place=False,
    service_data_collected=False,
    published_parameters_overridable=True,  # the dataset, a pipeline component input; others are InvalidInput
    register_step_moves_aliases=False,
    schedules_fired_by_opml=False,
    workspace_tokens=False,
    alert_rules_evaluated_by_opml=False,
    deployments_compared_by_opml=False,
    deployments_sized=True,
    endpoints_hold_deployments=True,
)
