"""Classification metrics computed in one pass each: threshold metrics from one confusion matrix, ranking metrics
(AUC, average precision) from one sort per class.

Same numbers as scikit-learn's functions (``tests/test_automl_tasks.py`` compares them), without their input
validation and per-call overhead: scikit-learn took 4 s for the 20 metrics of one binary trial on 210,000 rows
(10 s for 5 classes), which every trial, ensemble and bootstrap of a large run pays.
"""

from __future__ import annotations

import numpy as np

PROBABILITY_CLIP = 1e-15


def confusion(y: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class (integer codes below ``n_classes``)."""
    return np.bincount(y * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def averaged(score: str, average: str, matrix: np.ndarray) -> float:
    """precision_score, recall_score or f1_score, ``average`` weighted, macro (over the classes that are true or
    predicted: a class absent from a holdout and never predicted does not count as a 0) or micro."""
    true_positive = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1).astype(float), matrix.sum(axis=0).astype(float)
    if average == "micro":  # one label per row: every micro average is the accuracy
        true_positive, support, predicted = (
            true_positive.sum(keepdims=True),
            support.sum(keepdims=True),
            support.sum(keepdims=True),
        )
    if score == "precision_score":
        per_class = _ratio(true_positive, predicted)
    elif score == "recall_score":
        per_class = _ratio(true_positive, support)
    else:  # f1: 2 tp / (2 tp + fp + fn)
        per_class = _ratio(2 * true_positive, support + predicted)
    if average == "weighted":
        return float(np.average(per_class, weights=support)) if support.sum() else 0.0
    if average == "macro":  # over the classes that are true or predicted, as scikit-learn's default labels
        seen = (support > 0) | (predicted > 0)
        return float(per_class[seen].mean()) if seen.any() else 0.0
    return float(per_class.mean())


def balanced_accuracy(matrix: np.ndarray) -> float:
    """The mean recall of the classes that have rows."""
    support = matrix.sum(axis=1)
    present = support > 0
    return float((np.diag(matrix)[present] / support[present]).mean())


def macro_recall_of_seen_classes(matrix: np.ndarray) -> float:
    """The mean recall over the classes that are true or predicted (scikit-learn's default labels)."""
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    seen = (support > 0) | (predicted > 0)
    return float(_ratio(np.diag(matrix)[seen].astype(float), support[seen].astype(float)).mean())


def matthews(matrix: np.ndarray) -> float:
    true_sum, predicted_sum = matrix.sum(axis=1).astype(float), matrix.sum(axis=0).astype(float)
    correct, samples = float(np.trace(matrix)), float(true_sum.sum())
    covariance = correct * samples - true_sum @ predicted_sum
    spread = (samples**2 - predicted_sum @ predicted_sum) * (samples**2 - true_sum @ true_sum)
    return 0.0 if spread == 0 else float(covariance / np.sqrt(spread))


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    clipped = np.clip(proba, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)  # float32 models' rows sum to 1 only roughly
    clipped /= clipped.sum(axis=1, keepdims=True)
    return float(-np.log(clipped[np.arange(len(y)), y]).mean())


def _counts_by_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives above each distinct score, from the highest score down (one sort)."""
    order = np.argsort(-scores)
    ordered, hits = scores[order], truth[order].astype(float)
    last_of_each_score = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    true_positives = np.cumsum(hits)[last_of_each_score]
    return true_positives, last_of_each_score + 1 - true_positives


def ranking_scores(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(ROC AUC, average precision) of one class's scores; NaN without both kinds of rows. The AUC is the
    area under the ROC steps (ties count half); the average precision is the precision at each distinct
    score weighted by the recall it adds, as scikit-learn defines them."""
    true_positives, false_positives = _counts_by_threshold(truth, scores)
    positives, negatives = true_positives[-1], false_positives[-1]
    if positives == 0 or negatives == 0:
        return float("nan"), float("nan") if positives == 0 else 1.0
    tpr = np.r_[0.0, true_positives / positives]
    fpr = np.r_[0.0, false_positives / negatives]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    precision = true_positives / (true_positives + false_positives)
    return auc, float(np.sum(np.diff(tpr) * precision))


def binary_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    return ranking_scores(truth, scores)[0]


def per_class_average(metric: str, average: str, y: np.ndarray, proba: np.ndarray, cache: dict | None = None) -> float:
    """AUC_* or average_precision_score_* of class probabilities: one-vs-rest per class, averaged by class
    support (weighted) or equally (macro, over the classes with rows), or pooled over every (row, class)
    pair (micro). ``cache`` keeps what one sort per class gives (both metrics) between the averages of the
    same predictions."""
    which = 0 if metric == "AUC" else 1
    cache = {} if cache is None else cache
    n_classes = proba.shape[1]
    onehot = np.zeros_like(proba, dtype=np.int8)
    onehot[np.arange(len(y)), y] = 1
    if average == "micro":
        if "micro" not in cache:
            cache["micro"] = ranking_scores(onehot.ravel(), proba.ravel())
        return cache["micro"][which]
    support = onehot.sum(axis=0)
    if "per_class" not in cache:
        cache["per_class"] = np.array(
            [ranking_scores(onehot[:, k], proba[:, k]) if support[k] else (np.nan, np.nan) for k in range(n_classes)]
        )
    values = cache["per_class"][:, which]
    present = ~np.isnan(values)
    if not present.any():
        return float("nan")
    if average == "weighted":
        return float(np.average(values[present], weights=support[present]))
    return float(values[present].mean())
