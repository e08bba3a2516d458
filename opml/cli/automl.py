"""``opml`` commands for AutoML runs and the model registry."""

from __future__ import annotations

import argparse
from typing import Any

from opml.automl.names import (
    CLASSIFICATION_ALGORITHMS,
    CLASSIFICATION_PRIMARY_METRICS,
    REGRESSION,
    REGRESSION_ALGORITHMS,
    REGRESSION_PRIMARY_METRICS,
    TASKS,
    default_metric,
)
from opml.automl.settings import automl_params, guess_task
from opml.cli.common import audit, backend_of, command, emit, group, metric_text, print_json, print_table
from opml.errors import InvalidInput

ALL_ALGORITHMS = tuple(dict.fromkeys(CLASSIFICATION_ALGORITHMS + REGRESSION_ALGORITHMS))
# What the leaderboard table shows beside the primary metric, per task.
LEADERBOARD_METRICS = {"classification": ("AUC_weighted", "log_loss"), REGRESSION: ("r2_score", "mean_absolute_error")}


def chosen_task(args: argparse.Namespace, backend: Any) -> str:
    """``--task``, or the task guessed from the label column (said on stderr, so that --json stays clean)."""
    import sys

    if args.task:
        return args.task
    dataset = backend.get_dataset(args.dataset, args.dataset_version or None)
    frame = backend.load_dataset(dataset.name, dataset.version)
    if args.label not in frame.columns:
        raise InvalidInput(
            f"label column {args.label!r} is not in the dataset; columns are: {', '.join(frame.columns)}"
        )
    task = guess_task(frame[args.label])
    print(f"task: {task} (guessed from the label column {args.label!r}; choose with --task)", file=sys.stderr)
    return task


def cmd_automl_submit(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    task = chosen_task(args, backend)
    params = automl_params(
        dataset=args.dataset,
        label_column=args.label,
        dataset_version=args.dataset_version or None,
        task=task,
        primary_metric=args.metric,
        timeout_minutes=args.timeout_minutes,
        max_iterations=args.max_iterations,
        max_concurrent_iterations=args.max_concurrent,
        n_cross_validations=args.folds,
        validation_size=args.validation_size or None,
        allowed_algorithms=args.allowed,
        blocked_algorithms=args.blocked,
        ensembles=not args.no_ensembles,
    )
    run = backend.submit_run(experiment=args.experiment, run_type="automl", compute=args.compute, params=params)
    audit(backend, "submit_run", f"run {run.id} (automl, experiment {run.experiment})")
    if args.wait:
        run = backend.wait_for_run(run.id, timeout=args.timeout_minutes * 60 * 2 + 120)
    emit(args, run, ())
    return 0 if run.status != "Failed" else 1


def cmd_automl_show(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    run = backend.get_run(args.run_id)
    if args.json:
        emit(args, run, ())
        return 0
    progress = run.progress
    print(f"run: {run.id}\nstatus: {run.status}\nexperiment: {run.experiment}")
    params = run.params
    print(f"dataset: {params.get('dataset')}:{params.get('dataset_version')}  label: {params.get('label_column')}")
    print(f"task: {params.get('task', 'classification')}  primary metric: {params.get('primary_metric')}")
    print(f"iterations: {progress.get('iterations_done', 0)}  elapsed: {progress.get('elapsed_seconds', 0)} s")
    if progress.get("best_child_id"):
        best = metric_text(progress.get("best_metric")) or "not measured"
        print(f"best: {progress['best_child_id']}  {progress.get('primary_metric')} = {best}")
    if progress.get("best_reason"):
        print(f"best chosen because: {progress['best_reason']}")
    for note in progress.get("notes") or []:
        print(f"note: {note}")
    for guardrail in backend.get_run_output(run.id, "guardrails.json") or []:
        print(f"guardrail: {guardrail['status']:8s} {guardrail['name']}: {guardrail['description']}")
    if run.error:
        print(f"error: {run.error}")
    return 0


def cmd_automl_leaderboard(args: argparse.Namespace) -> int:
    from opml.leaderboard import leaderboard

    backend = backend_of(args)
    rows = leaderboard(backend, args.run_id)[: args.top]
    if args.json:
        print_json(rows)
        return 0
    params = backend.get_run(args.run_id).params
    task = params.get("task", "classification")
    metric = params.get("primary_metric") or default_metric(task)
    shown = [metric, *(m for m in LEADERBOARD_METRICS[task] if m != metric)]
    table = [
        {
            "rank": rank,
            "run_id": row["run_id"],
            "algorithm": row["algorithm"] + (" *" if row["best"] else ""),
            **{name: metric_text(row.get(name)) for name in shown},
            "seconds": metric_text(row["duration_seconds"], 1),
            "status": row["status"],
        }
        for rank, row in enumerate(rows, start=1)
    ]
    print_table(table, ["rank", "run_id", "algorithm", *shown, "seconds", "status"])
    return 0


def add_commands(commands: Any) -> None:
    automl = group(commands, "automl", "train classification and regression models with AutoML")
    submit = command(automl, "submit", cmd_automl_submit, "queue an AutoML run on a registered dataset")
    submit.add_argument("dataset", help="registered dataset name")
    submit.add_argument("--label", required=True, help="label column to predict (e.g. y)")
    submit.add_argument("--dataset-version", type=int, help="dataset version (default: latest)")
    submit.add_argument("--experiment", default="automl", help="experiment name (default automl)")
    submit.add_argument("--compute", default="cpu-cluster", help="compute (default cpu-cluster)")
    submit.add_argument(
        "--task",
        choices=TASKS,
        help="what to predict: classes or a number (default: guessed from the label column)",
    )
    submit.add_argument(
        "--metric",
        choices=CLASSIFICATION_PRIMARY_METRICS + REGRESSION_PRIMARY_METRICS,
        help="primary metric (default: accuracy for classification, spearman_correlation for regression)",
    )
    submit.add_argument("--timeout-minutes", type=float, default=15.0, help="experiment timeout (default 15)")
    submit.add_argument("--max-iterations", type=int, default=100, help="most trials (default 100)")
    submit.add_argument("--max-concurrent", type=int, default=1, help="trials at once (default 1)")
    submit.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    submit.add_argument("--validation-size", type=float, help="use a validation split of this fraction instead of CV")
    submit.add_argument("--allowed", nargs="+", choices=ALL_ALGORITHMS, help="only these algorithms")
    submit.add_argument("--blocked", nargs="+", choices=ALL_ALGORITHMS, help="never these algorithms")
    submit.add_argument("--no-ensembles", action="store_true", help="skip VotingEnsemble and StackEnsemble")
    submit.add_argument("--wait", action="store_true", help="wait until the run ends")
    show = command(automl, "show", cmd_automl_show, "show an AutoML run: status, progress, guardrails, best model")
    show.add_argument("run_id")
    board = command(automl, "leaderboard", cmd_automl_leaderboard, "list an AutoML run's models, best first")
    board.add_argument("run_id")
    board.add_argument("--top", type=int, default=20, help="show this many (default 20)")
