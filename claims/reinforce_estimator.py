"""002: the REINFORCE estimator on whole trajectories: reward scale and shift, conditioning,
the autodiff pseudo-loss, and the weighted maximum-likelihood reading."""

import numpy as np
import sympy as sp
import torch

from pgtheory.claim import (
    Claim,
    Kind,
    Severity,
    Slip,
    SlipKind,
    Source,
    Verdict,
    beyond_conditions,
    check,
    negative_control,
)
from pgtheory.context import Context
from pgtheory.envs.finite import (
    FiniteMDP,
    discounted_return,
    exact_policy_gradient,
    random_cases,
    sample_trajectories,
    score_sum,
    step_rewards,
    to_device,
    trajectory_expectation,
)
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.montecarlo import Sampler
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding, all_hold, exact_comparison
from pgtheory.symbolic import gaussian_expectation, gaussian_log_density, identity_check


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

K_GAIN, STATE, TARGET = 0.5, 1.0, 2.0
CONDITIONING_SIGMAS = np.geomspace(1e-3, 1e-1, 10)


def sigma_score_symbolic(ctx: Context) -> Finding:
    """For a ~ N(k s, sigma^2): E[(d log pi / d sigma)^2] = 2 / sigma^2, E[(d log pi / d log sigma)^2] = 2."""
    a, k, s = sp.symbols("a k s", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    logp = gaussian_log_density(a, k * s, sigma)
    by_sigma = gaussian_expectation(sp.diff(logp, sigma) ** 2, a, k * s, sigma)
    by_log_sigma = gaussian_expectation((sigma * sp.diff(logp, sigma)) ** 2, a, k * s, sigma)
    return all_hold(
        [identity_check(by_sigma, 2 / sigma**2), identity_check(by_log_sigma, sp.Integer(2))]
    )


def sigma_gradient_second_moment(parametrisation: str):
    def make_sampler(sigma: float, device) -> Sampler:
        mean = K_GAIN * STATE

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            eps = torch.randn(n, generator=gen, device=device, dtype=torch.float64)
            action = mean + sigma * eps
            reward = -((action - TARGET) ** 2)
            score = (eps**2 - 1) / sigma if parametrisation == "sigma" else eps**2 - 1
            return (score * reward) ** 2

        return sampler

    return make_sampler


def conditioning_check(parametrisation: str, predicted: float):
    """The exponent of sigma on the grid; the law holds as sigma -> 0 (the reward's own
    dependence on sigma bends the curve by O(sigma^2)), so the fit's residuals count."""
    return lambda ctx: ctx.scaling_test(
        sigma_gradient_second_moment(parametrisation),
        CONDITIONING_SIGMAS,
        predicted,
        samples_per_point=40_000,
        exact_law=False,
    )


SIGMA_CONDITIONING = Claim(
    id="002-sigma-conditioning",
    title="In N(k s, sigma), a small sigma exaggerates the gradient with respect to sigma",
    statement=r"a \sim N(k s, \sigma^2):\ \mathbb{E}\big[(\partial_\sigma \log\pi\, r)^2\big] \propto \sigma^{-2} \text{ as } \sigma \to 0",
    sources=(
        Source(
            "002",
            "8.1. Poor Conditioning in Continuous Action Spaces",
            "exaggerates gradient wrt $\\sigma$",
        ),
    ),
    conditions="Left out by the document: the parametrisation. True with sigma itself as the "
    "parameter; with log sigma the score d log pi / d log sigma = eps^2 - 1 does not grow.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.IMPRECISE,
    reading="d log pi / d sigma = (eps^2 - 1)/sigma: the sampled gradient wrt sigma grows like "
    "1/sigma while its mean (-2 sigma for r = -(a - a*)^2) shrinks. Parametrising by log sigma "
    "removes the blow-up, which is why 000 and most implementations use it.",
    checks=(
        check(
            "E[(d log pi/d sigma)^2] = 2/sigma^2 (sympy.stats)", Kind.SYMBOLIC, sigma_score_symbolic
        ),
        check(
            "E[g_sigma^2] ~ sigma^-2, sigma parameter (MC, log-log fit)",
            Kind.MONTE_CARLO,
            conditioning_check("sigma", -2.0),
        ),
        beyond_conditions(
            "E[g_psi^2] ~ sigma^-2 with psi = log sigma (MC, log-log fit)",
            Kind.MONTE_CARLO,
            conditioning_check("log-sigma", -2.0),
        ),
        negative_control(
            "E[g_sigma^2] independent of sigma (MC, log-log fit)",
            Kind.MONTE_CARLO,
            conditioning_check("sigma", 0.0),
            slip=Slip("a second moment that does not grow as sigma shrinks", SlipKind.EXPONENT),
        ),
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


def pseudo_loss_gradient_mc(scale: float, sign: float = 1.0, resolution: float = 0.1):
    """MC: batches of 8 trajectories; the gradient of sign * scale * J~ against grad J.
    The document's J~ has scale 1; the lecture's pseudo-loss divides by N (scale 1/8)."""

    def run(ctx: Context) -> Finding:
        mdp, policy, grad = small_problem(ctx.seed, ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            traj = sample_trajectories(mdp, policy, n * PSEUDO_BATCH, gen)
            q = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
            per_traj = (
                (policy.score(traj.states, traj.actions) * q[..., None, None]).sum(1).flatten(1)
            )
            return sign * scale * per_traj.reshape(n, PSEUDO_BATCH, -1).sum(1)

        return ctx.mean_test(sampler, grad.cpu(), resolution=resolution)

    return run


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
        check(
            "corrected, sampled: E[grad J~ / N] = grad J (MC)",
            Kind.MONTE_CARLO,
            pseudo_loss_gradient_mc(1.0 / PSEUDO_BATCH),
        ),
        negative_control(
            "J~ / N with -log pi (exact enumeration)",
            Kind.EXACT,
            pseudo_loss_gradient_exact(1.0 / PSEUDO_BATCH, sign=-1.0),
            slip=Slip("the pseudo-loss with -log pi", SlipKind.SIGN),
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
