"""Names of AutoML tasks, metrics and algorithms (Azure ML's), importable without the ML libraries."""

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

CLASSIFICATION_PRIMARY_METRICS = (
    "accuracy",
    "AUC_weighted",
    "average_precision_score_weighted",
    "norm_macro_recall",
    "precision_score_weighted",
)
REGRESSION_PRIMARY_METRICS = (
    "spearman_correlation",
    "normalized_root_mean_squared_error",
    "r2_score",
    "normalized_mean_absolute_error",
)
CLASSIFICATION_METRICS = (
    "accuracy",
    "AUC_weighted",
    "AUC_macro",
    "AUC_micro",
    "average_precision_score_weighted",
    "average_precision_score_macro",
    "average_precision_score_micro",
    "balanced_accuracy",
    "f1_score_weighted",
    "f1_score_macro",
    "f1_score_micro",
    "precision_score_weighted",
    "precision_score_macro",
    "precision_score_micro",
    "recall_score_weighted",
    "recall_score_macro",
    "recall_score_micro",
    "norm_macro_recall",
    "log_loss",
    "matthews_correlation",
)
REGRESSION_METRICS = (
    "spearman_correlation",
    "normalized_root_mean_squared_error",
    "r2_score",
    "normalized_mean_absolute_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "median_absolute_error",
    "normalized_median_absolute_error",
    "explained_variance",
    "mean_absolute_percentage_error",
    "root_mean_squared_log_error",
    "normalized_root_mean_squared_log_error",
)
LOWER_IS_BETTER = frozenset(
    {"log_loss"} | {name for name in REGRESSION_METRICS if name.endswith("_error")}  # every regression error
)
CLASSIFICATION_ALGORITHMS = (
    "LightGBM",
    "XGBoostClassifier",
    "ExtremeRandomTrees",
    "RandomForest",
    "LogisticRegression",
)
REGRESSION_ALGORITHMS = ("LightGBM", "XGBoostRegressor", "ExtremeRandomTrees", "RandomForest", "ElasticNet")
ENSEMBLES = ("VotingEnsemble", "StackEnsemble")

_PRIMARY = {CLASSIFICATION: CLASSIFICATION_PRIMARY_METRICS, REGRESSION: REGRESSION_PRIMARY_METRICS}
_ALL = {CLASSIFICATION: CLASSIFICATION_METRICS, REGRESSION: REGRESSION_METRICS}
_ALGORITHMS = {CLASSIFICATION: CLASSIFICATION_ALGORITHMS, REGRESSION: REGRESSION_ALGORITHMS}
# Azure ML's defaults (AutoMLConfig): accuracy for classification, Spearman's correlation for regression.
_DEFAULT_METRIC = {CLASSIFICATION: "accuracy", REGRESSION: "spearman_correlation"}


def _task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {', '.join(TASKS)}")
    return task


def primary_metrics(task: str) -> tuple[str, ...]:
    """The metrics a run of ``task`` can rank its models by."""
    return _PRIMARY[_task(task)]


def all_metrics(task: str) -> tuple[str, ...]:
    """Every metric computed for each model of a run of ``task``, in the order a leaderboard shows them."""
    return _ALL[_task(task)]


def algorithms(task: str) -> tuple[str, ...]:
    """The algorithms a run of ``task`` searches, under Azure ML's names."""
    return _ALGORITHMS[_task(task)]


def default_metric(task: str) -> str:
    return _DEFAULT_METRIC[_task(task)]


def task_of_metric(metric: str) -> str | None:
    """The task whose metric ``metric`` is, or None for an unknown name."""
    return next((task for task, names in _ALL.items() if metric in names), None)


def score_for_ranking(metric: str, value: float | None) -> float:
    """A number where higher is always better (for sorting leaderboards); missing values rank last."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return float("-inf")
    return -value if metric in LOWER_IS_BETTER else value
