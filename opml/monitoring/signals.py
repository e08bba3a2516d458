"""The signals of drift and accuracy rules: the seam between alerting and the data they need.

The alert evaluator (``opml.agent.alerts``) reads these through injectable arguments. Until data collection
and ground-truth labels exist in this workspace they have nothing to measure and return None: a rule of
those kinds stays quiet and its note says why (``NO_DATA``).
"""

from __future__ import annotations

from typing import Any

NO_COLLECTED_DATA = "no collected data yet"
NO_LABELS = "no ground-truth labels yet"


def max_feature_drift(backend: Any, service: str, since: float) -> tuple[str, float] | None:
    """The most drifted input feature of ``service``'s requests collected since ``since`` (epoch seconds)
    against its model's training data, with its population stability index; None when nothing was
    collected."""
    return None


def live_accuracy(backend: Any, service: str, since: float) -> float | None:
    """The share (0 to 1) of ``service``'s predictions since ``since`` (epoch seconds) that matched the
    ground-truth labels given for them; None when no labelled request exists."""
    return None
