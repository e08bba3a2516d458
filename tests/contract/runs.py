"""Runs: queued at once, executed asynchronously, with their logs, metrics and outputs; run search."""

from __future__ import annotations

import pytest

from opml.entities import CANCELED, COMPLETED, FAILED, QUEUED
from opml.errors import InvalidInput, NotFound, OperationTimeout
from tests.contract.fixtures import ContractFixtures, ids, python_command


def submit(backend, code: str = "pass", **arguments):
    """Submit a command run of ``python -c code`` (arguments override experiment, compute, params, ...)."""
    defaults = {"experiment": "e", "run_type": "command", "compute": "cpu-cluster", "params": python_command(code)}
    return backend.submit_run(**{**defaults, **arguments})


class RunContract(ContractFixtures):
    def test_submit_run_is_queued_at_once(self, backend):
        run = submit(backend, experiment="exp")
        assert run.status == QUEUED and run.experiment == "exp" and run.parent_id is None
        assert backend.get_run(run.id) == run
        assert [r.id for r in backend.list_runs(experiment="exp")] == [run.id]
        assert backend.list_experiments() == ["exp"]

    def test_submitted_run_keeps_its_settings(self, backend):
        run = submit(backend, tags={"team": "ops"}, display_name="smoke test")
        assert (run.run_type, run.compute, run.display_name) == ("command", "cpu-cluster", "smoke test")
        assert run.params["command"] == python_command("pass")["command"]
        assert run.tags == {"team": "ops"}
        assert backend.get_run(run.id).display_name == "smoke test"

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"run_type": "nope"}, "unknown run type"),
            ({"compute": "missing"}, "no compute"),
            ({"experiment": "../x"}, "experiment name"),
            ({"params": {"command": []}}, "command"),
            ({"params": {"command": "x", "bogus": 1}}, "bogus"),
            ({"tags": ["not", "a", "mapping"]}, "tags"),
        ],
    )
    def test_bad_submission_queues_nothing(self, backend, kwargs, message):
        with pytest.raises((InvalidInput, NotFound), match=message):
            submit(backend, **kwargs)
        assert backend.list_runs() == []

    def test_list_runs_is_newest_first_and_limited(self, backend):
        first = submit(backend, experiment="a")
        second = submit(backend, experiment="b")
        third = submit(backend, experiment="a")
        assert ids(backend.list_runs()) == [third.id, second.id, first.id]
        assert ids(backend.list_runs(limit=2)) == [third.id, second.id]
        assert ids(backend.list_runs(experiment="a")) == [third.id, first.id]
        assert backend.list_experiments() == ["a", "b"]

    def test_cancel_queued_run_is_immediate_and_idempotent(self, backend):
        run = submit(backend)
        assert backend.cancel_run(run.id).status == CANCELED
        assert backend.cancel_run(run.id).status == CANCELED
        assert backend.get_run(run.id).status == CANCELED

    def test_unknown_run_is_not_found(self, backend):
        for operation in (backend.get_run, backend.cancel_run, backend.read_run_log, backend.get_run_metrics):
            with pytest.raises(NotFound):
                operation("nope")
        with pytest.raises(NotFound):
            backend.get_run_output("nope", "details.json")

    def test_queued_run_has_no_log_metrics_or_outputs_yet(self, backend):
        run = submit(backend)
        assert backend.read_run_log(run.id) == ("", 0)
        assert backend.get_run_metrics(run.id) == {}
        assert backend.get_run_output(run.id, "details.json") is None

    @pytest.mark.parametrize("name", ["../details.json", "a/details.json", ".details.json", "details.txt", ""])
    def test_run_outputs_are_named_json_files(self, backend, name):
        run = submit(backend)
        with pytest.raises(InvalidInput, match="JSON output"):
            backend.get_run_output(run.id, name)

    def test_waiting_for_a_queued_run_times_out(self, backend):
        run = submit(backend)
        with pytest.raises(OperationTimeout, match="Queued"):
            backend.wait_for_run(run.id, timeout=0.2, poll_seconds=0.05)

    def test_run_completes_and_its_log_is_kept(self, backend, executor):
        run = submit(backend, "print('hello from run')")
        finished = backend.wait_for_run(run.id, timeout=60)
        assert finished.status == COMPLETED, finished.error
        assert finished.started_at and finished.ended_at and finished.ended_at >= finished.started_at
        text, offset = backend.read_run_log(run.id)
        assert "hello from run" in text and offset == len(text.encode())
        assert backend.read_run_log(run.id, offset=offset) == ("", offset)
        assert backend.read_run_log(run.id, max_bytes=5) == (text.encode()[:5].decode(), 5)
        assert backend.read_run_log(run.id, offset=5) == (text.encode()[5:].decode(), offset)
        assert backend.cancel_run(run.id).status == COMPLETED

    def test_failing_run_is_failed_with_reason(self, backend, executor):
        run = submit(backend, "raise SystemExit(3)")
        finished = backend.wait_for_run(run.id, timeout=60)
        assert finished.status == FAILED
        assert "code 3" in finished.error

    # -- AutoML runs and their children -------------------------------------------------

    def test_automl_run_lists_its_children_and_their_metrics(self, model_runs):
        backend, automl_run, other_run = model_runs
        parent = backend.get_run(automl_run)
        children = backend.list_runs(parent_id=automl_run)
        assert other_run in ids(children) and {c.parent_id for c in children} == {automl_run}
        assert [c.created_at for c in children] == sorted((c.created_at for c in children), reverse=True)
        assert len(backend.list_runs(parent_id=automl_run, limit=2)) == 2
        top = ids(backend.list_runs(top_level_only=True))
        assert automl_run in top and other_run not in top
        assert parent.experiment in backend.list_experiments()
        primary = parent.progress["primary_metric"]
        assert isinstance(backend.get_run_metrics(parent.progress["best_child_id"])[primary], float)

    def test_automl_runs_are_listed_for_the_leaderboard(self, model_runs):
        backend, automl_run, _ = model_runs
        command = submit(backend)
        listed = backend.list_automl_runs()
        assert automl_run in ids(listed) and command.id not in ids(listed)
        assert {run.run_type for run in listed} <= {"automl", "pipeline_step"}

    # -- AutoML tasks -----------------------------------------------------------------------

    @pytest.fixture
    def task_tables(self, backend, tmp_path):
        """A registered table of 120 rows with a price (a quantity), a grade (3 classes), a rare class, a
        text code and 150 distinct whole numbers."""
        rows = ["size,kind,price,grade,rare,code,count"]
        for i in range(120):
            rare = "odd" if i == 0 else ("a" if i % 2 else "b")
            rows.append(
                f"{i % 17 + 0.5},{'xyz'[i % 3]},{100 + 3.5 * i},{['low', 'mid', 'high'][i % 3]},{rare},c{i},{i}"
            )
        path = tmp_path / "prices.csv"
        path.write_text("\n".join(rows) + "\n")
        backend.register_dataset(name="prices", source=path)
        return backend

    def _automl(self, backend, **params):
        settings = {"dataset": "prices", "experiment_timeout_minutes": 20, **params}
        return backend.submit_run(experiment="tasks", run_type="automl", compute="cpu-cluster", params=settings)

    def test_automl_runs_of_each_task_keep_their_task_and_metric(self, task_tables):
        regression = self._automl(task_tables, label_column="price", task="regression")
        assert regression.status == QUEUED and regression.params["task"] == "regression"
        assert regression.params["primary_metric"] == "spearman_correlation"  # the task's default, as on Azure
        ranked = self._automl(task_tables, label_column="price", task="regression", primary_metric="r2_score")
        assert task_tables.get_run(ranked.id).params["primary_metric"] == "r2_score"
        multiclass = self._automl(task_tables, label_column="grade", primary_metric="AUC_weighted")
        assert multiclass.params["task"] == "classification"
        assert multiclass.params["primary_metric"] == "AUC_weighted"

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"label_column": "code", "task": "regression"}, "text values"),
            ({"label_column": "count", "task": "classification"}, "choose the task 'regression'"),
            ({"label_column": "code", "task": "classification"}, "identifier"),
            ({"label_column": "rare", "task": "classification"}, "fewer than the 5"),
            ({"label_column": "price", "task": "regression", "primary_metric": "accuracy"}, "classification metric"),
            ({"label_column": "grade", "primary_metric": "r2_score"}, "regression metric"),
            ({"label_column": "price", "task": "regression", "allowed_algorithms": ["LogisticRegression"]}, "not regr"),
            ({"label_column": "price", "task": "ranking"}, "not supported"),
        ],
    )
    def test_automl_runs_a_task_cannot_learn_queue_nothing(self, task_tables, params, message):
        with pytest.raises(InvalidInput, match=message):
            self._automl(task_tables, **params)
        assert task_tables.list_runs() == []

    # -- run search -----------------------------------------------------------------------

    def test_search_runs_filters_pages_and_counts(self, backend):
        for index in range(5):
            submit(backend, f"print({index})", experiment="a" if index % 2 else "b")
        cancelled = backend.list_runs(experiment="b")[0]
        backend.cancel_run(cancelled.id)
        assert backend.search_runs().total == 5
        assert {r.experiment for r in backend.search_runs(experiment="a").runs} == {"a"}
        assert [r.id for r in backend.search_runs(statuses=[CANCELED]).runs] == [cancelled.id]
        assert backend.search_runs(filter="status = 'Queued' and experiment = 'b'").total == 2
        assert backend.search_runs(filter=f"run_id LIKE '%{cancelled.id[-8:]}'").runs[0].id == cancelled.id
        pages = [backend.search_runs(limit=2, offset=offset) for offset in (0, 2, 4)]
        assert [len(p.runs) for p in pages] == [2, 2, 1] and {p.total for p in pages} == {5}
        assert [r.id for p in pages for r in p.runs] == [r.id for r in backend.list_runs()]
        with pytest.raises(InvalidInput, match="unknown run attribute"):
            backend.search_runs(filter="colour = 'red'")

    @pytest.mark.parametrize(
        "arguments",
        [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"statuses": ["Bogus"]}, {"statuses": "Queued"}],
    )
    def test_search_runs_refuses_bad_arguments(self, backend, arguments):
        with pytest.raises(InvalidInput):
            backend.search_runs(**arguments)
