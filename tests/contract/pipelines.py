"""Pipelines: definitions, their runs, publishing behind a REST endpoint, enabling and triggering."""

from __future__ import annotations

import json

import pytest

from opml.entities import ACTIVE, DISABLED, QUEUED
from opml.errors import Conflict, InvalidInput, NotFound
from tests.contract.fixtures import TRAINING_STEPS, ContractFixtures, ids, python_command

TRAIN, REGISTER = TRAINING_STEPS


class PipelineContract(ContractFixtures):
    def test_pipeline_is_read_back_and_listed_newest_first(self, backend, pipeline):
        assert (pipeline.name, pipeline.description, pipeline.compute) == ("bank-train", "train", "cpu-cluster")
        assert pipeline.parameters == {"dataset": "bank"}
        assert [step["name"] for step in pipeline.steps] == ["train", "register"]
        assert backend.get_pipeline(pipeline.id) == pipeline
        other = backend.create_pipeline(name="other", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
        assert ids(backend.list_pipelines()) == [other.id, pipeline.id]
        assert backend.describe().counts["pipelines"] == 2

    @pytest.mark.parametrize(
        ("definition", "error", "message"),
        [
            ({"steps": []}, InvalidInput, "needs steps"),
            ({"steps": [REGISTER]}, InvalidInput, "exactly one automl step"),
            ({"steps": [REGISTER, TRAIN]}, InvalidInput, "an optional register_model"),
            ({"parameters": {}}, InvalidInput, "undeclared parameter"),
            ({"name": "../x"}, InvalidInput, "must not contain"),
            ({"compute": "missing"}, NotFound, "missing"),
        ],
    )
    def test_bad_pipelines_create_nothing(self, backend, definition, error, message):
        arguments = {"name": "p", "steps": TRAINING_STEPS, "parameters": {"dataset": "bank"}} | definition
        with pytest.raises(error, match=message):
            backend.create_pipeline(**arguments)
        assert backend.list_pipelines() == []

    def test_unknown_pipeline_is_not_found(self, backend):
        with pytest.raises(NotFound):
            backend.get_pipeline("nope")
        with pytest.raises(NotFound):
            backend.run_pipeline("nope", experiment="e")
        with pytest.raises(NotFound):
            backend.publish_pipeline("nope", name="p")
        with pytest.raises(NotFound):
            backend.get_published_pipeline("nope")
        with pytest.raises(NotFound):
            backend.set_published_pipeline_enabled("nope", False)
        with pytest.raises(NotFound):
            backend.trigger_published_pipeline("nope", experiment="e")

    def test_run_pipeline_queues_a_pipeline_run(self, backend, pipeline):
        run = backend.run_pipeline(pipeline.id, experiment="bank-pipeline", parameters={"dataset": "bank"})
        assert (run.run_type, run.experiment, run.status) == ("pipeline", "bank-pipeline", QUEUED)
        assert backend.get_run(run.id).run_type == "pipeline"
        other = backend.create_pipeline(name="other", steps=TRAINING_STEPS, parameters={"dataset": "bank"})
        assert ids(backend.list_pipeline_runs(pipeline_id=pipeline.id)) == [run.id]
        assert backend.list_pipeline_runs(pipeline_id=other.id) == []
        assert ids(backend.list_pipeline_runs()) == [run.id]

    def test_pipeline_runs_are_newest_first_and_limited(self, backend, pipeline):
        first = backend.run_pipeline(pipeline.id, experiment="a")
        second = backend.run_pipeline(pipeline.id, experiment="b")
        third = backend.run_pipeline(pipeline.id, experiment="a")
        submit_command = {"experiment": "a", "run_type": "command", "compute": "cpu-cluster"}
        backend.submit_run(**submit_command, params=python_command("pass"))  # not a pipeline run
        assert ids(backend.list_pipeline_runs()) == [third.id, second.id, first.id]
        assert ids(backend.list_pipeline_runs(limit=2)) == [third.id, second.id]
        assert ids(backend.list_pipeline_runs(pipeline_id=pipeline.id, limit=1)) == [third.id]
        for limit in (0, 10_001, True, 2.0):
            with pytest.raises(InvalidInput, match="limit"):
                backend.list_pipeline_runs(limit=limit)

    def test_bad_pipeline_runs_queue_nothing(self, backend, pipeline):
        with pytest.raises(InvalidInput, match="nope"):
            backend.run_pipeline(pipeline.id, experiment="e", parameters={"nope": 1})
        with pytest.raises(InvalidInput, match="experiment"):
            backend.run_pipeline(pipeline.id, experiment="../e")
        assert backend.list_pipeline_runs() == []

    def test_published_pipeline_is_active_behind_its_endpoint(self, backend, pipeline, published):
        assert (published.name, published.description, published.version) == ("Bankmarketing Train", "d", "2.0")
        assert (published.pipeline_id, published.status) == (pipeline.id, ACTIVE)
        # local and Azure ML (SDK v1): .../PipelineSubmit/<id>; SDK v2: the batch endpoint <id>'s scoring URI
        assert published.endpoint.startswith(("http://", "https://")) and published.id in published.endpoint
        assert backend.get_published_pipeline(published.id) == published
        assert ids(backend.list_published_pipelines()) == [published.id]

    @pytest.mark.parametrize("arguments", [{"name": " "}, {"name": "p/q"}, {"name": "p", "version": ""}])
    def test_bad_publications_publish_nothing(self, backend, pipeline, arguments):
        with pytest.raises(InvalidInput):
            backend.publish_pipeline(pipeline.id, **arguments)
        assert backend.list_published_pipelines() == []

    def test_disabled_published_pipeline_refuses_triggers(self, backend, published):
        assert backend.set_published_pipeline_enabled(published.id, False).status == DISABLED
        assert backend.get_published_pipeline(published.id).status == DISABLED
        with pytest.raises(Conflict):
            backend.trigger_published_pipeline(published.id, experiment="bank-rest")
        assert backend.list_pipeline_runs() == []
        assert backend.set_published_pipeline_enabled(published.id, True).status == ACTIVE
        run = backend.trigger_published_pipeline(published.id, experiment="bank-rest")
        assert (run.run_type, run.experiment, run.status) == ("pipeline", "bank-rest", QUEUED)

    def test_triggered_runs_are_runs_of_the_published_pipeline_and_of_its_pipeline(self, backend, pipeline, published):
        triggered = backend.trigger_published_pipeline(published.id, experiment="bank-rest")
        direct = backend.run_pipeline(pipeline.id, experiment="bank-ui")
        assert ids(backend.list_pipeline_runs(published_pipeline_id=published.id)) == [triggered.id]
        assert set(ids(backend.list_pipeline_runs(pipeline_id=pipeline.id))) == {triggered.id, direct.id}

    def test_the_body_a_rest_client_posts_names_the_experiment(self, backend, published):
        body = backend.published_trigger_body(published.id, "bank-rest")  # what the dashboard's snippets send
        assert "bank-rest" in json.dumps(body)
        with pytest.raises(NotFound):
            backend.published_trigger_body("nope", "e")

    def test_triggering_with_parameter_values(self, backend, published, capabilities, bank_small_csv):
        backend.trigger_published_pipeline(published.id, experiment="e", parameters={"dataset": "bank"})
        if capabilities.published_parameters_overridable:
            backend.register_dataset(name="bank-2", source=bank_small_csv)  # a backend may check it exists
            run = backend.trigger_published_pipeline(published.id, experiment="e", parameters={"dataset": "bank-2"})
            assert run.params["parameters"] == {"dataset": "bank-2"}
        else:
            with pytest.raises(InvalidInput, match="dataset"):
                backend.trigger_published_pipeline(published.id, experiment="e", parameters={"dataset": "bank-2"})
        with pytest.raises(InvalidInput, match="nope"):
            backend.trigger_published_pipeline(published.id, experiment="e", parameters={"nope": 1})
        assert len(backend.list_pipeline_runs()) == (2 if capabilities.published_parameters_overridable else 1)

    def test_register_step_with_a_quality_gate_and_an_alias(self, backend, capabilities):
        gated = {**REGISTER, "gate_alias": "champion", "set_alias": "champion"}
        arguments = {"name": "gated", "steps": [TRAIN, gated], "parameters": {"dataset": "bank"}}
        if capabilities.register_step_moves_aliases:
            pipeline = backend.create_pipeline(**arguments)
            assert pipeline.steps[-1]["gate_alias"] == pipeline.steps[-1]["set_alias"] == "champion"
        else:
            with pytest.raises(InvalidInput, match="alias"):
                backend.create_pipeline(**arguments)
            assert backend.list_pipelines() == []
