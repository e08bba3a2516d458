"""Explanations in words (light: no model libraries): "duration = 371 raised P(yes) by 0.21" for a binary
classifier, "carat = 1.2 raised the predicted price by 1,234" for a regression model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _shown(value: Any) -> str:
    return "missing" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


def reason_text(column: str, value: Any, contribution: float, positive_class: str) -> str:
    verb = "raised" if contribution > 0 else "lowered"
    size = abs(contribution)
    # Two decimals read well ("by 0.21"); a small contribution keeps one significant digit, not "by 0.00".
    amount = f"{size:.2f}" if size >= 0.005 else f"{size:.1g}"
    return f"{column} = {_shown(value)} {verb} P({positive_class}) by {amount}"


def amount_text(value: float) -> str:
    """A predicted value, or a change of it, as people read amounts: "1,234" from 100 up, "12.35" from 1, else
    three significant digits ("0.0123"); the sign kept ("-12.35")."""
    size = abs(value)
    sign = "-" if value < 0 else ""
    if size >= 100:
        return f"{sign}{size:,.0f}"
    if size >= 1:
        return f"{sign}{size:,.2f}"
    return f"{sign}{size:.3g}"


def value_reason_text(column: str, value: Any, contribution: float, label: str | None = None) -> str:
    """One column's contribution to a regression model's prediction: "carat = 1.2 raised the predicted price
    by 1,234" ("the prediction" when the label is not known)."""
    verb = "raised" if contribution > 0 else "lowered"
    what = f"the predicted {label}" if label else "the prediction"
    return f"{column} = {_shown(value)} {verb} {what} by {amount_text(abs(contribution))}"


def is_regression_explanation(explanation: Mapping[str, Any]) -> bool:
    """A regression model's explanation (a predicted number, no positive class), not a binary classifier's."""
    return "positive_class" not in explanation


def top_reasons(
    explanation: Mapping[str, Any], record: Mapping[str, Any], count: int = 3, label: str | None = None
) -> list[str]:
    """The ``count`` largest contributions of one explained record (the endpoint's explain answer), largest
    first, in words; columns that contributed nothing are left out. ``label``: what a regression model
    predicts ("price"), named in its reasons."""
    contributions = explanation["contributions"]
    ranked = sorted(contributions.items(), key=lambda item: -abs(item[1]))[:count]
    if is_regression_explanation(explanation):
        return [value_reason_text(column, record.get(column), value, label) for column, value in ranked if value != 0]
    positive = explanation["positive_class"]
    return [reason_text(column, record.get(column), value, positive) for column, value in ranked if value != 0]
