"""The AutoML, monitoring and rollout benchmarks refuse bad arguments before they make a workspace, start an
agent or train; the monitoring bench's shifted requests and webhook receiver."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pytest

from opml.bench import automl, monitoring, rollout


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    automl.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--run-seed", "-1"], "seed must be between 0 and 2,147,483,647"),
        (["--timeout-minutes", "0"], "experiment_timeout_minutes must be a positive number"),
        (["--metric", "f2"], "unknown primary metric"),
        (["--label", "nope"], "has no column 'nope'"),
        (["--test-data", "/no/such.csv"], "no such file: /no/such.csv"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(bank_small_csv: Path, extra, message, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a workspace would be made
    args = parse("--data", str(bank_small_csv), *extra)
    assert message in automl.usage_error(args)
    assert automl.run(args) == 2
    assert not list(tmp_path.iterdir())


def test_good_arguments_pass(bank_small_csv: Path):
    args = parse("--data", str(bank_small_csv), "--run-seed", "7", "--seeds", "42,0")
    assert automl.usage_error(args) is None
    assert args.seeds == [42, 0]
    problem = automl.preflight(args)
    assert (problem.task, problem.metric) == ("classification", "accuracy")  # guessed from y's yes/no
    assert automl.run_params(args, problem)["seed"] == 7
    assert "seed" not in automl.run_params(parse("--data", str(bank_small_csv)), problem)


@pytest.mark.parametrize("seeds", ["4,-2", "a,b", "1.5"])
def test_split_seeds_must_be_whole_numbers_from_zero(seeds: str):
    with pytest.raises(SystemExit):
        parse("--data", "x.csv", "--seeds", seeds)


def parse_monitoring(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    monitoring.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--requests", "999"], "--requests must be an even number"),
        (["--requests", "2001"], "--requests must be an even number"),
        (["--concurrency", "0"], "--concurrency must be from 1 to 64"),
        (["--evaluate-seconds", "0"], "--evaluate-seconds must be a whole number from 1 to 3,600"),
        (["--window-minutes", "0.5"], "--window-minutes must be from 1"),
        (["--alert-timeout", "0"], "--alert-timeout must be"),
        (["--seconds", "-1"], "--seconds from 0 to 600"),
        (["--drift-rows", "0"], "--drift-rows must be"),
        (["--rounds", "0"], "--rounds from 1 to 100"),
        (["--timeout-minutes", "nan"], "--timeout-minutes must be a positive number"),
        (["--label", "nope"], "has no column 'nope'"),
        (["--workspace", "/no/such/workspace"], "no such workspace: /no/such/workspace"),
        (["--data", "/no/such.csv"], "no such file: /no/such.csv"),
    ],
)
def test_monitoring_refuses_bad_arguments_before_anything_runs(
    bank_small_csv: Path, extra, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a workspace would be made
    args = parse_monitoring("--data", str(bank_small_csv), *extra)
    assert message in monitoring.usage_error(args)
    assert monitoring.run(args) == 2
    assert message in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_monitoring_defaults_pass_and_its_second_half_is_shifted(bank_small_csv: Path):
    import pandas as pd

    args = parse_monitoring("--data", str(bank_small_csv))
    assert monitoring.usage_error(args) is None
    assert (args.requests, args.concurrency, args.evaluate_seconds) == (20_000, 8, 5)

    bodies = [json.loads(body)["data"][0] for body in monitoring.request_bodies(str(bank_small_csv), "y", 2_000)]
    frame = pd.read_csv(bank_small_csv, sep=None, engine="python")
    same = lambda values: tuple(round(v, 6) if isinstance(v, float) else v for v in values)  # noqa: E731
    rows = {tuple(row) for row in frame.drop(columns=["y"]).itertuples(index=False)}
    first, second = bodies[:1_000], bodies[1_000:]
    assert all(tuple(record.values()) in rows for record in first)  # exactly: 92.20100000000001 is not 92.201
    assert sum(tuple(record.values()) in rows for record in second) < 10
    inputs = frame.drop(columns=["y", "job"])
    unjobbed = {same(row) for row in inputs.itertuples(index=False)}
    for record in second:  # each a row of the data with age + 15 and euribor3m - 2.5 (and any job)
        record = {**record, "age": record["age"] - 15, "euribor3m": record["euribor3m"] + 2.5}
        assert same(record[column] for column in inputs.columns) in unjobbed
    jobs = pd.Series([r["job"] for r in second]).value_counts(normalize=True)
    assert set(jobs.index) == set(frame["job"].unique())
    assert jobs.max() < 2 / len(jobs)  # uniform, unlike the data (admin. is about a quarter)
    assert frame["job"].value_counts(normalize=True).max() > 2 / len(jobs)


def test_the_webhook_receiver_keeps_firing_alerts(tmp_path):
    import http.client
    from urllib.parse import urlparse

    receiver = monitoring.WebhookReceiver()
    try:
        url = urlparse(receiver.url)
        assert url.hostname == "127.0.0.1"
        for body, status in ((b"not json", 400), (json.dumps({"state": "Firing", "summary": "x"}).encode(), 204)):
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
            connection.request("POST", url.path, body=body, headers={"Content-Type": "application/json"})
            assert connection.getresponse().status == status
            connection.close()
        at, document = receiver.first_firing()
        assert document == {"state": "Firing", "summary": "x"} and at <= time.time()
    finally:
        receiver.close()


def parse_rollout(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    rollout.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--concurrency", "0"], "--concurrency must be from 1 to 64"),
        (["--concurrency", "65"], "--concurrency must be from 1 to 64"),
        (["--phase-seconds", "0.1"], "--phase-seconds must be from 0.5 to 600"),
        (["--phase-seconds", "nan"], "--phase-seconds must be from 0.5 to 600"),
        (["--requests", "99"], "--requests must be from 100"),
        (["--rounds", "0"], "--rounds must be from 1 to 100"),
        (["--timeout-minutes", "inf"], "--timeout-minutes must be a positive number"),
        (["--label", "nope"], "has no column 'nope'"),
        (["--data", "/no/such.csv"], "no such file: /no/such.csv"),
        (["--workspace", "/no/such/workspace"], "no such workspace: /no/such/workspace"),
    ],
)
def test_rollout_refuses_bad_arguments_before_anything_runs(
    bank_small_csv: Path, extra, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a workspace would be made
    args = parse_rollout("--data", str(bank_small_csv), *extra)
    assert message in rollout.usage_error(args)
    assert rollout.run(args) == 2
    assert message in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_rollout_defaults_pass_and_a_workspace_needs_no_data(bank_small_csv: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("OPML_BANK_CSV", str(bank_small_csv))
    args = parse_rollout()
    assert args.data == str(bank_small_csv)  # the environment names the reference data; no product dependency
    assert rollout.usage_error(args) is None
    assert (args.concurrency, args.phase_seconds, args.requests, args.rounds) == (8, 4.0, 600, 8)
    args = parse_rollout("--workspace", str(tmp_path), "--data", "/no/such.csv", "--concurrency", "2")
    assert rollout.usage_error(args) is None and args.concurrency == 2
    with pytest.raises(SystemExit):
        parse_rollout("--rounds", "two")


def parse_pages(*argv: str) -> argparse.Namespace:
    from opml.bench import pages

    parser = argparse.ArgumentParser()
    pages.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--runs", "0"], "--runs must be from 1 to 10,000"),
        (["--children", "2"], "--children must be from 3 to 1,000"),
        (["--rounds", "0"], "--rounds must be from 1 to 100"),
        (["--fail-over-ms", "0"], "--fail-over-ms must be a positive number"),
        (["--fail-over-ms", "nan"], "--fail-over-ms must be a positive number"),
        (["--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_pages_refuses_bad_arguments_before_anything_runs(extra, message, tmp_path, monkeypatch, capsys):
    from opml.bench import pages

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a workspace would be made
    args = parse_pages(*extra)
    assert message in pages.usage_error(args)
    assert pages.run(args) == 2
    assert message in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_pages_defaults_and_a_workspace_that_is_a_file(tmp_path: Path):
    from opml.bench import pages

    args = parse_pages()
    assert pages.usage_error(args) is None
    assert (args.runs, args.children, args.rounds, args.fail_over_ms, args.workspace) == (200, 60, 5, None, None)
    (tmp_path / "file").write_text("")
    assert "is a file, not a workspace folder" in pages.usage_error(parse_pages("--workspace", str(tmp_path / "file")))
    assert parse_pages("--fail-over-ms", "1000", "--rounds", "3").fail_over_ms == 1000.0
    with pytest.raises(SystemExit):
        parse_pages("--runs", "many")
