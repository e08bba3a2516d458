"""Glue between Streamlit pages and ``opml``; pages call these modules and the backend, never SQL or an SDK.

- ``workspace``: the backend a session shows (local or Azure ML) and the sidebar's workspace selector;
- ``policy``, ``access``: what this session may do (sign-in, allow-list, open mode) and app.py's door; the
  audit trail the pages write;
- ``feedback``: errors as messages, and messages kept across an action's rerun;
- ``forms``: the backend's checks run on a form's fields, choices kept across reruns;
- ``models``: model versions as pickers show them;
- ``format``, ``charts``, ``views``: tables, plotly figures and the larger shared views;
- ``monitoring``: the Monitoring page's windows, labels stored from a CSV upload, the alert form's checks.
"""
