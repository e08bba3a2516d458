"""Monitoring: how a service's traffic drifts from its model's training data, how right the model is on labelled
requests, and the alert rules that watch it."""

import time

import streamlit as st

from opml.errors import OpmlError
from opml.ui.charts import (
    drift_histogram_figure,
    drift_over_time_figure,
    live_accuracy_figure,
    live_errors_figure,
    over_window,
)
from opml.ui.feedback import flash, show_flash, show_problems, user_errors
from opml.ui.format import alert_rules_frame, alerts_frame, drift_frame, styled_drift
from opml.ui.forms import keep_choice
from opml.ui.monitoring import (
    MONITORING_WINDOWS,
    default_threshold,
    kind_label,
    parameter_lines,
    prediction_drift_text,
    rule_kinds,
    rule_problems,
    service_task,
    store_label_file,
    threshold_label,
)
from opml.ui.workspace import get_backend

PREDICTIONS = "predictions"  # the predictions' line in drift over time, and their histogram's entry

st.title("Monitoring")
backend = get_backend()
show_flash()
services = backend.list_services()
if not services:
    st.info("No endpoints yet: deploy a model on the Endpoints page, then switch its data collection on.")
    st.stop()

names = [s.name for s in services]
keep_choice("mon_service", names)
left, right = st.columns([3, 1])
name = left.selectbox("Endpoint", names, key="mon_service")
window = right.selectbox("Window", list(MONITORING_WINDOWS), index=1, key="mon_window")
span, accuracy_bucket = MONITORING_WINDOWS[window]
until = time.time()
since = until - span
service = next(s for s in services if s.name == name)
try:
    task = service_task(backend, service)
except OpmlError:  # the model was deleted meanwhile: the tabs below say what they can
    task = "classification"
regression = task == "regression"


def switch_collection_on(name: str) -> None:
    """Applied before the page runs again, so what is drawn next already says collection is on."""
    try:
        changed = backend.update_service(name, data_collection=True)
    except OpmlError as exc:  # Azure says what it offers instead
        flash(str(exc), kind="error")
        return
    flash(
        f"Data collection of {name} on: {changed.collection_sampling_rate:.0%} of successful requests, kept "
        f"{changed.collection_retention_days} days (no redeploy needed). Requests sent from now on are collected."
    )


st.caption(f"{service.state} · model {service.model} ({task}) · {service.scoring_uri}")
if service.data_collection:
    st.caption(
        f"Data collection on: {service.collection_sampling_rate:.0%} of successful requests, kept "
        f"{service.collection_retention_days} days; {service.collection_rows:,} record(s) collected by the running "
        f"process, {service.collection_dropped:,} dropped"
        + (f"; last error: {service.collection_error}" if service.collection_error else "")
    )
else:
    left, right = st.columns([3, 1])
    left.warning(
        f"Data collection is off for {name}: drift and live accuracy are computed from the inputs and outputs "
        "the service collects.",
        icon=":material/warning:",
    )
    right.button(
        "Switch data collection on",
        key=f"mon_collect_{name}",
        icon=":material/database:",
        on_click=switch_collection_on,
        args=(name,),
    )


@st.fragment
def feature_histogram(report) -> None:
    """The chosen feature's (or the predictions') histogram. A fragment: choosing another feature redraws this
    part from the report the page shows, without reading the collected files again."""
    features = [drift.name for drift in report.features] + ([PREDICTIONS] if report.prediction else [])
    keep_choice("mon_feature", features)
    chosen = st.selectbox("Histogram of", features, key="mon_feature")
    drift = report.prediction if chosen == PREDICTIONS else report.feature(chosen)
    st.plotly_chart(drift_histogram_figure(drift), key="mon_histogram")


@st.fragment
def drift_over_time(name: str, since: float, until: float, top: list[str]) -> None:
    """PSI per hour or day of the ``top`` features and the predictions. A fragment: switching between hours and
    days reads the files for this chart only."""
    bucket = st.radio("Drift over time per", ["hour", "day"], horizontal=True, key="mon_bucket")
    with user_errors():
        over_time = backend.get_service_drift_over_time(name, since=since, until=until, bucket=bucket)
        st.plotly_chart(drift_over_time_figure(over_time, top, prediction=PREDICTIONS), key="mon_drift_over_time")
        predicted = "predicted values" if regression else "predicted classes"
        st.caption(f"The {len(top)} most drifted features of the window, and the {predicted} (dashed).")


# Only the chosen tab runs (on_change="rerun"): each reads collected files or the store, none needs the others.
drift_tab, accuracy_tab, alerts_tab = st.tabs(["Drift", "Accuracy", "Alerts"], key="mon_tabs", on_change="rerun")

if drift_tab.open:
    with drift_tab, user_errors():
        report = backend.get_service_drift(name, since=since, until=until)
        if report.skipped_files:
            st.warning(
                f"{len(report.skipped_files):,} collected file(s) could not be read (removed, or cut short by a "
                "crash) and were left out of the figures below.",
                icon=":material/warning:",
            )
        if not report.rows:
            how = "" if service.data_collection else "switch data collection on (above), then "
            st.info(
                f"No collected rows of {name} in the {window.lower()}: {how}send requests to {service.scoring_uri} "
                "(the Score page, or your client). The service writes what it collects within seconds.",
                icon=":material/info:",
            )
        else:
            st.caption(
                f"{report.rows:,} collected row(s) of the {window.lower()} against the training data of "
                f"{service.model}, most drifted first. PSI below 0.1 is stable, from 0.25 drift."
            )
            st.dataframe(styled_drift(drift_frame(report)), hide_index=True, key="mon_drift_table")
            words = prediction_drift_text(report)
            if words:
                st.markdown(f"**Prediction drift.** {words}")
            not_dates = report.not_dates_text()
            if not_dates:
                st.warning(not_dates, icon=":material/warning:")
            feature_histogram(report)
            drift_over_time(name, since, until, [drift.name for drift in report.features if drift.psi is not None][:5])


LABELS_OUTCOME = "mon_labels_outcome"  # what the last upload of labels did, shown under its button


def store_labels(name: str, upload_key: str) -> None:
    """Stored before the page runs again, so the accuracy drawn next counts them."""
    upload = st.session_state.get(upload_key)
    if upload is None:
        return
    try:
        stored = store_label_file(backend, name, upload.getvalue(), upload.name)
    except OpmlError as exc:
        st.session_state[LABELS_OUTCOME] = ("error", f"Nothing stored. {exc}")
        return
    st.session_state[LABELS_OUTCOME] = (
        "success",
        f"{stored:,} label(s) stored for {name} (labelling a record again replaces its label).",
    )


UNMATCHED_HELP = (
    "labels given in the window whose request was not collected (collection off or not sampled, or an older request)"
)


def cross_validated(value: float | None, digits: str = ".3f") -> str | None:
    return None if value is None else f"cross-validated: {value:{digits}}"


def figure_text(value: float | None, digits: str = ".3f") -> str:
    return "–" if value is None else f"{value:{digits}}"


def classification_figures(accuracy) -> None:
    columns = st.columns(4)
    columns[0].metric("Labelled requests' records", f"{accuracy.labelled:,}")
    columns[1].metric("Live accuracy", figure_text(accuracy.accuracy), help=cross_validated(accuracy.cv_accuracy))
    columns[2].metric(
        "Live AUC",
        figure_text(accuracy.auc),
        help="AUC_weighted: one-vs-rest per class, weighted by the labels' shares; needs two classes among the "
        "labels" + (f" ({cross_validated(accuracy.cv_auc_weighted)})" if accuracy.cv_auc_weighted is not None else ""),
    )
    columns[3].metric("Unmatched labels", f"{accuracy.unmatched:,}", help=UNMATCHED_HELP)


def regression_figures(accuracy) -> None:
    """A regression model's live errors: its labels are the true values."""
    columns = st.columns(5)
    columns[0].metric("Labelled requests' records", f"{accuracy.labelled:,}")
    for column, label, value, cv in (
        (columns[1], "Live MAE", accuracy.mae, accuracy.cv_mae),
        (columns[2], "Live RMSE", accuracy.rmse, accuracy.cv_rmse),
        (columns[3], "Live R²", accuracy.r2, accuracy.cv_r2),
    ):
        column.metric(label, figure_text(value, ".4g"), help=cross_validated(cv, ".4g"))
    columns[4].metric("Unmatched labels", f"{accuracy.unmatched:,}", help=UNMATCHED_HELP)
    known = [
        f"{name} {value:.4g}"
        for name, value in (("MAE", accuracy.cv_mae), ("RMSE", accuracy.cv_rmse), ("R²", accuracy.cv_r2))
        if value is not None
    ]
    if known:
        st.caption(f"Cross-validated when the model was trained: {', '.join(known)}.")


if accuracy_tab.open:
    with accuracy_tab:
        with user_errors():
            accuracy = backend.get_live_accuracy(name, since=since, bucket_seconds=accuracy_bucket)
            if accuracy.skipped_files:
                st.warning(
                    f"{len(accuracy.skipped_files):,} collected file(s) could not be read (removed, or cut short by "
                    "a crash) and were left out of the figures below.",
                    icon=":material/warning:",
                )
            if regression:
                regression_figures(accuracy)
            else:
                classification_figures(accuracy)
            if accuracy.buckets:
                figure = live_errors_figure(accuracy) if regression else live_accuracy_figure(accuracy)
                st.plotly_chart(over_window(figure, since, until), key="mon_accuracy")
            else:
                st.info(
                    f"No labelled records among the requests collected in the {window.lower()}: upload the ground "
                    "truth of scored requests below (by their X-Ms-Request-Id).",
                    icon=":material/info:",
                )
        st.subheader("Ground truth")
        upload_key = f"mon_labels_{name}"
        upload = st.file_uploader(
            "Labels as CSV: request_id,label[,record]",
            type=["csv", "txt"],
            key=upload_key,
            help="request_id: the X-Ms-Request-Id of the scoring request; record: the record's index in it (0); "
            + ("label: the true value, a number" if regression else "label: the true class"),
        )
        st.button(
            "Store the labels",
            type="primary",
            key="mon_labels_store",
            disabled=upload is None,
            on_click=store_labels,
            args=(name, upload_key),
        )
        outcome = st.session_state.pop(LABELS_OUTCOME, None)
        if outcome:
            (st.success if outcome[0] == "success" else st.error)(outcome[1])
        example = "1234.5" if regression else '"yes"'
        st.caption(
            f"Labels can also be POSTed to `{service.base_uri}/labels` with the service's key "
            f'(`Authorization: Bearer KEY`, body `{{"labels": [{{"request_id": ..., "label": {example}, '
            '"record": 0}]}`), '
            f"or stored with `opml services labels {name} --csv FILE`."
        )


def switch_rule(rule_id: str, key: str) -> None:
    with user_errors():
        rule = backend.set_alert_rule_enabled(rule_id, st.session_state[key])
        flash(f"Rule {rule.name} {'enabled' if rule.enabled else 'disabled'}.", kind="toast")


def delete_rule(rule_id: str, rule_name: str, confirm_key: str) -> None:
    with user_errors():
        backend.delete_alert_rule(rule_id)
        flash(f"Rule {rule_name} deleted (its past alerts are kept).", kind="toast")
    st.session_state[confirm_key] = False


RULE_OUTCOME = "mon_rule_outcome"  # what the last "Add rule" did, shown under its button


def add_rule(name: str, kind: str) -> None:
    """Added before the page runs again, so the rules listed next hold it."""
    state = st.session_state
    pipeline = state.get("mon_rule_pipeline") or None
    try:
        rule = backend.create_alert_rule(
            name,
            kind=kind,
            threshold=float(state[f"mon_rule_threshold_{kind}"]),
            window_minutes=float(state["mon_rule_window"]),
            for_minutes=float(state["mon_rule_for"]),
            webhook_url=state["mon_rule_webhook"].strip() or None,
            pipeline=pipeline,
            pipeline_parameters=parameter_lines(state["mon_rule_parameters"]) if pipeline else None,
            name=state["mon_rule_name"].strip() or None,
        )
    except OpmlError as exc:  # the backend checks again (and Azure says it evaluates no rules)
        st.session_state[RULE_OUTCOME] = ("error", str(exc))
        return
    st.session_state[RULE_OUTCOME] = (
        "success",
        f"Rule **{rule.name}** added to {name}: the agent evaluates it once a minute.",
    )


if alerts_tab.open:
    with alerts_tab, user_errors():
        alerts = backend.list_alerts(service=name, limit=100)
        firing = sum(alert.state == "Firing" for alert in alerts)
        if firing:
            st.error(f"{firing} alert(s) of {name} firing.", icon=":material/notifications_active:")
        if alerts:
            st.dataframe(alerts_frame(alerts).drop(columns=["Service"]), hide_index=True, key="mon_alerts")
        else:
            st.caption(f"No alerts fired for {name}.")

        st.subheader("Rules")
        rules = backend.list_alert_rules(service=name)
        if not rules:
            st.caption("No rules yet: add one below.")
        else:
            st.dataframe(alert_rules_frame(rules).drop(columns=["Id"]), hide_index=True, key="mon_rules")
            by_id = {rule.id: rule for rule in rules}
            keep_choice("mon_rule", list(by_id))
            chosen_id = st.selectbox(
                "Rule", list(by_id), format_func=lambda rule_id: f"{by_id[rule_id].name} ({rule_id})", key="mon_rule"
            )
            rule = by_id[chosen_id]
            left, middle, right = st.columns([1, 2, 1])
            enabled_key = f"mon_rule_enabled_{rule.id}"
            left.toggle(
                "Enabled", value=rule.enabled, key=enabled_key, on_change=switch_rule, args=(rule.id, enabled_key)
            )
            confirm_key = f"mon_rule_delete_confirm_{rule.id}"
            confirm = middle.checkbox(f"I want to delete the rule {rule.name}", key=confirm_key)
            right.button(
                "Delete rule",
                key="mon_rule_delete",
                icon=":material/delete:",
                disabled=not confirm,
                on_click=delete_rule,
                args=(rule.id, rule.name, confirm_key),
            )

        st.subheader("Add a rule")
        with st.container(border=True):
            kind = st.selectbox("Kind", rule_kinds(task), format_func=kind_label, key="mon_rule_kind")
            if regression:
                st.caption(
                    f"{name} serves a regression model: no accuracy rule (a drift rule watches its inputs; the drift "
                    "of its predicted values is on the Drift tab, its live errors on the Accuracy tab)."
                )
            if kind in ("failure_rate", "latency_p99") and not service.app_insights_enabled:
                st.warning(
                    f"App Insights telemetry is off for {name}: this rule has no requests to judge until it is "
                    "switched on (Endpoints page, or `opml services update NAME --app-insights on`).",
                    icon=":material/warning:",
                )
            label, help_text = threshold_label(kind)
            left, middle, right = st.columns(3)
            # No min/max (see the Endpoints page's port): the backend's own checks below say what is wrong.
            threshold = left.number_input(
                label, value=default_threshold(kind), key=f"mon_rule_threshold_{kind}", help=help_text
            )
            window_minutes = middle.number_input(
                "Window (minutes)", value=60.0, step=5.0, key="mon_rule_window", help="measured over the last N minutes"
            )
            for_minutes = right.number_input(
                "For (minutes)",
                value=0.0,
                step=1.0,
                key="mon_rule_for",
                help="the condition must hold this long before the rule fires",
            )
            left, right = st.columns(2)
            rule_name = left.text_input("Name (optional)", key="mon_rule_name", placeholder="the condition in words")
            webhook = right.text_input(
                "Webhook URL (optional)",
                key="mon_rule_webhook",
                placeholder="https://hooks.example.com/...",
                help="the alert is POSTed as JSON when it fires and when it resolves",
            )
            published = {p.id: p for p in backend.list_published_pipelines()}
            left, right = st.columns(2)
            pipeline = left.selectbox(
                "Published pipeline to trigger when it fires (optional)",
                ["", *published],
                format_func=lambda pid: "none" if not pid else f"{published[pid].name} v{published[pid].version}",
                key="mon_rule_pipeline",
            )
            parameters_text = right.text_area(
                "Pipeline parameters (one name=value per line)", key="mon_rule_parameters", height=68
            )
            declared = None
            if pipeline:
                chosen_pipeline = published[pipeline]
                declared = (
                    backend.get_pipeline(chosen_pipeline.pipeline_id).parameters if chosen_pipeline.pipeline_id else {}
                )
                if declared:
                    st.caption("Its parameters: " + ", ".join(f"`{k}={v}`" for k, v in declared.items()))
            problems = rule_problems(
                kind=kind,
                threshold=threshold,
                window_minutes=window_minutes,
                for_minutes=for_minutes,
                webhook_url=webhook,
                name=rule_name,
                parameters_text=parameters_text,
                declared=declared,
                task=task,
                service=name,
            )
            show_problems(problems)
            st.button(
                "Add rule",
                type="primary",
                key="mon_rule_add",
                icon=":material/add_alert:",
                disabled=bool(problems),
                on_click=add_rule,
                args=(name, kind),
            )
            outcome = st.session_state.pop(RULE_OUTCOME, None)
            if outcome:
                (st.success if outcome[0] == "success" else st.error)(outcome[1])
