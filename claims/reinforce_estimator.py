"""002: the REINFORCE estimator on whole trajectories: reward scale and shift, conditioning,
the autodiff pseudo-loss, and the weighted maximum-likelihood reading."""

import math

import numpy as np
import sympy as sp
import torch

from pgtheory.claim import Claim
from pgtheory.claim import Kind
from pgtheory.claim import Severity
from pgtheory.claim import Slip
from pgtheory.claim import SlipKind
from pgtheory.claim import Source
from pgtheory.claim import Verdict
from pgtheory.claim import check
from pgtheory.claim import effect
from pgtheory.claim import negative_control
from pgtheory.context import Context
from pgtheory.envs.finite import FiniteMDP
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import sample_trajectories
from pgtheory.envs.finite import score_sum
from pgtheory.envs.finite import step_rewards
from pgtheory.envs.finite import to_device
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.montecarlo import Sampler
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison
from pgtheory.symbolic import gaussian_log_density
from pgtheory.symbolic import identity_check
from pgtheory.symbolic import standard_normal_expectation

# 002-sigma-conditioning: a = k s + sigma eps with eps ~ N(0, 1)
eps = sp.Symbol("epsilon", real=True)
gain, state, best_action = sp.symbols("k s a_star", real=True)
a = sp.Symbol("a", real=True)  # the action
sigma = sp.Symbol("sigma", positive=True)


def small_problem(seed: int, device="cpu") -> tuple[FiniteMDP, SoftmaxPolicy, torch.Tensor]:
    """A random MDP (S=3, A=2, H=3, rewards ~ N(0, 1) + 2), a softmax policy, and the exact grad J."""
    mdp, logits = next(random_cases(torch.Generator().manual_seed(seed), 1, reward_shift=2.0))
    grad = exact_policy_gradient(mdp, logits)
    return to_device(mdp, device), SoftmaxPolicy(logits.to(device)), grad.to(device)


# --- 002-var-scales-with-reward ----------------------------------------------------------------

REWARD_SCALES = np.geomspace(0.1, 10.0, 10)


def scaled_reward_variance(ctx: Context, predicted: float) -> Finding:
    mdp, policy, grad = small_problem(ctx.seed, ctx.device)

    def make_sampler(c: float, device) -> Sampler:
        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            traj = sample_trajectories(mdp, policy, n, gen)
            g = score_sum(policy, traj) * (c * discounted_return(mdp, traj))[:, None]
            return ((g - c * grad) ** 2).sum(-1)

        return sampler

    return ctx.scaling_test(make_sampler, REWARD_SCALES, predicted, samples_per_point=40_000)


VAR_SCALES_WITH_REWARD = Claim(
    id="002-var-scales-with-reward",
    title="The estimator's variance grows with the reward scale",
    statement=r"\mathrm{Var}\big[g\,(c\,r(\tau))\big] = c^2\,\mathrm{Var}[g\, r(\tau)]",
    sources=(Source("002", "4.1. The Problem", "Variance increases with reward scale."),),
    conditions="Rewards multiplied by a constant c > 0.",
    expected=Verdict.CONFIRMED,
    reading="Quadratically, since the estimator is linear in the rewards.",
    checks=(
        check(
            "exponent of c = 2, random MDP (MC, log-log fit)",
            Kind.MONTE_CARLO,
            lambda ctx: scaled_reward_variance(ctx, 2.0),
        ),
        negative_control(
            "exponent of c = 1 (MC, log-log fit)",
            Kind.MONTE_CARLO,
            lambda ctx: scaled_reward_variance(ctx, 1.0),
            slip=Slip("c^1 where c^2 belongs", SlipKind.EXPONENT),
        ),
    ),
)

# --- 002-constant-shift-changes-estimate -------------------------------------------------------

SHIFTS = (0.0, 10.0, 100.0)
BATCH = 10


def shifted_expectation_exact(ctx: Context) -> Finding:
    """sum_tau P(tau) g(tau) (r(tau) + c) = grad J for c in {0, 10, 100} (exact enumeration)."""
    mdp, policy, grad = small_problem(ctx.seed)
    return all_hold(
        [
            exact_comparison(
                trajectory_expectation(
                    mdp,
                    policy,
                    lambda t, c=c: score_sum(policy, t) * (discounted_return(mdp, t) + c)[:, None],
                ),
                grad,
            )
            for c in SHIFTS
        ]
    )


def batch_estimate_error(mdp, policy, grad, shift: float) -> Sampler:
    """||estimate - grad J||^2 for the mean of a batch of 10 trajectories with rewards r + shift."""

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        traj = sample_trajectories(mdp, policy, n * BATCH, gen)
        g = score_sum(policy, traj) * (discounted_return(mdp, traj) + shift)[:, None]
        return ((g.reshape(n, BATCH, -1).mean(1) - grad) ** 2).sum(-1)

    return sampler


def shift_changes_estimates(ctx: Context) -> Finding:
    """Var of the batch estimate with r against with r + 10: the shift changes the estimates
    (here it inflates their spread), although not their mean."""
    mdp, policy, grad = small_problem(ctx.seed, ctx.device)
    return ctx.ratio_test(
        batch_estimate_error(mdp, policy, grad, 0.0),
        batch_estimate_error(mdp, policy, grad, 10.0),
        predicted=1.0,
        alternative="below",
        resolution=0.1,
    )


def action_dependent_shift(ctx: Context) -> Finding:
    """Control: a shift of 10 that depends on the first action ([a_0 = 0]), taken for a
    constant: the mean of g (r + shift) against grad J. Unlike a constant, it moves the mean."""
    mdp, policy, grad = small_problem(ctx.seed, ctx.device)

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        traj = sample_trajectories(mdp, policy, n, gen)
        shift = 10.0 * (traj.actions[:, 0] == 0)
        return score_sum(policy, traj) * (discounted_return(mdp, traj) + shift)[:, None]

    return ctx.mean_test(sampler, grad.cpu(), resolution=0.2)


CONSTANT_SHIFT = Claim(
    id="002-constant-shift-changes-estimate",
    title="Adding a constant to all rewards changes the sample estimate, not its expectation",
    statement=r"\hat g_c = \tfrac1N\sum_i g(\tau_i)(r(\tau_i) + c) \ne \hat g_0 \text{ in general, while } \mathbb{E}[\hat g_c] = \nabla_\theta J",
    sources=(
        Source(
            "002",
            "4.1. The Problem",
            "Adding a constant to all rewards affects sample estimates.",
        ),
    ),
    conditions="A constant shift c of every reward (equivalently of r(tau)); on-policy samples.",
    expected=Verdict.CONFIRMED,
    reading="The estimate moves by c times the batch mean of g, which is zero only in "
    "expectation: the mean is unchanged and the spread grows with c.",
    checks=(
        check(
            "expectation unchanged for c in {0, 10, 100} (exact enumeration)",
            Kind.EXACT,
            shifted_expectation_exact,
        ),
        check(
            "batch of 10: Var with r below Var with r + 10 (MC, ratio test)",
            Kind.MONTE_CARLO,
            shift_changes_estimates,
        ),
        negative_control(
            "a shift 10 [a_0 = 0] taken for a constant: mean of g (r + shift) against grad J (MC)",
            Kind.MONTE_CARLO,
            action_dependent_shift,
            slip=Slip(
                "a shift that depends on the action, taken for a constant",
                SlipKind.ACTION_DEPENDENT,
            ),
        ),
    ),
)

# --- 002-sigma-conditioning --------------------------------------------------------------------


def sigma_score_symbolic(ctx: Context) -> Finding:
    """For a ~ N(k s, sigma^2): E[(d log pi / d sigma)^2] = 2 / sigma^2 (sympy, Gaussian moments)."""
    score = sp.diff(gaussian_log_density(a, gain * state, sigma), sigma)
    by_sigma = standard_normal_expectation(score.subs(a, gain * state + sigma * eps) ** 2, eps)
    return identity_check(by_sigma, 2 / sigma**2)


def leading_term(expr: sp.Expr) -> tuple[sp.Expr, int]:
    """The lowest power of sigma in a Laurent polynomial and its term: the law as sigma -> 0."""
    terms = sp.Add.make_args(sp.expand(expr))
    powers = [int(t.as_coeff_exponent(sigma)[1]) for t in terms]
    low = min(powers)
    return sp.Add(*[t for t, p in zip(terms, powers, strict=True) if p == low]), low


def sampled_gradient_law(parameter: str):
    """E[(d log pi / d theta * r)^2] for a = k s + sigma eps and r = -(a - a*)^2, exactly: its
    leading term as sigma -> 0 against 2 (k s - a*)^4 / sigma^2. ``theta`` is sigma (002's
    words) or, for the control, log sigma (d/d log sigma = sigma d/d sigma)."""

    def run(ctx: Context) -> Finding:
        score = sp.diff(gaussian_log_density(a, gain * state, sigma), sigma)
        if parameter == "log-sigma":
            score = sigma * score
        action = gain * state + sigma * eps
        sampled = score.subs(a, action) * -((action - best_action) ** 2)
        term, power = leading_term(standard_normal_expectation(sampled**2, eps))
        if power != -2:
            return exact_comparison(
                power, -2, method="the lowest power of sigma in E[(g r)^2], sympy"
            )
        return identity_check(term, sp.expand(2 * (gain * state - best_action) ** 4 / sigma**2))

    return run


def sampled_second_moment(parameter: str) -> sp.Expr:
    """E[(d log pi / d theta * r)^2] for a = k s + sigma eps, r = -(a - a*)^2 and theta = sigma
    or k, exactly (a Laurent polynomial in sigma)."""
    score = sp.diff(
        gaussian_log_density(a, gain * state, sigma), gain if parameter == "k" else sigma
    )
    action = gain * state + sigma * eps
    return standard_normal_expectation(
        (score.subs(a, action) * -((action - best_action) ** 2)) ** 2, eps
    )


def sigma_exaggerated_relative_to_k(ctx: Context) -> Finding:
    """Conditioning, 002's subject: as sigma -> 0, does the sigma-gradient's second moment grow
    faster than the k-gradient's (a lower leading power of sigma)?"""
    (_, by_sigma), (_, by_k) = (leading_term(sampled_second_moment(p)) for p in ("sigma", "k"))
    return exact_bound(
        by_sigma,
        by_k,
        relation="below",
        method="leading powers of sigma in E[(g_sigma r)^2] and E[(g_k r)^2], sympy",
        note=f"sigma^{by_sigma} for sigma against sigma^{by_k} for k: the ratio of the two "
        "second moments tends to a constant as sigma -> 0",
    )


def shared_blowup_effect(ctx: Context) -> Finding:
    """How much of the sigma-gradient's blow-up the k-gradient shares, between sigma = 1 and
    sigma = 0.01 (k = 1/2, s = 1, a* = 2): 1 - log(growth relative to k) / log(growth), where
    a relative growth below 1 counts as none."""
    values = {gain: sp.Rational(1, 2), state: 1, best_action: 2}
    by_sigma, by_k = (sampled_second_moment(p).subs(values) for p in ("sigma", "k"))
    at = {"small": {sigma: sp.Rational(1, 100)}, "one": {sigma: 1}}
    absolute = float(by_sigma.subs(at["small"]) / by_sigma.subs(at["one"]))
    relative = float((by_sigma / by_k).subs(at["small"]) / (by_sigma / by_k).subs(at["one"]))
    return effect_size(
        1 - max(0.0, math.log(relative)) / math.log(absolute),
        measure="share of the sigma-gradient's growth in second moment that the k-gradient "
        "shares (1: none of it is relative to k)",
        setting="N(k s, sigma^2), k = 1/2, s = 1, a* = 2, sigma from 1 to 0.01",
    )


SIGMA_CONDITIONING = Claim(
    id="002-sigma-conditioning",
    title="In N(k s, sigma), a small sigma exaggerates the gradient with respect to sigma",
    statement=r"a \sim N(k s, \sigma^2),\ r = -(a - a^*)^2:\ \mathbb{E}\big[(\partial_\sigma \log\pi\, r)^2\big] = \frac{2 (k s - a^*)^4}{\sigma^2} + O(1) \text{ as } \sigma \to 0",
    sources=(
        Source(
            "002",
            "8.1. Poor Conditioning in Continuous Action Spaces",
            "exaggerates gradient wrt $\\sigma$",
        ),
    ),
    conditions="The gradient with respect to sigma itself, as 002 writes, in the section's "
    "sense of poor conditioning (some parameters affect the output more than others: sigma "
    "against k); a quadratic cost r = -(a - a*)^2 with a* != k s (the mean is not yet at the "
    "optimum).",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="002 speaks of the gradient with respect to sigma. Its sampled value is "
    "d log pi / d sigma times r, with d log pi / d sigma = (eps^2 - 1) / sigma, so its second "
    "moment grows like 1/sigma^2 as sigma shrinks, while the gradient it estimates, "
    "dJ/d sigma = -2 sigma for this cost, vanishes. But 002 gives it as an example of poor "
    "conditioning, some parameters mattering more than others, and d log pi / d k = "
    "s (a - k s) / sigma^2 grows at the same rate: the Fisher information of sigma and of k are "
    "2 / sigma^2 and s^2 / sigma^2, whose ratio does not depend on sigma. Small sigma makes "
    "both gradients noisy; it does not make sigma's large relative to k's. Parametrising by "
    "log sigma would change the parameter, which 002 does not discuss.",
    checks=(
        check("E[(d log pi/d sigma)^2] = 2/sigma^2 (sympy)", Kind.SYMBOLIC, sigma_score_symbolic),
        check(
            "E[(g_sigma r)^2] = 2 (k s - a*)^4 / sigma^2 + O(1) (sympy)",
            Kind.SYMBOLIC,
            sampled_gradient_law("sigma"),
        ),
        check(
            "relative to k: E[(g_sigma r)^2] grows faster than E[(g_k r)^2] as sigma -> 0 (sympy)",
            Kind.SYMBOLIC,
            sigma_exaggerated_relative_to_k,
        ),
        negative_control(
            "the same law for the gradient with respect to log sigma (sympy)",
            Kind.SYMBOLIC,
            sampled_gradient_law("log-sigma"),
            slip=Slip(
                "the gradient with respect to log sigma taken for the one with respect to sigma",
                SlipKind.WRONG_TERM,
            ),
        ),
        effect("share of the blow-up the k-gradient shares", Kind.SYMBOLIC, shared_blowup_effect),
    ),
)

# --- 002-pseudo-loss, 002-weighted-mle ---------------------------------------------------------

PSEUDO_BATCH = 8


def pseudo_loss_autograd_exact(ctx: Context) -> Finding:
    """autograd of J~ = sum_i sum_t log pi(a_it|s_it) Q_it on 16 sampled trajectories against
    sum_i sum_t grad log pi(a_it|s_it) Q_it in closed form (Q = reward-to-go, held constant)."""
    mdp, policy, _ = small_problem(ctx.seed)
    traj = sample_trajectories(mdp, policy, 16, ctx.cpu_generator())
    q = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
    theta = policy.logits.clone().requires_grad_(True)
    pseudo = (torch.log_softmax(theta, -1)[traj.states, traj.actions] * q).sum()
    (autograd,) = torch.autograd.grad(pseudo, theta)
    closed_form = (policy.score(traj.states, traj.actions) * q[..., None, None]).sum((0, 1))
    return exact_comparison(autograd, closed_form)


def pseudo_loss_gradient_exact(scale: float, sign: float = 1.0):
    """Exact: E[grad of sign * scale * J~] over a batch of N = 8 trajectories, which is N times
    the expectation for one trajectory (enumerated), against grad J."""

    def run(ctx: Context) -> Finding:
        mdp, policy, grad = small_problem(ctx.seed)

        def per_trajectory(traj):
            q = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
            return (policy.score(traj.states, traj.actions) * q[..., None, None]).sum(1).flatten(1)

        batch_mean = PSEUDO_BATCH * trajectory_expectation(mdp, policy, per_trajectory)
        return exact_comparison(sign * scale * batch_mean, grad)

    return run


EFFECT_BATCH = 1000  # 002, 7.3: "Use large batches (thousands)"


def pseudo_loss_scale_effect(ctx: Context) -> Finding:
    """||E[grad J~]|| / ||grad J|| - 1 for a batch of 1000 trajectories, exactly (N times the
    per-trajectory expectation, enumerated): how much larger than grad J the step is."""
    mdp, policy, grad = small_problem(ctx.seed)

    def per_trajectory(traj):
        q = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
        return (policy.score(traj.states, traj.actions) * q[..., None, None]).sum(1).flatten(1)

    batch = EFFECT_BATCH * trajectory_expectation(mdp, policy, per_trajectory)
    return effect_size(
        float(batch.norm() / grad.norm()) - 1.0,
        measure="||E[grad J~]|| / ||grad J|| - 1",
        setting=f"a batch of {EFFECT_BATCH} trajectories (002's large batches, thousands), "
        "random MDP with 3 states, 2 actions, 3 steps",
    )


PSEUDO_LOSS = Claim(
    id="002-pseudo-loss",
    title="Autodiff of the pseudo-loss sum log pi * Q recovers the policy gradient",
    statement=r"\nabla_\theta \tilde J = \nabla_\theta J \text{ in expectation},\quad \tilde J = \sum_{i} \sum_{t} \log \pi(a_{i,t}|s_{i,t}) \cdot Q_{i,t}",
    sources=(
        Source(
            "002",
            "7.2. Pseudo-Loss for Autodiff",
            "When autodiff differentiates $\\tilde{J}$, it recovers the true policy gradient.",
        ),
    ),
    conditions="Q_{i,t} (reward-to-go) held constant under differentiation; N sampled trajectories.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="Autodiff does return sum_i sum_t grad log pi Q_it, but the pseudo-loss as written "
    "sums over the N trajectories without 1/N, so its gradient estimates N grad J (8 grad J "
    "here). With 1/N, as in the lecture's slides, it is unbiased.",
    checks=(
        check(
            "autograd of J~ equals sum grad log pi * Q (exact, 16 trajectories)",
            Kind.EXACT,
            pseudo_loss_autograd_exact,
        ),
        check(
            "E[grad J~] = grad J, N = 8 (exact enumeration)",
            Kind.EXACT,
            pseudo_loss_gradient_exact(1.0),
        ),
        check(
            "corrected: E[grad J~ / N] = grad J (exact enumeration)",
            Kind.EXACT,
            pseudo_loss_gradient_exact(1.0 / PSEUDO_BATCH),
        ),
        negative_control(
            "J~ / N with -log pi (exact enumeration)",
            Kind.EXACT,
            pseudo_loss_gradient_exact(1.0 / PSEUDO_BATCH, sign=-1.0),
            slip=Slip("the pseudo-loss with -log pi", SlipKind.SIGN),
        ),
        effect(
            "scale of the step with a batch of 1000 trajectories (exact)",
            Kind.EXACT,
            pseudo_loss_scale_effect,
        ),
    ),
)


def weighted_likelihood_autograd_exact(ctx: Context) -> Finding:
    """autograd of sum_i r(tau_i) log P_theta(tau_i) (the reward-weighted log-likelihood) against
    the REINFORCE estimate sum_i r(tau_i) sum_t grad log pi(a_it|s_it), 16 trajectories."""
    mdp, policy, _ = small_problem(ctx.seed)
    traj = sample_trajectories(mdp, policy, 16, ctx.cpu_generator())
    r = discounted_return(mdp, traj)
    theta = policy.logits.clone().requires_grad_(True)
    weighted = (r * torch.log_softmax(theta, -1)[traj.states, traj.actions].sum(1)).sum()
    (autograd,) = torch.autograd.grad(weighted, theta)
    return exact_comparison(autograd.flatten(), (score_sum(policy, traj) * r[:, None]).sum(0))


def weighted_likelihood_mc(shuffled: bool):
    """MC: the mean of r(tau) sum_t grad log pi (the weighted MLE gradient per trajectory) against
    grad J; ``shuffled`` pairs each trajectory's log-likelihood with another trajectory's reward."""

    def run(ctx: Context) -> Finding:
        mdp, policy, grad = small_problem(ctx.seed, ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            traj = sample_trajectories(mdp, policy, n, gen)
            r = discounted_return(mdp, traj)
            return score_sum(policy, traj) * (r.roll(1) if shuffled else r)[:, None]

        return ctx.mean_test(sampler, grad.cpu(), resolution=0.05)

    return run


WEIGHTED_MLE = Claim(
    id="002-weighted-mle",
    title="The policy gradient is a reward-weighted maximum-likelihood gradient",
    statement=r"\nabla_\theta J \approx \frac1N \sum_i r(\tau_i)\, \nabla_\theta \log P_\theta(\tau_i)"
    r" \quad\text{vs. MLE: } \frac1N \sum_i \nabla_\theta \log P_\theta(\tau_i)",
    sources=(
        Source(
            "002",
            "3.1. Comparison to Maximum Likelihood",
            "Policy gradient **weights** log probs by total reward.",
        ),
    ),
    conditions="On-policy samples; each trajectory weighted by its own return.",
    expected=Verdict.CONFIRMED,
    reading="Algebraically the same gradient; in expectation it is grad J.",
    checks=(
        check(
            "autograd of the weighted log-likelihood = REINFORCE estimate (exact)",
            Kind.EXACT,
            weighted_likelihood_autograd_exact,
        ),
        check(
            "weighted MLE gradient is unbiased for grad J (MC)",
            Kind.MONTE_CARLO,
            weighted_likelihood_mc(False),
        ),
        negative_control(
            "rewards paired with the wrong trajectories (MC)",
            Kind.MONTE_CARLO,
            weighted_likelihood_mc(True),
            slip=Slip("rewards paired with the wrong trajectories", SlipKind.WRONG_TERM),
        ),
    ),
)
