"""AutoML quality and speed on a held-out split, against FLAML alone at the same budget.

Trains through the real product path (a temporary workspace, the agent, a run
process, the registry) on a seeded stratified split, then prints held-out
accuracy and AUC_weighted, wall time, trials, time to the first child run, peak
memory of the run process and single-record prediction latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

LATENCY_ROUNDS = 5
LATENCY_CALLS = 400


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="CSV file (e.g. ../shared/data/bankmarketing_train.csv)")
    parser.add_argument("--label", default="y")
    parser.add_argument("--test-data", help="separate evaluation CSV (default: a seeded 20 %% split of --data)")
    parser.add_argument("--timeout-minutes", type=float, default=5.0)
    parser.add_argument("--metric", default="accuracy")
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


def run_params(args: argparse.Namespace) -> dict:
    """The AutoML run's parameters, as the dashboard would submit them."""
    return {
        "dataset": "train",
        "label_column": args.label,
        "primary_metric": args.metric,
        "experiment_timeout_minutes": args.timeout_minutes,
        "max_iterations": 1000,
        **({"seed": args.run_seed} if args.run_seed is not None else {}),
    }


def split(args: argparse.Namespace, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(args.data)
    if args.test_data:
        return frame, pd.read_csv(args.test_data)
    return train_test_split(frame, test_size=0.2, stratify=frame[args.label], random_state=seed)


def held_out(model, test: pd.DataFrame, label: str) -> tuple[float, float]:
    X, y = test.drop(columns=[label]), test[label].astype(str)
    classes = list(model.classes_)
    proba = model.predict_proba(X)
    accuracy = accuracy_score(y, model.predict(X))
    if len(classes) == 2:
        auc = roc_auc_score((y == classes[1]).astype(int), proba[:, 1])
    else:
        auc = roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes)
    return accuracy, auc


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


def run_opml(args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend

    workspace = Path(tempfile.mkdtemp(prefix="opml-bench-"))
    backend = LocalBackend(workspace)
    backend.register_dataset(name="train", source=train.to_csv(index=False).encode(), filename="train.csv")
    agent = start_agent(workspace)
    try:
        launched = time.monotonic()
        run = backend.submit_run(
            experiment="bench",
            run_type="automl",
            compute="cpu-cluster",
            params=run_params(args),
        )
        memory = PeakMemory(lambda: backend.runs.process_of(run.id)[0])
        memory.start()
        first_child = None
        while not (current := backend.get_run(run.id)).is_terminal:
            if first_child is None and backend.list_runs(parent_id=run.id, limit=1):
                first_child = time.monotonic() - launched
            time.sleep(0.2)
        wall = time.monotonic() - launched
        memory.stopped.set()
        if current.status != "Completed":
            raise SystemExit(f"AutoML run ended {current.status}: {current.error}")
        model_entry = backend.register_model(name="bench", run_id=run.id)
        model = backend.load_model("bench")
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    accuracy, auc = held_out(model, test, args.label)
    record = test.drop(columns=[args.label]).head(1).to_dict("records")
    for _ in range(50):
        model.predict_proba_records(record)
    # Rounds rather than one long series: the processes the run leaves behind take a moment to exit, and the
    # fastest round's median is the figure that describes the model rather than the machine's neighbours.
    rounds = []
    for _ in range(LATENCY_ROUNDS):
        latencies = []
        for _ in range(LATENCY_CALLS):
            started = time.perf_counter()
            model.predict_proba_records(record)
            latencies.append((time.perf_counter() - started) * 1000)
        rounds.append(latencies)
    trials = len(backend.list_runs(parent_id=run.id, limit=100_000))
    return {
        "accuracy": accuracy,
        "AUC_weighted": auc,
        "wall_seconds": wall,
        "run_seconds": current.duration_seconds,
        "trials": trials,
        "first_child_seconds": first_child,
        "peak_memory_mb": memory.peak / 1e6,
        "best": model_entry.algorithm,
        "predict_one_ms_p50": min(statistics.median(latencies) for latencies in rounds),
        "predict_one_ms_p99": float(np.percentile(np.concatenate(rounds), 99)),
        "workspace": workspace,
        "run_id": run.id,
    }


def run_lightgbm_defaults(args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """LightGBM with its defaults and native categoricals: the reference the issue's figures start from."""
    import lightgbm

    X, y = train.drop(columns=[args.label]), train[args.label].astype(str)
    X_test = test.drop(columns=[args.label])
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype("category")
            X_test[column] = pd.Categorical(X_test[column], categories=X[column].cat.categories)
    model = lightgbm.LGBMClassifier(verbose=-1, random_state=0).fit(X, y)

    class Wrapped:  # held_out() takes raw test frames
        classes_ = model.classes_

        @staticmethod
        def predict(_):
            return model.predict(X_test)

        @staticmethod
        def predict_proba(_):
            return model.predict_proba(X_test)

    accuracy, auc = held_out(Wrapped, test, args.label)
    return {"accuracy": accuracy, "AUC_weighted": auc}


def run_flaml(args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict:
    from flaml import AutoML

    X, y = train.drop(columns=[args.label]), train[args.label].astype(str)
    started = time.monotonic()
    automl = AutoML()
    automl.fit(
        X,
        y,
        task="classification",
        metric=args.metric,
        time_budget=args.timeout_minutes * 60,
        eval_method="cv",
        n_splits=5,
        seed=seed,
        verbose=0,
    )
    wall = time.monotonic() - started
    accuracy, auc = held_out(automl, test, args.label)
    return {"accuracy": accuracy, "AUC_weighted": auc, "wall_seconds": wall, "best": automl.best_estimator}


def usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, found before a workspace, an agent or a model is made."""
    from opml.automl.settings import parse_settings
    from opml.errors import InvalidInput

    try:
        parse_settings(run_params(args))
    except InvalidInput as error:
        return str(error)
    for path in filter(None, (args.data, args.test_data)):
        if not Path(path).is_file():
            return f"no such file: {path}"
        if args.label not in pd.read_csv(path, nrows=0).columns:
            return f"{path} has no column {args.label!r} (give the label column with --label)"
    return None


def run(args: argparse.Namespace) -> int:
    if problem := usage_error(args):
        print(f"python -m opml.bench automl: error: {problem}", file=sys.stderr)
        return 2
    seeds = args.seeds
    results: dict[str, list[dict]] = {"opml": [], "flaml": [], "lightgbm": []}
    for seed in seeds:
        train, test = split(args, seed)
        print(
            f"data: {args.data}  seed {seed}  train {len(train):,} rows, test {len(test):,} rows, "
            f"budget {args.timeout_minutes} min"
        )
        ours = run_opml(args, train, test)
        results["opml"].append(ours)
        print(
            f"opml      accuracy {ours['accuracy']:.4f}  AUC_weighted {ours['AUC_weighted']:.4f}  "
            f"wall {ours['wall_seconds']:.0f} s (run {ours['run_seconds']:.0f} s)  trials {ours['trials']}  "
            f"first child {ours['first_child_seconds']:.1f} s  peak memory {ours['peak_memory_mb']:.0f} MB  "
            f"best {ours['best']}  predict 1 record p50 {ours['predict_one_ms_p50']:.3f} ms "
            f"(best of {LATENCY_ROUNDS} rounds) p99 {ours['predict_one_ms_p99']:.3f} ms",
            flush=True,
        )
        print(
            f"          workspace kept: opml --workspace {ours['workspace']} automl leaderboard {ours['run_id']} "
            "(delete the folder when done)",
            flush=True,
        )
        reference = run_lightgbm_defaults(args, train, test)
        results["lightgbm"].append(reference)
        print(
            f"lightgbm  accuracy {reference['accuracy']:.4f}  AUC_weighted {reference['AUC_weighted']:.4f}  "
            "(defaults, native categoricals)",
            flush=True,
        )
        if not args.skip_flaml:
            flaml = run_flaml(args, train, test, seed)
            results["flaml"].append(flaml)
            print(
                f"flaml     accuracy {flaml['accuracy']:.4f}  AUC_weighted {flaml['AUC_weighted']:.4f}  "
                f"wall {flaml['wall_seconds']:.0f} s  best {flaml['best']}",
                flush=True,
            )
    if len(seeds) > 1:
        print(f"mean over {len(seeds)} splits (seeds {','.join(map(str, seeds))}):")
        for name, rows in results.items():
            if rows:
                print(
                    f"  {name:9} accuracy {statistics.mean(r['accuracy'] for r in rows):.4f}  "
                    f"AUC_weighted {statistics.mean(r['AUC_weighted'] for r in rows):.4f}"
                )
    return 0
