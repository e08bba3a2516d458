"""Computes: pools of run slots. Create, inspect and delete them."""

import streamlit as st

from opml.ui import computes_frame, get_backend, user_errors

st.title("Compute")
backend = get_backend()

with st.form("create_compute"):
    left, right = st.columns([3, 1])
    name = left.text_input("Name", key="compute_name", placeholder="cpu-cluster-4")
    max_nodes = right.number_input("Max nodes", min_value=1, max_value=64, value=2, step=1, key="compute_nodes")
    vm_size = None
    if backend.kind == "azure":
        vm_size = st.text_input("VM size", value="STANDARD_DS3_V2", key="compute_vm_size")
    if st.form_submit_button("Create compute", type="primary"):
        with user_errors():
            compute = backend.create_compute(name=name, max_nodes=int(max_nodes), vm_size=vm_size)
            st.success(f"Created compute **{compute.name}** with {compute.max_nodes} node(s) ({compute.state}).")

with user_errors():
    computes = backend.list_computes()
    st.dataframe(computes_frame(computes), hide_index=True, key="compute_table")
    if computes:
        left, right = st.columns([3, 1])
        doomed = left.selectbox("Compute to delete", [c.name for c in computes], key="compute_delete_name")
        right.write("")
        if right.button("Delete", key="compute_delete"):
            backend.delete_compute(doomed)
            st.toast(f"Deleted compute {doomed}.")
            st.rerun()
