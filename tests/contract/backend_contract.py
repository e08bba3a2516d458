"""The Backend contract: every backend passes this suite.

A backend's test module subclasses ``BackendContract`` and provides three
fixtures: ``backend`` (a fresh, empty workspace), ``executor`` (whatever
makes queued runs execute: for the local backend, a real agent process) and
``model_runs`` (a workspace with a finished AutoML run: the backend and two
run ids whose models differ).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from opml.entities import CANCELED, COMPLETED, FAILED, QUEUED
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound


def python_command(code: str) -> dict:
    return {"command": [sys.executable, "-c", code]}


class BackendContract:
    # -- workspace -------------------------------------------------------------------

    def test_describe_counts_objects(self, backend, bank_small_csv: Path):
        before = backend.describe()
        backend.register_dataset(name="bank", source=bank_small_csv)
        after = backend.describe()
        assert after.backend == backend.kind
        assert after.counts["datasets"] == before.counts["datasets"] + 1

    # -- datasets --------------------------------------------------------------------

    def test_register_dataset_returns_version_one_with_shape(self, backend, bank_small_csv: Path):
        dataset = backend.register_dataset(name="bank", source=bank_small_csv, description="calls", tags={"a": "1"})
        assert (dataset.name, dataset.version, dataset.rows) == ("bank", 1, 2000)
        assert dataset.columns[0] == "age" and dataset.columns[-1] == "y"
        assert dataset.description == "calls" and dataset.tags == {"a": "1"}
        assert len(dataset.sha256) == 64

    def test_same_content_same_version_changed_content_new_version(self, backend, bank_small_csv: Path, tmp_path):
        first = backend.register_dataset(name="bank", source=bank_small_csv)
        again = backend.register_dataset(name="bank", source=bank_small_csv.read_bytes(), filename="x.csv")
        assert again.version == first.version and again.sha256 == first.sha256
        changed = tmp_path / "changed.csv"
        changed.write_text("".join(bank_small_csv.read_text().splitlines(keepends=True)[:1001]))
        second = backend.register_dataset(name="bank", source=changed)
        assert second.version == 2 and second.rows == 1000
        assert [d.version for d in backend.list_dataset_versions("bank")] == [2, 1]
        assert backend.get_dataset("bank").version == 2
        assert backend.get_dataset("bank", 1).rows == 2000

    def test_load_dataset_gives_typed_frame(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        frame = backend.load_dataset("bank")
        expected = pd.read_csv(bank_small_csv)
        assert frame.shape == expected.shape
        assert pd.api.types.is_numeric_dtype(frame["emp.var.rate"])
        assert not pd.api.types.is_numeric_dtype(frame["job"])
        assert backend.load_dataset("bank", nrows=5).shape == (5, expected.shape[1])

    def test_profile_counts_class_balance(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        profile = backend.get_dataset_profile("bank")
        expected = pd.read_csv(bank_small_csv)
        assert profile.rows == len(expected)
        label = profile.column("y")
        assert label.dtype == "categorical"
        assert label.top_values == expected["y"].value_counts().to_dict()
        age = profile.column("age")
        assert age.dtype == "numeric" and age.min == expected["age"].min() and age.max == expected["age"].max()
        assert sum(age.histogram[1]) == len(expected)

    def test_list_datasets_shows_latest_of_each(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="a", source=bank_small_csv)
        backend.register_dataset(name="b", source=bank_small_csv)
        assert sorted(d.name for d in backend.list_datasets()) == ["a", "b"]

    def test_unknown_dataset_is_not_found(self, backend):
        with pytest.raises(NotFound):
            backend.get_dataset("nope")
        with pytest.raises(NotFound):
            backend.load_dataset("nope")

    def test_bad_dataset_registers_nothing(self, backend, tmp_path):
        empty = tmp_path / "empty.csv"
        empty.write_bytes(b"")
        with pytest.raises(InvalidInput, match="empty"):
            backend.register_dataset(name="bad", source=empty)
        assert backend.list_datasets() == []

    # -- computes --------------------------------------------------------------------

    def test_default_compute_exists(self, backend):
        assert "cpu-cluster" in [c.name for c in backend.list_computes()]

    def test_create_get_delete_compute(self, backend):
        created = backend.create_compute(name="big", max_nodes=4)
        assert created.max_nodes == 4 and created.active_runs == 0
        assert backend.get_compute("big").name == "big"
        with pytest.raises(AlreadyExists):
            backend.create_compute(name="big", max_nodes=1)
        backend.delete_compute("big")
        with pytest.raises(NotFound):
            backend.get_compute("big")

    @pytest.mark.parametrize("max_nodes", [0, -1, 65, 1.5, "2", True])
    def test_compute_rejects_bad_max_nodes(self, backend, max_nodes):
        with pytest.raises(InvalidInput, match="max_nodes"):
            backend.create_compute(name="c1", max_nodes=max_nodes)

    def test_compute_with_queued_runs_cannot_be_deleted(self, backend):
        backend.create_compute(name="busy", max_nodes=1)
        backend.submit_run(experiment="e", run_type="command", compute="busy", params=python_command("pass"))
        with pytest.raises(Conflict):
            backend.delete_compute("busy")

    # -- runs ------------------------------------------------------------------------

    def test_submit_run_is_queued_at_once(self, backend):
        run = backend.submit_run(
            experiment="exp", run_type="command", compute="cpu-cluster", params=python_command("pass")
        )
        assert run.status == QUEUED and run.experiment == "exp" and run.parent_id is None
        assert backend.get_run(run.id) == run
        assert [r.id for r in backend.list_runs(experiment="exp")] == [run.id]
        assert backend.list_experiments() == ["exp"]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"run_type": "nope"}, "unknown run type"),
            ({"compute": "missing"}, "no compute"),
            ({"experiment": "../x"}, "experiment name"),
            ({"params": {"command": []}}, "command"),
            ({"params": {"command": "x", "bogus": 1}}, "bogus"),
        ],
    )
    def test_bad_submission_queues_nothing(self, backend, kwargs, message):
        arguments = {
            "experiment": "exp",
            "run_type": "command",
            "compute": "cpu-cluster",
            "params": python_command("pass"),
        }
        with pytest.raises((InvalidInput, NotFound), match=message):
            backend.submit_run(**{**arguments, **kwargs})
        assert backend.list_runs() == []

    def test_cancel_queued_run_is_immediate_and_idempotent(self, backend):
        run = backend.submit_run(
            experiment="e", run_type="command", compute="cpu-cluster", params=python_command("pass")
        )
        assert backend.cancel_run(run.id).status == CANCELED
        assert backend.cancel_run(run.id).status == CANCELED

    def test_unknown_run_is_not_found(self, backend):
        with pytest.raises(NotFound):
            backend.get_run("nope")
        with pytest.raises(NotFound):
            backend.cancel_run("nope")

    def test_run_completes_and_its_log_is_kept(self, backend, executor):
        run = backend.submit_run(
            experiment="e", run_type="command", compute="cpu-cluster", params=python_command("print('hello from run')")
        )
        finished = backend.wait_for_run(run.id, timeout=60)
        assert finished.status == COMPLETED, finished.error
        assert finished.started_at and finished.ended_at and finished.ended_at >= finished.started_at
        text, offset = backend.read_run_log(run.id)
        assert "hello from run" in text and offset == len(text.encode())

    def test_failing_run_is_failed_with_reason(self, backend, executor):
        run = backend.submit_run(
            experiment="e", run_type="command", compute="cpu-cluster", params=python_command("raise SystemExit(3)")
        )
        finished = backend.wait_for_run(run.id, timeout=60)
        assert finished.status == FAILED
        assert "code 3" in finished.error

    # -- run search ------------------------------------------------------------------

    def test_search_runs_filters_pages_and_counts(self, backend):
        for index in range(5):
            backend.submit_run(
                experiment="a" if index % 2 else "b",
                run_type="command",
                compute="cpu-cluster",
                params=python_command(f"print({index})"),
            )
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

    # -- model aliases ---------------------------------------------------------------

    def test_aliases_move_between_versions_with_their_history(self, model_runs):
        backend, best_run, other_run = model_runs
        first = backend.register_model(name="m", run_id=best_run)
        second = backend.register_model(name="m", run_id=other_run)
        assert (first.version, second.version, first.aliases) == (1, 2, ())
        assert backend.set_model_alias("m", "champion", 1, actor="ana").aliases == ("champion",)
        backend.set_model_alias("m", "challenger", 2, actor="ana")
        moved = backend.set_model_alias("m", "champion", 2, actor="bob")
        assert moved.aliases == ("challenger", "champion") and backend.get_model("m", 1).aliases == ()
        assert backend.get_model_by_alias("m", "champion").version == 2
        assert backend.resolve_model("m@champion").version == 2 and backend.resolve_model("m:1").version == 1
        assert backend.resolve_model("m").version == 2
        backend.delete_model_alias("m", "challenger", actor="bob")
        history = [(c.alias, c.version, c.previous_version, c.actor) for c in backend.list_model_alias_history("m")]
        assert history == [
            ("challenger", None, 2, "bob"),
            ("champion", 2, 1, "bob"),
            ("challenger", 2, None, "ana"),
            ("champion", 1, None, "ana"),
        ]
        with pytest.raises(NotFound, match="no alias 'challenger'"):
            backend.get_model_by_alias("m", "challenger")
        with pytest.raises(NotFound):
            backend.set_model_alias("m", "champion", 9)
        with pytest.raises(InvalidInput, match="would read as a version"):
            backend.set_model_alias("m", "latest", 1)
        for version in (1.9, True, "1", None, 2**70):
            with pytest.raises(InvalidInput, match="version must be a whole number"):
                backend.set_model_alias("m", "champion", version)
        with pytest.raises(InvalidInput, match="an alias is a name"):
            backend.set_model_alias("m", 5, 1)
        with pytest.raises(NotFound, match=r"no model '?nope"):
            backend.get_model_by_alias("nope", "champion")
        with pytest.raises(NotFound, match=r"no model '?nope"):
            backend.list_model_alias_history("nope")
        with pytest.raises(InvalidInput, match="whole number"):
            backend.resolve_model("m:²")

    def test_a_version_holding_an_alias_is_not_deleted(self, model_runs):
        backend, best_run, other_run = model_runs
        backend.register_model(name="m", run_id=best_run)
        backend.register_model(name="m", run_id=other_run)
        backend.set_model_alias("m", "champion", 1)
        with pytest.raises(Conflict, match="holds alias"):
            backend.delete_model("m", 1)
        backend.delete_model("m", 2)
        assert [m.version for m in backend.list_models("m")] == [1]
