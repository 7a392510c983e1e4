"""Aggregates over seeds: interquartile mean with bootstrap intervals, fraction solved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from pgtheory.algos.common import TrainResult
from pgtheory.stats import binomial_interval


def interquartile_mean(values: Sequence[float]) -> float:
    """The mean of the middle 50% (scipy's trim_mean with 25% cut at each end)."""
    return float(stats.trim_mean(np.asarray(values, float), 0.25))


def iqm_with_interval(
    values: Sequence[float], seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """IQM and its percentile-bootstrap interval over seeds. With one task, the stratified
    bootstrap of Agarwal et al. (2021) reduces to resampling the seeds."""
    x = np.asarray(values, float)
    if len(x) < 2 or np.all(x == x[0]):
        return {"iqm": interquartile_mean(x), "ci": [float(x.min()), float(x.max())], "n": len(x)}
    boot = stats.bootstrap(
        (x,),
        interquartile_mean,
        confidence_level=confidence,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=False,
    )
    ci = boot.confidence_interval
    return {"iqm": interquartile_mean(x), "ci": [float(ci.low), float(ci.high)], "n": len(x)}


def iqm_band(
    values: np.ndarray, seed: int = 0, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` (seeds x points): the IQM over seeds and its percentile-bootstrap
    interval, all columns resampled together (one bootstrap, vectorised)."""
    iqm = stats.trim_mean(values, 0.25, axis=0)
    if values.shape[0] < 2:
        return iqm, iqm, iqm
    boot = stats.bootstrap(
        (values,),
        lambda x, axis: stats.trim_mean(x, 0.25, axis=axis),
        confidence_level=confidence,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(seed),
        axis=0,
    )
    return iqm, boot.confidence_interval.low, boot.confidence_interval.high


def aggregate(results: Sequence[TrainResult], max_steps: int) -> dict[str, Any]:
    """Across seeds: fraction solved (Clopper-Pearson 95%), and IQMs of the final evaluation
    return, the env steps and the seconds to solve (an unsolved seed counts at its budget:
    ``max_steps`` and the run's own seconds, a lower bound on its time to solve)."""
    solved = sum(r.solved for r in results)
    steps = [r.steps_to_solve if r.solved else max_steps for r in results]
    seconds = [r.seconds_to_solve if r.solved else r.seconds for r in results]
    return {
        "solved_fraction": solved / len(results),
        "solved_fraction_ci": list(binomial_interval(solved, len(results))),
        "final_eval_return": iqm_with_interval([r.final_eval_return for r in results]),
        "steps_to_solve": iqm_with_interval(steps),
        "seconds_to_solve": iqm_with_interval(seconds),
        "unsolved_counted_at_budget": True,
    }
