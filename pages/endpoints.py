"""Endpoints: deploy models as authenticated scoring services; keys, telemetry, data collection, logs, Swagger."""

import time

import pandas as pd
import streamlit as st

from opml.errors import OpmlError
from opml.naming import check_name, check_port
from opml.ui.access import audit, audit_once, secret_toggle
from opml.ui.charts import (
    TELEMETRY_WINDOWS,
    deployment_class_mix_figure,
    deployment_latency_figure,
    failure_rate_figure,
    latency_figure,
    over_window,
    predicted_values_figure,
    prediction_drift_figure,
    prediction_histogram_figure,
    recent_frame,
    regression_baseline,
    requests_figure,
    summary_frame,
)
from opml.ui.feedback import flash, show_flash, show_problems, user_errors
from opml.ui.forms import field_problems, keep_choice
from opml.ui.models import production_version, version_label
from opml.ui.rollout import (
    COMPARE_WINDOWS,
    LIVE,
    MIRRORED,
    add_deployment,
    comparison_frame,
    comparison_is_empty,
    deployments_frame,
    instance_inputs,
    name_problems,
    schema_confirmation,
    split_words,
    suggest_deployment_name,
)
from opml.ui.workspace import get_backend

MIRROR_OFF = "off"
COLLECTION_HELP = (
    "Keep the inputs and outputs of a share of the successful requests (Parquet files in the workspace), for "
    "drift and live accuracy; never the key. Deleted after the retention period."
)

st.title("Endpoints")
backend = get_backend()
show_flash()
models = backend.list_models()
services = backend.list_services()

with st.expander("Deploy a model", icon=":material/cloud_upload:", expanded=not services):
    if not models:
        st.info("Register a model first (Leaderboard page).")
    else:
        left, right = st.columns([2, 2])
        model_name = left.selectbox("Model", sorted({m.name for m in models}), key="ep_model")
        versions = {m.version: m for m in backend.list_models(model_name)}
        if st.session_state.get("ep_version") not in versions:
            st.session_state["ep_version"] = production_version(list(versions.values()))
        version = right.selectbox(
            "Version", list(versions), format_func=lambda v: version_label(versions[v]), key="ep_version"
        )
        left, right = st.columns([3, 1])
        name = left.text_input("Service name", value=f"{model_name}-service", key="ep_name")
        # No min/max: the browser would silently keep the last valid value; the check below says what is wrong.
        port = right.number_input("Port (0 = automatic)", value=0, step=1, key="ep_port")
        left, middle, right = st.columns(3)
        auth = left.toggle("Key authentication", value=True, key="ep_auth")
        insights = middle.toggle("App Insights telemetry", value=False, key="ep_insights")
        collect = right.toggle("Data collection", value=False, key="ep_collect", help=COLLECTION_HELP)
        description = st.text_input("Description", key="ep_description")
        instances = instance_inputs(backend, "ep_deploy")
        problems = field_problems(
            ("Service name", lambda: check_name(name, "service")),
            ("Port", lambda: check_port(int(port) or None)),
        )
        show_problems(problems)
        if st.button(
            "Deploy", type="primary", key="ep_deploy", icon=":material/rocket_launch:", disabled=bool(problems)
        ):
            with user_errors():  # the backend checks again (and refuses a name or port in use)
                service = backend.deploy_model(
                    name=name,
                    model_name=model_name,
                    model_version=version,
                    auth_enabled=auth,
                    app_insights_enabled=insights,
                    port=int(port) or None,
                    description=description,
                    data_collection=collect,
                    **instances,
                )
                audit(backend, "deploy_service", f"service {service.name} ({service.model})")
                st.session_state["ep_service"] = service.name
                services.insert(0, service)
                st.success(f"Deploying **{service.name}** ({service.model}): its state is in the table below.")

if not services:
    st.info("No services yet.")
    st.stop()

transitioning = any(s.state in ("Transitioning", "Deleting", "Unhealthy") for s in services)


@st.fragment(run_every=2 if transitioning else None)
def services_table() -> None:
    """Every service, refreshed while any is changing; the service to operate is picked below it."""
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


@st.fragment(run_every=2 if transitioning else None)
def service_state() -> None:
    """The chosen service's state, refreshed while any service is changing."""
    service = next((s for s in backend.list_services() if s.name == selected), None)
    if service is None:
        st.info(f"{selected} is gone.")
        return
    cols = st.columns(4)
    cols[0].metric("State", service.state)
    cols[1].metric("Model", service.model)
    cols[2].metric("Restarts", service.restarts)
    cols[3].link_button("Swagger UI", f"{service.base_uri}/docs", icon=":material/api:")
    if service.state == "Failed":
        st.error(service.error or "the service failed", icon=":material/error:")
        st.button(
            "Restart",
            key=f"ep_restart_{service.name}",
            icon=":material/restart_alt:",
            help="The agent gives up on a service that crashed 5 times within 120 s without answering; "
            "restart it once the cause is fixed.",
            on_click=restart,
            args=(service.name,),
        )
    elif service.error:
        st.warning(service.error)
    st.code(service.scoring_uri, language="text")


def restart(name: str) -> None:
    with user_errors():
        backend.restart_service(name)
        flash(f"Restarting {name}: it shows Transitioning, then Healthy once it answers.")


def switch_telemetry(name: str, key: str) -> None:
    """Applied before the page runs again, so the table drawn next already shows it."""
    with user_errors():
        backend.update_service(name, app_insights_enabled=st.session_state[key])
        state = "on" if st.session_state[key] else "off"
        flash(f"App Insights telemetry of {name} {state} (no redeploy needed).", kind="toast")


def change_collection(name: str, setting: str, key: str) -> None:
    """Data collection's switch, sampling rate or retention, applied before the page runs again."""
    with user_errors():  # the backend checks the value (and Azure says what it offers instead)
        value = st.session_state[key]
        service = backend.update_service(name, **{setting: int(value) if setting.endswith("days") else value})
        state = "on" if service.data_collection else "off"
        flash(
            f"Data collection of {name} {state}: {service.collection_sampling_rate:.0%} of requests, kept "
            f"{service.collection_retention_days} days (no redeploy needed).",
            kind="toast",
        )


def regenerate_key(name: str, which: str, confirm_key: str) -> None:
    """Each regeneration needs its own confirmation: the tick is cleared once the key is replaced."""
    with user_errors():
        backend.regenerate_service_key(name, which)
        audit(backend, "regenerate_service_key", f"{which.lower()} key of service {name}")
        flash(f"{which} key of {name} regenerated: the old one no longer works.", kind="toast")
    st.session_state[confirm_key] = False


ROLLOUT_OUTCOME = "ep_rollout_outcome"  # what the last change of the Deployments tab did, shown in the tab
PENDING = "ep_pending_deployment"  # an added deployment refused for its input schema, awaiting confirmation


def change_deployments(action: str, name: str, **arguments) -> None:
    """A traffic change of the Deployments tab (a button's callback, applied before the page runs again, so the
    table drawn next shows it): ``set_traffic``, ``set_mirror_traffic``, ``promote_deployment``,
    ``rollback_traffic`` or ``delete_deployment``."""
    try:
        if action == "traffic":
            split = {d: int(st.session_state[key]) for d, key in arguments["keys"].items()}
            service = backend.set_traffic(name, split)
            message = f"Traffic of {name}: {split_words(service.traffic)}."
        elif action == "mirror":
            target, percent = st.session_state[arguments["target_key"]], st.session_state[arguments["percent_key"]]
            service = backend.set_mirror_traffic(name, {} if target == MIRROR_OFF else {target: int(percent)})
            mirrored = {d: share for d, share in service.mirror_traffic.items() if share}
            message = (
                f"{name} mirrors {', '.join(f'{share} % of requests to {d}' for d, share in mirrored.items())}."
                if mirrored
                else f"{name} mirrors no traffic."
            )
        elif action == "promote":
            mirrored = backend.get_service(name).mirror_traffic.get(arguments["deployment"])
            service = backend.promote_deployment(name, arguments["deployment"])
            message = f"Promoted {arguments['deployment']}: {split_words(service.traffic)}."
            if mirrored:
                message += f" Its mirror traffic ({mirrored} %) stopped: it takes live traffic now."
        elif action == "rollback":
            service = backend.rollback_traffic(name)
            message = f"Rolled back {name}: {split_words(service.traffic)}."
        else:
            backend.delete_deployment(name, arguments["deployment"])
            message = f"Deleted deployment {arguments['deployment']} of {name}."
    except OpmlError as exc:
        st.session_state[ROLLOUT_OUTCOME] = ("error", f"Nothing changed. {exc}")
        return
    audit(backend, "change_traffic", f"service {name}: {message}"[:300])  # who promoted what, and when
    st.session_state[ROLLOUT_OUTCOME] = ("success", message)


def deployments_view(service) -> None:
    """The endpoint's deployments: the table, the traffic and mirror controls, promote, roll back, delete, and
    the form that adds one."""
    name = service.name
    outcome = st.session_state.pop(ROLLOUT_OUTCOME, None)
    if outcome:
        (st.success if outcome[0] == "success" else st.error)(outcome[1])
    deployments = backend.list_deployments(name)
    st.caption(
        "Deployments share the endpoint's scoring URI and keys. Live traffic is split over them; mirror traffic "
        "copies requests to one idle deployment whose answers are compared (Compare tab), never returned."
    )
    loading = any(d.state == "Transitioning" for d in deployments)
    st.fragment(run_every=2 if loading else None)(deployments_table)(name)
    traffic_controls(name, deployments)
    add_deployment_form(service, deployments)  # on Azure ML v1 adding one answers what Azure offers instead


def deployments_table(name: str) -> None:
    """The deployments table; run as a fragment that reads them again every 2 s while one is loading (its state
    goes from Transitioning to Healthy or Failed without a click)."""
    with user_errors():
        st.dataframe(deployments_frame(backend.list_deployments(name)), hide_index=True, key="ep_deployments")


def traffic_controls(name: str, deployments: list) -> None:
    """Promote, delete, roll back, the traffic form and the mirror control of the endpoint ``name``."""
    for deployment in deployments:
        label, promote, delete = st.columns([4, 1, 1])
        mirror = f" · mirror {deployment.mirror} %" if deployment.mirror else ""
        label.markdown(
            f"**{deployment.name}** · {deployment.model} · {deployment.traffic} %{mirror} · {deployment.state}"
        )
        if deployment.traffic < 100:
            promote.button(
                "Promote",
                key=f"ep_promote_{name}_{deployment.name}",
                icon=":material/trending_up:",
                help=f"All live traffic to {deployment.name} (Roll back undoes it)",
                on_click=change_deployments,
                args=("promote", name),
                kwargs={"deployment": deployment.name},
            )
        if not deployment.traffic and not deployment.mirror:
            delete.button(
                "Delete",
                key=f"ep_delete_deployment_{name}_{deployment.name}",
                icon=":material/delete:",
                help="Only an idle deployment (no live or mirror traffic) is deleted",
                on_click=change_deployments,
                args=("delete", name),
                kwargs={"deployment": deployment.name},
            )
    st.button(
        "Roll back",
        key=f"ep_rollback_{name}",
        icon=":material/undo:",
        help="Put back the live split in force before the last change (twice: forth again)",
        on_click=change_deployments,
        args=("rollback", name),
    )
    if len(deployments) < 2:
        st.caption("Add a deployment (below) to split the traffic or mirror requests to it.")
        return
    signature = "-".join(f"{d.name}{d.traffic}" for d in deployments)  # new values after a change
    keys = {d.name: f"ep_traffic_{name}_{signature}_{d.name}" for d in deployments}
    with st.form(f"ep_traffic_form_{name}"):
        st.caption("Live traffic in whole percents, adding up to 100")
        columns = st.columns(min(len(deployments), 4))
        for index, deployment in enumerate(deployments):
            # No min/max (see the deploy form's port): the backend's check says what is wrong.
            columns[index % len(columns)].number_input(
                f"{deployment.name} %", value=deployment.traffic, step=1, key=keys[deployment.name]
            )
        st.form_submit_button(
            "Set traffic",
            icon=":material/call_split:",
            on_click=change_deployments,
            args=("traffic", name),
            kwargs={"keys": keys},
        )
    shadows = [d.name for d in deployments if not d.traffic]
    mirrored = next((d for d in deployments if d.mirror), None)
    if not shadows:
        st.caption("Mirror traffic goes to a deployment that takes no live traffic: give one 0 % to mirror to it.")
        return
    left, middle, right = st.columns([2, 1, 1])
    target_key, percent_key = f"ep_mirror_target_{name}", f"ep_mirror_percent_{name}"
    options = [MIRROR_OFF, *shadows]
    keep_choice(target_key, options, options.index(mirrored.name) if mirrored else 0)
    left.selectbox(
        "Mirror traffic to",
        options,
        key=target_key,
        help="A deployment that takes no live traffic: its answers are recorded and compared, never returned",
    )
    middle.number_input(
        "Mirror %", value=mirrored.mirror if mirrored else 10, step=1, key=percent_key, help="at most 50"
    )
    right.write("")
    right.button(
        "Set mirror",
        key=f"ep_mirror_set_{name}",
        icon=":material/content_copy:",
        on_click=change_deployments,
        args=("mirror", name),
        kwargs={"target_key": target_key, "percent_key": percent_key},
    )


def add_deployment_form(service, deployments: list) -> None:
    """A deployment of a registered model version behind the endpoint, with a share of live or mirror traffic;
    a model of another input schema needs the confirmation ``schema_confirmation`` shows."""
    name = service.name
    st.subheader("Add a deployment")
    if not models:
        st.info("Register a model first (Leaderboard page).")
        return
    left, middle, right = st.columns([2, 2, 1])
    model_names = sorted({m.name for m in models})
    keep_choice(
        "ep_add_model", model_names, model_names.index(service.model_name) if service.model_name in model_names else 0
    )
    model_name = middle.selectbox("Model", model_names, key="ep_add_model")
    versions = {m.version: m for m in backend.list_models(model_name)}
    keep_choice("ep_add_version", list(versions))
    version = right.selectbox(
        "Version", list(versions), format_func=lambda v: version_label(versions[v]), key="ep_add_version"
    )
    taken = [d.name for d in deployments]
    deployment_name = left.text_input(
        "Deployment name",
        value=suggest_deployment_name(taken, version),
        key=f"ep_add_name_{name}_{version}_{'-'.join(taken)}",
    )
    left, right = st.columns([2, 1])
    how = left.radio("Takes", [LIVE, MIRRORED], horizontal=True, key="ep_add_how")
    share = right.number_input("Percent", value=10, step=1, key="ep_add_share")
    instances = instance_inputs(backend, "ep_add")
    problems = name_problems(deployment_name)
    show_problems(problems)
    if st.button("Add deployment", key="ep_add", icon=":material/add_circle:", type="primary", disabled=bool(problems)):
        with user_errors():  # the backend checks the percent, the name's uniqueness, the model's schema
            request = {"name": deployment_name, "model_name": model_name, "model_version": version, **instances}
            request["traffic" if how == LIVE else "mirror"] = int(share)
            if add_deployment(backend, PENDING, name, **request):
                st.rerun()
    schema_confirmation(backend, PENDING, name)


def compare_view(service) -> None:
    """The endpoint's deployments side by side over a window, from its telemetry (only while the tab is open)."""
    window = st.selectbox("Window", list(COMPARE_WINDOWS), index=1, key="ep_compare_window")
    comparison = backend.compare_deployments(service.name, since=time.time() - COMPARE_WINDOWS[window])
    if comparison_is_empty(comparison):
        why = (
            "Telemetry is off for this endpoint: switch it on (Telemetry tab) to count requests per deployment."
            if not service.app_insights_enabled
            else f"No requests in the {window.lower()}: send some (the Score page, or your client); each answer is "
            "recorded with the deployment that gave it."
        )
        st.info(why, icon=":material/info:")
    st.dataframe(comparison_frame(comparison), hide_index=True, key="ep_compare_table")
    st.caption(
        "Failed %, latency and class mix are of live answers (a shadow's: of its mirrored answers); agreement is "
        "the share of mirrored records on which a shadow predicted what the live deployment returned."
    )
    if not comparison_is_empty(comparison):
        left, right = st.columns(2)
        left.plotly_chart(deployment_latency_figure(comparison), key="ep_compare_latency")
        if any(stats.predictions for stats in comparison.deployments):  # a regression model has no class mix
            right.plotly_chart(deployment_class_mix_figure(comparison), key="ep_compare_mix")
    if comparison.note:
        st.info(comparison.note[0].upper() + comparison.note[1:] + ".", icon=":material/info:")


services_table()
names = [s.name for s in services]
keep_choice("ep_service", names)
selected = st.selectbox("Service", names, key="ep_service")
service_state()

with user_errors():
    service = backend.get_service(selected)
    # Compare reads the telemetry table: it runs only while its tab is open (on_change="rerun").
    keys_tab, insights_tab, deployments_tab, compare_tab, logs_tab, manage_tab = st.tabs(
        ["Keys", "Telemetry", "Deployments", "Compare", "Logs", "Manage"], key="ep_tabs", on_change="rerun"
    )
    with keys_tab:
        if not service.auth_enabled:
            st.warning("Authentication is off: anyone who can reach the endpoint can score.")
        keys = backend.get_service_keys(selected)
        reveal = secret_toggle("Show keys", key="ep_reveal")
        if reveal:  # recorded before the keys are drawn: a reveal that cannot be recorded shows nothing
            audit_once(backend, "reveal_service_key", f"service {selected}")
        for label, value in (("Primary key", keys.primary), ("Secondary key", keys.secondary)):
            st.caption(label)
            st.code(value if reveal else "•" * 24, language="text")
        left, right = st.columns([1, 3])
        which = left.radio("Regenerate", ["Primary", "Secondary"], horizontal=True, key="ep_regen_which")
        confirm_key = f"ep_regen_confirm_{selected}_{which}"
        confirm = right.checkbox(
            f"I want a new {which.lower()} key: the current one stops working at once", key=confirm_key
        )
        st.button(
            f"Regenerate {which.lower()} key",
            key="ep_regen",
            disabled=not confirm,
            on_click=regenerate_key,
            args=(selected, which, confirm_key),
        )
    with insights_tab:
        toggle_key = f"ep_insights_{selected}"
        st.toggle(
            "App Insights enabled",
            value=service.app_insights_enabled,
            key=toggle_key,
            on_change=switch_telemetry,
            args=(selected, toggle_key),
        )
        if service.telemetry_note:
            st.caption(service.telemetry_note)
        collect_key, rate_key, days_key = (f"ep_{part}_{selected}" for part in ("collect", "sampling", "retention"))
        left, middle, right = st.columns(3)
        left.toggle(
            "Data collection",
            value=service.data_collection,
            key=collect_key,
            help=COLLECTION_HELP,
            on_change=change_collection,
            args=(selected, "data_collection", collect_key),
        )
        # No min/max (see the deploy form's port): the backend's check says what is wrong.
        middle.number_input(
            "Sampling rate (0-1]",
            value=service.collection_sampling_rate,
            step=0.05,
            format="%.2f",
            key=rate_key,
            on_change=change_collection,
            args=(selected, "collection_sampling_rate", rate_key),
        )
        right.number_input(
            "Retention (days)",
            value=service.collection_retention_days,
            step=1,
            key=days_key,
            on_change=change_collection,
            args=(selected, "collection_retention_days", days_key),
        )
        if service.collection_rows or service.collection_dropped:
            st.caption(
                f"{service.collection_rows:,} record(s) collected by the running process, "
                f"{service.collection_dropped:,} dropped"
                + (f"; last error: {service.collection_error}" if service.collection_error else "")
            )
        if service.telemetry_dropped:
            st.warning(
                f"{service.telemetry_dropped:,} request(s) could not be recorded (the service's telemetry queue "
                "was full or the database refused the write); the requests themselves were answered.",
                icon=":material/warning:",
            )
        with user_errors():  # on Azure, telemetry lives in Application Insights: say so, keep the tabs
            window = st.selectbox("Window", list(TELEMETRY_WINDOWS), index=1, key="ep_window")
            span, bucket = TELEMETRY_WINDOWS[window]
            until = time.time()
            summary = backend.get_service_telemetry_summary(selected, since=until - span, bucket_seconds=bucket)
            if not summary.requests:
                st.info("No requests recorded in this window. Telemetry records requests while it is on.")
            else:
                model = backend.get_model(service.model_name, service.model_version)
                frame = summary_frame(summary)
                left, right = st.columns(4)[:2]
                left.metric("Requests", f"{summary.requests:,}")
                right.metric("Failure rate", f"{100 * summary.failed / summary.requests:.1f} %")
                st.plotly_chart(over_window(requests_figure(frame, bucket), until - span, until), key="ep_requests")
                st.plotly_chart(over_window(latency_figure(frame), until - span, until), key="ep_latency")
                st.plotly_chart(over_window(failure_rate_figure(frame), until - span, until), key="ep_failures")
                if model.manifest.get("task") == "regression" or summary.predicted_values:
                    training, source = regression_baseline(model.manifest)
                    st.plotly_chart(
                        prediction_histogram_figure(summary.predicted_values, training, source), key="ep_values"
                    )
                    values = predicted_values_figure(frame, training)
                    st.plotly_chart(over_window(values, until - span, until), key="ep_values_over_time")
                else:
                    balance = model.manifest.get("label_distribution", {})
                    drift = prediction_drift_figure(frame, balance)
                    st.plotly_chart(over_window(drift, until - span, until), key="ep_drift")
                recent = recent_frame(summary.recent)
                st.caption(f"The {len(recent)} newest requests")
                st.dataframe(
                    recent[["time", "request_id", "status", "latency_ms", "records", "predictions", "error", "client"]],
                    hide_index=True,
                    key="ep_recent",
                )
    with deployments_tab, user_errors():
        deployments_view(service)
    if compare_tab.open:
        with compare_tab, user_errors():  # Azure ML v1 has no deployments to compare: it says so
            compare_view(service)
    with logs_tab:
        tail = st.number_input("Lines", min_value=10, max_value=5000, value=200, step=50, key="ep_log_lines")
        st.button("Refresh", key="ep_log_refresh", icon=":material/refresh:")
        text = backend.get_service_logs(selected, tail=int(tail))
        st.code(text or "(empty)", language="text")
        st.download_button("Download log", data=text, file_name=f"{selected}.log", key="ep_log_download")
    with manage_tab:
        confirm = st.checkbox(f"I want to delete {selected}", key=f"ep_delete_confirm_{selected}")
        if st.button("Delete service", disabled=not confirm, key="ep_delete", icon=":material/delete:"):
            backend.delete_service(selected)
            flash(f"Deleting {selected}: it shows Deleting until its process has stopped.")
            st.rerun()
