"""Training pipelines with real processes: build, run, publish, trigger over REST as an Azure client would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from tests.helpers import other_model_run, wait_until


def steps(script: Path, model_name: str = "bank-pipeline-model") -> list[dict]:
    return [
        {
            "name": "prep",
            "type": "data_prep",
            "script": str(script),
            "input_dataset": "${dataset}",
            "output_dataset": "bank-prepared",
        },
        {
            "name": "train",
            "type": "automl",
            "settings": {
                "dataset": "bank-prepared",
                "label_column": "y",
                "experiment_timeout_minutes": "${timeout}",
                "max_iterations": 4,
                "n_cross_validations": 3,
                "primary_metric": "${metric}",
            },
        },
        {
            "name": "register",
            "type": "register_model",
            "model_name": model_name,
            "gate_alias": "champion",
            "set_alias": "champion",
        },
    ]


PARAMETERS = {"dataset": "bank", "timeout": 0.25, "metric": "accuracy"}


@pytest.fixture
def published(gateway_backend, tmp_path):
    pipeline = gateway_backend.create_pipeline(
        name="bank-train", steps=steps(tmp_path / "prep.py"), parameters=PARAMETERS
    )
    return gateway_backend.publish_pipeline(pipeline.id, name="Bankmarketing Train", description="train", version="1.0")


@pytest.fixture
def gateway(gateway_backend, agent, published):
    base = published.endpoint.split("/PipelineSubmit/")[0]

    def up() -> bool:
        try:
            return requests.get(f"{base}/nope", timeout=1).status_code == 401
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=20, what="the pipeline gateway")
    return base


def test_publish_trigger_over_rest_and_watch_to_completed(gateway_backend, published, gateway):
    # Exactly what an Azure ML client does with a published pipeline:
    auth_header = gateway_backend.auth_header()
    response = requests.post(
        published.endpoint,
        headers=auth_header,
        json={"ExperimentName": "bank-rest", "ParameterAssignments": {"metric": "AUC_weighted"}},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Status"] == "NotStarted" and answer["PipelineId"] == published.id
    run_id = answer["Id"]
    status = wait_until(
        lambda: (
            (doc := requests.get(f"{gateway}/{run_id}", headers=auth_header).json())["Status"]
            in ("Completed", "Failed")
            and doc
        ),
        timeout=180,
        interval=1,
        what="the pipeline run to end",
    )
    assert status["Status"] == "Completed", status["Error"]
    assert [(s["Name"], s["Status"]) for s in status["StepRuns"]] == [
        ("prep", "Completed"),
        ("train", "Completed"),
        ("register", "Completed"),
    ]
    model = gateway_backend.get_model("bank-pipeline-model")
    assert model.version == 1 and model.primary_metric == "AUC_weighted"
    assert "duration" not in {c["name"] for c in model.manifest["input_schema"]}  # the prep step ran
    prep_log = gateway_backend.read_run_log(f"{run_id}_prep")[0]
    assert "dropping duration" in prep_log and "columns dropped: duration; added: none" in prep_log
    prepared = gateway_backend.get_dataset("bank-prepared")
    assert prepared.source == f"pipeline run {run_id}, step prep, from bank:1"  # its lineage, not upload:…
    assert prepared.tags == {"pipeline_run": run_id, "step": "prep", "input_dataset": "bank:1"}
    register_log = gateway_backend.read_run_log(f"{run_id}_register")[0]
    assert "no version of bank-pipeline-model is 'champion'; nothing to beat" in register_log
    assert model.aliases == ("champion",)  # set_alias moved it to the new version
    assert gateway_backend.list_model_alias_history("bank-pipeline-model")[0].actor == f"pipeline run {run_id}"
    runs = requests.get(f"{gateway}/Pipeline/{published.id}", headers=auth_header).json()
    assert [r["Id"] for r in runs] == [run_id] and runs[0]["RunSource"] == "REST"


def test_gateway_auth_and_bad_input(gateway_backend, published, gateway):
    auth = gateway_backend.auth_header()
    body = {"ExperimentName": "e"}

    def post(url=published.endpoint, headers=auth, payload=body):
        return requests.post(url, headers=headers, json=payload, timeout=10)

    def check(response, status, fragment):
        assert response.status_code == status, response.text
        assert fragment in response.json()["error"] and response.json()["status_code"] == status

    check(post(headers={}), 401, "token")
    check(post(headers={"Authorization": "Bearer wrong"}), 401, "token")
    token = gateway_backend.create_token("ci")
    assert (
        post(
            headers={"Authorization": f"Bearer {token}"}, payload={**body, "ParameterAssignments": {"timeout": 9}}
        ).status_code
        == 200
    )
    gateway_backend.revoke_token("ci")
    check(post(headers={"Authorization": f"Bearer {token}"}), 401, "revoked")
    check(post(url=published.endpoint.rsplit("/", 1)[0] + "/no-such-id"), 404, "no published pipeline")
    check(post(payload={}), 400, "ExperimentName is required")
    check(
        post(payload={**body, "ParameterAssignments": {"learning_rate": 1}}), 400, "unknown parameter(s): learning_rate"
    )
    check(post(payload={**body, "ParameterAssignments": {"timeout": "long"}}), 400, "must be a number")
    check(
        post(payload={**body, "ParameterAssignments": {"timeout": -1}}),
        400,
        "automl step 'train': experiment_timeout_minutes must be a positive number of minutes, got -1",
    )
    check(
        requests.post(published.endpoint, headers={**auth, "Content-Type": "application/json"}, data="{", timeout=5),
        400,
        "JSON",
    )
    runs_before = len(gateway_backend.list_pipeline_runs())
    check(post(payload={**body, "Description": "x" * 70_000}), 413, "65,536")
    deep = '{"ExperimentName": "e", "Tags": ' + "[" * 5000 + "]" * 5000 + "}"
    check(requests.post(published.endpoint, headers=auth, data=deep, timeout=5), 400, "JSON")
    check(post(payload={**body, "Tags": "x"}), 400, "Tags must be an object")
    check(post(payload={**body, "Description": 5}), 400, "Description must be text")
    check(post(payload={**body, "ParameterAssignments": [1]}), 400, "ParameterAssignments must be an object")
    check(post(payload={**body, "DataPathAssignments": {"a": {"b": 1}}}), 400, "DataPathAssignments is not supported")
    check(post(payload={**body, "Tags": {"a": {"b": [1]}}}), 400, "a value is text or a number, not dict")
    assert len(gateway_backend.list_pipeline_runs()) == runs_before
    gateway_backend.set_published_pipeline_enabled(published.id, False)
    check(post(), 409, "disabled")
    gateway_backend.set_published_pipeline_enabled(published.id, True)
    check(requests.get(f"{gateway}/no-such-run", headers=auth, timeout=5), 404, "no run")
    check(requests.get(f"{gateway}/no-such-run", timeout=5), 401, "token")


def test_rest_triggers_are_audited_under_the_name_of_the_token_sent(gateway_backend, published, gateway):
    token = gateway_backend.create_token("ci-robot")
    refused = requests.post(published.endpoint, headers={"Authorization": "Bearer nope"}, json={"ExperimentName": "e"})
    assert refused.status_code == 401
    assert gateway_backend.list_audit_events() == []  # nothing happened, nothing recorded
    for header in ({"Authorization": f"Bearer {token}"}, gateway_backend.auth_header()):
        response = requests.post(published.endpoint, headers=header, json={"ExperimentName": "audited"}, timeout=10)
        assert response.status_code == 200, response.text
        gateway_backend.cancel_run(response.json()["Id"])
    runs = [run.id for run in gateway_backend.list_pipeline_runs()]
    events = [(e.actor, e.action, e.target) for e in gateway_backend.list_audit_events()]
    assert events == [
        ("token owner (REST)", "trigger_pipeline", f"run {runs[0]} of Bankmarketing Train"),
        ("token ci-robot (REST)", "trigger_pipeline", f"run {runs[1]} of Bankmarketing Train"),
    ]
    assert token not in repr(gateway_backend.list_audit_events())


def test_failing_step_fails_the_run_names_it_and_skips_the_rest(gateway_backend, agent, tmp_path):
    pipeline = gateway_backend.create_pipeline(
        name="broken", steps=steps(tmp_path / "broken.py"), parameters=PARAMETERS
    )
    run = gateway_backend.run_pipeline(pipeline.id, experiment="broken")
    finished = gateway_backend.wait_for_run(run.id, timeout=120)
    assert finished.status == "Failed" and "step 'prep' failed: ValueError: the prep script is broken" in finished.error
    states = {r.display_name: r.status for r in gateway_backend.list_runs(parent_id=run.id)}
    assert states == {"prep": "Failed", "train": "Skipped", "register": "Skipped"}
    log = gateway_backend.read_run_log(f"{run.id}_prep")[0]
    assert "Traceback" in log and "ValueError: the prep script is broken" in log


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s[1:], None),  # no data_prep: allowed
        (lambda s: s[:1], "exactly one automl step"),
        (lambda s: [s[1], s[0], s[2]], "optional data_prep, the automl step"),
        (lambda s: [{**s[0], "script": "/nope.py"}, *s[1:]], "does not exist"),
        (lambda s: [{**s[0], "type": "shell"}, *s[1:]], "'type' one of"),
        (
            lambda s: [s[0], {**s[1], "settings": {"label_column": "${missing}"}}, s[2]],
            "undeclared parameter(s): missing",
        ),
        (lambda s: [s[0], s[1], {**s[2], "model_name": "../x"}], "must not contain"),
        (lambda s: [s[0], s[1], {**s[2], "gate_alias": "latest"}], "would read as a version"),
        (
            lambda s: [s[0], {**s[1], "settings": {**s[1]["settings"], "max_iterations": 0}}, s[2]],
            "automl step 'train': max_iterations must be between 1 and 10,000",
        ),
    ],
)
def test_pipeline_definitions_are_validated(gateway_backend, tmp_path, mutate, message):
    definition = mutate(steps(tmp_path / "prep.py"))
    if message is None:
        assert (
            gateway_backend.create_pipeline(name="ok", steps=definition, parameters=PARAMETERS).steps[0]["type"]
            == "automl"
        )
        return
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        gateway_backend.create_pipeline(name="bad", steps=definition, parameters=PARAMETERS)
    assert gateway_backend.list_pipelines() == []


def test_prep_script_without_prepare_is_refused(gateway_backend, tmp_path):
    script = tmp_path / "empty.py"
    script.write_text("x = 1\n")
    with pytest.raises(InvalidInput, match="must define a function prepare"):
        gateway_backend.create_pipeline(name="p", steps=steps(script), parameters=PARAMETERS)


def test_tokens_are_stored_hashed_shown_once_and_revocable(gateway_backend):
    token = gateway_backend.create_token("robot")
    assert len(token) >= 43
    assert token not in (gateway_backend.path / "opml.db").read_bytes().decode(errors="ignore")
    assert [(t.name, t.revoked) for t in gateway_backend.list_tokens()] == [("robot", False)]
    with pytest.raises(AlreadyExists):
        gateway_backend.create_token("robot")
    assert gateway_backend.tokens.verify(token)
    gateway_backend.revoke_token("robot")
    assert not gateway_backend.tokens.verify(token)
    with pytest.raises(NotFound):
        gateway_backend.revoke_token("nobody")
    owner = gateway_backend.auth_header()["Authorization"].removeprefix("Bearer ")
    assert gateway_backend.tokens.verify(owner) and gateway_backend.auth_header()["Authorization"].endswith(owner)
    assert oct((gateway_backend.path / "secrets" / "owner.token").stat().st_mode & 0o777) == "0o600"
    gateway_backend.revoke_token("owner")  # the owner's token is replaced, not lost for good
    assert not gateway_backend.tokens.verify(owner)
    renewed = gateway_backend.auth_header()["Authorization"].removeprefix("Bearer ")
    assert renewed != owner and gateway_backend.tokens.verify(renewed)


def test_pipelines_through_the_cli(gateway_backend, tmp_path):
    definition = tmp_path / "pipeline.json"
    definition.write_text(json.dumps({"steps": steps(tmp_path / "prep.py"), "parameters": PARAMETERS}))

    def opml(*args):
        return subprocess.run(
            [sys.executable, "-m", "opml", "--workspace", str(gateway_backend.path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = json.loads(opml("--json", "pipelines", "create", "bank-train", "--file", str(definition)).stdout)
    published = json.loads(
        opml("--json", "pipelines", "publish", created["id"], "--name", "Bankmarketing Train").stdout
    )
    assert published["status"] == "Active" and published["endpoint"].endswith(published["id"])
    run = json.loads(
        opml("--json", "pipelines", "run", created["id"], "--experiment", "cli", "--param", "timeout=0.5").stdout
    )
    assert run["status"] == "Queued" and run["params"]["parameters"] == {"timeout": 0.5}
    listed = json.loads(opml("--json", "pipelines", "runs", "--pipeline", created["id"], "--limit", "1").stdout)
    assert [listed_run["id"] for listed_run in listed] == [run["id"]]
    too_many = opml("pipelines", "runs", "--limit", "10001")
    assert too_many.returncode == 2 and "limit must be a whole number from 1 to 10,000" in too_many.stderr
    assert opml("pipelines", "disable", published["id"]).returncode == 0
    assert gateway_backend.get_published_pipeline(published["id"]).status == "Disabled"
    bad = opml("pipelines", "run", created["id"], "--experiment", "cli", "--param", "nope=1")
    assert bad.returncode == 2 and "unknown parameter(s): nope" in bad.stderr
    token = opml("tokens", "create", "robot")
    assert token.returncode == 0 and "shown once" in token.stderr and len(token.stdout.strip()) >= 43


def test_the_quality_gate_registers_only_a_model_that_beats_the_alias_holder(trained_backend, automl_run_id, capsys):
    from opml.pipelines.runner import PIPELINE
    from opml.runtypes.context import RunContext

    backend = trained_backend
    automl = backend.get_run(automl_run_id)
    new_accuracy = automl.progress["best_metric"]
    holder = backend.register_model(name="bank-model", run_id=other_model_run(backend, automl_run_id))
    backend.set_model_alias("bank-model", "champion", holder.version)
    step = {
        "name": "register",
        "type": "register_model",
        "model_name": "bank-model",
        "gate_alias": "champion",
        "set_alias": "champion",
    }
    context = RunContext(backend, automl)

    def holder_accuracy(value: float) -> None:
        metrics = json.dumps({**holder.metrics, "accuracy": value})
        backend.store.execute(
            "UPDATE models SET metrics = ? WHERE name = 'bank-model' AND version = ?", (metrics, holder.version)
        )

    holder_accuracy(0.9999)
    assert PIPELINE._register(context, step, automl)["model"] is None
    log = capsys.readouterr().out
    assert f"new model accuracy {new_accuracy:.4f} against bank-model:1 (champion) 0.9999" in log
    assert "not better" in log and "nothing registered" in log
    assert [m.version for m in backend.list_models("bank-model")] == [1]

    holder_accuracy(0.01)
    registered = PIPELINE._register(context, step, automl)["model"]
    assert registered == "bank-model:2" and "better, registering" in capsys.readouterr().out
    assert backend.get_model_by_alias("bank-model", "champion").version == 2


def test_non_finite_parameter_values_are_refused(gateway_backend, tmp_path):
    with pytest.raises(InvalidInput, match="finite number"):
        gateway_backend.create_pipeline(
            name="nan", steps=steps(tmp_path / "prep.py"), parameters={**PARAMETERS, "timeout": float("nan")}
        )
    pipeline = gateway_backend.create_pipeline(name="ok", steps=steps(tmp_path / "prep.py"), parameters=PARAMETERS)
    for value in (float("inf"), float("nan")):
        with pytest.raises(InvalidInput, match="finite number"):
            gateway_backend.run_pipeline(pipeline.id, experiment="x", parameters={"timeout": value})
    assert gateway_backend.list_pipeline_runs() == []
    assert gateway_backend.search_runs(filter="params.x = 1").total == 0  # the store's JSON stays readable


def test_a_version_an_alias_once_named_is_never_given_to_another_model(trained_backend, automl_run_id):
    backend = trained_backend
    first = backend.register_model(name="m", run_id=automl_run_id)
    second = backend.register_model(name="m", run_id=other_model_run(backend, automl_run_id))
    backend.set_model_alias("m", "champion", second.version)
    backend.set_model_alias("m", "champion", first.version)
    backend.delete_model("m", second.version)
    again = backend.register_model(name="m", run_id=other_model_run(backend, automl_run_id))
    assert again.version == second.version + 1 and again.aliases == ()
    backend.set_model_alias("m", "challenger", again.version)
    with pytest.raises(Conflict, match="holds alias"):  # checked inside the delete's own transaction too
        backend.models.delete("m", again.version, in_use_by=[])


def test_registering_goes_through_the_run_type(gateway_backend, tmp_path):
    command = gateway_backend.submit_run(
        experiment="e", run_type="command", compute="cpu-cluster", params={"command": ["true"]}
    )
    with pytest.raises(Conflict, match="is a command run: it has no model"):
        gateway_backend.register_model(name="m", run_id=command.id)
    pipeline = gateway_backend.create_pipeline(name="p", steps=steps(tmp_path / "prep.py"), parameters=PARAMETERS)
    run = gateway_backend.run_pipeline(pipeline.id, experiment="p")
    with pytest.raises(Conflict, match="is a pipeline run: register the model of its AutoML step"):
        gateway_backend.register_model(name="m", run_id=run.id)
    with pytest.raises(InvalidInput, match="pipeline steps are run by their pipeline"):
        gateway_backend.submit_run(experiment="e", run_type="pipeline_step", compute="cpu-cluster", params={})


def test_a_trigger_while_the_store_is_busy_is_a_503_to_retry(gateway_backend, published, monkeypatch):
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from opml.agent.gateway import create_gateway_app
    from opml.backends.local import LocalBackend, store

    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 300)
    hurried = LocalBackend(gateway_backend.path)
    auth = hurried.auth_header()
    hold = "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    hold += "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(20)"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(gateway_backend.layout.db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        client = TestClient(create_gateway_app(hurried))
        path = "/pipelines/v1.0/PipelineRuns/PipelineSubmit/" + published.id
        response = client.post(path, headers=auth, json={"ExperimentName": "busy"})
        assert response.status_code == 503, response.text
        assert "database is busy" in response.json()["error"]
    finally:
        holder.kill()
        holder.wait()
