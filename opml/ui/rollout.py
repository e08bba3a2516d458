"""Safe rollout as the Endpoints and Models pages show it: deployments and their comparison as tables, the
name a challenger starts with, and adding a deployment with the schema-change confirmation both pages share.

A deployment of a model whose input schema differs from the endpoint's is refused with ``SchemaChange``; the
request is then kept in the session under the caller's key, and ``schema_confirmation`` shows the backend's
message with a checkbox that sends the same request again with ``allow_schema_change=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from opml.backends.base import Backend
from opml.errors import OpmlError, SchemaChange
from opml.rollout import check_deployment_name
from opml.ui.access import audit
from opml.ui.feedback import flash
from opml.ui.forms import field_problems

# Windows the Compare tab offers: label -> seconds looked back.
COMPARE_WINDOWS = {"Last hour": 3_600, "Last 24 hours": 86_400, "Last 7 days": 7 * 86_400}
LIVE, MIRRORED = "Live traffic %", "Mirror only %"  # how a new deployment takes its share
CONFIRM_LABEL = "I understand: the endpoint's swagger.json changes"


def split_words(traffic: Mapping[str, int]) -> str:
    """A live split in words: ``blue 90 %, green 10 %``."""
    return ", ".join(f"{name} {share} %" for name, share in traffic.items())


def suggest_deployment_name(taken: list[str], version: int) -> str:
    """The name a challenger form starts with: ``green``, else ``v<version>`` (``version-<version>`` below 10:
    a deployment name has 3 characters at least), else the same with ``-2``, ``-3``, ..."""
    base = f"v{version}" if version >= 10 else f"version-{version}"
    for name in ["green", base, *(f"{base}-{n}" for n in range(2, 10))]:
        if name not in taken:
            return name
    return ""


def name_problems(name: str) -> list[str]:
    """What is wrong with a deployment name the user typed (the backend's own check), for ``show_problems``."""
    return field_problems(("Deployment name", lambda: check_deployment_name(name)))


def deployments_frame(deployments) -> pd.DataFrame:
    """An endpoint's deployments, oldest first: name, model, traffic and mirror percents, state, error, and the
    instances serving each where the backend sizes deployments (Azure ML managed online endpoints)."""
    columns = ["Deployment", "Model", "Traffic %", "Mirror %", "State", "Error"]
    sized = any(d.instance_count for d in deployments)
    rows = []
    for d in deployments:
        row = {
            "Deployment": d.name,
            "Model": d.model,
            "Traffic %": d.traffic,
            "Mirror %": d.mirror,
            "State": d.state,
            "Error": d.error or "",
        }
        if sized:
            row["Instances"] = f"{d.instance_count} × {d.instance_type}" if d.instance_count else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=[*columns[:4], "Instances", *columns[4:]] if sized else columns)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def comparison_frame(comparison) -> pd.DataFrame:
    """``EndpointComparison`` as one row per deployment (empty cells where a figure has no data)."""
    rows = []
    for s in comparison.deployments:
        rows.append(
            {
                "Deployment": s.name,
                "Model": s.model,
                "Traffic %": s.traffic,
                "Mirror %": s.mirror,
                "Requests": s.requests,
                "Failed %": _rounded(100 * s.failed / s.requests, 2) if s.requests else None,
                "p50 ms": _rounded(s.p50, 2),
                "p95 ms": _rounded(s.p95, 2),
                "p99 ms": _rounded(s.p99, 2),
                "Mirrored": s.mirrored,
                "Mirror failed": s.mirror_failed if s.mirrored else None,
                "Mirror p50 ms": _rounded(s.mirror_p50, 2),
                "Agreement %": _rounded(None if s.agreement is None else 100 * s.agreement, 1),
                "Live accuracy": _rounded(s.accuracy, 4),
                "Labelled": s.labelled,
                "CV accuracy": _rounded(s.cv_accuracy, 4),
            }
        )
        if s.rmse is not None or s.cv_rmse is not None:  # a regression model: its errors instead
            rows[-1].update({"Live RMSE": _rounded(s.rmse, 4), "CV RMSE": _rounded(s.cv_rmse, 4)})
    frame = pd.DataFrame(rows)
    if "Live RMSE" in frame.columns and frame["Live accuracy"].isna().all() and frame["CV accuracy"].isna().all():
        frame = frame.drop(columns=["Live accuracy", "CV accuracy"])
    return frame


def comparison_is_empty(comparison) -> bool:
    """No deployment answered a live or a mirrored request in the window."""
    return not any(s.requests or s.mirrored for s in comparison.deployments)


# -- adding a deployment (Endpoints page, Models page) -----------------------------------------


def add_deployment(backend: Backend, pending_key: str, service: str, **request: Any) -> bool:
    """``create_deployment(service, **request)``; True when created (a success message is flashed for the next
    run). A ``SchemaChange`` refusal is kept under ``pending_key`` for ``schema_confirmation``; any other
    ``OpmlError`` propagates (the caller shows it)."""
    try:
        deployment = backend.create_deployment(service, **request)
    except SchemaChange as exc:
        st.session_state[pending_key] = (service, request, str(exc))
        return False
    st.session_state.pop(pending_key, None)
    audit(backend, "deploy_service", f"deployment {deployment.name} of service {service} ({deployment.model})")
    share = (
        f"{deployment.traffic} % of live traffic"
        if deployment.traffic
        else f"{deployment.mirror} % of requests mirrored"
        if deployment.mirror
        else "no traffic (reachable with the azureml-model-deployment header)"
    )
    changed = " The endpoint's swagger.json now describes its schema." if request.get("allow_schema_change") else ""
    flash(
        f"Added deployment **{deployment.name}** ({deployment.model}) to {service} with {share}; it loads in the "
        f"background{' and takes its share once Healthy' if deployment.traffic or deployment.mirror else ''}.{changed}"
    )
    return True


def _confirm(backend: Backend, pending_key: str) -> None:
    """The checkbox's callback: the refused request again, with the schema change allowed."""
    if not st.session_state.get(f"{pending_key}_confirm"):
        return
    st.session_state[f"{pending_key}_confirm"] = False
    service, request, _ = st.session_state[pending_key]
    try:
        add_deployment(backend, pending_key, service, **{**request, "allow_schema_change": True})
    except OpmlError as exc:
        st.session_state.pop(pending_key, None)
        flash(f"Nothing deployed. {exc}", kind="error")


def schema_confirmation(backend: Backend, pending_key: str, service: str) -> None:
    """If the last deployment request to ``service`` was refused for its input schema: the backend's message,
    and a checkbox that sends the request again with ``allow_schema_change=True``."""
    pending = st.session_state.get(pending_key)
    if not pending or pending[0] != service:
        return
    _, request, message = pending
    st.warning(message, icon=":material/warning:")
    st.checkbox(
        CONFIRM_LABEL,
        key=f"{pending_key}_confirm",
        help=f"Deploys {request['model_name']}:{request.get('model_version') or 'latest'} as "
        f"{request['name']!r} anyway: clients following swagger.json see the new input columns.",
        on_change=_confirm,
        args=(backend, pending_key),
    )


DEFAULT_VM_SIZE = "Standard_DS3_v2"  # what Azure ML managed online deployments use unless told otherwise


def instance_inputs(backend: Backend, key: str) -> dict[str, Any]:
    """The VM size and instance count of a new deployment, for a backend that ``sizes_deployments`` (Azure ML
    managed online endpoints); nothing to ask elsewhere (a local deployment runs in its endpoint's process)."""
    if not backend.sizes_deployments:
        return {}
    left, right = st.columns([3, 1])
    size = left.text_input(
        "Instance type (VM size)",
        value=DEFAULT_VM_SIZE,
        key=f"{key}_instance_type",
        help="a VM size of Azure's managed online endpoints SKU list, e.g. Standard_DS3_v2, Standard_F4s_v2, "
        "Standard_E4s_v3; your subscription needs quota for it in the workspace's region",
    )
    count = right.number_input("Instances", value=1, step=1, key=f"{key}_instance_count", help="1 to 50")
    return {"instance_type": size.strip() or None, "instance_count": int(count)}
