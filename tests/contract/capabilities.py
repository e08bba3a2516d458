"""What a backend does differently where the Backend contract leaves it room.

Each backend's test class gives a ``capabilities`` fixture; a contract test of such an
operation reads the flag and asserts the behaviour of the branch its backend takes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    runs_in_local_agent: bool
    """Queued work runs in an opml agent process on this machine: ``agent_status`` reports it running, with
    its pid, only while one is alive. Azure ML runs work in the cloud: always reported running, with no pid."""

    computes_provisioned_async: bool
    """``create_compute`` returns a compute still "Creating", which ``wait_for_compute`` sees become
    "Succeeded" (Azure provisions a cluster). A local compute is "Succeeded" at once."""

    computes_take_vm_size: bool
    """``create_compute`` uses ``vm_size`` (an Azure VM size). A local compute runs on this machine and
    refuses one with InvalidInput."""

    busy_compute_delete_refused: bool
    """``delete_compute`` refuses with Conflict while runs are queued or active on the compute. Azure ML
    leaves that to Azure, which deletes a busy cluster (its runs fail there)."""

    models_idempotent_on_content: bool
    """Registering a model file identical to a version of the name returns that version (local keeps a
    content hash). Azure ML always makes a new version."""

    loads_models: bool
    """``load_model`` gives the model object, checked against its sha256. Azure AutoML models need
    azureml-train-automl-runtime, which opml does not install: ``load_model`` raises BackendUnavailable
    (they are scored through a service)."""

    services_take_a_port: bool
    """``deploy_model(port=...)`` serves on that port, and a port another service holds is AlreadyExists.
    Azure chooses the address of an ACI service and refuses a port with InvalidInput."""

    service_delete_is_asynchronous: bool
    """``delete_service`` shows the service "Deleting" until the agent has stopped its process; then it is
    gone. Azure deletes it at once."""

    services_auth_optional: bool
    """``update_service(auth_enabled=False)`` turns a service's authentication off. A managed online endpoint
    (Azure SDK v2) always authenticates (key or Azure ML token): turning it off is InvalidInput."""

    services_restart_in_place: bool
    """``restart_service`` starts a Failed service again (Conflict for one that is not Failed). SDK v1 cannot
    restart an ACI service in place: it raises BackendUnavailable saying to redeploy."""

    service_telemetry_recorded: bool
    """``get_service_telemetry`` returns the requests a service recorded. An Azure service sends its
    telemetry to Application Insights: ``get_service_telemetry`` raises BackendUnavailable pointing there."""

    service_data_collected: bool
    """A service collects its requests' inputs and outputs when asked (``data_collection``, a sampling rate, a
    retention), takes labels for them and gives its live accuracy. SDK v1 cannot do it for the AutoML scoring
    script opml deploys: asking is BackendUnavailable saying what Azure offers (Application Insights)."""

    published_parameters_overridable: bool
    """A published pipeline runs with any values of its declared parameters. On Azure (SDK v1: AutoMLStep
    settings cannot be PipelineParameters) only with the values it was published with; others are
    InvalidInput."""

    register_step_moves_aliases: bool
    """A pipeline's register_model step may take ``gate_alias`` and ``set_alias``. Azure ML keeps no model
    aliases a step running there could read: ``create_pipeline`` refuses them with InvalidInput."""

    schedules_fired_by_opml: bool
    """opml's agent fires schedules: a schedule knows its next occurrence (counted from now when resumed)
    and keeps ``allow_overlap``. Azure ML fires them itself: ``next_run_at`` is None and every occurrence
    starts (``allow_overlap`` is always True)."""

    workspace_tokens: bool
    """The workspace issues its own REST tokens (create, list, revoke; ``auth_header`` uses the owner's,
    listed as such). Azure ML signs clients in with Azure AD: ``create_token`` is InvalidInput,
    ``list_tokens`` is empty and ``revoke_token`` is NotFound."""

    alert_rules_evaluated_by_opml: bool
    """opml's agent evaluates alert rules on a service's recorded telemetry and state: rules are created,
    listed, switched and deleted. An Azure service's telemetry is in Application Insights (Azure Monitor
    alerts are Azure's way): ``create_alert_rule`` raises BackendUnavailable saying so, the listings are
    empty, and deleting or switching a rule is NotFound."""

    deployments_sized: bool
    """A deployment takes an instance type (VM size) and count (``sizes_deployments``): Azure ML managed online
    deployments. A local service runs in one process on this machine and an ACI web service (SDK v1) is sized
    by CPU and memory: giving either is InvalidInput, and nothing is deployed."""

    endpoints_hold_deployments: bool
    """A service is an endpoint holding several deployments (model versions) behind one scoring URI: they are
    created and deleted, the live traffic is split over them, mirrored to one, promoted and rolled back, and
    compared from the endpoint's telemetry. An ACI web service (Azure SDK v1) serves one model: it lists as
    one deployment taking all traffic (``list_deployments``, ``wait_for_deployment`` work) and every other
    rollout operation is BackendUnavailable saying what Azure offers (managed online endpoints, SDK v2)."""

    deployments_compared_by_opml: bool
    """``compare_deployments`` sets the deployments side by side from the endpoint's telemetry recorded by opml.
    A managed online endpoint's per-deployment metrics are in Azure Monitor and Application Insights, which opml
    does not read: ``compare_deployments`` is BackendUnavailable pointing there."""
