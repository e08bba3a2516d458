"""How long a run's first model takes on its data, and how it validates models when cross-validation would not
fit its time.

A large table makes every cross-validated trial expensive: 5 folds of 262,000 rows cost five fits before the
first model is on the leaderboard. As Azure ML does for large data, such a run validates on a holdout instead,
and keeps the models it validated there (a refit on every row would cost as much again); when even one fit would
take a large share of the time, the search trains on a sample of the rows and the best model is refitted on every
row. The run says so (its progress notes and the validation guardrail).

**What a fit costs** is rows x *featurized width* x ``FIT_SECONDS_PER_CELL``: the width is what the first model
learns from (``featurized_width``), not the table's columns. A column of dates is seven numbers (the instant and
its calendar parts, ``opml.automl.featurize.DATETIME_PARTS``); a number is one, and so is a text column, however
many categories it has: the tree learners see one code per column. Measured with the first trial (LightGBM's
defaults, featurization, prediction and metrics; one thread, 93,600 training rows): 13 numbers and 5 text columns
of 3, 100 or 4,000 categories took 1.67, 1.66 and 1.62 s against 1.63 s for 18 numbers, and 13 numbers and 5
columns of dates 4.04 s (each date about 6.6 numbers). A flights-like table (117,000 rows: 13 numbers, carrier,
tailnum, origin, dest and the date ``time_hour``) is 24 wide, not 18: a fold of its first trial took 2.16 s
where Bank Marketing ten times over (262,300 rows, 20 wide) took 4.0 s, the ratio of rows x width (1.2).
Counting the 18 columns, 5-fold cross-validation fitted in a 1-minute budget (5.3 s estimated, 10 % is 6 s) and
took 9 s a fit in the newcomer walk; counted 24 wide it is 7.0 s, and the run validates on a holdout. Tables
without dates, such as Bank Marketing, are estimated exactly as before. (One-hot learners, the linear ones, do
pay for categories: an ElasticNet trial took 0.17, 1.49 and 3.83 s on the tables above; they are not the first
model, and they stop when the time is up.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from opml.errors import InvalidInput

AutoMLSettings = Any  # opml.automl.settings.AutoMLSettings, which imports this module (no cycle)

# Seconds per (row x column) of one fit of LightGBM's defaults (100 trees of 31 leaves), the first trial of a
# run, on 2 cores: about 2 s for 210,000 rows x 20 columns of Bank Marketing.
FIT_SECONDS_PER_CELL = 5e-7
STARTUP_SECONDS = 5.0  # the run's process starts and imports its libraries
SETUP_SECONDS_PER_ROW = 1.5e-5  # loading, guardrails and featurization of a row, once
# Boosters grow one tree per class a round for three classes or more: LightGBM's defaults took 0.08 s a class
# on 3,333 rows x 3 columns (8.3 s for 100 classes), 0.14 s on a busy machine (a run of 100 classes kept to
# 0.1 s a class ended 19 % past its 30 seconds).
SECONDS_PER_CLASS = 0.14
HOLDOUT_SIZE = 0.1
CROSS_VALIDATION_SHARE = 0.1  # one model's cross-validation may take at most this share of the time
SAMPLE_SHARE = 0.1  # one fit on the holdout's training rows may take at most this share of the time
MIN_SAMPLE_ROWS = 20_000


def featurized_width(X: Any) -> int:
    """How many features the first model learns from the columns of ``X`` (a DataFrame of the features):
    one per number or text column, ``len(DATETIME_PARTS)`` per column of dates (see the module docstring)."""
    from opml.automl.featurize import DATETIME_PARTS, datetime_columns, numeric_columns

    numeric = set(numeric_columns(X))
    dates = datetime_columns(X, [column for column in X.columns if str(column) not in numeric])
    return X.shape[1] + (len(DATETIME_PARTS) - 1) * len(dates)


def fit_seconds(rows: int, width: float, classes: int = 0) -> float:
    """About how long one fit of the first trial takes on ``rows`` x ``width`` features (``featurized_width``;
    and ``classes``: 0 for regression)."""
    return rows * max(width, 1) * FIT_SECONDS_PER_CELL + (classes * SECONDS_PER_CLASS if classes > 2 else 0.0)


def first_model_seconds(rows: int, width: float, folds: int, search_rows: int | None = None, classes: int = 0) -> float:
    """About how long a run takes before its first model is scored: start-up, set-up of every row, then one fit
    per fold (on ``search_rows`` when the search trains on a sample) of ``width`` features."""
    fits = folds * fit_seconds(rows if search_rows is None else search_rows, width, classes)
    return STARTUP_SECONDS + rows * SETUP_SECONDS_PER_ROW + fits


@dataclass(frozen=True)
class ValidationPlan:
    n_cross_validations: int | None
    validation_size: float | None
    rows: int  # the data's labelled rows
    search_rows: int  # rows the search trains and validates on (a sample when fewer)
    notes: tuple[str, ...] = ()  # what changed from the settings, and why

    @property
    def sampled(self) -> bool:
        return self.search_rows < self.rows


def plan_validation(settings: AutoMLSettings, rows: int, width: float, classes: int = 0) -> ValidationPlan:
    """The settings' validation when it fits the time; else a holdout of ``HOLDOUT_SIZE``; and a sample of
    the rows for the search when one fit on them would still take more than ``SAMPLE_SHARE`` of the time.
    ``width``: the features of a row (``featurized_width``; the number of columns of a table without dates)."""
    budget = settings.timeout_seconds
    folds, size = settings.n_cross_validations, settings.validation_size
    notes = []
    if folds and folds * fit_seconds(rows, width, classes) > CROSS_VALIDATION_SHARE * budget:
        per_model = folds * fit_seconds(rows, width, classes)
        notes.append(
            f"{folds}-fold cross-validation of {rows:,} rows would take about {per_model:.0f} s a model of the "
            f"{_minutes(budget)} budget: models are validated on a {HOLDOUT_SIZE:.0%} holdout instead"
        )
        folds, size = None, HOLDOUT_SIZE
    search_rows = rows
    train_share = 1 - (size or 0) if not folds else (folds - 1) / folds
    one_fit = fit_seconds(round(rows * train_share), width)  # the rows' share: what a sample saves
    if one_fit > SAMPLE_SHARE * budget:
        wanted = int(rows * SAMPLE_SHARE * budget / one_fit)
        search_rows = min(rows, max(MIN_SAMPLE_ROWS, wanted))
        if search_rows < rows:
            notes.append(
                f"one model on {rows:,} rows would take about {one_fit:.0f} s of the {_minutes(budget)} budget: "
                f"the search trains on a sample of {search_rows:,} rows; the best model is refitted on every row"
            )
    if not folds and search_rows == rows and notes:
        notes[0] += ", and the best is kept as validated there (not refitted on every row)"
    return ValidationPlan(folds, size, rows, search_rows, tuple(notes))


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g}-minute" if minutes >= 1 else f"{seconds:.0f}-second"


def check_budget(
    settings: AutoMLSettings, rows: int, columns: int, classes: int = 0, width: float | None = None
) -> None:
    """Refuse a timeout in which not even one model would be trained and refitted on this much data (``classes``:
    their number, 0 for regression; ``width``: the features of a row, ``columns`` when not given), with the
    validation the run would use (``plan_validation``)."""
    width = columns if width is None else width
    plan = plan_validation(settings, rows, width, classes)
    folds = plan.n_cross_validations or 1
    needed = first_model_seconds(rows, width, folds, plan.search_rows, classes) + fit_seconds(rows, width, classes)
    if settings.timeout_seconds >= needed:
        return
    minutes = max(math.ceil(needed / 30) / 2, 0.5)  # rounded up to half a minute
    of_classes = f" and {classes} classes" if classes > 2 else ""
    features = f" ({width:g} features: a column of dates is 7)" if width > columns else ""
    raise InvalidInput(
        f"experiment_timeout_minutes {settings.experiment_timeout_minutes:g} is too short for {rows:,} rows x "
        f"{columns} columns{features}{of_classes}: the first model alone takes about {needed:.0f} s here; give at "
        f"least {minutes:g} minutes"
    )
