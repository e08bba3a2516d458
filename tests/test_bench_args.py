"""The AutoML benchmark refuses bad arguments before it makes a workspace, starts an agent or trains."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pytest

from opml.bench import automl


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
    assert automl.run_params(args)["seed"] == 7
    assert "seed" not in automl.run_params(parse("--data", str(bank_small_csv)))


@pytest.mark.parametrize("seeds", ["4,-2", "a,b", "1.5"])
def test_split_seeds_must_be_whole_numbers_from_zero(seeds: str):
    with pytest.raises(SystemExit):
        parse("--data", "x.csv", "--seeds", seeds)
