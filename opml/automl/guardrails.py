"""Data guardrails, reported like Azure ML's: each check is Passed, Done (opml handled it) or Alerted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from opml.automl.duplicates import DUPLICATE_SHARE
from opml.data.dates import is_datetime_column
from opml.data.profile import column_kind

PASSED, DONE, ALERTED = "Passed", "Done", "Alerted"
IMBALANCE_RATIO = 0.20  # smallest class / largest class below this is imbalanced
HIGH_CARDINALITY_SHARE = 0.5
HIGH_CARDINALITY_MIN = 100
LEAKAGE_AUC = 0.80
LEAKAGE_R2 = 0.80  # regression: one feature alone explains this share of the label's variance
LEAKAGE_SAMPLE = 20_000


@dataclass(frozen=True)
class Guardrail:
    name: str
    status: str
    description: str
    details: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def class_balance(y: pd.Series) -> Guardrail:
    counts = y.value_counts()
    ratio = counts.min() / counts.max()
    details = [{"class": str(k), "rows": int(v), "share %": round(100 * v / len(y), 2)} for k, v in counts.items()]
    if ratio < IMBALANCE_RATIO:
        return Guardrail(
            "Class balancing detection",
            ALERTED,
            f"The smallest class has {ratio:.0%} of the rows of the largest. Prefer AUC_weighted or "
            "average_precision_score_weighted as the primary metric; accuracy rewards predicting the majority.",
            details,
        )
    return Guardrail("Class balancing detection", PASSED, "Classes are balanced enough.", details)


def missing_values(X: pd.DataFrame) -> Guardrail:
    missing = X.isna().sum()
    missing = missing[missing > 0]
    if missing.empty:
        return Guardrail("Missing feature values imputation", PASSED, "No missing values in the features.")
    details = [{"column": c, "missing": int(n), "missing %": round(100 * n / len(X), 2)} for c, n in missing.items()]
    return Guardrail(
        "Missing feature values imputation",
        DONE,
        "Missing values are imputed inside the model (median for numbers; a 'missing' code for categories, "
        "or native handling by LightGBM and XGBoost).",
        details,
    )


def high_cardinality(X: pd.DataFrame) -> Guardrail:
    details = []
    for column in X.columns:
        if column_kind(X[column]) != "categorical":
            continue
        distinct = X[column].nunique()
        if distinct >= HIGH_CARDINALITY_MIN and is_datetime_column(X[column]):
            continue  # dates and times become numbers (``opml.automl.featurize``), not categories
        if distinct >= HIGH_CARDINALITY_MIN and distinct >= HIGH_CARDINALITY_SHARE * len(X):
            details.append({"column": column, "distinct values": int(distinct)})
    if not details:
        return Guardrail("High cardinality feature detection", PASSED, "No high-cardinality categorical features.")
    return Guardrail(
        "High cardinality feature detection",
        ALERTED,
        "These columns look like identifiers or free text: only their 100 most frequent values are used. "
        "Consider dropping them.",
        details,
    )


def duplicate_rows(X: pd.DataFrame, y: pd.Series) -> Guardrail:
    count = int(pd.concat([X, y], axis=1).duplicated().sum())
    share = count / len(X)
    details = [{"duplicate rows": count, "share %": round(100 * share, 3)}]
    if share > DUPLICATE_SHARE:
        return Guardrail(
            "Duplicate rows",
            ALERTED,
            "Many rows are exact duplicates: every copy of a row is kept on the same side of each validation "
            "split, so that models are not scored on rows they trained on. Deduplicate the data if the copies are "
            "not real repeats.",
            details,
        )
    return Guardrail("Duplicate rows", PASSED, f"{count} exact duplicate row(s); kept.", details)


def _single_feature(series: pd.Series) -> np.ndarray:
    if column_kind(series) in ("numeric", "boolean"):
        values = pd.to_numeric(series, errors="coerce").astype(float)
        return values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()
    return series.astype("category").cat.codes.to_numpy(dtype=float)


def single_feature_leakage(
    X: pd.DataFrame, target: np.ndarray, seed: int = 0, *, regression: bool = False
) -> Guardrail:
    """Flag features that alone predict the label suspiciously well: the cross-validated AUC (one-vs-rest,
    weighted, for more than two classes) or, for regression, R² of a small tree on that feature alone."""
    name = "Single-feature leakage detection"
    if len(X) < 50:
        return Guardrail(name, PASSED, "Too few rows to check.")
    if len(X) > LEAKAGE_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(X), LEAKAGE_SAMPLE, replace=False)
        X, target = X.iloc[rows], target[rows]
    if regression:
        folds, score_name, limit = KFold(3, shuffle=True, random_state=seed), "R² alone", LEAKAGE_R2
    else:
        folds, score_name, limit = StratifiedKFold(3, shuffle=True, random_state=seed), "AUC alone", LEAKAGE_AUC
    binary = not regression and len(np.unique(target)) == 2
    scores = []
    for column in X.columns:
        feature = _single_feature(X[column]).reshape(-1, 1)
        try:
            if regression:
                tree = DecisionTreeRegressor(max_leaf_nodes=16, min_samples_leaf=50, random_state=seed)
                score = r2_score(target, cross_val_predict(tree, feature, target, cv=folds))
            else:
                tree = DecisionTreeClassifier(max_leaf_nodes=16, min_samples_leaf=50, random_state=seed)
                proba = cross_val_predict(tree, feature, target, cv=folds, method="predict_proba")
                score = (
                    roc_auc_score(target, proba[:, 1])
                    if binary
                    else roc_auc_score(target, proba, multi_class="ovr", average="weighted")
                )
            scores.append((column, float(score)))
        except ValueError:
            continue
    scores.sort(key=lambda item: -item[1])
    details = [{"column": c, score_name: round(s, 3), "suspicious": s >= limit} for c, s in scores]
    leaks = [c for c, s in scores if s >= limit]
    if leaks:
        what = f"R² ≥ {LEAKAGE_R2}" if regression else f"AUC ≥ {LEAKAGE_AUC}"
        return Guardrail(
            name,
            ALERTED,
            f"{', '.join(leaks)} alone predict(s) the label with {what}. If a value is only known "
            "after the outcome (like a call's duration), drop it before training: it will not be available "
            "when the model is used. It was kept.",
            details,
        )
    return Guardrail(name, PASSED, "No feature predicts the label alone.", details)


def label_completeness(count: int, rows: int) -> Guardrail:
    """Rows without a label cannot train or score a model: they are left out."""
    if not count:
        return Guardrail("Missing label values", PASSED, "Every row has a label.")
    return Guardrail(
        "Missing label values",
        DONE,
        f"{count:,} row(s) without a label were left out; {rows:,} remain.",
        [{"rows without a label": count, "share %": round(100 * count / (count + rows), 2)}],
    )


def validation_handling(
    n_cross_validations: int | None,
    validation_size: float | None,
    rows: int,
    *,
    stratified: bool = True,
    notes: tuple[str, ...] = (),
) -> Guardrail:
    """How models are validated; ``notes`` say why it differs from the settings (``opml.automl.plan``)."""
    kind = "stratified " if stratified else ""
    if n_cross_validations:
        text = f"{n_cross_validations}-fold {kind}cross-validation on {rows:,} rows."
    else:
        text = f"A {kind}{validation_size:.0%} validation split of {rows:,} rows."
    if notes:
        text += " " + " ".join(f"{note[0].upper()}{note[1:]}." for note in notes)
    return Guardrail("Validation split handling", DONE, text)


def run_guardrails(
    X: pd.DataFrame,
    y: pd.Series,
    target: np.ndarray,
    *,
    task: str,
    n_cross_validations: int | None,
    validation_size: float | None,
    missing_labels: int = 0,
    validation_notes: tuple[str, ...] = (),
) -> list[Guardrail]:
    """Azure ML's data guardrails for ``task``; ``target`` is what the models learn (class codes or values)."""
    regression = task == "regression"
    checks = [
        validation_handling(
            n_cross_validations, validation_size, len(X), stratified=not regression, notes=validation_notes
        ),
        label_completeness(missing_labels, len(X)),
    ]
    if not regression:
        checks.append(class_balance(y))
    return [
        *checks,
        missing_values(X),
        high_cardinality(X),
        duplicate_rows(X, y),
        single_feature_leakage(X, target, regression=regression),
    ]
