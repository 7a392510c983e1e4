"""Aggregates of training runs over seeds: fraction solved, interquartile means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgtheory.algos.common import TrainResult
from pgtheory.stats import binomial_interval
from pgtheory.stats import iqm_with_interval


def aggregate(results: Sequence[TrainResult], max_steps: int, seed: int = 0) -> dict[str, Any]:
    """Across seeds: fraction solved (Clopper-Pearson 95%), and IQMs of the final evaluation
    return, the env steps and the seconds to solve (an unsolved seed counts at its budget:
    ``max_steps`` and the run's own seconds, a lower bound on its time to solve). ``seed``
    seeds the bootstraps (``pgtheory train`` passes its first training seed)."""
    solved = sum(r.solved for r in results)
    steps = [r.steps_to_solve if r.solved else max_steps for r in results]
    seconds = [r.seconds_to_solve if r.solved else r.seconds for r in results]
    return {
        "solved_fraction": solved / len(results),
        "solved_fraction_ci": list(binomial_interval(solved, len(results))),
        "final_eval_return": iqm_with_interval([r.final_eval_return for r in results], seed=seed),
        "steps_to_solve": iqm_with_interval(steps, seed=seed),
        "seconds_to_solve": iqm_with_interval(seconds, seed=seed),
        "unsolved_counted_at_budget": True,
    }
