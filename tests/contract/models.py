"""The model registry: versions registered from AutoML runs, their files, aliases, references and deletion."""

from __future__ import annotations

import pytest

from opml.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from opml.models.artifact import TamperedModel
from tests.contract.fixtures import ContractFixtures, python_command


class ModelContract(ContractFixtures):
    def test_registering_an_automl_run_registers_its_best_child(self, model_runs):
        backend, automl_run, _ = model_runs
        parent = backend.get_run(automl_run)
        best, primary = parent.progress["best_child_id"], parent.progress["primary_metric"]
        model = backend.register_model(name="bank-model", run_id=automl_run, description="first", tags={"a": "1"})
        assert (model.id, model.run_id, model.primary_metric, model.aliases) == ("bank-model:1", best, primary, ())
        assert model.description == "first" and model.tags == {"a": "1"}
        assert model.metrics[primary] == pytest.approx(backend.get_run_metrics(best)[primary])
        assert backend.get_model("bank-model") == model
        assert backend.get_model("bank-model", 1) == model
        assert [m.id for m in backend.list_models()] == ["bank-model:1"]
        assert backend.list_models("other") == []
        assert backend.describe().counts["models"] == 1

    def test_registering_the_same_model_again(self, model_runs, capabilities):
        backend, automl_run, _ = model_runs
        first = backend.register_model(name="bank-model", run_id=automl_run)
        again = backend.register_model(name="bank-model", run_id=automl_run)
        if capabilities.models_idempotent_on_content:
            assert again == first
            assert [m.version for m in backend.list_models("bank-model")] == [1]
        else:
            assert again.version == 2 and again.run_id == first.run_id
            assert [m.version for m in backend.list_models("bank-model")] == [2, 1]

    def test_bad_registrations_register_nothing(self, backend):
        queued = backend.submit_run(
            experiment="e", run_type="command", compute="cpu-cluster", params=python_command("pass")
        )
        with pytest.raises(NotFound):
            backend.register_model(name="m", run_id="nope")
        with pytest.raises(Conflict):
            backend.register_model(name="m", run_id=queued.id)
        with pytest.raises(InvalidInput):
            backend.register_model(name="../m", run_id=queued.id)
        assert backend.list_models() == []

    def test_unknown_model_is_not_found(self, backend):
        for operation in (backend.get_model, backend.download_model, backend.resolve_model):
            with pytest.raises(NotFound):
                operation("nope")
        with pytest.raises(NotFound):
            backend.delete_model("nope", 1)
        with pytest.raises(NotFound):
            backend.resolve_model("nope:1")
        assert backend.list_models("nope") == []

    @pytest.mark.parametrize(
        ("reference", "message"), [("", "name a model"), ("m:x", "whole number"), ("m:", "whole number")]
    )
    def test_bad_model_references_are_invalid(self, backend, reference, message):
        with pytest.raises(InvalidInput, match=message):
            backend.resolve_model(reference)

    def test_download_model_gives_its_file(self, registered_model):
        path = registered_model.download_model("bank-model")
        assert path.name == "model.pkl" and path.stat().st_size > 0
        assert registered_model.download_model("bank-model", 1).read_bytes() == path.read_bytes()
        with pytest.raises(NotFound):
            registered_model.download_model("bank-model", 9)

    def test_load_model(self, registered_model, capabilities):
        backend = registered_model
        if capabilities.loads_models:
            model = backend.load_model("bank-model")
            rows = backend.load_dataset("bank", nrows=5).drop(columns=["y"])
            assert set(model.predict(rows)) <= {"yes", "no"} and len(model.predict(rows)) == 5
            with pytest.raises(NotFound):
                backend.load_model("bank-model", 9)
            with backend.download_model("bank-model").open("ab") as handle:
                handle.write(b"tampered")
            with pytest.raises(TamperedModel):
                backend.load_model("bank-model")
        else:
            with pytest.raises(BackendUnavailable):
                backend.load_model("bank-model")

    # -- aliases --------------------------------------------------------------------------

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
            backend.delete_model_alias("m", "challenger")
        with pytest.raises(NotFound):
            backend.resolve_model("m@challenger")
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
        with pytest.raises(NotFound):
            backend.get_model("m", 2)
        with pytest.raises(NotFound):
            backend.delete_model("m", 2)
        assert backend.resolve_model("m").version == 1
