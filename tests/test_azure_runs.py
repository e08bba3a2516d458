"""Azure ML runs over the SDK fakes, as Azure has them: states that change one tick at a time
(``FakeCloud.execute_pending``) and ``Run`` objects that are snapshots until refreshed."""

from __future__ import annotations

import pytest

from opml.entities import CANCEL_REQUESTED, CANCELED, COMPLETED, FAILED, FINALIZING, PREPARING, QUEUED, RUNNING
from opml.errors import Conflict
from opml.leaderboard import leaderboard
from tests.azure_fakes import FakeScriptRunConfig, make_fake_sdk
from tests.azure_fixtures import submit_automl
from tests.contract import python_command


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


def test_an_sdk_run_object_is_a_snapshot_until_refreshed(cloud):
    """What the fakes model (as azureml.core.Run reads its cached RunDto): opml has to refresh before it shows."""
    sdk = make_fake_sdk(cloud)
    workspace = sdk.Workspace("sub-1", "rg-1", "ws-1")
    config = FakeScriptRunConfig(".", command=python_command("pass")["command"])
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


def test_failed_children_are_iterations_that_failed(azure, cloud, azure_executor, bank_small_csv):
    cloud.automl_failures = {1: "Iteration failed: out of memory"}
    run = submit_automl(azure, bank_small_csv)
    finished = azure.wait_for_run(run.id, timeout=30)
    assert finished.progress["iterations_done"] == len(cloud.automl_scores)
    rows = leaderboard(azure, run.id)
    failed = rows[-1]
    assert (failed["iteration"], failed["status"], failed["accuracy"]) == (1, FAILED, None)
    assert "out of memory" in failed["error"]
    assert rows[0]["best"] and rows[0]["status"] == COMPLETED
