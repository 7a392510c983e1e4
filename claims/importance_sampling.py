"""Importance sampling: E_p[f] = E_q[(p/q) f], and the support condition it needs."""

import math

import numpy as np
import torch

from pgtheory.claim import Claim
from pgtheory.claim import Kind
from pgtheory.claim import Severity
from pgtheory.claim import Slip
from pgtheory.claim import SlipKind
from pgtheory.claim import Source
from pgtheory.claim import Verdict
from pgtheory.claim import beyond_conditions
from pgtheory.claim import check
from pgtheory.claim import effect
from pgtheory.claim import negative_control
from pgtheory.context import Context
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import supported_share
from pgtheory.stats import Finding
from pgtheory.stats import effect_size
from pgtheory.stats import exact_comparison

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def normal_log_density(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - LOG_SQRT_2PI


def discrete_identity_exact(q_covers_p: bool):
    """Exact sums over 8 outcomes: sum_x q(x) (p(x)/q(x)) f(x) against sum_x p(x) f(x).

    The sum on the left runs over the support of q (where samples can come from); with
    ``q_covers_p=False``, q puts no mass on two outcomes that p charges.
    """

    def run(ctx: Context) -> Finding:
        gen = torch.Generator().manual_seed(ctx.seed)
        p = torch.softmax(torch.randn(8, generator=gen, dtype=torch.float64), 0)
        q = torch.softmax(torch.randn(8, generator=gen, dtype=torch.float64), 0)
        if not q_covers_p:
            q[:2] = 0.0
            q = q / q.sum()
        f = torch.randn(8, generator=gen, dtype=torch.float64) + 2
        support = q > 0
        weighted = (q[support] * (p[support] / q[support]) * f[support]).sum()
        return exact_comparison(weighted, (p * f).sum())

    return run


def gaussian_identity_mc(proposal: str):
    """MC: E_p[f] for p = N(0, 1), f(x) = x^2 + x (true value 1), from samples of q.

    ``wide``: q = N(0.5, 1.5^2), which covers p and gives bounded weights p/q.
    ``half``: q = the half-normal on x > 0, which misses half of p's support.
    ``unnormalised``: q = N(0.5, 1.5^2) with the weights' normalising constants dropped,
    exp(-x^2/2) / exp(-(x - 0.5)^2 / 4.5): a factor 1/1.5 too small. (Inverted weights q/p
    would also be wrong, but have infinite variance here: no sample size decides them.)
    """

    def run(ctx: Context) -> Finding:
        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            z = torch.randn(n, generator=gen, device=ctx.device, dtype=torch.float64)
            if proposal == "half":
                x = z.abs()
                log_q = normal_log_density(x, 0.0, 1.0) + math.log(2.0)
            else:
                x = 0.5 + 1.5 * z
                log_q = normal_log_density(x, 0.5, 1.5)
            log_ratio = normal_log_density(x, 0.0, 1.0) - log_q
            if proposal == "unnormalised":
                log_ratio = log_ratio - math.log(1.5)
            return log_ratio.exp() * (x**2 + x)

        return ctx.mean_test(sampler, 1.0, resolution=0.02)

    return run


DEMONSTRATION_HORIZON = 100


def demonstration_effect(ctx: Context) -> Finding:
    """1 - E_demonstrator[w R] / E_target[R] when the off-policy data come from a deterministic
    demonstrator (one fixed action per state, as a scripted or human demonstration may be) and
    the target is a softmax policy: 100-step episodes of five random MDPs, median."""
    gen = ctx.cpu_generator()
    sizes = []
    for mdp, target in random_cases(gen, horizon=DEMONSTRATION_HORIZON, uniform_rewards=True):
        action = torch.randint(0, 2, (3,), generator=gen)
        covered = torch.nn.functional.one_hot(action, 2).to(torch.float64)
        sizes.append(1.0 - supported_share(mdp, target, covered))
    return effect_size(
        float(np.median(sizes)),
        measure="1 - E_behaviour[w R] / E_target[R], median over five MDPs",
        setting="deterministic demonstrations (one fixed action per state), softmax target, "
        "100-step episodes of five random MDPs (3 states, 2 actions, rewards uniform in [0, 1])",
    )


IS_IDENTITY = Claim(
    id="002-is-identity",
    title="The importance-sampling identity",
    statement=r"\mathbb{E}_{\tau \sim P_\theta}[f(\tau)] = \mathbb{E}_{\tau \sim P_{\bar\theta}}"
    r"\Big[\frac{P_\theta(\tau)}{P_{\bar\theta}(\tau)} f(\tau)\Big]",
    sources=(
        Source(
            "002",
            "6.1. Why On-Policy",
            "IS adjusts expectations under the new policy using samples from a different policy",
        ),
    ),
    conditions="Left out by the document: the sampling distribution must cover the target's "
    "support where f is nonzero (q(x) > 0 wherever p(x) f(x) != 0).",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="002 writes the identity for any pair of policies with no support condition. It "
    "holds when the behaviour distribution covers the target's support and fails otherwise "
    "(e.g. a deterministic or truncated behaviour policy).",
    checks=(
        check("q covers p, 8 outcomes (exact sum)", Kind.EXACT, discrete_identity_exact(True)),
        check(
            "q = N(0.5, 1.5^2) covers p = N(0, 1) (MC)",
            Kind.MONTE_CARLO,
            gaussian_identity_mc("wide"),
        ),
        beyond_conditions(
            "q misses two outcomes p charges (exact sum)",
            Kind.EXACT,
            discrete_identity_exact(False),
        ),
        beyond_conditions(
            "q = half-normal on x > 0 misses half of p (MC)",
            Kind.MONTE_CARLO,
            gaussian_identity_mc("half"),
        ),
        negative_control(
            "weights without the normalising constants (MC)",
            Kind.MONTE_CARLO,
            gaussian_identity_mc("unnormalised"),
            slip=Slip("weights without their normalising constants", SlipKind.OMISSION),
        ),
        effect(
            "share of E[R] lost with deterministic demonstrations, 100 steps (exact)",
            Kind.EXACT,
            demonstration_effect,
        ),
    ),
)
