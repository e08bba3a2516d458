"""Data guardrails, reported like Azure ML's: each check is Passed, Done (opml handled it) or Alerted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

from opml.data.profile import column_kind

PASSED, DONE, ALERTED = "Passed", "Done", "Alerted"
IMBALANCE_RATIO = 0.20  # smallest class / largest class below this is imbalanced
HIGH_CARDINALITY_SHARE = 0.5
HIGH_CARDINALITY_MIN = 100
DUPLICATE_SHARE = 0.01
LEAKAGE_AUC = 0.80
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
            "Many rows are exact duplicates: cross-validation scores may be optimistic. Deduplicate the data.",
            details,
        )
    return Guardrail("Duplicate rows", PASSED, f"{count} exact duplicate row(s); kept.", details)


def single_feature_leakage(X: pd.DataFrame, y_codes: np.ndarray, seed: int = 0) -> Guardrail:
    """Flag features that alone predict the label suspiciously well (cross-validated AUC of a small tree)."""
    if len(np.unique(y_codes)) != 2 or len(X) < 50:
        return Guardrail("Single-feature leakage detection", PASSED, "Checked for binary labels only.")
    if len(X) > LEAKAGE_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(X), LEAKAGE_SAMPLE, replace=False)
        X, y_codes = X.iloc[rows], y_codes[rows]
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    scores = []
    for column in X.columns:
        series = X[column]
        if column_kind(series) in ("numeric", "boolean"):
            values = pd.to_numeric(series, errors="coerce").astype(float)
            feature = values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()
        else:
            feature = series.astype("category").cat.codes.to_numpy(dtype=float)
        tree = DecisionTreeClassifier(max_leaf_nodes=16, min_samples_leaf=50, random_state=seed)
        try:
            proba = cross_val_predict(tree, feature.reshape(-1, 1), y_codes, cv=folds, method="predict_proba")[:, 1]
            scores.append((column, float(roc_auc_score(y_codes, proba))))
        except ValueError:
            continue
    scores.sort(key=lambda item: -item[1])
    details = [{"column": c, "AUC alone": round(s, 3), "suspicious": s >= LEAKAGE_AUC} for c, s in scores]
    leaks = [c for c, s in scores if s >= LEAKAGE_AUC]
    if leaks:
        return Guardrail(
            "Single-feature leakage detection",
            ALERTED,
            f"{', '.join(leaks)} alone predict(s) the label with AUC ≥ {LEAKAGE_AUC}. If a value is only known "
            "after the outcome (like a call's duration), drop it before training: it will not be available "
            "when the model is used. It was kept.",
            details,
        )
    return Guardrail("Single-feature leakage detection", PASSED, "No feature predicts the label alone.", details)


def validation_handling(n_cross_validations: int | None, validation_size: float | None, rows: int) -> Guardrail:
    if n_cross_validations:
        text = f"{n_cross_validations}-fold stratified cross-validation on {rows:,} rows."
    else:
        text = f"A stratified {validation_size:.0%} validation split of {rows:,} rows."
    return Guardrail("Validation split handling", DONE, text)


def run_guardrails(
    X: pd.DataFrame,
    y: pd.Series,
    y_codes: np.ndarray,
    *,
    n_cross_validations: int | None,
    validation_size: float | None,
) -> list[Guardrail]:
    return [
        validation_handling(n_cross_validations, validation_size, len(X)),
        class_balance(y),
        missing_values(X),
        high_cardinality(X),
        duplicate_rows(X, y),
        single_feature_leakage(X, y_codes),
    ]
