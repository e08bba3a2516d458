"""Which model becomes the run's best: the one-standard-error rule for threshold metrics (and Spearman's
correlation), among the models whose refit fits in the time left.

Out-of-fold accuracy moves by a few rows between models that are equally good,
so the top of a leaderboard sorted by accuracy is partly luck: on Bank Marketing
a random forest that led by 5 rows out of 21,000 scored 0.9415 held-out AUC
against the VotingEnsemble's 0.9510, at the same held-out accuracy. Among the
models whose primary metric is within one standard error of the top one
(Breiman's rule, bootstrapped on the top model's out-of-fold predictions), the
best is the one with the best ``optimised_metric`` (log-loss). For metrics that
rank probabilities (AUC, average precision), the best is simply the top one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opml.automl.metrics import metric_value, optimised_metric, score_for_ranking, search_score

BOOTSTRAP_ROUNDS = 50


@dataclass
class Candidate:
    child_id: str
    metrics: dict[str, float]
    oof: np.ndarray  # out-of-fold predictions (NaN on rows no fold evaluated)
    threshold: float | None
    refit_seconds: float = 0.0  # about how long fitting it on every row takes


def standard_error(metric: str, y: np.ndarray, proba: np.ndarray, threshold: float | None, seed: int = 0) -> float:
    """Bootstrap standard error of ``metric`` on these predictions."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP_ROUNDS):
        rows = rng.integers(0, len(y), len(y))
        values.append(metric_value(metric, y[rows], proba[rows], threshold))
    return float(np.std(values, ddof=1))


def choose_best(
    candidates: list[Candidate], metric: str, y: np.ndarray, evaluated: np.ndarray, log_target: bool = False
) -> tuple[Candidate, str]:
    """(the best candidate, why it was chosen if it is not the top one by ``metric``); ``evaluated`` marks
    the rows with out-of-fold predictions, ``log_target`` a regression whose models learn the label's
    logarithm (see ``optimised_metric``)."""

    def score(candidate: Candidate) -> float:
        return score_for_ranking(metric, candidate.metrics.get(metric))

    top = max(candidates, key=score)
    optimised = optimised_metric(metric, log_target)
    if optimised == metric:
        return top, ""
    error = standard_error(metric, y[evaluated], top.oof[evaluated], top.threshold)
    near = [c for c in candidates if score(c) >= score(top) - error]
    chosen = max(near, key=lambda c: search_score(metric, c.metrics, log_target))
    if chosen is top:
        return top, ""
    mine, theirs = _apart(chosen.metrics[metric], top.metrics[metric])
    better, worse = _apart(chosen.metrics[optimised], top.metrics[optimised])
    shown_error = f"{error:.4f}" if error >= 0.0001 or error == 0 else f"{error:.1e}"
    reason = (
        f"{metric} {mine} is within one standard error ({shown_error}) of the top {theirs} ({top.child_id}), "
        f"and its {optimised} is better ({better} against {worse})"
    )
    return chosen, reason


def _apart(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with four decimals, or as many more (up to eight) as it takes to tell them apart."""
    for decimals in range(4, 9):
        shown = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if shown[0] != shown[1]:
            return shown
    return shown


def choose_in_time(
    candidates: list[Candidate],
    metric: str,
    y: np.ndarray,
    evaluated: np.ndarray,
    seconds_left: float,
    slack: float = 0.0,
    log_target: bool = False,
) -> tuple[Candidate, str]:
    """``choose_best`` among the candidates whose refit on every row fits in ``seconds_left`` (the cheapest
    when none does): a run ends within its timeout rather than with its top model. A refit estimated within
    ``slack`` seconds past the time left counts as fitting: the estimates are that uncertain, and without it a
    second's difference swapped a 0.9995 model for a 0.877 one (diamonds, 45 s)."""
    best, reason = choose_best(candidates, metric, y, evaluated, log_target)
    if best.refit_seconds <= seconds_left + slack:
        return best, reason
    affordable = [c for c in candidates if c.refit_seconds <= seconds_left + slack]
    if not affordable:
        affordable = [min(candidates, key=lambda c: c.refit_seconds)]
    chosen, _ = choose_best(affordable, metric, y, evaluated, log_target)
    if chosen is best:  # nothing cheaper to choose: the top model, late
        return best, reason
    return chosen, (
        f"{best.child_id} would take about {best.refit_seconds:.0f} s to refit on every row, past the experiment "
        f"timeout ({seconds_left:.0f} s left): the best model that can be refitted in time is {chosen.child_id}"
    )
