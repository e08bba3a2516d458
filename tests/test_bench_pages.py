"""The page benchmark's workspace filler (runs a real backend reads, as a run process writes them) and the
benchmark end to end on a small workspace; no timings are asserted (they are the benchmark's output)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from opml.automl.names import all_metrics
from opml.backends.local import LocalBackend
from opml.bench import pages
from opml.leaderboard import leaderboard

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def filled(local_backend: LocalBackend) -> pages.Filled:
    # Run 7 of 9 is a failed run, run 8 (the newest) is running, the others completed.
    return pages.fill_workspace(local_backend, runs=9, children=6)


def test_the_filler_makes_the_runs_and_children_asked(local_backend: LocalBackend, filled: pages.Filled):
    runs = local_backend.list_automl_runs()
    assert [r.id for r in runs] == filled.runs and len(runs) == 9
    assert [r.status for r in runs] == ["Running", "Failed", *["Completed"] * 7]
    assert {r.params["task"] for r in runs} == {"classification", "regression"}
    assert filled.running == runs[0].id and filled.completed == runs[2].id
    assert local_backend.runs.count(top_level_only=False) == 9 + 7 * 6 + 4 + 3
    for run in runs[2:]:
        rows = leaderboard(local_backend, run.id)
        assert len(rows) == 6 and rows[0]["best"] and rows[0]["run_id"] == run.progress["best_child_id"]
        assert {r["algorithm"] for r in rows} >= {"VotingEnsemble", "StackEnsemble", "LightGBM"}
        completed = [r for r in rows if r["status"] == "Completed"]
        task = run.params["task"]
        assert all(r[m] is not None for r in completed for m in all_metrics(task))
        assert (
            local_backend.get_run_metrics(run.id)[run.params["primary_metric"]] == rows[0][run.params["primary_metric"]]
        )
        details = local_backend.get_run_output(rows[0]["run_id"], "details.json")
        curves = details["curves"]
        assert details["spec"]["members"]
        assert curves["roc"]["yes"]["fpr"] if task == "classification" else curves["residuals"]["counts"]
        assert local_backend.get_run_output(run.id, "guardrails.json")
    running = local_backend.list_runs(parent_id=filled.running)
    assert len(running) == 3 and sorted(r.status for r in running) == ["Completed", "Completed", "Running"]
    assert all(r.is_terminal for r in local_backend.list_runs(parent_id=runs[1].id))
    assert runs[2].params["dataset"] == "bank" and local_backend.get_dataset("bank").rows == 2_000


def test_the_automl_page_shows_a_run_whose_primary_metric_is_auc(local_backend: LocalBackend, filled):
    auc_run = next(
        r for r in local_backend.list_automl_runs() if r.params["primary_metric"] == "AUC_weighted" and r.is_terminal
    )
    at = AppTest.from_file(str(REPO / "pages/automl.py"), default_timeout=30)
    at.session_state["automl_run"] = auc_run.id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.metric[2].label == "Best AUC_weighted"
    children = next(df.value for df in at.dataframe if "iteration" in df.value.columns)
    assert len(children) == 6 and list(children.columns).count("AUC_weighted") == 1


def bench_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pages.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_benchmark_renders_every_page_and_fails_over_the_limit(workspace: Path, capsys):
    base = ("--workspace", str(workspace), "--runs", "3", "--children", "4", "--rounds", "1")
    assert pages.run(bench_args(*base, "--fail-over-ms", "1e9")) == 0
    out = capsys.readouterr().out
    assert "filled" in out and "13 runs in all" in out and "worst:" in out and "error" not in out
    table = out[out.index("cold ms") :]
    for case in pages.cases(pages.existing_runs(LocalBackend(workspace))):
        assert f"\n{case.name} " in table
    assert pages.run(bench_args(*base, "--fail-over-ms", "0.000001")) == 1  # the same workspace, as it is
    out = capsys.readouterr().out
    assert "its 3 AutoML runs as they are" in out and "leaderboard: 4-child run" in out.splitlines()[-1]
