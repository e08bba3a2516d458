"""Names of AutoML metrics and algorithms (Azure ML's), importable without the ML libraries."""

PRIMARY_METRICS = (
    "accuracy",
    "AUC_weighted",
    "average_precision_score_weighted",
    "norm_macro_recall",
    "precision_score_weighted",
)
ALL_METRICS = (
    "accuracy",
    "AUC_weighted",
    "AUC_macro",
    "average_precision_score_weighted",
    "balanced_accuracy",
    "f1_score_weighted",
    "precision_score_weighted",
    "recall_score_weighted",
    "norm_macro_recall",
    "log_loss",
    "matthews_correlation",
)
LOWER_IS_BETTER = frozenset({"log_loss"})
ALGORITHMS = ("LightGBM", "XGBoostClassifier", "ExtremeRandomTrees", "RandomForest", "LogisticRegression")
ENSEMBLES = ("VotingEnsemble", "StackEnsemble")


def score_for_ranking(metric: str, value: float | None) -> float:
    """A number where higher is always better (for sorting leaderboards); missing values rank last."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return float("-inf")
    return -value if metric in LOWER_IS_BETTER else value
