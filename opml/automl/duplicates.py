"""Validation splits that keep copies of a row together.

A table whose rows repeat (the same features and label, many times over) scores a model on rows it trained on
when a copy lands on each side of a split: the validation rewards memorising. On Bank Marketing ten times over
(262,300 rows, 90 % copies; `opml.bench automl --replicate-train 10`, 1 minute, 3 seeds) the search then chose
a single LightGBM of 600 trees of 255 leaves, top on its holdout: held-out AUC 0.9396, against 0.9472 (a
VotingEnsemble) with copies kept together. When more than ``DUPLICATE_SHARE`` of the rows are copies of another
(the duplicate rows guardrail's threshold), every copy of a row goes to the same side of every split (the splits
are drawn over the distinct rows, stratified by class for classification); below it, splits are as they were
(Bank Marketing itself has 6 copies in 26,230 rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

DUPLICATE_SHARE = 0.01


def duplicate_groups(X: pd.DataFrame, y: np.ndarray) -> np.ndarray | None:
    """A group number per row, the same for rows with equal features and label, when more than
    ``DUPLICATE_SHARE`` of the rows are copies of another; else None."""
    if len(X) == 0:
        return None
    hashes = pd.util.hash_pandas_object(X, index=False).to_numpy()
    labels = pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False).to_numpy()
    keys = np.column_stack([hashes, labels])
    _, groups = np.unique(keys, axis=0, return_inverse=True)
    copies = len(X) - (int(groups.max()) + 1)
    return groups.ravel() if copies > DUPLICATE_SHARE * len(X) else None


def grouped_folds(
    codes: np.ndarray, groups: np.ndarray, *, folds: int | None, size: float | None, regression: bool, seed: int
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """``folds`` cross-validation folds, or one holdout of ``size`` of the groups, that keep each group on one
    side, stratified by class for classification (a group's rows share their label); None when there are too
    few groups to split so. The splits are drawn over the groups, then mapped to their rows: scikit-learn's
    StratifiedGroupKFold took 17 s for one holdout of 262,300 rows."""
    count = int(groups.max()) + 1
    if count < 2 * (folds or 2):
        return None
    first_row = np.zeros(count, dtype=np.intp)
    first_row[groups[::-1]] = np.arange(len(groups))[::-1]  # any row of a group: they share the label
    labels = np.asarray(codes)[first_row]
    index = np.zeros(count)
    if folds:
        plain = KFold(folds, shuffle=True, random_state=seed)
        stratified = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        plain = ShuffleSplit(1, test_size=size, random_state=seed)
        stratified = StratifiedShuffleSplit(1, test_size=size, random_state=seed)
    try:
        splits = list((plain if regression else stratified).split(index, labels))
    except ValueError:  # too few groups of a class to stratify
        splits = list(plain.split(index))
    result = []
    for _, valid_groups in splits:
        held_out = np.zeros(count, dtype=bool)
        held_out[valid_groups] = True
        rows = held_out[groups]
        result.append((np.flatnonzero(~rows), np.flatnonzero(rows)))
    return result
