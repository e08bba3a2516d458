"""Computes: pools of run slots. Create, inspect and delete them."""

import streamlit as st

from opml.naming import check_max_nodes, check_name
from opml.ui.feedback import flash, show_flash, show_problems, user_errors
from opml.ui.format import computes_frame
from opml.ui.forms import field_problems
from opml.ui.workspace import get_backend

st.title("Compute")
backend = get_backend()
show_flash()

with st.container(border=True):
    st.markdown("**Create a compute**")
    left, right = st.columns([3, 1])
    name = left.text_input("Name", key="compute_name", help="letters, digits, '_', '.' or '-', e.g. cpu-cluster-4")
    # No min/max: the browser would silently keep the last valid value; the check below says what is wrong.
    max_nodes = right.number_input("Max nodes", value=2, step=1, key="compute_nodes", help="1 to 64 runs at once")
    vm_size, min_nodes = None, 0
    if backend.kind == "azure":
        left, right = st.columns([3, 1])
        vm_size = left.text_input("VM size", value="STANDARD_DS3_V2", key="compute_vm_size")
        min_nodes = right.number_input(
            "Min nodes", value=0, step=1, key="compute_min_nodes", help="nodes kept running when idle (billed)"
        )
    problems = field_problems(
        ("Name", lambda: check_name(name, "compute")), ("Max nodes", lambda: check_max_nodes(max_nodes))
    )
    if name.strip():  # an empty name is not an error until the user has typed one
        show_problems(problems)
    else:
        st.caption("Name the compute to create it.")
    if st.button("Create compute", type="primary", key="compute_create", disabled=bool(problems)):
        with user_errors():  # the backend checks again (and refuses a name that exists)
            compute = backend.create_compute(
                name=name, max_nodes=int(max_nodes), vm_size=vm_size, min_nodes=int(min_nodes)
            )
            st.success(f"Created compute **{compute.name}** with {compute.max_nodes} node(s) ({compute.state}).")

with user_errors():
    computes = backend.list_computes()
    st.dataframe(computes_frame(computes), hide_index=True, key="compute_table")
    if computes:
        left, right = st.columns([3, 1])
        doomed = left.selectbox("Compute to delete", [c.name for c in computes], key="compute_delete_name")
        confirm = left.checkbox(f"I want to delete {doomed}", key=f"compute_delete_confirm_{doomed}")
        right.write("")
        if right.button("Delete", key="compute_delete", disabled=not confirm, icon=":material/delete:"):
            backend.delete_compute(doomed)
            flash(f"Deleted compute {doomed}.")
            st.rerun()
