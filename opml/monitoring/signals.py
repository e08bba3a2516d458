"""The signals of drift and accuracy rules: the seam between alerting and the data they need.

The alert evaluator (``opml.agent.alerts``) reads these through injectable arguments (tests give their own).
Without collected data or ground-truth labels there is nothing to measure: they return None, a rule of those
kinds stays quiet and its note says why (``NO_COLLECTED_DATA``, ``NO_LABELS``).
"""

from __future__ import annotations

from typing import Any

NO_COLLECTED_DATA = "no collected data yet (or too few rows in the window to judge drift)"
NO_LABELS = "no ground-truth labels yet"


def max_feature_drift(backend: Any, service: str, since: float) -> tuple[str, float] | None:
    """The most drifted input feature of ``service``'s requests collected since ``since`` (epoch seconds)
    against its model's training data, with its population stability index; None when nothing was
    collected or too few rows were to judge (the drift table's "too few rows" verdict)."""
    from opml.monitoring.drift import NO_ROWS, TOO_FEW

    report = backend.get_service_drift(service, since=since)
    judged = [f for f in report.features if f.psi is not None and f.verdict not in (NO_ROWS, TOO_FEW)]
    if not judged:
        return None
    worst = max(judged, key=lambda feature: feature.psi)
    return worst.name, float(worst.psi)


def live_accuracy(backend: Any, service: str, since: float) -> float | None:
    """The share (0 to 1) of ``service``'s predictions since ``since`` (epoch seconds) that matched the
    ground-truth labels given for them; None when no labelled request exists."""
    return backend.get_live_accuracy(service, since=since).accuracy
