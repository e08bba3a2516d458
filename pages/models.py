"""Models: the registry. Versions, metrics, inputs, lineage; download; delete."""

import pandas as pd
import streamlit as st

from opml.ui import get_backend, user_errors

st.title("Models")
backend = get_backend()
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
                "Algorithm": m.algorithm,
                "Primary metric": m.primary_metric,
                "Value": round(m.metrics.get(m.primary_metric, float("nan")), 4),
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
)

names = sorted({m.name for m in models})
left, right = st.columns([3, 1])
name = left.selectbox("Model", names, key="models_name")
versions = [m.version for m in backend.list_models(name)]
version = right.selectbox("Version", versions, key="models_version")
with user_errors():
    model = backend.get_model(name, version)
    st.markdown(
        f"**{model.id}** · {model.algorithm} · trained on `{model.dataset}` by run `{model.run_id}`  \n"
        f"sha256 `{model.sha256}` · {model.size_bytes / 1e6:.2f} MB"
    )
    if model.description:
        st.write(model.description)
    details, inputs, environment = st.tabs(["Metrics", "Inputs", "Environment"])
    with details:
        st.dataframe(
            pd.DataFrame({"metric": list(model.metrics), "value": list(model.metrics.values())}),
            hide_index=True,
            key="models_metrics",
        )
        st.caption(
            f"Classes: {', '.join(model.manifest.get('classes', []))} · threshold: {model.manifest.get('threshold')}"
        )
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
    path = backend.download_model(name, version)
    st.download_button(
        "Download model.pkl", data=path.read_bytes(), file_name=f"{name}-{version}.pkl", key="models_download",
        icon=":material/download:",
    )  # fmt: skip
    confirm = st.checkbox(f"I want to delete {model.id}", key="models_delete_confirm")
    if st.button("Delete this version", disabled=not confirm, key="models_delete", icon=":material/delete:"):
        backend.delete_model(name, version)
        st.toast(f"Deleted {model.id}")
        st.rerun()
