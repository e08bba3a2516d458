"""Classifiers fitted on training rows that lack some of the problem's classes.

A holdout or a fold can leave a rare class out of the training part (a class of one row in a sample, a split
too small to stratify). XGBoost then refuses to fit (its labels must be 0..k-1, every one present) and every
other learner predicts fewer columns than there are classes. ``fit_classes_present`` fits the estimator on the
codes of the classes present (``0..m-1``) and wraps it in ``PresentClasses``, whose probabilities have a column
per class of the problem: 0 for a class the estimator never saw. When every class is present the estimator is
fitted and returned as it is (nothing changes for the usual case, pickles included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class PresentClasses(ClassifierMixin, BaseEstimator):
    """A fitted classifier of the ``present`` class codes (in its own codes ``0..len(present)-1``), answering
    for ``n_classes`` classes: its probabilities go to the columns of ``present``, the others are 0."""

    def __init__(self, estimator: Any, present: np.ndarray, n_classes: int):
        self.estimator = estimator
        self.present = present
        self.n_classes = n_classes

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def expand(self, proba: np.ndarray) -> np.ndarray:
        """The estimator's probabilities (one column per present class) as one column per class."""
        full = np.zeros((len(proba), self.n_classes))
        full[:, self.present] = proba
        return full

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.expand(self.estimator.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)


def unwrapped(estimator: Any) -> Any:
    """The library estimator inside a ``PresentClasses`` (its trees, coefficients, importances), or
    ``estimator`` itself."""
    return estimator.estimator if isinstance(estimator, PresentClasses) else estimator


def fit_classes_present(
    estimator: Any, X: Any, y: np.ndarray, n_classes: int, fit: Callable[[Any, Any, Any], Any]
) -> Any:
    """``fit(estimator, X, y)``; for a classifier of ``n_classes`` classes of which ``y`` lacks some, fitted on
    the present classes' own codes and returned wrapped in ``PresentClasses``. Regression (``n_classes`` 0)
    and training rows with every class are fitted as they are. Raises ValueError for a single class present:
    no classifier can learn from it."""
    if not n_classes:
        fit(estimator, X, y)
        return estimator
    present = np.unique(y)
    if len(present) == n_classes:
        fit(estimator, X, y)
        return estimator
    if len(present) < 2:
        raise ValueError(f"the training rows hold a single class of the {n_classes}: nothing to learn")
    fit(estimator, X, np.searchsorted(present, y))
    return PresentClasses(estimator, present, n_classes)
