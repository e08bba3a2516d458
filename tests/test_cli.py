"""The ``opml`` command: help for every command, and the workspace operations end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opml.cli import build_parser, main
from tests.helpers import other_model_run, stopped_trials


def opml(*args: str, workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "opml", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def all_commands() -> list[list[str]]:
    """Every command path of the parser, e.g. ['datasets', 'register']."""
    paths = []

    def walk(parser, prefix):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


@pytest.mark.parametrize("command", [[], *all_commands()], ids=lambda c: " ".join(c) or "opml")
def test_every_command_has_complete_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: opml" in text
    described = build_parser()
    for name in command:
        described = next(a for a in described._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
    assert described.description, f"'opml {' '.join(command)}' has no description"
    for action in described._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"option {action.option_strings} of 'opml {' '.join(command)}' has no help"


def test_datasets_and_compute_through_the_cli(workspace: Path, bank_small_csv: Path):
    registered = opml(
        "--json", "datasets", "register", "bank", str(bank_small_csv), "--tag", "team=ops", workspace=workspace
    )
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["version"] == 1
    listed = json.loads(opml("--json", "datasets", "list", workspace=workspace).stdout)
    assert [(d["name"], d["rows"], d["tags"]) for d in listed] == [("bank", 2000, {"team": "ops"})]
    shown = opml("datasets", "show", "bank", "--head", "3", workspace=workspace)
    assert "admin." in shown.stdout or "technician" in shown.stdout
    assert opml("compute", "create", "gpu", "--max-nodes", "3", workspace=workspace).returncode == 0
    computes = json.loads(opml("--json", "compute", "list", workspace=workspace).stdout)
    assert {c["name"]: c["max_nodes"] for c in computes} == {"cpu-cluster": 2, "gpu": 3}
    status = json.loads(opml("--json", "status", workspace=workspace).stdout)
    assert status["workspace"]["counts"]["datasets"] == 1 and status["agent"]["running"] is False


def test_bad_input_exits_2_with_a_message(workspace: Path, tmp_path: Path):
    missing = opml("datasets", "register", "x", str(tmp_path / "nope.csv"), workspace=workspace)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_tag = opml("datasets", "register", "x", str(tmp_path), "--tag", "novalue", workspace=workspace)
    assert bad_tag.returncode == 2 and "key=value" in bad_tag.stderr
    unknown = opml("runs", "show", "nope", workspace=workspace)
    assert unknown.returncode == 2 and "no run" in unknown.stderr
    huge = opml("runs", "submit", "--experiment", "x" * 100_000, "--", "true", workspace=workspace)
    assert huge.returncode == 2 and "(100,000 characters)" in huge.stderr
    assert len(huge.stderr) < 500  # the name is cut, not echoed whole (a 100,115-character "one-line" error)


def test_runs_submit_logs_and_cancel(workspace: Path, agent):
    submitted = opml(
        "--json", "runs", "submit", "--experiment", "cli", "--", "python", "-c", "print(6*7)", workspace=workspace
    )
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["id"]
    logs = opml("runs", "logs", run_id, "--follow", workspace=workspace)
    assert "42" in logs.stdout
    shown = json.loads(opml("--json", "runs", "show", run_id, workspace=workspace).stdout)
    assert shown["status"] == "Completed"
    listed = opml("runs", "list", "--experiment", "cli", workspace=workspace)
    assert run_id in listed.stdout and "Completed" in listed.stdout
    queued = json.loads(
        opml("--json", "runs", "submit", "--compute", "cpu-cluster", "--", "sleep", "30", workspace=workspace).stdout
    )
    cancelled = opml("runs", "cancel", queued["id"], workspace=workspace)
    assert cancelled.returncode == 0 and ("Canceled" in cancelled.stdout or "CancelRequested" in cancelled.stdout)


def test_automl_and_models_through_the_cli(trained_backend, automl_run_id):
    workspace = trained_backend.path
    shown = opml("automl", "show", automl_run_id, workspace=workspace)
    assert shown.returncode == 0 and "status: Completed" in shown.stdout and "Class balancing detection" in shown.stdout
    board = json.loads(opml("--json", "automl", "leaderboard", automl_run_id, "--top", "3", workspace=workspace).stdout)
    assert len(board) == 3 and board[0]["best"] is True
    registered = opml("--json", "models", "register", automl_run_id, "--name", "cli-model", workspace=workspace)
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["run_id"] == board[0]["run_id"]
    listed = json.loads(opml("--json", "models", "list", workspace=workspace).stdout)
    assert [(m["name"], m["version"]) for m in listed] == [("cli-model", 1)]
    model = opml("models", "show", "cli-model", workspace=workspace)
    assert "inputs: age (numeric)" in model.stdout
    again = opml("models", "register", automl_run_id, "--name", "cli-model", workspace=workspace)
    assert "(identical to version 1: nothing new registered)" in again.stdout


def test_aliases_through_the_cli(trained_backend, automl_run_id):
    workspace = trained_backend.path
    trained_backend.register_model(name="m", run_id=automl_run_id)
    trained_backend.register_model(name="m", run_id=other_model_run(trained_backend, automl_run_id))
    moved = opml("models", "alias", "m", "champion", "2", workspace=workspace)
    assert moved.returncode == 0 and moved.stdout.strip() == "alias champion -> m:2"
    assert "aliases: champion" in opml("models", "show", "m@champion", workspace=workspace).stdout
    assert opml("models", "alias", "m", "champion", "1", workspace=workspace).returncode == 0
    history = json.loads(opml("--json", "models", "aliases", "m", workspace=workspace).stdout)
    assert [(h["alias"], h["version"], h["previous_version"]) for h in history] == [
        ("champion", 1, 2),
        ("champion", 2, None),
    ]
    assert history[0]["actor"].endswith("(CLI)")
    bad = opml("models", "show", "m@nobody", workspace=workspace)
    assert bad.returncode == 2 and "has no alias 'nobody' (its aliases: champion)" in bad.stderr
    deployed = opml("--json", "services", "deploy", "svc", "--model", "m@champion", workspace=workspace)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["model"] == "m:1"  # the version the alias points at
    event = trained_backend.list_audit_events()[0]
    assert (event.action, event.target) == ("deploy_service", "service svc (m:1)") and event.actor.endswith("(CLI)")
    removed = opml("models", "unalias", "m", "champion", workspace=workspace)
    assert removed.returncode == 0 and trained_backend.get_model("m", 1).aliases == ()
    assert opml("services", "delete", "svc", workspace=workspace).returncode == 0


def test_runs_search_and_compare_through_the_cli(trained_backend, automl_run_id):
    workspace = trained_backend.path
    found = opml(
        "--json",
        "runs",
        "list",
        "--filter",
        "metrics.accuracy > 0.5",
        "--children",
        "--limit",
        "2",
        workspace=workspace,
    )
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == 2
    table = opml(
        "runs", "list", "--filter", "metrics.accuracy > 0.5", "--children", "--limit", "2", workspace=workspace
    )
    total = trained_backend.search_runs(filter="metrics.accuracy > 0.5", top_level_only=False).total
    assert f"(1-2 of {total} runs; --offset N for more)" in table.stdout
    bad = opml("runs", "list", "--filter", "accuracy > 0.5", workspace=workspace)
    assert bad.returncode == 2 and "unknown run attribute 'accuracy'" in bad.stderr
    trials = [c for c in trained_backend.list_runs(parent_id=automl_run_id) if "hyperparameters" in c.params]
    first = trials[0]
    second = next(c for c in trials if c.params["algorithm"] != first.params["algorithm"])
    compared = opml("runs", "compare", first.id, second.id, workspace=workspace)
    assert compared.returncode == 0, compared.stderr
    lines = compared.stdout.splitlines()
    assert any(line.startswith("* params.algorithm") for line in lines)
    assert any("metrics.accuracy" in line for line in lines) and lines[-1] == "(* differs)"


def test_the_cli_says_why_the_best_is_not_the_top_one(trained_backend, automl_run_id):
    workspace = trained_backend.path
    table = opml("automl", "leaderboard", automl_run_id, "--top", "3", workspace=workspace)
    assert "LOG_LOSS" in table.stdout.splitlines()[0]
    actual = trained_backend.get_run(automl_run_id).progress.get("best_reason")
    shown = opml("automl", "show", automl_run_id, workspace=workspace).stdout
    assert ("best chosen because" in shown) == bool(actual)
    reason = "accuracy 0.9100 is within one standard error (0.0020) of the top 0.9110 (run_7)"
    trained_backend.runs.update_progress(automl_run_id, {"best_reason": reason})
    try:
        shown = opml("automl", "show", automl_run_id, workspace=workspace)
        assert f"best chosen because: {reason}" in shown.stdout
    finally:
        trained_backend.runs.update_progress(automl_run_id, {"best_reason": actual})


def test_trials_without_metrics_print_empty_cells_never_none_or_nan(trained_backend, automl_run_id):
    """A canceled or failed trial has no metrics (the search logs only its duration): its cells are empty in the
    leaderboard and the comparison, and a metric an Azure run logged as NaN reads empty too."""
    from opml.cli.common import metric_text

    workspace = trained_backend.path
    canceled, failed = stopped_trials(trained_backend, automl_run_id)
    table = opml("automl", "leaderboard", automl_run_id, "--top", "100", workspace=workspace)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[3:6] == ["ACCURACY", "AUC_WEIGHTED", "LOG_LOSS"]
    for run_id, status in ((canceled, "Canceled"), (failed, "Failed")):
        row = next(line for line in rows if run_id in line)
        assert row.split()[2:] == ["XGBoostClassifier", "1.5", status]  # no metric text between them
    assert "None" not in table.stdout and "nan" not in table.stdout.lower()
    best = trained_backend.get_run(automl_run_id).progress["best_child_id"]
    compared = opml("runs", "compare", best, canceled, workspace=workspace)
    assert compared.returncode == 0, compared.stderr
    accuracy = next(line for line in compared.stdout.splitlines() if "metrics.accuracy" in line)
    assert len(accuracy.split()) == 3  # "*", the name and the completed trial's value: the canceled one is empty
    assert "None" not in compared.stdout and "nan" not in compared.stdout.lower()
    assert [metric_text(v) for v in (None, float("nan"), 0.91234)] == ["", "", "0.9123"]


def test_automl_submit_refuses_bad_label(workspace: Path, bank_small_csv: Path):
    opml("datasets", "register", "bank", str(bank_small_csv), workspace=workspace)
    bad = opml("automl", "submit", "bank", "--label", "nope", workspace=workspace)
    assert bad.returncode == 2 and "label column 'nope' is not in the dataset" in bad.stderr
    good = opml("--json", "automl", "submit", "bank", "--label", "y", "--timeout-minutes", "1", workspace=workspace)
    assert good.returncode == 0 and json.loads(good.stdout)["status"] == "Queued"


def test_services_and_score_through_the_cli(deployed, tmp_path: Path, bank_small_csv: Path):
    backend, name = deployed
    workspace = backend.path
    listed = json.loads(opml("--json", "services", "list", workspace=workspace).stdout)
    assert [(s["name"], s["state"]) for s in listed] == [(name, "Healthy")]
    keys = json.loads(opml("--json", "services", "keys", name, workspace=workspace).stdout)
    assert keys["primaryKey"] == backend.get_service_keys(name).primary
    revealed = backend.list_audit_events()[0]
    assert (revealed.action, revealed.target) == ("reveal_service_key", f"service {name}")
    scored = opml("score", "--service", name, "--record", "age=41", "job=technician", workspace=workspace)
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.strip() in ("no", "yes") and "1 record(s)" in scored.stderr
    csv_file = tmp_path / "batch.csv"
    csv_file.write_text("".join(bank_small_csv.read_text().splitlines(keepends=True)[:6]))
    batch = opml("--json", "score", "--service", name, "--csv", str(csv_file), "--proba", workspace=workspace)
    assert len(json.loads(batch.stdout)["Results"]) == 5
    json_file = tmp_path / "data.json"
    json_file.write_text(json.dumps({"data": backend.get_model("bank-model").manifest["example"]}))
    assert opml("score", "--service", name, "--json", str(json_file), workspace=workspace).returncode == 0
    bad = opml("score", "--service", name, "--record", "shoe=42", workspace=workspace)
    assert bad.returncode == 2 and "unknown column 'shoe'" in bad.stderr
    for option in ("--csv", "--json"):
        missing = opml("score", "--service", name, option, str(tmp_path / "missing"), workspace=workspace)
        assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "broken.json").write_text("{nope")
    broken = opml("score", "--service", name, "--json", str(tmp_path / "broken.json"), workspace=workspace)
    assert broken.returncode == 2 and "is not JSON" in broken.stderr
    off = json.loads(opml("--json", "services", "update", name, "--app-insights", "off", workspace=workspace).stdout)
    assert off["app_insights_enabled"] is False
    opml("services", "update", name, "--app-insights", "on", workspace=workspace)
    assert "listening on" in opml("services", "logs", name, "--tail", "100000", workspace=workspace).stdout


@pytest.mark.parametrize(
    "argv",
    [["--config", "ws.json", "up"], ["up", "--config", "ws.json"], ["--config", "ws.json", "compute", "list"]],
)
def test_azure_config_is_accepted_before_the_command_and_after_up(argv):
    args = build_parser().parse_args(argv)
    assert args.config == "ws.json"
    assert build_parser().parse_args(["up"]).config is None


def test_cli_works_against_an_azure_workspace(cloud, tmp_path, monkeypatch, capsys):
    from tests.azure_fakes import make_fake_sdk
    from tests.azure_fixtures import write_config

    monkeypatch.setattr("opml.backends.azure.backend.load_sdk", lambda: make_fake_sdk(cloud))
    for variable, value in (("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s")):
        monkeypatch.setenv(variable, value)
    config = str(write_config(tmp_path))
    monkeypatch.setenv("OPML_AZURE_SDK", "v1")
    assert (
        main(
            [
                "--config",
                config,
                "--json",
                "compute",
                "create",
                "gpu-nodes",
                "--max-nodes",
                "3",
                "--vm-size",
                "STANDARD_NC6",
            ]
        )
        == 0
    )
    assert cloud.last_call("ComputeTarget.create")["provisioning_configuration"]["vm_size"] == "STANDARD_NC6"
    capsys.readouterr()
    monkeypatch.setenv("OPML_AZURE_CONFIG", config)
    assert main(["--json", "compute", "list"]) == 0
    computes = json.loads(capsys.readouterr().out)
    assert {c["name"]: c["kind"] for c in computes} == {"cpu-cluster": "AmlCompute", "gpu-nodes": "AmlCompute"}
