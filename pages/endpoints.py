"""Endpoints: deploy models as authenticated scoring services; keys, telemetry, logs, Swagger."""

import pandas as pd
import streamlit as st

from opml.ui import get_backend, user_errors
from opml.ui.charts import (
    failure_rate_figure,
    latency_figure,
    prediction_drift_figure,
    requests_figure,
    telemetry_frame,
)

st.title("Endpoints")
backend = get_backend()
models = backend.list_models()
services = backend.list_services()

with st.expander("Deploy a model", icon=":material/cloud_upload:", expanded=not services):
    if not models:
        st.info("Register a model first (Leaderboard page).")
    else:
        left, right = st.columns([3, 1])
        model_name = left.selectbox("Model", sorted({m.name for m in models}), key="ep_model")
        version = right.selectbox("Version", [m.version for m in backend.list_models(model_name)], key="ep_version")
        left, right = st.columns([3, 1])
        name = left.text_input("Service name", value=f"{model_name}-service", key="ep_name")
        port = right.number_input("Port (0 = automatic)", min_value=0, max_value=65535, value=0, key="ep_port")
        left, right = st.columns(2)
        auth = left.toggle("Key authentication", value=True, key="ep_auth")
        insights = right.toggle("App Insights telemetry", value=False, key="ep_insights")
        description = st.text_input("Description", key="ep_description")
        if st.button("Deploy", type="primary", key="ep_deploy", icon=":material/rocket_launch:"):
            with user_errors():
                service = backend.deploy_model(
                    name=name, model_name=model_name, model_version=version, auth_enabled=auth,
                    app_insights_enabled=insights, port=int(port) or None, description=description,
                )  # fmt: skip
                st.session_state["ep_service"] = service.name
                services.insert(0, service)
                st.success(f"Deploying **{service.name}** ({service.model}): {service.state}.")

if not services:
    st.info("No services yet.")
    st.stop()

names = [s.name for s in services]
if st.session_state.get("ep_service") not in names:
    st.session_state["ep_service"] = names[0]
transitioning = any(s.state in ("Transitioning", "Deleting", "Unhealthy") for s in services)


@st.fragment(run_every=2 if transitioning else None)
def services_table() -> None:
    current = backend.list_services()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Name": s.name,
                    "State": s.state,
                    "Model": s.model,
                    "Auth": "on" if s.auth_enabled else "off",
                    "App Insights": "on" if s.app_insights_enabled else "off",
                    "Scoring URI": s.scoring_uri,
                    "Swagger URI": s.swagger_uri,
                    "Created": s.created_at.strftime("%Y-%m-%d %H:%M"),
                }
                for s in current
            ]
        ),
        hide_index=True,
        key="ep_table",
    )


services_table()
selected = st.selectbox("Service", names, key="ep_service")

with user_errors():
    service = backend.get_service(selected)
    cols = st.columns(4)
    cols[0].metric("State", service.state)
    cols[1].metric("Model", service.model)
    cols[2].metric("Restarts", service.restarts)
    cols[3].link_button("Swagger UI", f"{service.base_uri}/docs", icon=":material/api:")
    if service.error:
        st.warning(service.error)
    st.code(service.scoring_uri, language="text")

    keys_tab, insights_tab, logs_tab, manage_tab = st.tabs(["Keys", "Telemetry", "Logs", "Manage"])
    with keys_tab:
        if not service.auth_enabled:
            st.warning("Authentication is off: anyone who can reach the endpoint can score.")
        keys = backend.get_service_keys(selected)
        reveal = st.toggle("Show keys", value=False, key="ep_reveal")
        for label, value, which in (
            ("Primary key", keys.primary, "Primary"),
            ("Secondary key", keys.secondary, "Secondary"),
        ):
            left, right = st.columns([4, 1])
            left.text_input(label, value=value if reveal else "•" * 24, disabled=True, key=f"ep_key_{which}_{reveal}")
            if reveal:
                left.code(value, language="text")
            if right.button(f"Regenerate {which.lower()}", key=f"ep_regen_{which}"):
                backend.regenerate_service_key(selected, which)
                st.toast(f"{which} key regenerated; the old one no longer works.")
                st.rerun()
    with insights_tab:
        enabled = st.toggle("App Insights enabled", value=service.app_insights_enabled, key=f"ep_insights_{selected}")
        if enabled != service.app_insights_enabled:
            service = backend.update_service(selected, app_insights_enabled=enabled)
            st.toast(f"Telemetry {'on' if enabled else 'off'} (no redeploy needed)")
        with user_errors():  # on Azure, telemetry lives in Application Insights: say so, keep the tabs
            frame = telemetry_frame(backend.get_service_telemetry(selected))
            if frame.empty:
                st.info("No requests recorded yet. Telemetry records requests while it is on.")
            else:
                model = backend.get_model(service.model_name, service.model_version)
                left, right = st.columns(4)[:2]
                left.metric("Requests", len(frame))
                right.metric("Failure rate", f"{100 * frame['failed'].mean():.1f} %")
                st.plotly_chart(requests_figure(frame), key="ep_requests")
                st.plotly_chart(latency_figure(frame), key="ep_latency")
                st.plotly_chart(failure_rate_figure(frame), key="ep_failures")
                balance = model.manifest.get("label_distribution", {})
                st.plotly_chart(prediction_drift_figure(frame, balance), key="ep_drift")
                recent = frame.sort_values("at", ascending=False).head(50)
                st.dataframe(
                    recent[
                        ["time", "request_id", "status", "latency_ms", "records", "predictions", "error", "client"]
                    ].astype({"predictions": str}),
                    hide_index=True,
                    key="ep_recent",
                )
    with logs_tab:
        tail = st.number_input("Lines", min_value=10, max_value=5000, value=200, step=50, key="ep_log_lines")
        st.button("Refresh", key="ep_log_refresh", icon=":material/refresh:")
        text = backend.get_service_logs(selected, tail=int(tail))
        st.code(text or "(empty)", language="text")
        st.download_button("Download log", data=text, file_name=f"{selected}.log", key="ep_log_download")
    with manage_tab:
        confirm = st.checkbox(f"I want to delete {selected}", key="ep_delete_confirm")
        if st.button("Delete service", disabled=not confirm, key="ep_delete", icon=":material/delete:"):
            backend.delete_service(selected)
            st.toast(f"Deleting {selected}")
            st.rerun()
