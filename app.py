"""opml dashboard: routes only, behind one door (opml.ui.access). Run with `opml up` (or `streamlit run app.py`)."""

from pathlib import Path

import streamlit as st

from opml.ui.access import enter, show_access
from opml.ui.workspace import workspace_selector

# A local favicon: a Material-symbol page_icon would be fetched from Google's font CDN (not offline).
st.set_page_config(page_title="opml", page_icon=str(Path(__file__).parent / "opml/ui/favicon.png"), layout="wide")

pages = {
    "Workspace": [
        st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/datasets.py", title="Datasets", icon=":material/table_view:"),
        st.Page("pages/compute.py", title="Compute", icon=":material/memory:"),
    ],
    "Train": [
        st.Page("pages/automl.py", title="Automated ML", icon=":material/auto_awesome:"),
        st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
        st.Page("pages/pipelines.py", title="Pipelines", icon=":material/account_tree:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/play_circle:"),
    ],
    "Deploy": [
        st.Page("pages/endpoints.py", title="Endpoints", icon=":material/api:"),
        st.Page("pages/monitoring.py", title="Monitoring", icon=":material/monitoring:"),
        st.Page("pages/score.py", title="Score", icon=":material/bolt:"),
    ],
}

# Who may see pages is decided before any of them runs; st.navigation is called in every case, so that Streamlit
# leaves its legacy pages/ mode (in which a sub-page URL would run that page without this script).
access = enter()
navigation = st.navigation(pages, position="sidebar" if access else "hidden")
if access is None:
    st.stop()
show_access(access)
workspace_selector()
navigation.run()
