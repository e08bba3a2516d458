"""The safe rollout commands of ``opml services`` against a real agent and a real endpoint over loopback HTTP:
deployments, deploy-version, traffic, mirror, promote, rollback, delete-deployment and compare, their JSON,
and their refusals (exit code 2, one line on stderr, nothing changed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from opml.cli import main
from opml.client import score
from opml.entities import HEALTHY
from tests.helpers import free_port, wait_until

ENDPOINT = "bank-endpoint"


@pytest.fixture(scope="module")
def endpoint(rollout_workspace, tmp_path_factory: pytest.TempPathFactory):
    """An endpoint deployed with ``opml services deploy --deployment prod`` (bank-model:1, telemetry and data
    collection on), served by a real agent; bank-model:2 (a logistic regression of the same run) has the alias
    ``challenger``, narrow-model:1 is registered: (backend, workspace folder)."""
    from opml.agent.launcher import start_agent

    backend = rollout_workspace.copy_to(tmp_path_factory, "cli-rollout")
    backend.set_model_alias("bank-model", "challenger", 2)
    root = backend.path
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        deploy = f"services deploy {ENDPOINT} --model bank-model:1 --deployment prod --app-insights on"
        assert main(["--workspace", str(root), *deploy.split(), "--data-collection", "on", "--wait"]) == 0
        yield backend, root
    finally:
        agent.terminate()
        agent.wait(timeout=30)


@pytest.fixture(scope="module")
def records(bank_small_csv) -> tuple[list[dict], list[str]]:
    """40 records of Bank Marketing without their outcome, and their outcomes."""
    frame = pd.read_csv(bank_small_csv).head(40)
    return json.loads(frame.drop(columns="y").to_json(orient="records")), frame["y"].astype(str).tolist()


def cli(capsys, workspace: Path, *args: str) -> tuple[int, str, str]:
    """``opml --workspace WS ARGS...`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["--workspace", str(workspace), *args])
    out, err = capsys.readouterr()
    return code, out, err


def answered_by(backend, records: list[dict]) -> str:
    service = backend.get_service(ENDPOINT)
    return score(service.scoring_uri, records[:1], key=backend.get_service_keys(ENDPOINT).primary).deployment


def test_deploy_names_the_first_deployment_and_deployments_lists_it(endpoint, capsys):
    workspace = endpoint[1]
    code, out, err = cli(capsys, workspace, "services", "deployments", ENDPOINT)
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split() == ["DEPLOYMENT", "MODEL", "TRAFFIC", "%", "MIRROR", "%", "STATE", "ERROR"]
    assert row.split() == ["prod", "bank-model:1", "100", "0", HEALTHY]
    assert "endpoint model bank-model:1" in err
    code, out, _ = cli(capsys, workspace, "--json", "services", "deployments", ENDPOINT)
    (prod,) = json.loads(out)
    assert (prod["name"], prod["model"], prod["traffic"], prod["mirror"], prod["state"], prod["error"]) == (
        "prod",
        "bank-model:1",
        100,
        0,
        HEALTHY,
        None,
    )


def test_a_challenger_gets_its_share_then_promote_rollback_and_delete(endpoint, records, capsys):
    backend, workspace = endpoint
    rows, _ = records
    code, out, err = cli(
        capsys,
        workspace,
        *f"services deploy-version {ENDPOINT} --deployment green --model bank-model:2 --traffic 10 --wait".split(),
    )
    assert code == 0, err
    assert out.splitlines() == [
        f"deployment green (bank-model:2) of {ENDPOINT}: {HEALTHY}",
        f"{ENDPOINT}: traffic prod=90 green=10, mirror off (endpoint model bank-model:1)",
    ]
    assert backend.get_service(ENDPOINT).traffic == {"prod": 90, "green": 10}
    event = backend.list_audit_events()[0]
    assert (event.action, event.target) == (
        "deploy_service",
        f"service {ENDPOINT}: deployment green (bank-model:2, 10 % of traffic)",
    )

    code, out, err = cli(capsys, workspace, "--json", "services", "traffic", ENDPOINT, "prod=50", "green=50")
    assert code == 0, err
    assert json.loads(out) == {
        "service": ENDPOINT,
        "model": "bank-model:1",
        "traffic": {"prod": 50, "green": 50},
        "mirror": {"prod": 0, "green": 0},
    }

    code, out, err = cli(capsys, workspace, "services", "promote", ENDPOINT, "green")
    assert code == 0 and out == f"{ENDPOINT}: traffic prod=0 green=100, mirror off (endpoint model bank-model:2)\n"
    event = backend.list_audit_events()[0]  # who promoted what, and when
    assert event.action == "change_traffic"
    assert event.target == f"service {ENDPOINT}: promoted green; now prod=0 green=100"
    wait_until(lambda: answered_by(backend, rows) == "green", timeout=10, what="green answering every request")
    code, out, _ = cli(capsys, workspace, "services", "rollback", ENDPOINT)
    assert code == 0 and "traffic prod=50 green=50" in out
    assert backend.get_service(ENDPOINT).traffic == {"prod": 50, "green": 50}
    code, out, _ = cli(capsys, workspace, "--json", "services", "rollback", ENDPOINT)  # twice: forth again
    assert code == 0 and json.loads(out)["traffic"] == {"prod": 0, "green": 100}

    code, out, _ = cli(capsys, workspace, "services", "traffic", ENDPOINT, "prod=100%")  # left out: 0
    assert code == 0 and "traffic prod=100 green=0" in out
    wait_until(lambda: answered_by(backend, rows) == "prod", timeout=10, what="prod answering every request")
    code, out, err = cli(capsys, workspace, "services", "delete-deployment", ENDPOINT, "green")
    assert code == 0, err
    assert out.splitlines()[0] == f"deleted deployment green of {ENDPOINT}"
    assert [d.name for d in backend.list_deployments(ENDPOINT)] == ["prod"]
    # The split the last change replaced involved green, deleted: nothing to roll back to.
    code, out, err = cli(capsys, workspace, "services", "rollback", ENDPOINT)
    assert (code, out) == (2, "") and err.startswith("error: ") and "no earlier traffic split" in err


def test_a_mirrored_challenger_is_compared_with_the_live_deployment(endpoint, records, capsys):
    backend, workspace = endpoint
    rows, truth = records
    before = time.time()  # the requests of other tests were sent before this
    shadow = f"services deploy-version {ENDPOINT} --deployment shadow --model bank-model@challenger --mirror 50"
    code, out, err = cli(capsys, workspace, *shadow.split(), "--wait")
    assert code == 0, err
    assert f"{ENDPOINT}: traffic prod=100 shadow=0, mirror shadow=50 (endpoint model bank-model:1)" in out
    service = backend.get_service(ENDPOINT)
    key = backend.get_service_keys(ENDPOINT).primary
    time.sleep(0.5)
    since = time.time()
    answers = [score(service.scoring_uri, rows[i : i + 2], key=key) for i in range(0, 40, 2)]
    assert {answer.deployment for answer in answers} == {"prod"}  # the shadow's answers are never returned
    wait_until(
        lambda: len(backend.get_collected_data(ENDPOINT, since=since, limit=10_000)) >= 40,
        timeout=30,
        what="the live answers collected",
    )
    labels = [
        {"request_id": answer.request_id, "record": record, "label": truth[2 * index + record]}
        for index, answer in enumerate(answers)
        for record in range(2)
    ]
    backend.add_service_labels(ENDPOINT, labels)
    predicted = [label for answer in answers for label in answer.predictions]
    live_accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / 40
    wait_until(
        lambda: backend.compare_deployments(ENDPOINT, since=since).stats("shadow").labelled > 0,
        timeout=30,
        what="the mirrored answers collected",
    )

    def window() -> str:  # --hours starting between ``before`` and ``since``: this test's requests alone
        return f"{(time.time() - (before + since) / 2) / 3600:.8f}"

    code, out, err = cli(capsys, workspace, "--json", "services", "compare", ENDPOINT, "--hours", window())
    assert code == 0, err
    document = json.loads(out)
    prod, shadow = (next(d for d in document["deployments"] if d["name"] == name) for name in ("prod", "shadow"))
    assert (prod["requests"], prod["failed"], prod["labelled"], prod["traffic"]) == (20, 0, 40, 100)
    assert prod["accuracy"] == pytest.approx(live_accuracy) and 0 < prod["cv_accuracy"] <= 1
    assert sum(prod["predictions"].values()) == 40 and prod["p50"] <= prod["p95"] <= prod["p99"]
    # Binomial(20, 0.5) mirrored requests: 10 +- 2.2; the shadow answered what was copied to it, no live request.
    assert (shadow["requests"], shadow["mirror"], shadow["mirror_failed"]) == (0, 50, 0) and shadow["mirrored"] >= 1
    assert shadow["compared_records"] == 2 * shadow["mirrored"] and 0 <= shadow["agreement"] <= 1
    assert 0 < shadow["labelled"] <= 2 * shadow["mirrored"] and shadow["model"] == "bank-model:2"

    hours = window()
    code, out, err = cli(capsys, workspace, "services", "compare", ENDPOINT, "--hours", hours)
    assert code == 0, err
    table = out.splitlines()
    for column in ("REQUESTS", "P50 MS", "P99 MS", "MIRRORED", "AGREEMENT", "CLASS MIX", "LIVE ACCURACY (LABELLED)"):
        assert column in table[0]
    prod_row = next(line for line in table if line.startswith("prod "))
    assert f"{live_accuracy:.3f} (40)" in prod_row and "100 %" in prod_row
    shadow_row = next(line for line in table if line.startswith("shadow "))
    assert "mirror 50 %" in shadow_row and f"{shadow['agreement']:.3f} (" in shadow_row
    assert f"over the last {float(hours):g} h" in out

    code, out, _ = cli(capsys, workspace, "services", "mirror", ENDPOINT, "shadow=0")
    assert code == 0 and "mirror off" in out and backend.get_service(ENDPOINT).mirror_traffic["shadow"] == 0
    code, out, _ = cli(capsys, workspace, "--json", "services", "mirror", ENDPOINT, "shadow=20")
    assert code == 0 and json.loads(out)["mirror"] == {"prod": 0, "shadow": 20}
    code, out, _ = cli(capsys, workspace, "services", "mirror", ENDPOINT, "--off")
    assert code == 0 and "mirror off" in out
    assert backend.get_service(ENDPOINT).mirror_traffic == {"prod": 0, "shadow": 0}
    assert cli(capsys, workspace, "services", "delete-deployment", ENDPOINT, "shadow")[0] == 0


REFUSALS = [
    (["traffic", ENDPOINT, "prod=abc"], "traffic of 'prod' must be a whole percent from 0 to 100, got 'abc'"),
    (["traffic", ENDPOINT, "prod"], "traffic 'prod' must look like DEPLOYMENT=PERCENT"),
    (["traffic", ENDPOINT, "=100"], "must look like DEPLOYMENT=PERCENT"),
    (["traffic", ENDPOINT, "prod=50", "prod=50"], "deployment 'prod' is given twice"),
    (["traffic", ENDPOINT, "prod=60", "idle=30"], "traffic must add up to 100 %, got 90 %"),
    (["traffic", ENDPOINT, "prod=50", "purple=50"], "unknown deployment(s) 'purple'; this endpoint's deployments"),
    (["traffic", ENDPOINT, "prod=150"], "whole percent from 0 to 100, got 150"),
    (["mirror", ENDPOINT], "or --off"),
    (["mirror", ENDPOINT, "idle=10", "--off"], "or --off"),
    (["mirror", ENDPOINT, "idle=60"], "at most 50 %"),
    (["mirror", ENDPOINT, "prod=10"], "takes 100 % of live traffic"),
    (["promote", ENDPOINT, "purple"], "no deployment named 'purple'"),
    (["delete-deployment", ENDPOINT, "prod"], "move its traffic to another deployment first"),
    (["delete-deployment", ENDPOINT, "purple"], "no deployment named 'purple'"),
    (["deploy-version", ENDPOINT, "--deployment", "idle", "--model", "bank-model:2"], "already has a deployment"),
    (["deploy-version", ENDPOINT, "--deployment", "Red!", "--model", "bank-model:2"], "'Red!' is not valid"),
    (["deploy-version", ENDPOINT, "--deployment", "red", "--model", "bank-model:9"], "bank-model"),
    (["deploy-version", ENDPOINT, "--deployment", "red", "--model", "bank-model:x"], "whole number"),
    (f"deploy-version {ENDPOINT} --deployment red --model bank-model:2 --traffic 10 --mirror 10".split(), "not both"),
    (["deploy-version", ENDPOINT, "--deployment", "red", "--model", "bank-model:2", "--mirror", "60"], "at most 50"),
    (["deploy-version", "nope", "--deployment", "red", "--model", "bank-model:2"], "no service named 'nope'"),
    (
        f"deploy-version {ENDPOINT} --deployment red --model bank-model:2 --instance-type Standard_F4s_v2".split(),
        "instance type and count size Azure ML managed online deployments",
    ),
    (["deployments", "nope"], "no service named 'nope'"),
    (["compare", ENDPOINT, "--hours", "0"], "--hours must be a number of hours above 0"),
    (["compare", "nope"], "no service named 'nope'"),
]


def test_bad_input_is_refused_in_one_line_and_changes_nothing(endpoint, capsys):
    backend, workspace = endpoint
    idle = f"services deploy-version {ENDPOINT} --deployment idle --model bank-model:2".split()
    assert cli(capsys, workspace, *idle)[0] == 0
    before = backend.get_service(ENDPOINT)
    events = len(backend.list_audit_events())
    for argv, message in REFUSALS:
        code, out, err = cli(capsys, workspace, "services", *argv)
        assert (code, out) == (2, ""), (argv, out, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (argv, err)
    after = backend.get_service(ENDPOINT)
    assert (after.traffic, after.mirror_traffic, after.model) == (before.traffic, before.mirror_traffic, before.model)
    assert [d.name for d in after.deployments] == ["prod", "idle"] and len(backend.list_audit_events()) == events
    assert cli(capsys, workspace, "services", "delete-deployment", ENDPOINT, "idle")[0] == 0


def test_deploy_version_wait_exits_1_when_the_model_cannot_be_loaded(endpoint, capsys):
    backend, workspace = endpoint
    best = backend.register_model(name="broken-model", run_id=backend.get_model("bank-model", 1).run_id)
    with open(backend.layout.model_dir(best.name, best.version) / "model.pkl", "ab") as artifact:
        artifact.write(b"tampered")  # the sha256 check refuses to load it
    code, out, err = cli(
        capsys,
        workspace,
        *f"services deploy-version {ENDPOINT} --deployment broken --model broken-model --wait".split(),
    )
    assert code == 1 and f"deployment broken (broken-model:1) of {ENDPOINT}: Failed" in out, (code, out, err)
    assert err.startswith("error: deployment broken failed: ") and err.count("\n") == 1, err
    assert "does not match its registered sha256" in err
    for argv in (["traffic", ENDPOINT, "prod=90", "broken=10"], ["promote", ENDPOINT, "broken"]):
        code, out, err = cli(capsys, workspace, "services", *argv)
        assert (code, out) == (2, "") and "'broken' failed to load" in err and err.count("\n") == 1, err
    assert backend.get_service(ENDPOINT).traffic == {"prod": 100, "broken": 0}
    assert cli(capsys, workspace, "services", "delete-deployment", ENDPOINT, "broken")[0] == 0


def test_a_model_of_another_schema_needs_allow_schema_change(endpoint, rollout_workspace, capsys):
    backend, workspace = endpoint
    dropped = rollout_workspace.dropped  # narrow-model:1 was trained without it
    deploy = ["services", "deploy-version", ENDPOINT, "--deployment", "narrow", "--model", "narrow-model"]
    code, out, err = cli(capsys, workspace, *deploy)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"no column(s) {dropped}" in err and err.rstrip().endswith("(--allow-schema-change)")
    assert [d.name for d in backend.list_deployments(ENDPOINT)] == ["prod"]
    code, out, err = cli(capsys, workspace, *deploy, "--allow-schema-change")
    assert code == 0, err
    assert "(endpoint model narrow-model:1)" in out and backend.get_service(ENDPOINT).model == "narrow-model:1"
    backend.wait_for_deployment(ENDPOINT, "narrow", timeout=60)
    assert cli(capsys, workspace, "services", "delete-deployment", ENDPOINT, "narrow")[0] == 0
    assert backend.get_service(ENDPOINT).model == "bank-model:1"


def test_the_commands_against_an_azure_workspace(
    azure, azure_executor, cloud, bank_small_csv, tmp_path, monkeypatch, capsys
):
    """Azure ML SDK v1 (offline fakes): deploy names the ACI service's one deployment, deployments lists it, and
    what v1 cannot do is one line naming what Azure offers, exit code 2, nothing asked of Azure."""
    from tests.azure_fakes import make_fake_sdk
    from tests.azure_fixtures import submit_automl, write_config

    run = submit_automl(azure, bank_small_csv)
    azure.wait_for_run(run.id, timeout=30)
    azure.register_model(name="bank-model", run_id=run.id)
    monkeypatch.setattr("opml.backends.azure.backend.load_sdk", lambda: make_fake_sdk(cloud))
    for variable, value in (("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s")):
        monkeypatch.setenv(variable, value)
    config = str(write_config(tmp_path))

    def azure_cli(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--config", config, "--sdk", "v1", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = azure_cli(
        "services", "deploy", "bank-svc", "--model", "bank-model", "--deployment", "green", "--wait"
    )
    assert code == 0, err
    assert cloud.services["bank-svc"].tags == {"opml_deployment": "green"}
    code, out, _ = azure_cli("services", "deployments", "bank-svc")
    assert code == 0 and out.splitlines()[1].split() == ["green", "bank-model:1", "100", "0", HEALTHY]
    before = len(cloud.calls)
    for argv in (
        ["traffic", "bank-svc", "green=100"],
        ["mirror", "bank-svc", "--off"],
        ["deploy-version", "bank-svc", "--deployment", "blue", "--model", "bank-model", "--traffic", "10"],
        ["promote", "bank-svc", "green"],
        ["rollback", "bank-svc"],
        ["delete-deployment", "bank-svc", "blue"],
        ["compare", "bank-svc"],
    ):
        code, out, err = azure_cli("services", *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1 and "managed online endpoints" in err, (argv, err)
    asked = {call for call, _ in cloud.calls[before:]}  # opening the workspace and reading the model, no more
    assert asked == {"Workspace.from_config", "Model"}, asked
    assert [(d.name, d.traffic) for d in azure.list_deployments("bank-svc")] == [("green", 100)]
