"""The score function: the log-derivative trick and the zero mean of the score."""

import sympy as sp
import torch

from pgtheory.claim import Claim, Kind, Slip, SlipKind, Source, Verdict, check, negative_control
from pgtheory.context import Context
from pgtheory.policies import GaussianPolicy, SoftmaxPolicy
from pgtheory.stats import Finding, all_hold, exact_comparison
from pgtheory.symbolic import gaussian_expectation, gaussian_log_density, identity_check

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
theta = sp.Symbol("theta", real=True)

# --- 002-log-deriv-trick -----------------------------------------------------------------


def likelihood_ratio_identity_symbolic(ctx: Context) -> Finding:
    """grad P = P grad log P for an arbitrary positive P(theta) and for the Gaussian density."""
    P = sp.Function("P", positive=True)(theta)
    density = sp.exp(gaussian_log_density(x, mu, sigma))
    return all_hold(
        [identity_check(sp.diff(P, theta), P * sp.diff(sp.log(P), theta))]
        + [
            identity_check(sp.diff(density, p), density * sp.diff(sp.log(density), p))
            for p in (mu, sigma)
        ]
    )


def score_function_gradient_symbolic(ctx: Context) -> Finding:
    """E[f(x) d/dparam log p(x)] = d/dparam E[f(x)] for x ~ N(mu, sigma^2), f(x) = x^3 + x."""
    f = x**3 + x
    logp = gaussian_log_density(x, mu, sigma)
    return all_hold(
        [
            identity_check(
                gaussian_expectation(f * sp.diff(logp, param), x, mu, sigma),
                sp.diff(gaussian_expectation(f, x, mu, sigma), param),
            )
            for param in (mu, sigma)
        ]
    )


def score_function_gradient_softmax_exact(ctx: Context) -> Finding:
    """sum_a pi(a) f(a) grad log pi(a) against autograd of sum_a pi(a) f(a), six actions."""
    logits = torch.randn(
        1, 6, generator=torch.Generator().manual_seed(ctx.seed), dtype=torch.float64
    )
    f = torch.linspace(-3.0, 4.0, 6, dtype=torch.float64)
    policy = SoftmaxPolicy(logits)
    actions = torch.arange(6)
    states = torch.zeros(6, dtype=torch.long)
    weighted = (
        policy.probs[0, :, None] * f[:, None] * policy.score(states, actions).flatten(1)
    ).sum(0)
    theta_ = logits.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad((torch.softmax(theta_, -1)[0] * f).sum(), theta_)
    return exact_comparison(weighted, autograd.flatten(), tolerance=1e-12)


W_STAR = [1.0, -1.0, 0.5]


def gaussian_reward_gradient_mc(score_exponent: int):
    """MC: E[R(w) grad log pi(w)] against grad E[R] for R(w) = -1/2 ||w - w*||^2, d = 3.

    ``score_exponent`` is the power of sigma dividing (w - mu) in the mu-score: 2 is right.
    """

    def run(ctx: Context) -> Finding:
        policy = GaussianPolicy.create([0.0, 0.5, -0.5], 1.5, ctx.device)
        w_star = torch.tensor(W_STAR, dtype=torch.float64, device=ctx.device)
        sigma2 = policy.sigma**2

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            w = policy.sample(n, gen)
            reward = -0.5 * ((w - w_star) ** 2).sum(-1, keepdim=True)
            score_mu = (w - policy.mu) / policy.sigma**score_exponent
            return reward * torch.cat([score_mu, policy.score_psi(w)[:, None]], -1)

        # J = -1/2 (||mu - w*||^2 + d sigma^2): dJ/dmu = w* - mu, dJ/dpsi = -d sigma^2
        reference = torch.cat([w_star - policy.mu, (-policy.dim * sigma2).reshape(1)])
        # the log-sigma component has a heavier-tailed summand: a coarser resolution there
        return ctx.mean_test(sampler, reference.cpu(), resolution=[0.05, 0.05, 0.05, 0.25])

    return run


LOG_DERIV_TRICK = Claim(
    id="002-log-deriv-trick",
    title="The log-derivative (likelihood-ratio) trick",
    statement=(
        r"\nabla_\theta P_\theta = P_\theta \nabla_\theta \log P_\theta, \quad"
        r" \mathbb{E}_{P_\theta}[f \nabla_\theta \log P_\theta] = \nabla_\theta \mathbb{E}_{P_\theta}[f]"
    ),
    sources=(
        Source(
            "002",
            "2.2. Evaluating the Policy Gradient",
            r"\nabla_\theta P_\theta(\tau) = P_\theta(\tau) \nabla_\theta \log P_\theta(\tau)",
        ),
    ),
    conditions="P_theta > 0 and differentiable in theta; differentiation and expectation commute.",
    expected=Verdict.CONFIRMED,
    reading="A textbook identity; the document states it without caveats and it holds for the "
    "regular families it uses (Gaussian, softmax).",
    checks=(
        check("grad P = P grad log P (sympy)", Kind.SYMBOLIC, likelihood_ratio_identity_symbolic),
        check(
            "E[f grad log p] = grad E[f], Gaussian (sympy.stats)",
            Kind.SYMBOLIC,
            score_function_gradient_symbolic,
        ),
        check(
            "E[f grad log pi] = grad E[f], softmax (exact sum)",
            Kind.EXACT,
            score_function_gradient_softmax_exact,
        ),
        check(
            "E[R grad log pi] = grad J, Gaussian d=3 (MC)",
            Kind.MONTE_CARLO,
            gaussian_reward_gradient_mc(2),
        ),
        negative_control(
            "mu-score with the wrong exponent (w - mu)/sigma (MC)",
            Kind.MONTE_CARLO,
            gaussian_reward_gradient_mc(1),
            slip=Slip("(w - mu)/sigma where (w - mu)/sigma^2 belongs", SlipKind.EXPONENT),
        ),
    ),
)

# --- 001-score-zero-mean -----------------------------------------------------------------


def gaussian_score_zero_mean_symbolic(ctx: Context) -> Finding:
    """E[(x - mu)/sigma^2] = 0 and E[(x - mu)^2/sigma^2 - 1] = 0 (scores in mu and log sigma)."""
    logp = gaussian_log_density(x, mu, sigma)
    score_mu = sp.diff(logp, mu)
    score_psi = sp.diff(logp, sigma) * sigma  # d/d log sigma = sigma d/d sigma
    both = (
        gaussian_expectation(score_mu, x, mu, sigma) ** 2
        + gaussian_expectation(score_psi, x, mu, sigma) ** 2
    )
    return identity_check(both, sp.Integer(0))


def softmax_score_zero_mean_exact(ctx: Context) -> Finding:
    """sum_a pi(a|s) grad log pi(a|s) = 0 in every state of a random 4x5 softmax policy."""
    logits = 2 * torch.randn(
        4, 5, generator=torch.Generator().manual_seed(ctx.seed), dtype=torch.float64
    )
    policy = SoftmaxPolicy(logits)
    states, actions = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    expected_score = (policy.probs[..., None, None] * policy.score(states, actions)).sum((0, 1))
    return exact_comparison(expected_score, torch.zeros(4, 5), tolerance=1e-12)


def softmax_score_mean_mc(normalised: bool):
    """MC: the mean of the sampled score of a 6-action softmax policy against 0.

    ``normalised=False`` differentiates only the logit of the taken action, forgetting the
    log-normaliser: grad log exp(theta_a) = onehot(a).
    """

    def run(ctx: Context) -> Finding:
        logits = torch.tensor(
            [[1.0, -0.5, 0.3, 2.0, -1.2, 0.0]], dtype=torch.float64, device=ctx.device
        )
        policy = SoftmaxPolicy(logits)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            states = torch.zeros(n, dtype=torch.long, device=ctx.device)
            actions = policy.sample(states, gen)
            if normalised:
                return policy.score(states, actions).flatten(1)
            return torch.nn.functional.one_hot(actions, 6).to(torch.float64)

        return ctx.mean_test(sampler, torch.zeros(6), resolution=0.01)

    return run


def gaussian_score_mean_mc(ctx: Context) -> Finding:
    """MC: the mean of the Gaussian score (mu and log-sigma components), d = 2, against 0."""
    policy = GaussianPolicy.create([2.0, -1.0], 0.7, ctx.device)
    return ctx.mean_test(
        lambda n, g: policy.score(policy.sample(n, g)), torch.zeros(3), resolution=0.03
    )


SCORE_ZERO_MEAN = Claim(
    id="001-score-zero-mean",
    title="The score has zero mean",
    statement=r"\mathbb{E}_{a \sim \pi_\theta(\cdot\mid s)}[\nabla_\theta \log \pi_\theta(a\mid s)] = 0",
    sources=(
        Source(
            "001",
            "B. Proof of Unbiasedness for State-Dependent Baselines",
            "the expectation of the score function is zero",
        ),
    ),
    conditions="pi_theta is a normalised, differentiable density or mass function whose support "
    "does not depend on theta.",
    expected=Verdict.CONFIRMED,
    reading="Appendix B's proof differentiates the normalisation; true for the Gaussian and "
    "softmax policies the documents use.",
    checks=(
        check(
            "Gaussian scores in mu and log sigma (sympy.stats)",
            Kind.SYMBOLIC,
            gaussian_score_zero_mean_symbolic,
        ),
        check("softmax, every state (exact sum)", Kind.EXACT, softmax_score_zero_mean_exact),
        check("softmax, 6 actions (MC)", Kind.MONTE_CARLO, softmax_score_mean_mc(normalised=True)),
        check("Gaussian, d = 2 (MC)", Kind.MONTE_CARLO, gaussian_score_mean_mc),
        negative_control(
            "softmax score without the log-normaliser term (MC)",
            Kind.MONTE_CARLO,
            softmax_score_mean_mc(normalised=False),
            slip=Slip("the softmax score without the log-normaliser's term", SlipKind.OMISSION),
        ),
    ),
)
