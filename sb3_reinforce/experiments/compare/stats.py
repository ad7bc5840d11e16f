"""
Statistics of the comparison: point estimates from ``rliable.metrics``, 95% stratified bootstrap intervals.

rliable's own bootstrap (``rliable.library``) is built on the ``arch`` package, and neither ``arch`` 7.2 (it does
not import with pandas 3) nor ``arch`` 8 (its bootstrap no longer accepts the ``random_state`` rliable 1.2
passes) works with the versions this project installs. The intervals here are therefore computed with
``scipy.stats.bootstrap`` (percentile method, as rliable's default). Given one sample per env, scipy resamples
each sample on its own, which is exactly rliable's *stratified* bootstrap: seeds are resampled within each env.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rliable import metrics
from scipy import stats

N_RESAMPLES = 2000
CONFIDENCE = 0.95
# Fewest runs (seeds) per env for a confidence interval. With fewer, the percentile bootstrap can only resample a
# handful of distinct samples: its "95%" interval is about the range of the runs and covers far less than 95%
# (with 2 runs it *is* their range). Agarwal et al. (2021) study 3 to 10 runs; 5 is the least they recommend.
MIN_RUNS_FOR_CI = 5
# The final model is close to the best evaluation when its median return is at most this fraction of the median
# best's magnitude, or this many return points, whichever is larger, below it
CLOSE_FRACTION = 0.1
CLOSE_POINTS = 50.0


def iqm(scores: np.ndarray) -> float:
    """
    Interquartile mean of all scores (``rliable.metrics.aggregate_iqm``: the 25% trimmed mean).

    :param scores: (n_runs, n_envs) matrix
    """
    return float(metrics.aggregate_iqm(scores))


def mean(scores: np.ndarray) -> float:
    """
    Mean over envs of the mean over runs (``rliable.metrics.aggregate_mean``).

    :param scores: (n_runs, n_envs) matrix
    """
    return float(metrics.aggregate_mean(scores))


METRICS: dict[str, Callable[[np.ndarray], float]] = {"IQM": iqm, "Mean": mean}


def _flat(stacked: np.ndarray) -> np.ndarray:
    return stacked.reshape((*stacked.shape[:-2], -1))


# The same metrics on a stack of resampled (..., n_runs, n_envs) matrices, for scipy's vectorized bootstrap
_VECTORIZED: dict[Callable, Callable[[np.ndarray], np.ndarray]] = {
    iqm: lambda stacked: stats.trim_mean(_flat(stacked), 0.25, axis=-1),
    mean: lambda stacked: np.mean(_flat(stacked), axis=-1),  # every env has n_runs scores: the same as rliable's
}


def interval_estimate(
    scores: np.ndarray, metric: Callable[[np.ndarray], float], seed: int = 0, min_runs: int = MIN_RUNS_FOR_CI
) -> tuple[float, float, float]:
    """
    A metric with its 95% stratified bootstrap confidence interval (runs resampled within each env).

    :param scores: (n_runs, n_envs) matrix of scores (a 1D array is one env)
    :param metric: :func:`iqm`, :func:`mean` or another function of such a matrix
    :param seed: Seed of the bootstrap's random generator (results are reproducible)
    :param min_runs: Fewest runs for an interval (at least 2; default :data:`MIN_RUNS_FOR_CI`)
    :return: (point estimate, lower bound, upper bound). The bounds are NaN with fewer than ``min_runs`` runs, and
        equal to the point when every score is the same (no spread to resample).
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.size == 0:
        return float("nan"), float("nan"), float("nan")
    point = metric(scores)
    if scores.shape[0] < max(min_runs, 2):
        return point, float("nan"), float("nan")
    if np.all(scores == scores.flat[0]):
        return point, point, point
    vectorized = _VECTORIZED.get(metric)

    def statistic(*columns: np.ndarray, axis: int = -1) -> Any:
        stacked = np.stack(columns, axis=-1)  # (..., n_runs, n_envs)
        return metric(stacked) if vectorized is None else vectorized(stacked)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about degenerate resamples of tiny samples
        result = stats.bootstrap(
            tuple(scores.T),  # one sample per env: scipy resamples each on its own (stratified)
            statistic,
            n_resamples=N_RESAMPLES,
            vectorized=vectorized is not None,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    return point, float(low), float(high)


def normalize(score: float | np.ndarray, random_score: float, threshold: float) -> float | np.ndarray:
    """
    Score normalized so that a random policy scores 0 and the env's threshold scores 1.

    :param score: Raw episode return(s)
    :param random_score: Mean return of the uniformly random policy
    :param threshold: Return at which the env counts as solved
    """
    return (score - random_score) / (threshold - random_score)


def steps_to_threshold(timesteps: Sequence[int], returns: Sequence[float], threshold: float | None) -> int | None:
    """
    First evaluation point whose mean return reaches the threshold.

    :param timesteps: Env steps at each evaluation
    :param returns: Mean evaluation return at each evaluation
    :param threshold: The env's threshold (None: no threshold)
    :return: The env steps of that evaluation, or None if never reached
    """
    if threshold is None:
        return None
    for step, value in zip(timesteps, returns):
        if value >= threshold:
            return int(step)
    return None


def median_steps(steps: Sequence[int | None]) -> float | None:
    """
    Median steps to threshold over seeds, counting a seed that never reached it as infinitely slow.

    :return: The median, or None when at least half the seeds never reached the threshold
    """
    if not steps:
        return None
    values = np.array([np.inf if s is None else s for s in steps], dtype=float)
    value = float(np.median(values))
    return None if not np.isfinite(value) else value


def final_close_to_best(best: float, final: float) -> tuple[float, float, bool]:
    """
    Whether the final model's median return is close to the median best evaluation: at most
    ``max(CLOSE_FRACTION * |best|, CLOSE_POINTS)`` below it (a final model above its best counts as close).

    :param best: Median over seeds of each seed's best periodic evaluation (its highest mean return)
    :param final: Median over seeds of the final model's mean return
    :return: (final - best, the tolerance, whether final - best >= -tolerance)
    """
    gap = final - best
    tolerance = max(CLOSE_FRACTION * abs(best), CLOSE_POINTS)
    return gap, tolerance, bool(gap >= -tolerance)
