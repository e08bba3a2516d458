"""Pipelines: build a training pipeline, run and watch it, publish it behind a REST endpoint, trigger it."""

import pandas as pd
import streamlit as st

from opml.automl.names import TASKS, default_metric, primary_metrics
from opml.automl.settings import settings_problems
from opml.errors import OpmlError
from opml.naming import check_alias, check_name, check_recurrence
from opml.pipelines.spec import check_script
from opml.snippets import pipeline_trigger_snippets
from opml.ui.access import audit, audit_once, secret_toggle
from opml.ui.charts import pipeline_graph
from opml.ui.feedback import flash, show_flash, show_problems, user_errors
from opml.ui.format import pipeline_runs_frame
from opml.ui.forms import field_problems, follow_default, keep_choice, labelled
from opml.ui.policy import OFF_WITHOUT_SIGN_IN, local_paths_allowed, secrets_may_be_shown
from opml.ui.tasks import guess_reason
from opml.ui.views import pipeline_run_view
from opml.ui.workspace import get_backend

RUNS_SHOWN = 200  # the newest pipeline runs a table shows
TASK_PICKED = "pl_task_picked"  # the user chose the task: it no longer follows the label column's guess


def label_guess(dataset: str, label: str) -> tuple[str, str] | None:
    """The task the label column looks like and why (the dataset's rows read once while it stays chosen)."""
    kept = st.session_state.get("pl_frame")
    if kept is None or kept[0] != dataset:
        try:
            kept = (dataset, backend.load_dataset(dataset))
        except OpmlError:
            kept = (dataset, None)
        st.session_state["pl_frame"] = kept
    frame = kept[1]
    return guess_reason(frame[label]) if frame is not None and label in frame.columns else None


def task_picked() -> None:
    st.session_state[TASK_PICKED] = True


st.title("Pipelines")
backend = get_backend()
show_flash()
pipelines = backend.list_pipelines()
build_tab, runs_tab, publish_tab, tokens_tab = st.tabs(["Build & run", "Runs", "Published", "Tokens"], key="pl_tabs")

with build_tab:
    with st.expander("New pipeline", icon=":material/account_tree:", expanded=not pipelines):
        datasets = [d.name for d in backend.list_datasets()]
        if not datasets:
            st.info("Register a dataset first.")
        else:
            name = st.text_input("Pipeline name", value="bankmarketing-train", key="pl_name")
            left, middle, right = st.columns(3)
            dataset = left.selectbox("Dataset (parameter)", datasets, key="pl_dataset")
            columns = list(backend.get_dataset(dataset).columns)
            label = middle.selectbox(
                "Label column", columns, index=columns.index("y") if "y" in columns else 0, key="pl_label"
            )
            guess = label_guess(dataset, label)
            if guess and not st.session_state.get(TASK_PICKED):
                st.session_state["pl_task"] = guess[0]  # follows the label column until a task is picked
            task = right.selectbox("Task", TASKS, key="pl_task", on_change=task_picked)
            if guess:
                said = "guessed" if guess[0] == task else f"picked; the label column looks like {guess[0]}"
                st.caption(f"Task {said}: `{label}` has {guess[1]}.")
            metrics = list(primary_metrics(task))
            keep_choice("pl_metric", metrics, metrics.index(default_metric(task)))
            left, right = st.columns(2)
            metric = left.selectbox("Primary metric (parameter)", metrics, key="pl_metric")
            compute = right.selectbox("Compute", [c.name for c in backend.list_computes()], key="pl_compute")
            left, right = st.columns(2)
            # No min/max: the browser would silently keep the last valid value; the checks below say what is wrong.
            limits = backend.automl_limits  # what this backend's AutoML takes (Azure ML: at least 15 minutes)
            timeout = left.number_input(
                "AutoML timeout, minutes (parameter)",
                value=max(5.0, float(limits.min_timeout_minutes)),
                key="pl_timeout",
            )
            prep = st.toggle(  # its script is a path on this machine
                "Data-preparation step (a Python file defining prepare(df))",
                key="pl_prep",
                disabled=not local_paths_allowed(),
            )
            prep = prep and local_paths_allowed()
            if not local_paths_allowed():
                st.caption(OFF_WITHOUT_SIGN_IN)
            script = st.text_input("Script path", key="pl_script", disabled=not prep)
            register = st.toggle("Register the best model", value=True, key="pl_register")
            left, middle, right = st.columns(3)
            follow_default("pl_model", f"{dataset}-model", {f"{d}-model" for d in datasets})
            model_name = left.text_input("Model name", key="pl_model", disabled=not register)
            gate = middle.toggle(
                "Quality gate: beat the alias holder",
                key="pl_gate",
                disabled=not register,
                help="compares the AutoML step's best cross-validated primary metric with the aliased version's; "
                "the step's log shows the comparison",
            )
            gate_alias = right.text_input("Alias", value="champion", key="pl_gate_alias", disabled=not register)
            move_alias = st.toggle("Then point the alias at the new version", key="pl_set_alias", disabled=not register)
            automl_problems = settings_problems(
                {
                    "dataset": dataset,
                    "label_column": label,
                    "task": task,
                    "primary_metric": metric,
                    "experiment_timeout_minutes": timeout,
                },
                limits,
            )
            automl_labels = {"experiment_timeout_minutes": "AutoML timeout", "task": "Task", "primary_metric": "Metric"}
            problems = labelled(automl_problems, automl_labels) + field_problems(
                ("Pipeline name", lambda: check_name(name, "pipeline")),
                ("Script path", lambda: check_script(script) if prep else None),
                ("Model name", lambda: check_name(model_name, "model") if register else None),
                ("Alias", lambda: check_alias(gate_alias) if register and (gate or move_alias) else None),
            )
            show_problems(problems)
            if st.button("Create pipeline", type="primary", key="pl_create", disabled=bool(problems)):
                with user_errors():  # the backend checks the whole definition again
                    steps = []
                    training_data = "${dataset}"
                    if prep:
                        steps.append(
                            {
                                "name": "prep",
                                "type": "data_prep",
                                "script": script,
                                "input_dataset": "${dataset}",
                                "output_dataset": f"{name}-prepared",
                            }
                        )
                        training_data = f"{name}-prepared"
                    steps.append(
                        {
                            "name": "train",
                            "type": "automl",
                            "settings": {
                                "dataset": training_data,
                                "label_column": label,
                                "task": task,
                                "primary_metric": "${primary_metric}",
                                "experiment_timeout_minutes": "${timeout_minutes}",
                            },
                        }
                    )
                    if register:
                        register_step = {"name": "register", "type": "register_model", "model_name": model_name}
                        if gate:
                            register_step["gate_alias"] = gate_alias
                        if move_alias:
                            register_step["set_alias"] = gate_alias
                        steps.append(register_step)
                    parameters = {"dataset": dataset, "primary_metric": metric, "timeout_minutes": float(timeout)}
                    pipeline = backend.create_pipeline(name=name, steps=steps, parameters=parameters, compute=compute)
                    pipelines.insert(0, pipeline)
                    st.success(f"Created pipeline **{pipeline.name}** ({pipeline.id}).")
    if pipelines:
        labels = {p.id: f"{p.name} · {p.id[:8]}" for p in pipelines}
        pipeline_id = st.selectbox("Pipeline", list(labels), format_func=labels.get, key="pl_selected")
        pipeline = backend.get_pipeline(pipeline_id)
        st.plotly_chart(pipeline_graph([(s["name"], s["type"], "NotStarted") for s in pipeline.steps]), key="pl_graph")
        left, right = st.columns(2)
        experiment = left.text_input("Experiment", value=pipeline.name, key="pl_experiment")
        if right.button("Run now", key="pl_run", icon=":material/play_arrow:"):
            with user_errors():
                run = backend.run_pipeline(pipeline_id, experiment=experiment)
                audit(backend, "run_pipeline", f"run {run.id} of pipeline {pipeline.name}")
                st.session_state["pl_watch"] = run.id
                st.success(f"Queued pipeline run **{run.id}**: watch it on the Runs tab.")

with runs_tab:
    runs = backend.list_pipeline_runs(limit=RUNS_SHOWN)
    if not runs:
        st.info("No pipeline runs yet.")
    else:

        @st.fragment(run_every=2 if any(not r.is_terminal for r in runs) else None)
        def runs_table() -> None:
            current = backend.list_pipeline_runs(limit=RUNS_SHOWN)
            if len(current) == RUNS_SHOWN:
                st.caption(f"The newest {RUNS_SHOWN} pipeline runs.")
            st.dataframe(pipeline_runs_frame(current), hide_index=True, key="pl_runs_table")

        runs_table()
        ids = [r.id for r in runs]
        if st.session_state.get("pl_watch") not in ids:
            st.session_state["pl_watch"] = ids[0]
        watched = st.selectbox("Watch run", ids, key="pl_watch")
        active = not backend.get_run(watched).is_terminal

        @st.fragment(run_every=2 if active else None)
        def watch() -> None:
            with user_errors():
                pipeline_run_view(backend, watched, key="pl_run")

        watch()

with publish_tab:
    if pipelines:
        with st.form("publish"):
            labels = {p.id: f"{p.name} · {p.id[:8]}" for p in pipelines}
            target = st.selectbox("Pipeline", list(labels), format_func=labels.get, key="pl_publish_pipeline")
            left, right = st.columns([3, 1])
            published_name = left.text_input("Name", value="Bankmarketing Train", key="pl_publish_name")
            version = right.text_input("Version", value="1.0", key="pl_publish_version")
            description = st.text_input("Description", value="Training pipeline", key="pl_publish_description")
            if st.form_submit_button("Publish", type="primary"):
                with user_errors():
                    published = backend.publish_pipeline(
                        target, name=published_name, description=description, version=version
                    )
                    st.success(f"Published **{published.name}**: {published.endpoint}")
    published_list = backend.list_published_pipelines()
    if not published_list:
        st.info("Nothing published yet.")
    else:
        labels = {p.id: f"{p.name} v{p.version} · {p.status}" for p in published_list}
        chosen = st.selectbox("Published pipeline", list(labels), format_func=labels.get, key="pl_published")
        published = backend.get_published_pipeline(chosen)
        st.code(published.endpoint, language="text")
        toggle = st.toggle("Active", value=published.status == "Active", key=f"pl_active_{chosen}")
        if toggle != (published.status == "Active"):
            published = backend.set_published_pipeline_enabled(chosen, toggle)
        reveal = secret_toggle("Show the token in the snippets", key="pl_reveal")
        if reveal:
            audit_once(backend, "reveal_token", "the owner's REST token")
        token = backend.auth_header()["Authorization"].removeprefix("Bearer ") if reveal else "<your-token>"
        curl, python = pipeline_trigger_snippets(
            published.endpoint, token, backend.published_trigger_body(chosen, "pipeline-rest")
        )
        st.code(curl, language="bash")
        st.code(python, language="python")
        # A pipeline published outside opml (Azure) has no draft here, hence no parameters to show.
        parameters = backend.get_pipeline(published.pipeline_id).parameters if published.pipeline_id else {}
        with st.form(f"trigger_{chosen}"):
            experiment = st.text_input("Experiment", value="pipeline-ui", key="pl_trigger_experiment")
            values = {}
            for parameter, default in parameters.items():
                if isinstance(default, (int, float)) and not isinstance(default, bool):
                    values[parameter] = st.number_input(parameter, value=float(default), key=f"pl_param_{parameter}")
                else:
                    values[parameter] = st.text_input(parameter, value=str(default), key=f"pl_param_{parameter}")
            if st.form_submit_button("Trigger"):
                with user_errors():
                    run = backend.trigger_published_pipeline(chosen, experiment=experiment, parameters=values)
                    audit(backend, "trigger_pipeline", f"run {run.id} of {published.name}")
                    st.success(f"Triggered **{run.id}**")
        st.subheader("Schedules")
        with st.container(border=True):
            left, middle, right = st.columns(3)
            schedule_name = left.text_input("Schedule name", value="nightly", key="pl_schedule_name")
            schedule_experiment = middle.text_input(
                "Experiment", value="pipeline-schedule", key="pl_schedule_experiment"
            )
            kind = right.radio("Recurrence", ["Every N minutes", "Cron"], horizontal=True, key="pl_schedule_kind")
            left, right = st.columns(2)
            every = left.number_input(
                "Minutes", value=1440.0, key="pl_schedule_every", disabled=kind != "Every N minutes"
            )
            cron = right.text_input(
                "Cron expression", value="0 6 * * *", key="pl_schedule_cron", disabled=kind != "Cron"
            )
            overlap = st.checkbox("Allow overlapping runs", key="pl_schedule_overlap")
            interval = float(every) if kind == "Every N minutes" else None
            cron_value = cron if kind == "Cron" else None
            problems = field_problems(
                ("Schedule name", lambda: check_name(schedule_name, "schedule")),
                ("Experiment", lambda: check_name(schedule_experiment, "experiment")),
                ("Recurrence", lambda: check_recurrence(interval, cron_value)),
            )
            show_problems(problems)
            if st.button("Create schedule", key="pl_schedule_create", disabled=bool(problems)):
                with user_errors():  # the backend checks again
                    schedule = backend.create_schedule(
                        chosen,
                        name=schedule_name,
                        experiment=schedule_experiment,
                        interval_minutes=interval,
                        cron=cron_value,
                        allow_overlap=overlap,
                    )
                    st.success(f"Created schedule **{schedule.name}** ({schedule.recurrence}).")
        schedules = [s for s in backend.list_schedules() if s.published_pipeline_id == chosen]
        for schedule in schedules:
            left, middle, right = st.columns([4, 1, 1])
            paused = schedule.status == "Paused"
            when = (
                "paused: no runs until resumed"
                if paused
                else f"next {schedule.next_run_at:%Y-%m-%d %H:%M:%S} UTC"
                if schedule.next_run_at
                else "no next run"
            )
            left.markdown(f"**{schedule.name}** · {schedule.recurrence} · {schedule.status} · {when}")
            if middle.button("Resume" if paused else "Pause", key=f"pl_schedule_toggle_{schedule.id}"):
                backend.set_schedule_paused(schedule.id, not paused)
                flash(f"Schedule {schedule.name} {'resumed' if paused else 'paused'}.")
                st.rerun()
            if right.button("Delete", key=f"pl_schedule_delete_{schedule.id}"):
                backend.delete_schedule(schedule.id)
                flash(f"Deleted schedule {schedule.name}.")
                st.rerun()
        runs = backend.list_pipeline_runs(published_pipeline_id=chosen, limit=RUNS_SHOWN)
        if len(runs) == RUNS_SHOWN:
            st.caption(f"Its newest {RUNS_SHOWN} runs.")
        st.dataframe(pipeline_runs_frame(runs), hide_index=True, key="pl_published_runs")

with tokens_tab:
    left, right = st.columns([3, 1])
    token_name = left.text_input("Token name", key="pl_token_name")
    if not secrets_may_be_shown():
        st.caption(f"Create token: {OFF_WITHOUT_SIGN_IN}")
    create = right.button("Create token", key="pl_token_create", disabled=not secrets_may_be_shown())
    if create and secrets_may_be_shown():  # a disabled button's click is refused here too
        with user_errors():
            token = backend.create_token(token_name)
            audit(backend, "create_token", f"token {token_name.strip()}")
            st.warning("Copy this token now: it is shown once.")
            st.code(token, language="text")
    tokens = backend.list_tokens()
    st.dataframe(
        pd.DataFrame(
            [
                {"Name": t.name, "Created": t.created_at.strftime("%Y-%m-%d %H:%M:%S"), "Revoked": t.revoked}
                for t in tokens
            ]
        ),
        hide_index=True,
        key="pl_tokens",
    )
    live = [t.name for t in tokens if not t.revoked]
    owners = {t.name for t in tokens if t.owner}
    if live:
        doomed = st.selectbox(
            "Token to revoke",
            live,
            index=None,
            placeholder="Choose a token",
            format_func=lambda t: (
                f"{t} (the owner's: this page's snippets and auth_header() use it)" if t in owners else t
            ),
            key="pl_token_revoke_name",
        )
        confirm = doomed is not None and st.checkbox(
            f"I want to revoke {doomed}: clients using it get 401 at once", key=f"pl_token_revoke_confirm_{doomed}"
        )
        if st.button("Revoke token", key="pl_token_revoke", disabled=doomed is None or not confirm):
            with user_errors():
                backend.revoke_token(doomed)
                audit(backend, "revoke_token", f"token {doomed}")
                flash(f"Revoked token {doomed}: requests with it are refused (401).")
                st.rerun()
