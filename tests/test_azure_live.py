"""Opt-in checks against a real Azure ML workspace: set OPML_AZURE_CONFIG to its config.json. Each check runs
through both SDKs (v2, ``azure-ai-ml``, and v1, ``azureml-core``), unless it reads what only one of them has.

CI has no Azure account, so ``tests/conftest.py`` collects this module only where a user points
OPML_AZURE_CONFIG at a workspace. The checks only read and list; they create nothing. They walk the
paths a desk check of the Azure backend found fragile: listings that met file datasets, ``_setup``
children of remote AutoML runs, queued runs without a start time, and errors shown as "not found".
"""

from __future__ import annotations

import itertools
import os
import time

import pytest

from opml.errors import NotFound
from opml.leaderboard import leaderboard
from opml.workspace import open_workspace

CONFIG = os.environ.get("OPML_AZURE_CONFIG")  # tests/conftest.py collects this module only when it is set


@pytest.fixture(scope="module", params=["v2", "v1"])
def live(request):
    return open_workspace(config=CONFIG, sdk=request.param)


@pytest.fixture(scope="module")
def live_v1():
    return open_workspace(config=CONFIG, sdk="v1")


def test_live_workspace_answers(live):
    info = live.describe()
    assert info.backend == "azure" and set(info.counts) >= {"datasets", "computes", "models"}


def test_live_lists(live):
    for listing in (
        live.list_computes,
        live.list_datasets,
        live.list_models,
        live.list_services,
        live.list_published_pipelines,
        live.list_schedules,
        live.list_experiments,
    ):
        assert isinstance(listing(), list), listing.__name__


def test_live_datasets_are_tabular_with_versions(live):
    """File datasets (and Azure's empty entries) are left out; every listed one opens with its versions."""
    for dataset in live.list_datasets()[:5]:
        versions = live.list_dataset_versions(dataset.name)
        assert versions and versions[0].version == dataset.version


def test_live_runs_are_newest_first_and_limited(live):
    started = time.monotonic()
    runs = live.list_runs(limit=5)
    assert len(runs) <= 5 and runs == sorted(runs, key=lambda run: run.created_at, reverse=True)
    assert all(run.created_at.year > 1970 for run in runs)  # queued runs too have a creation time
    print(f"listing 5 runs took {time.monotonic() - started:.1f} s")  # slicing happens before conversion
    for experiment in live.list_experiments()[:3]:
        assert all(run.experiment == experiment for run in live.list_runs(experiment=experiment, limit=3))


def test_live_listed_runs_carry_what_get_details_says(live_v1):
    """A search checks each run as the RunDto it was listed with says (status, compute, times, error), without a
    get_details each: for ended runs, the listing and get_details must agree."""
    from opml.backends.azure.convert import _error_message, listed_details
    from opml.backends.azure_common.times import parse_time

    for experiment in live_v1.runs.experiments()[:3]:
        for run in itertools.islice(live_v1.runs.runs_of(experiment, include_children=True), 5):
            listed = listed_details(run)
            if listed["status"] not in ("Completed", "Failed", "Canceled"):
                continue
            details = run.get_details()
            assert (listed["status"], listed["target"]) == (details.get("status"), details.get("target")), run.id
            for field in ("startTimeUtc", "endTimeUtc"):
                assert parse_time(listed[field]) == parse_time(details.get(field)), (run.id, field)
            assert _error_message(listed) == _error_message(details), run.id


def test_live_automl_leaderboards_hold_trials_only(live):
    """A remote AutoML parent has a ``{id}_setup`` child: the leaderboard must list its trials only."""
    parents = [run for run in live.list_runs(top_level_only=True, limit=50) if run.run_type == "automl"]
    for parent in parents[:2]:
        rows = leaderboard(live, parent.id)
        assert all(not str(row.get("run_id", "")).endswith("_setup") for row in rows)


def test_live_pipeline_runs_list(live):
    for published in live.list_published_pipelines()[:2]:
        assert isinstance(live.list_pipeline_runs(published_pipeline_id=published.id), list)


def test_live_a_missing_run_is_not_found(live):
    """NotFound, not Unauthorized or unavailable: the error is translated before it becomes "no run"."""
    with pytest.raises(NotFound):
        live.get_run("opml_live_check_no_such_run_0000")


def test_live_auth_header(live):
    assert live.auth_header()["Authorization"].startswith("Bearer ")
