"""Azure ML runs over the SDK fakes, as Azure has them: states that change one tick at a time
(``FakeCloud.execute_pending``), ``Run`` objects that are snapshots until refreshed, listings that convert
only the runs they return, and the AutoML limits Azure adds to opml's settings (opml's arguments checked by the
real ``AutoMLConfig``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opml.backends.azure.convert import EPOCH
from opml.entities import CANCEL_REQUESTED, CANCELED, COMPLETED, FAILED, FINALIZING, PREPARING, QUEUED, RUNNING
from opml.errors import Conflict, InvalidInput
from opml.leaderboard import leaderboard
from tests.azure_fakes import FakeScriptRunConfig, make_fake_sdk
from tests.azure_fixtures import PIPELINE_STEPS, add_finished_runs, submit_automl
from tests.contract import python_command

REPO = Path(__file__).resolve().parents[1]
A_MONTH_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)


def submitted(cloud) -> list[dict]:
    return [arguments for call, arguments in cloud.calls if call == "Experiment.submit"]


def conversions(cloud) -> int:
    """Runs opml converted: each asks Azure for the run's details once."""
    return sum(1 for call, _ in cloud.calls if call == "Run.get_details")


def tick_until(cloud, azure, run_id, status, ticks=20):
    for _ in range(ticks):
        if azure.get_run(run_id).status == status:
            return
        cloud.execute_pending()
    raise AssertionError(f"run {run_id} never became {status}: it is {azure.get_run(run_id).status}")


# -- run states and snapshots ------------------------------------------------------------------


def test_a_run_moves_through_azures_states_one_tick_at_a_time(azure, cloud):
    run = azure.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=python_command("pass"))
    seen = [run.status]
    for _ in range(4):
        cloud.execute_pending()
        seen.append(azure.get_run(run.id).status)
    assert seen == [QUEUED, PREPARING, RUNNING, FINALIZING, COMPLETED]
    finished = azure.get_run(run.id)
    assert finished.started_at and finished.ended_at >= finished.started_at


def test_an_sdk_run_object_is_a_snapshot_until_refreshed(cloud, tmp_path):
    """What the fakes model (as azureml.core.Run reads its cached RunDto): opml has to refresh before it shows."""
    sdk = make_fake_sdk(cloud)
    workspace = sdk.Workspace("sub-1", "rg-1", "ws-1")
    config = FakeScriptRunConfig(str(tmp_path), command=python_command("pass")["command"])  # tmp_path: its snapshot
    run = sdk.Experiment(workspace, "e").submit(config)
    assert run.status == "NotStarted"  # the create call's answer; Azure has queued it since
    assert run.get_status() == "Queued" and run.status == "Queued"
    fetched = sdk.Run.get(workspace, run.id)
    cloud.execute_pending()
    assert fetched.status == "Queued"
    assert fetched.get_details()["status"] == "Preparing" and fetched.status == "Preparing"
    assert fetched._run_dto["created_utc"].endswith("Z")


def test_submit_and_cancel_show_azures_answer_not_the_objects_snapshot(azure, cloud):
    """The SDK's Run returned by submit says NotStarted and one fetched before a cancel says Running: opml shows
    what Azure says after (Queued; CancelRequested, then Canceled once Azure has stopped it)."""
    run = azure.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params=python_command("pass"))
    assert run.status == QUEUED
    tick_until(cloud, azure, run.id, RUNNING)
    assert azure.cancel_run(run.id).status == CANCEL_REQUESTED
    cloud.execute_pending()
    assert azure.get_run(run.id).status == CANCELED


def test_a_running_automl_run_has_no_model_to_register_even_with_finished_children(azure, cloud, bank_small_csv):
    """On Azure an AutoML run's children finish while it still runs: the model of a run is its best child once
    the run has completed (as locally), not the best so far."""
    run = submit_automl(azure, bank_small_csv)
    tick_until(cloud, azure, run.id, RUNNING)
    running = azure.get_run(run.id)
    assert running.progress["best_child_id"] and running.status == RUNNING
    with pytest.raises(Conflict, match="no completed model"):
        azure.register_model(name="bank-model", run_id=run.id)
    tick_until(cloud, azure, run.id, COMPLETED)
    assert azure.register_model(name="bank-model", run_id=run.id).version == 1


def test_failed_children_are_iterations_that_failed(azure, cloud, bank_small_csv):
    cloud.automl_failures = {1: "Iteration failed: out of memory"}
    run = submit_automl(azure, bank_small_csv)
    cloud.execute_all()
    finished = azure.get_run(run.id)
    assert finished.status == COMPLETED
    assert finished.progress["iterations_done"] == len(cloud.automl_scores)
    rows = leaderboard(azure, run.id)
    failed = rows[-1]
    assert (failed["iteration"], failed["status"], failed["accuracy"]) == (1, FAILED, None)
    assert "out of memory" in failed["error"]
    assert rows[0]["best"] and rows[0]["status"] == COMPLETED


def test_the_best_model_is_a_completed_iterations(azure, cloud, bank_small_csv):
    """An iteration logs its metrics as it goes, and can still fail or be canceled after: the best child is the
    best completed one (as AutoMLRun.get_best_child chooses), so registering it does not refuse a run that has
    completed ones."""
    run = submit_automl(azure, bank_small_csv)
    cloud.execute_all()
    top = azure.get_run(run.id).progress["best_child_id"]
    cloud.runs[top]._status = "Failed"  # its metrics stay logged
    progress = azure.get_run(run.id).progress
    assert progress["best_child_id"] != top and cloud.runs[progress["best_child_id"]]._status == "Completed"
    assert azure.register_model(name="bank-model", run_id=run.id).run_id == progress["best_child_id"]


# -- finding 10: listing converts only what it returns, newest created first --------------------


def test_listing_20_runs_of_5000_converts_20(azure, cloud):
    """Each conversion asks Azure for the run's details (an AutoML run also for its children and metrics):
    listing converts only the runs it returns."""
    runs = add_finished_runs(cloud, "big", 5000, created=A_MONTH_AGO)
    before = conversions(cloud)
    listed = azure.list_runs(experiment="big", limit=20)
    assert [run.id for run in listed] == [run.id for run in reversed(runs[-20:])]
    assert conversions(cloud) - before == 20


def test_runs_are_newest_created_first_across_experiments_whatever_order_azure_lists_them(azure, cloud):
    """Azure lists by start time, newest first; runs that started in another order than they were created, or
    have not started, are still listed by when they were created, across experiments."""
    base = A_MONTH_AGO
    a_runs = add_finished_runs(cloud, "a", 3, created=base)
    b_runs = add_finished_runs(cloud, "b", 3, created=base + timedelta(seconds=10))
    a_runs[0]._details["startTimeUtc"] = (base + timedelta(hours=1)).isoformat()  # the oldest started last
    newest = [*reversed(b_runs), *reversed(a_runs)]
    assert [run.id for run in azure.list_runs(limit=6)] == [run.id for run in newest]
    assert [run.id for run in azure.list_runs(limit=4)] == [run.id for run in newest[:4]]
    assert [run.created_at for run in azure.list_runs(experiment="a")] == [
        base + timedelta(seconds=second) for second in (2, 1, 0)
    ]


def test_a_queued_run_started_outside_opml_is_the_newest_with_its_creation_time(azure, cloud, pipeline_published):
    """A run Azure started (a schedule, a REST call, the studio) has no opml tag: it is dated by Azure's creation
    time, not the epoch, and listed first while it waits (it has no start time yet)."""
    add_finished_runs(cloud, "bank-rest", 3, created=A_MONTH_AGO)
    sdk = make_fake_sdk(cloud)
    workspace = sdk.Workspace("sub-1", "rg-1", "ws-1")
    queued = sdk.PublishedPipeline.get(workspace, pipeline_published.id).submit(workspace, "bank-rest")
    listed = azure.list_runs(experiment="bank-rest", limit=1)
    assert [run.id for run in listed] == [queued.id]
    assert listed[0].created_at > datetime.now(UTC) - timedelta(minutes=5) and listed[0].created_at != EPOCH
    assert azure.get_run(queued.id).created_at == listed[0].created_at


@pytest.fixture
def pipeline_published(azure, bank_small_csv):
    azure.register_dataset(name="bank", source=bank_small_csv)
    pipeline = azure.create_pipeline(name="bank-train", steps=PIPELINE_STEPS, parameters={"dataset": "bank"})
    return azure.publish_pipeline(pipeline.id, name="Bankmarketing Train")


def test_children_are_listed_newest_first_and_converted_only_when_shown(azure, cloud, azure_executor, bank_small_csv):
    run = submit_automl(azure, bank_small_csv)
    azure.wait_for_run(run.id, timeout=30)
    before = conversions(cloud)
    children = azure.list_runs(parent_id=run.id, limit=2)
    assert len(children) == 2 and children[0].created_at >= children[1].created_at
    assert conversions(cloud) - before == 2


def test_azure_lists_by_start_time_and_keeps_the_creation_time_in_the_run_object():
    """What the listing relies on, in the installed SDK: Experiment.get_runs asks for "StartTimeUtc desc", 500 runs a
    request; get_details() (RunDetailsDto) has no creation time; a Run keeps the RunDto it came with as
    ``_run_dto``, the DTO's fields by name (``ClientBase.dto_to_dictionary``), ``created_utc`` as ISO 8601 text."""
    import inspect
    from types import SimpleNamespace

    from azureml._restclient import experiment_client
    from azureml._restclient._odata.constants import ORDER_BY_STARTTIME_EXPRESSION
    from azureml._restclient.clientbase import ClientBase
    from azureml._restclient.constants import DEFAULT_PAGE_SIZE
    from azureml._restclient.models.run_details_dto import RunDetailsDto
    from azureml._restclient.models.run_dto import RunDto
    from azureml.core import Run

    from opml.backends.azure.convert import created_time

    assert ORDER_BY_STARTTIME_EXPRESSION == "StartTimeUtc desc" and DEFAULT_PAGE_SIZE == 500
    assert "else [ORDER_BY_STARTTIME_EXPRESSION]" in inspect.getsource(experiment_client.ExperimentClient.get_runs)
    assert "created_utc" in RunDto._attribute_map and "created_utc" not in RunDetailsDto._attribute_map
    assert "dto_to_dictionary" in inspect.getsource(Run._run_dto.fget)
    dto = RunDto.deserialize({"runId": "r1", "createdUtc": "2026-11-30T12:00:01.123456Z", "status": "NotStarted"})
    as_a_run_keeps_it = ClientBase.dto_to_dictionary(dto)
    assert as_a_run_keeps_it["created_utc"] == "2026-11-30T12:00:01.123456Z"
    created = created_time(SimpleNamespace(_run_dto=as_a_run_keeps_it))
    assert created == datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC)


def calls_since(cloud, before: int) -> list[str]:
    return [call for call, _ in cloud.calls[before:]]


def test_experiment_names_cost_one_listing_and_a_page_of_runs_each_not_every_run_converted(azure, cloud):
    """list_experiments was list_runs(limit=10,000): every run converted (a get_details each). The names come from
    Experiment.list, without experiments Azure keeps with no run (Experiment(ws, name) makes one) and without
    archived ones (Experiment.list's default view, whose runs list_runs does not list either)."""
    add_finished_runs(cloud, "big", 5000, created=A_MONTH_AGO)
    add_finished_runs(cloud, "small", 2, created=A_MONTH_AGO)
    add_finished_runs(cloud, "archived", 2, created=A_MONTH_AGO)
    cloud.archived_experiments.add("archived")
    sdk = make_fake_sdk(cloud)
    sdk.Experiment(sdk.Workspace("sub-1", "rg-1", "ws-1"), "empty")
    before = len(cloud.calls)
    assert azure.list_experiments() == ["big", "small"]
    calls = calls_since(cloud, before)
    assert calls.count("Experiment.list") == 1 and calls.count("Run.list") == 3  # big, small, empty
    assert conversions(cloud) == 0 and "Run.get" not in calls
    assert {run.experiment for run in azure.list_runs(limit=10_000)} == {"big", "small"}


def test_listing_the_runs_of_an_unknown_experiment_does_not_make_it(azure, cloud):
    """Experiment(ws, name) gets the experiment, and makes it when Azure has none: listing runs made one."""
    add_finished_runs(cloud, "known", 1, created=A_MONTH_AGO)
    before = len(cloud.calls)
    assert azure.list_runs(experiment="typo") == [] and azure.search_runs(experiment="typo").total == 0
    assert [run.experiment for run in azure.list_runs(experiment="known")] == ["known"]
    assert "typo" not in cloud.experiments and "Experiment" not in calls_since(cloud, before)


# -- the Runs page's search: runs checked as they were listed, only the page returned asked more of ---------

REQUESTS = ("Run.get", "Run.get_details", "Run.parent", "Run.get_children", "Run.get_metrics")


def requests_since(cloud, before: int) -> dict[str, int]:
    """Requests about single runs opml made since ``before`` (the listing's own aside), by kind."""
    calls = calls_since(cloud, before)
    return {name: calls.count(name) for name in REQUESTS if name in calls}


def test_searching_5000_runs_asks_azure_only_about_the_runs_it_returns(azure, cloud):
    """search_runs listed up to 10,000 runs with list_runs, converting each (a get_details, a parent GET, and
    an AutoML parent's children and metrics), then filtered: the Runs page does that three times a view. A
    listed run is checked as its RunDto says; only the page returned gets AutoML progress, and only runs the
    other clauses let through are asked for their metrics."""
    runs = add_finished_runs(cloud, "big", 5000, created=A_MONTH_AGO)
    for index, run in enumerate(runs):
        if index % 2:
            run.tags["owner"] = "ana"
        if index % 3 == 0:
            run._status, run._details["error"] = "Failed", {"error": {"code": "UserError", "message": "boom"}}
        if index % 100 == 97:
            run.type = "automl"  # an AutoML parent: its progress costs its children and their metrics
        run._metrics = {"accuracy": index / 5000}
    matching = [run for run in reversed(runs) if run.tags.get("owner") == "ana" and run._status == "Completed"]
    shown = matching[:20]
    automl_shown = sum(1 for run in shown if run.type == "automl")
    assert automl_shown >= 1

    before = len(cloud.calls)
    page = azure.search_runs(filter="tags.owner = 'ana'", statuses=[COMPLETED], limit=20)
    assert [run.id for run in page.runs] == [run.id for run in shown] and page.total == len(matching)
    assert all(run.progress for run in page.runs if run.run_type == "automl")
    assert requests_since(cloud, before) == {"Run.get_children": automl_shown, "Run.get_metrics": automl_shown}

    before = len(cloud.calls)
    page = azure.search_runs(filter="metrics.accuracy >= 0.5 and tags.owner = 'ana'", statuses=[COMPLETED], limit=20)
    assert [run.id for run in page.runs] == [run.id for run in shown]
    assert page.total == sum(1 for run in matching if run._metrics["accuracy"] >= 0.5)
    metric_requests = [
        args for call, args in cloud.calls[before:] if call == "Run.get_metrics" and not args["recursive"]
    ]
    assert len(metric_requests) == len(matching)  # the runs the other clauses let through, not all 5,000
    assert "Run.get_details" not in calls_since(cloud, before) and "Run.get" not in calls_since(cloud, before)


@pytest.fixture
def mixed_runs(azure, cloud, bank_small_csv):
    """Runs of each kind, in three experiments: an AutoML run with its trials (one failed), command runs that
    completed, failed, were canceled or still wait, with tags, display names and metrics."""
    cloud.automl_failures = {1: "Iteration failed: out of memory"}
    submit_automl(azure, bank_small_csv)

    def command(code: str, experiment: str, **arguments):
        params = python_command(code)
        return azure.submit_run(
            experiment=experiment, run_type="command", compute="cpu-cluster", params=params, **arguments
        )

    done = command("print(1)", "e1", tags={"owner": "ana"}, display_name="Smoke test")
    failed = command("raise SystemExit(3)", "e2", tags={"owner": "bob"})
    azure.cancel_run(command("pass", "e1", tags={"owner": "ana"}).id)
    cloud.execute_all()
    command("pass", "e2", display_name="waiting")
    cloud.runs[done.id]._metrics = {"accuracy": 0.95}
    cloud.runs[failed.id]._metrics = {"accuracy": 0.5}
    return azure


SEARCHES = [
    ({}, 5),
    ({"filter": "status = 'Failed'"}, 1),
    ({"statuses": [COMPLETED, CANCELED]}, 3),
    ({"filter": "tags.owner = 'ana'"}, 2),
    ({"filter": "tags.owner = 'ana'", "experiment": "e1", "statuses": [COMPLETED]}, 1),
    ({"filter": "params.primary_metric = 'accuracy'"}, 1),
    ({"filter": "params.algorithm = 'LightGBM'", "top_level_only": False}, 2),
    ({"filter": "metrics.accuracy > 0.9"}, 1),
    ({"filter": "metrics.accuracy > 0.9", "top_level_only": False}, 5),
    ({"filter": "metrics.accuracy < 0.9 and run_type = 'command'", "top_level_only": False}, 1),
    ({"filter": "run_type != 'command'", "top_level_only": False}, 2),  # the AutoML run and its setup child
    ({"filter": "compute = 'cpu-cluster' and created > '2000-01-01'"}, 5),
    ({"filter": "display_name ILIKE '%SMOKE%'"}, 1),
    ({"filter": "run_id LIKE 'e%'", "limit": 2, "offset": 1}, 4),
    ({"top_level_only": False, "limit": 3, "offset": 2}, 11),
]


@pytest.mark.parametrize(("arguments", "total"), SEARCHES)
def test_the_search_finds_what_checking_each_converted_run_finds(mixed_runs, arguments, total):
    """The same page (runs, their fields and an AutoML parent's progress) and total as the generic search, which
    converts every listed run with get_details before checking it."""
    from opml.backends.base import Backend
    from opml.runsearch import RunQuery, parse

    query = RunQuery(
        parse(arguments.get("filter", "")),
        arguments.get("experiment"),
        tuple(arguments.get("statuses", ())),
        arguments.get("top_level_only", True),
        arguments.get("limit", 200),
        arguments.get("offset", 0),
    )
    found = mixed_runs.search_runs(**arguments)
    assert found == Backend._search_runs(mixed_runs, query)
    assert found.total == total and found.runs


def test_a_listed_runs_parent_is_the_one_its_run_dto_names(mixed_runs, cloud):
    """The parent id is read from the RunDto a run was listed with: the SDK's ``Run.parent`` GETs the parent."""
    children = [run for run in mixed_runs.search_runs(top_level_only=False).runs if run.parent_id]
    assert children
    sdk = make_fake_sdk(cloud)
    workspace = sdk.Workspace("sub-1", "rg-1", "ws-1")
    assert all(sdk.Run.get(workspace, run.id).parent.id == run.parent_id for run in children)


def test_listing_20_pipeline_runs_of_1000_asks_azure_about_none_of_them(azure, cloud):
    """list_pipeline_runs converted every pipeline run of every experiment (a get_details each, and a GET of each
    while the SDK rehydrated the listing into PipelineRuns), then sorted: the Pipelines page does so every two
    seconds while a run is active. It takes a limit now, chooses and orders runs as listed and converts only
    those it returns, from the listing."""
    runs = add_finished_runs(cloud, "nightly", 1000, created=A_MONTH_AGO)
    for index, run in enumerate(runs):
        run.type = "azureml.PipelineRun"
        run.tags["opml_pipeline_id"] = "p-odd" if index % 2 else "p-even"
        run.properties["azureml.pipelineid"] = "published-1" if index % 4 == 1 else "published-2"
    add_finished_runs(cloud, "commands", 10, created=A_MONTH_AGO + timedelta(days=1))  # newer, not pipeline runs
    newest = list(reversed(runs))
    before = len(cloud.calls)
    assert [run.id for run in azure.list_pipeline_runs(limit=20)] == [run.id for run in newest[:20]]
    assert requests_since(cloud, before) == {}
    odd = azure.list_pipeline_runs(pipeline_id="p-odd", limit=5)
    assert [run.id for run in odd] == [run.id for run in newest if run.tags["opml_pipeline_id"] == "p-odd"][:5]
    published = azure.list_pipeline_runs(published_pipeline_id="published-1")
    assert [run.id for run in published] == [
        run.id for run in newest if run.properties["azureml.pipelineid"] == "published-1"
    ][:200]
    assert published[0].status == COMPLETED and published[0].ended_at and published[0].run_type == "pipeline"
    assert len(azure.list_pipeline_runs()) == 200 and conversions(cloud) == 0


# -- finding 9: Azure's AutoML limits ----------------------------------------------------------------


def test_a_timeout_under_azures_15_minutes_is_refused_before_anything_is_submitted(azure, cloud, bank_small_csv):
    """Azure's AutoML refuses less than 15 minutes; opml used to raise it to 15 silently while the page and the
    run's settings said 5."""
    with pytest.raises(InvalidInput, match="Azure ML's minimum is 15 minutes"):
        submit_automl(azure, bank_small_csv, experiment_timeout_minutes=5)
    with pytest.raises(InvalidInput, match="whole minutes"):
        submit_automl(azure, bank_small_csv, experiment_timeout_minutes=20.5)
    steps = [with_settings(experiment_timeout_minutes="${timeout}"), PIPELINE_STEPS[1]]
    pipeline = azure.create_pipeline(name="short", steps=steps, parameters={"dataset": "bank", "timeout": 20})
    with pytest.raises(InvalidInput, match="Azure ML's minimum is 15 minutes"):  # a value given to the run
        azure.run_pipeline(pipeline.id, experiment="short", parameters={"timeout": 5})
    assert submitted(cloud) == []
    assert submit_automl(azure, bank_small_csv, experiment_timeout_minutes=15).status == QUEUED
    assert submitted(cloud)[-1]["config"].settings["experiment_timeout_hours"] == 0.25


def with_settings(**settings) -> dict:
    """The AutoML step of ``PIPELINE_STEPS`` with these settings."""
    return {**PIPELINE_STEPS[0], "settings": {**PIPELINE_STEPS[0]["settings"], **settings}}


@pytest.mark.parametrize(
    ("settings", "parameters", "message"),
    [
        ({"experiment_timeout_minutes": 5}, {}, r"automl step 'train': .*\(Azure ML's minimum is 15 minutes\), got 5"),
        ({"experiment_timeout_minutes": "${timeout}"}, {"timeout": 14}, r"minimum is 15 minutes\), got 14"),
        ({"experiment_timeout_minutes": 20.5}, {}, "whole minutes"),
        ({"max_iterations": 1001}, {}, "max_iterations must be at most 1,000 on Azure ML"),
    ],
)
def test_a_pipeline_whose_automl_step_azure_refuses_is_refused_when_created(
    azure, bank_small_csv, settings, parameters, message
):
    """The draft (with its parameters' defaults, which publishing uses) was accepted and refused only when run or
    published; it is refused as it is created, as an AutoML run is submitted, with the same words."""
    azure.register_dataset(name="bank", source=bank_small_csv)
    steps = [with_settings(**settings), PIPELINE_STEPS[1]]
    with pytest.raises(InvalidInput, match=message):
        azure.create_pipeline(name="short", steps=steps, parameters={"dataset": "bank", **parameters})
    assert azure.list_pipelines() == []


def test_the_local_backend_takes_the_pipelines_azure_refuses(local_backend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    steps = [with_settings(experiment_timeout_minutes=5, max_iterations=1001), PIPELINE_STEPS[1]]
    assert local_backend.create_pipeline(name="short", steps=steps, parameters={"dataset": "bank"}).steps[0] == steps[0]


def test_the_backend_says_what_its_automl_takes(azure):
    from opml.backends.local import LocalBackend

    azure_limits, local_limits = azure.automl_limits, LocalBackend.automl_limits
    assert (azure_limits.min_timeout_minutes, azure_limits.max_iterations) == (15, 1000)
    assert local_limits.problems({"experiment_timeout_minutes": 1, "max_iterations": 5000}) == {}
    assert set(azure_limits.problems({"experiment_timeout_minutes": 1, "max_iterations": 5000})) == {
        "experiment_timeout_minutes",
        "max_iterations",
    }


def test_more_concurrent_iterations_than_the_cluster_has_nodes_is_noted_on_the_run(
    azure, cloud, bank_small_csv, monkeypatch, capsys
):
    """Azure runs one iteration per node of an AmlCompute cluster; the others wait for a node. Not an error
    (the local backend runs them as threads of one run), but the run says so, where its progress is shown."""
    from argparse import Namespace

    from opml.cli import automl as cli

    note = (
        "8 concurrent iterations asked, but cpu-cluster has at most 4 nodes: Azure ML runs one iteration per node, "
        "so at most 4 run at once and the others wait for a node"
    )
    run = submit_automl(azure, bank_small_csv, max_concurrent_iterations=8)
    assert run.progress["notes"] == [note]
    assert azure.get_run(run.id).progress["notes"] == [note]
    monkeypatch.setattr(cli, "backend_of", lambda args: azure)
    cli.cmd_automl_show(Namespace(run_id=run.id, json=False))
    assert f"note: {note}" in capsys.readouterr().out
    assert submitted(cloud)[-1]["config"].settings["max_concurrent_iterations"] == 8
    assert "notes" not in submit_automl(azure, bank_small_csv, max_concurrent_iterations=4).progress


REAL_AUTOML_CONFIG = textwrap.dedent(
    """
    import dataclasses, json, socket, sys
    from pathlib import Path

    attempts = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(str(host))
            raise OSError(f"this test contacts no other machine ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            attempts.append(str(address))
            raise OSError(f"this test contacts no other machine ({address})")
        return real_connect(self, address)

    socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect

    from azureml.data.abstract_dataset import _DatasetRegistration
    from azureml.data.tabular_dataset import TabularDataset
    from azureml.train.automl import AutoMLConfig
    from azureml.train.automl._azureautomlsettings import AzureAutoMLSettings

    from opml.automl.settings import automl_params, parse_settings
    from opml.backends.azure import AzureMLBackend
    from tests.azure_fakes import FakeCloud, make_fake_sdk
    from tests.azure_fixtures import write_config

    folder = Path(sys.argv[1])
    cloud = FakeCloud()
    sdk = make_fake_sdk(cloud)
    target = sdk.ComputeTarget.create(
        sdk.Workspace("sub-1", "rg-1", "ws-1"), "cpu-cluster", sdk.AmlCompute.provisioning_configuration(max_nodes=4)
    )
    sdk = dataclasses.replace(sdk, AutoMLConfig=AutoMLConfig)
    azure = AzureMLBackend(config=write_config(folder), sdk=sdk, auth=object(), state_dir=folder / "state")
    # A registered TabularDataset as Dataset.get_by_name makes it from Azure's answer (no data is read).
    registration = _DatasetRegistration(None, "saved-1", registered_id="reg-1", name="bank", version=1)
    dataset = TabularDataset._create(definition="paths: []", properties={}, registration=registration)

    def submitted_settings(params):
        config = azure.runs.automl_config(params, target, dataset)
        config._validate_config_settings(None)  # what Experiment.submit checks first (no workspace: no lookup)
        fit = config._get_fit_params()
        return AzureAutoMLSettings(**{k: v for k, v in config.user_settings.items() if k not in fit})

    results = {}
    for name, arguments in json.loads(sys.argv[2]).items():
        params = {**parse_settings(automl_params(**arguments)).to_params(), "dataset_version": 1}
        try:
            settings = submitted_settings(params)
            results[name] = {
                "timeout": settings.experiment_timeout_minutes,
                "iterations": settings.iterations,
                "concurrent": settings.max_concurrent_iterations,
                "allowed": settings.whitelist_models,
                "blocked": settings.blacklist_algos,
                "cv": settings.n_cross_validations,
                "validation": settings.validation_size,
                "metric": settings.primary_metric,
                "task": settings.task_type,
            }
        except Exception as exc:
            results[name] = {"refused": f"{type(exc).__name__}: {exc}"}
    # What Azure's own validation says of 14 minutes (opml refuses it before the SDK is asked).
    config = azure.runs.automl_config({**params, "experiment_timeout_minutes": 15}, target, dataset)
    fit = config._get_fit_params()
    try:
        AzureAutoMLSettings(
            **{**{k: v for k, v in config.user_settings.items() if k not in fit}, "experiment_timeout_minutes": 14}
        )
    except Exception as exc:
        results["azure_minimum"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"results": results, "attempts": attempts}))
    """
)


def test_opmls_automl_arguments_pass_the_real_sdks_validation(tmp_path):
    """The real AutoMLConfig checks its arguments on this machine (Experiment.submit runs
    ``_validate_config_settings`` and builds ``AzureAutoMLSettings``, which refuses out-of-range values): opml's
    arguments pass it for either task (a regression run's metric and model names are Azure's regression ones), and
    it keeps the timeout opml asked (123 / 60 hours came back as 122 minutes, since the SDK truncates
    ``hours * 60``). Its training data is a real TabularDataset as Azure's answer makes one; the compute is the
    fake (a real AmlCompute is fetched from the workspace). In its own process, with the SDK's telemetry off
    (``HBI_WORKSPACE_JOB``, as for a high-business-impact workspace) and every connection other than loopback
    refused and reported."""
    from azureml.automl.core.automl_base_settings import AutoMLBaseSettings

    cases = {
        "defaults": {"dataset": "bank", "label_column": "y"},
        "every_choice": {
            "dataset": "bank",
            "label_column": "y",
            "primary_metric": "AUC_weighted",
            "timeout_minutes": 123,
            "max_iterations": 1000,
            "max_concurrent_iterations": 8,
            "validation_size": 0.2,
            "allowed_algorithms": ["LightGBM", "XGBoostClassifier", "ExtremeRandomTrees", "RandomForest"],
            "blocked_algorithms": ["LogisticRegression"],
            "ensembles": False,
        },
        "minimum": {
            "dataset": "bank",
            "label_column": "y",
            "timeout_minutes": 15,
            "primary_metric": "norm_macro_recall",
        },
        "regression": {
            "dataset": "bank",
            "label_column": "duration",
            "task": "regression",
            "primary_metric": "normalized_root_mean_squared_error",
            "allowed_algorithms": ["XGBoostRegressor", "ElasticNet", "LightGBM", "ExtremeRandomTrees"],
            "blocked_algorithms": ["ExtremeRandomTrees"],
            "n_cross_validations": 3,
        },
        "regression_defaults": {"dataset": "bank", "label_column": "duration", "task": "regression"},
    }
    result = subprocess.run(
        [sys.executable, "-c", REAL_AUTOML_CONFIG, str(tmp_path), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # AutoMLConfig's settings write automl.log into the working folder
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HBI_WORKSPACE_JOB": "true",
            "HOME": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["attempts"] == []
    results = answer["results"]
    assert results["defaults"] == {
        "timeout": 15,
        "iterations": 100,
        "concurrent": 1,
        "allowed": None,
        "blocked": None,
        "cv": 5,
        "validation": 0.0,
        "metric": "accuracy",
        "task": "classification",
    }
    every = results["every_choice"]
    assert (every["timeout"], every["iterations"], every["concurrent"]) == (123, 1000, 8)
    assert sorted(every["allowed"]) == ["ExtremeRandomTrees", "LightGBM", "RandomForest", "XGBoostClassifier"]
    assert (every["blocked"], every["cv"], every["validation"], every["metric"]) == (
        ["LogisticRegression"],
        None,
        0.2,
        "AUC_weighted",
    )
    assert results["minimum"]["timeout"] == AutoMLBaseSettings.MIN_EXPTIMEOUT_MINUTES == 15
    regression = results["regression"]  # Azure's regression metric and model names, kept as opml sent them
    assert (regression["task"], regression["metric"], regression["cv"]) == (
        "regression",
        "normalized_root_mean_squared_error",
        3,
    )
    assert sorted(regression["allowed"]) == ["ElasticNet", "ExtremeRandomTrees", "LightGBM", "XGBoostRegressor"]
    assert regression["blocked"] == ["ExtremeRandomTrees"]
    assert results["regression_defaults"]["metric"] == "spearman_correlation"  # opml's default is AutoMLConfig's
    assert results["regression_defaults"]["task"] == "regression"
    assert "experiment_timeout_hours" in results["azure_minimum"] and "0.25" in results["azure_minimum"]
