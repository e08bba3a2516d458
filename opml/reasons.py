"""Explanations in words: "duration = 371 raised P(yes) by 0.21" (light: no model libraries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def reason_text(column: str, value: Any, contribution: float, positive_class: str) -> str:
    shown = "missing" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    verb = "raised" if contribution > 0 else "lowered"
    size = abs(contribution)
    # Two decimals read well ("by 0.21"); a small contribution keeps one significant digit, not "by 0.00".
    amount = f"{size:.2f}" if size >= 0.005 else f"{size:.1g}"
    return f"{column} = {shown} {verb} P({positive_class}) by {amount}"


def top_reasons(explanation: Mapping[str, Any], record: Mapping[str, Any], count: int = 3) -> list[str]:
    """The ``count`` largest contributions of one explained record (the endpoint's explain answer), largest
    first, in words; columns that contributed nothing are left out."""
    contributions = explanation["contributions"]
    ranked = sorted(contributions.items(), key=lambda item: -abs(item[1]))[:count]
    positive = explanation["positive_class"]
    return [reason_text(column, record.get(column), value, positive) for column, value in ranked if value != 0]
