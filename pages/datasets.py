"""Datasets: register a CSV from a URL, an upload or a path; browse versions, preview and profile."""

import pandas as pd
import plotly.express as px
import streamlit as st

from opml.errors import InvalidInput
from opml.ui.feedback import user_errors
from opml.ui.forms import web_address
from opml.ui.policy import OFF_WITHOUT_SIGN_IN, local_paths_allowed
from opml.ui.workspace import get_backend

st.title("Datasets")
backend = get_backend()


def parse_tags(text: str) -> dict[str, str]:
    tags = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"tag line {line.strip()!r} must look like key=value")
        tags[key.strip()] = value.strip()
    return tags


with st.expander("Register a dataset", icon=":material/add:", expanded=not backend.list_datasets()):
    kinds = ["Web URL", "Upload a file", "Local path"] if local_paths_allowed() else ["Web URL", "Upload a file"]
    kind = st.radio("From", kinds, horizontal=True, key="ds_source_kind")
    if "Local path" not in kinds:
        st.caption(f"Local path: {OFF_WITHOUT_SIGN_IN}")
    with st.form("register_dataset", clear_on_submit=False):
        name = st.text_input(
            "Name",
            key="ds_name",
            help="letters, digits, '_', '.' or '-' (e.g. bankmarketing); a new name or a "
            "new version of an existing one",
        )
        if kind == "Web URL":
            source = st.text_input("URL of a CSV file", key="ds_url", help="an http(s) address of a CSV file")
        elif kind == "Upload a file":
            source = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key="ds_upload")
        else:
            source = st.text_input("Path of a CSV file on this machine", key="ds_path")
        description = st.text_input("Description", key="ds_description")
        tags_text = st.text_area("Tags (one key=value per line)", key="ds_tags", height=68)
        submitted = st.form_submit_button("Register", type="primary")
    if submitted:
        with user_errors():
            if source is None or (isinstance(source, str) and not source.strip()):
                raise InvalidInput("give a URL, a file or a path to register")
            if kind == "Web URL":
                source = web_address(source)
            upload_name = None
            if hasattr(source, "getvalue"):
                upload_name, source = source.name, source.getvalue()
            with st.spinner("Reading, validating and profiling…"):
                clean_name = str(name).strip()
                existing = clean_name in {d.name for d in backend.list_datasets()}
                known = {d.version for d in backend.list_dataset_versions(clean_name)} if existing else set()
                dataset = backend.register_dataset(
                    name=name,
                    source=source,
                    description=description,
                    tags=parse_tags(tags_text),
                    filename=upload_name,
                )
            st.session_state["ds_select"] = dataset.name
            st.session_state.pop("ds_version", None)
            if dataset.version in known:
                st.info(f"**{dataset.name}** is identical to version {dataset.version}: nothing new registered.")
            else:
                st.success(f"Registered **{dataset.name}** version {dataset.version}: {dataset.rows:,} rows.")

datasets = backend.list_datasets()
if not datasets:
    st.info("No datasets yet. Register one above: the Bank Marketing CSV is a good start.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "Name": d.name,
                "Latest version": d.version,
                "Rows": d.rows,
                "Columns": len(d.columns),
                "Size (MB)": round(d.size_bytes / 1e6, 2),
                "Source": d.source,
                "Registered": d.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for d in datasets
        ]
    ),
    hide_index=True,
    key="ds_table",
)

names = [d.name for d in datasets]
if st.session_state.get("ds_select") not in names:
    st.session_state["ds_select"] = names[0]
left, right = st.columns([3, 1])
selected = left.selectbox("Dataset", names, key="ds_select")
with user_errors():
    versions = [d.version for d in backend.list_dataset_versions(selected)]
    version = right.selectbox("Version", versions, key="ds_version")
    dataset = backend.get_dataset(selected, version)
    profile = backend.get_dataset_profile(selected, version)

    details, preview, profile_tab = st.tabs(["Details", "Preview", "Profile"], key="ds_tabs")
    with details:
        st.markdown(
            f"**{dataset.name}** version {dataset.version} · {dataset.rows:,} rows × {len(dataset.columns)} columns  \n"
            f"Source: `{dataset.source}`  \n"
            f"Format: delimiter `{dataset.delimiter!r}`, decimal `{dataset.decimal!r}` · "
            f"{dataset.size_bytes / 1e6:.2f} MB · sha256 `{dataset.sha256[:16]}…`  \n"
            f"Registered {dataset.created_at.strftime('%Y-%m-%d %H:%M:%S %Z')}"
        )
        if dataset.description:
            st.write(dataset.description)
        if dataset.tags:
            st.markdown("Tags: " + " · ".join(f"`{key}={value}`" for key, value in dataset.tags.items()))
    with preview:
        st.dataframe(backend.load_dataset(selected, version, nrows=100), key="ds_preview")
    with profile_tab:
        summary = pd.DataFrame(
            [
                {
                    "Column": c.name,
                    "Type": c.dtype,
                    "Missing %": c.missing_pct,
                    "Distinct": c.distinct,
                    "Min": c.min,
                    "Max": c.max,
                    "Mean": None if c.mean is None else round(c.mean, 4),
                    "Most frequent": next(iter(c.top_values), None),
                }
                for c in profile.columns
            ]
        )
        st.caption(f"{profile.rows:,} rows · {profile.duplicate_rows:,} exact duplicate rows")
        shown = summary.astype(object).where(summary.notna(), "")
        shown[["Min", "Max", "Most frequent"]] = shown[["Min", "Max", "Most frequent"]].astype(str)  # mixed kinds
        st.dataframe(shown, hide_index=True, key="ds_profile_table")
        column_names = [c.name for c in profile.columns]
        default = column_names.index("y") if "y" in column_names else len(column_names) - 1
        chosen = st.selectbox("Distribution of", column_names, index=default, key="ds_profile_column")
        column = profile.column(chosen)
        if column.histogram is not None:
            edges, counts = column.histogram
            chart = px.bar(
                x=[(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))],
                y=counts,
                labels={"x": chosen, "y": "rows"},
                title=f"Histogram of {chosen}",
            )
            st.plotly_chart(chart, key="ds_histogram")
        elif column.top_values:
            balance = pd.DataFrame({"value": list(column.top_values), "rows": list(column.top_values.values())})
            balance["share %"] = (100 * balance["rows"] / profile.rows).round(2)
            chart = px.bar(balance, x="value", y="rows", text="share %", title=f"Class balance of {chosen}")
            st.plotly_chart(chart, key="ds_balance")
        missing = summary[summary["Missing %"] > 0]
        if not missing.empty:
            st.plotly_chart(px.bar(missing, x="Column", y="Missing %", title="Missing values"), key="ds_missing")
