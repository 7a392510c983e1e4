"""One battery for every trajectory estimator of grad J, as DeepMind's mc_gradients runs one
over every gradient estimator: unbiasedness exactly (enumeration of all trajectories) and by
Monte Carlo (a planned mean test), both against the exact gradient of the finite MDP.

Each function returns a check function (``ctx -> Finding``) for a claim module.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable

import torch

from pgtheory.claim import CheckFunction
from pgtheory.context import Context
from pgtheory.envs.finite import FiniteMDP
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import sample_trajectories
from pgtheory.envs.finite import to_device
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.estimators import Estimator
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import exact_comparison

Cases = Callable[[Context], Iterable[tuple[FiniteMDP, torch.Tensor]]]


def unbiased_exactly(estimator: Estimator, cases: Cases) -> CheckFunction:
    """E[estimator] equals grad J on every (MDP, logits) case, by enumeration."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in cases(ctx):
            policy = SoftmaxPolicy(logits)
            expected = trajectory_expectation(
                mdp, policy, lambda t, m=mdp, p=policy: estimator(m, p, t)
            )
            findings.append(exact_comparison(expected, exact_policy_gradient(mdp, logits)))
        return all_hold(findings)

    return run


def unbiased_by_monte_carlo(
    estimator: Estimator,
    case: Callable[[Context], tuple[FiniteMDP, torch.Tensor]],
    batch: int = 1,
    scale: float = 1.0,
    resolution: float = 0.05,
) -> CheckFunction:
    """The mean of ``scale`` times the sum of ``batch`` sampled trajectories' estimates equals
    grad J (a planned mean test on the check's generator and device)."""

    def run(ctx: Context) -> Finding:
        mdp, logits = case(ctx)
        reference = exact_policy_gradient(mdp, logits)
        mdp, policy = to_device(mdp, ctx.device), SoftmaxPolicy(logits.to(ctx.device))

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            values = estimator(mdp, policy, sample_trajectories(mdp, policy, n * batch, gen))
            return scale * values.reshape(n, batch, -1).sum(1)

        return ctx.mean_test(sampler, reference, resolution=resolution)

    return run
