"""Models: the registry. Versions, aliases, metrics, inputs, lineage; download; delete."""

import pandas as pd
import streamlit as st

from opml.naming import check_alias
from opml.ui.feedback import flash, show_flash, show_problems, user_errors
from opml.ui.format import MISSING_CELL
from opml.ui.forms import field_problems, keep_choice
from opml.ui.models import actor
from opml.ui.rollout import (
    LIVE,
    MIRRORED,
    add_deployment,
    instance_inputs,
    name_problems,
    schema_confirmation,
    suggest_deployment_name,
)
from opml.ui.tasks import class_balance_frame, label_summary_frame, model_task
from opml.ui.workspace import get_backend

st.title("Models")
backend = get_backend()
show_flash()
models = backend.list_models()
if not models:
    st.info("No registered models yet: register one from an AutoML run's leaderboard.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "Name": m.name,
                "Version": m.version,
                "Aliases": ", ".join(m.aliases),
                "Algorithm": m.algorithm,
                "Task": model_task(m.manifest),
                "Primary metric": m.primary_metric,
                "Value": None if m.metrics.get(m.primary_metric) is None else round(m.metrics[m.primary_metric], 4),
                "Dataset": m.dataset,
                "Run": m.run_id,
                "Registered": m.created_at.strftime("%Y-%m-%d %H:%M"),
                "Tags": ", ".join(f"{k}={v}" for k, v in m.tags.items()),
            }
            for m in models
        ]
    ),
    hide_index=True,
    key="models_table",
    placeholder=MISSING_CELL,
)

PENDING = "models_pending_deployment"  # a challenger refused for its input schema, awaiting confirmation


def challenger_form(model) -> None:
    """Deploy this version behind an existing endpoint, beside what it serves: a share of live traffic or
    mirrored requests only (``create_deployment``)."""
    st.caption(
        "Deploy this version behind an endpoint that is already serving: it keeps its scoring URI and keys, the "
        "current deployments keep the rest of the traffic. Compare them on the Endpoints page, then promote it or "
        "roll back."
    )
    services = backend.list_services()
    if not services:
        st.info("No endpoints yet: deploy a model on the Endpoints page first.")
        return
    endpoints = [s.name for s in services]
    keep_choice("models_ch_endpoint", endpoints)
    endpoint = st.selectbox("Endpoint", endpoints, key="models_ch_endpoint")
    taken = [d.name for d in next(s for s in services if s.name == endpoint).deployments]
    left, middle, right = st.columns([2, 2, 1])
    deployment = left.text_input(
        "Deployment name",
        value=suggest_deployment_name(taken, model.version),
        key=f"models_ch_name_{endpoint}_{model.id}_{'-'.join(taken)}",  # a new suggestion once one is taken
    )
    how = middle.radio("Takes", [LIVE, MIRRORED], horizontal=True, key="models_ch_how")
    share = right.number_input(
        "Percent", value=10, step=1, key="models_ch_share", help="live traffic, or requests mirrored (at most 50)"
    )
    instances = instance_inputs(backend, "models_ch")
    problems = name_problems(deployment)
    show_problems(problems)
    if st.button(
        f"Deploy v{model.version} to {endpoint}",
        type="primary",
        key="models_ch_deploy",
        icon=":material/call_split:",
        disabled=bool(problems),
    ):
        with user_errors():  # the backend checks the percent, the name's uniqueness, the model's schema
            request = {"name": deployment, "model_name": model.name, "model_version": model.version, **instances}
            request["traffic" if how == LIVE else "mirror"] = int(share)
            if add_deployment(backend, PENDING, endpoint, **request):
                st.rerun()
    schema_confirmation(backend, PENDING, endpoint)


names = sorted({m.name for m in models})
left, right = st.columns([3, 1])
name = left.selectbox("Model", names, key="models_name")
versions = {m.version: m for m in backend.list_models(name)}
keep_choice("models_version", list(versions))
# Labels that do not change when an alias moves (a relabelled option would reset the picker).
version = right.selectbox("Version", list(versions), format_func=lambda v: f"v{v}", key="models_version")
with user_errors():
    model = backend.get_model(name, version)
    st.markdown(
        f"**{model.id}** · {model.algorithm} · trained on `{model.dataset}` by run `{model.run_id}`  \n"
        f"sha256 `{model.sha256}` · {model.size_bytes / 1e6:.2f} MB"
        + (f"  \nAliases: {', '.join(f'`{a}`' for a in model.aliases)}" if model.aliases else "")
    )
    if model.description:
        st.write(model.description)
    details, inputs, environment, aliases_tab, challenger_tab = st.tabs(
        ["Metrics", "Inputs", "Environment", "Aliases", "Deploy as a challenger"], key="models_tabs"
    )
    with details:
        st.dataframe(
            pd.DataFrame({"metric": list(model.metrics), "value": list(model.metrics.values())}),
            hide_index=True,
            key="models_metrics",
            placeholder=MISSING_CELL,
        )
        label = model.manifest.get("label_column")
        if model_task(model.manifest) == "regression":
            st.caption(
                f"Regression · predicts the number `{label}` · its values in training, and the out-of-fold "
                "predictions' (the baseline of prediction drift)"
            )
            st.dataframe(label_summary_frame(model.manifest), hide_index=True, key="models_label_summary")
        else:
            classes = [str(c) for c in model.manifest.get("classes", [])]
            threshold = model.manifest.get("threshold")
            st.caption(
                f"Classification · `{label}` · {len(classes)} classes: {', '.join(classes)}"
                + ("" if threshold is None else f" · threshold: {threshold}")
            )
            if model.manifest.get("label_distribution"):
                st.dataframe(class_balance_frame(model.manifest), hide_index=True, key="models_class_balance")
    with inputs:
        schema = pd.DataFrame(model.manifest.get("input_schema", []))
        if "categories" in schema:
            schema["categories"] = schema["categories"].map(
                lambda c: ", ".join(c[:12]) + ("…" if len(c) > 12 else "") if isinstance(c, list) else ""
            )
        if "default" in schema:
            schema["default"] = schema["default"].astype(str)
        st.dataframe(schema, hide_index=True, key="models_schema")
        st.json(model.manifest.get("example", []), expanded=False)
    with environment:
        st.json(model.manifest.get("libraries", {}))
    with aliases_tab:
        st.caption(
            "An alias names a version (e.g. `champion` for the one in production, `challenger` for the next): "
            "deploy by alias, and let a pipeline register only models that beat the alias holder."
        )
        left, right = st.columns([3, 1])
        alias = left.text_input("Alias", value="champion", key="models_alias")
        problems = field_problems(("Alias", lambda: check_alias(alias)))
        show_problems(problems)
        right.write("")
        if right.button(f"Point at v{model.version}", key="models_alias_set", disabled=bool(problems)):
            with user_errors():
                held = backend.set_model_alias(name, alias, model.version, actor=actor())
                flash(f"Alias {alias!r} now points at {held.id}.")
                st.rerun()
        for held_alias in model.aliases:
            if st.button(f"Remove alias {held_alias}", key=f"models_alias_remove_{held_alias}"):
                with user_errors():
                    backend.delete_model_alias(name, held_alias, actor=actor())
                    flash(f"Removed alias {held_alias!r} of {name}.")
                    st.rerun()
        history = backend.list_model_alias_history(name)
        if history:
            st.caption("History")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "When": change.at.strftime("%Y-%m-%d %H:%M:%S"),
                            "Alias": change.alias,
                            "To": "removed" if change.version is None else f"v{change.version}",
                            "From": "" if change.previous_version is None else f"v{change.previous_version}",
                            "Who": change.actor,
                        }
                        for change in history
                    ]
                ),
                hide_index=True,
                key="models_alias_history",
            )
    with challenger_tab:
        challenger_form(model)
    path = backend.download_model(name, version)
    st.download_button(
        "Download model.pkl",
        data=path.read_bytes(),
        file_name=f"{name}-{version}.pkl",
        key="models_download",
        icon=":material/download:",
    )
    confirm = st.checkbox(f"I want to delete {model.id}", key=f"models_delete_confirm_{model.id}")
    if st.button("Delete this version", disabled=not confirm, key="models_delete", icon=":material/delete:"):
        with user_errors():
            backend.delete_model(name, version)
            flash(f"Deleted {model.id}.")
            st.rerun()
