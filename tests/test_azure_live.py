"""Opt-in checks against a real Azure ML workspace: set OPML_AZURE_CONFIG to its config.json.

CI has no Azure account, so ``tests/conftest.py`` collects this module only where a user points
OPML_AZURE_CONFIG at a workspace; the checks read and list, and create nothing.
"""

from __future__ import annotations

import os

import pytest

from opml.workspace import open_workspace

CONFIG = os.environ.get("OPML_AZURE_CONFIG")  # tests/conftest.py collects this module only when it is set


@pytest.fixture(scope="module")
def live():
    return open_workspace(config=CONFIG)


def test_live_workspace_answers(live):
    info = live.describe()
    assert info.backend == "azure" and set(info.counts) >= {"datasets", "computes", "models", "services"}


def test_live_lists(live):
    for listing in (live.list_computes, live.list_datasets, live.list_models, live.list_services):
        assert isinstance(listing(), list)


def test_live_auth_header(live):
    assert live.auth_header()["Authorization"].startswith("Bearer ")
