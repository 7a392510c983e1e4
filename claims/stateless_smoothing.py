"""000: what the Gaussian policy does to the loss: smoothing, convexity, non-differentiable rewards."""

import math
from collections.abc import Callable

import numpy as np
import sympy as sp
import torch
from scipy import special

from pgtheory.claim import Claim, Kind, Source, Verdict, check, negative_control
from pgtheory.context import Context
from pgtheory.envs.stateless import sparse_reward
from pgtheory.policies import GaussianPolicy
from pgtheory.stats import Finding, Outcome, all_hold
from pgtheory.symbolic import gaussian_expectation, gaussian_log_density, identity_check

SEED_000 = "000_6d22ed7e183469a6.txt"
W_STAR = 5.0

w = sp.Symbol("w", real=True)
mu, w_star = sp.symbols("mu w_star", real=True)
sigma = sp.Symbol("sigma", positive=True)

# --- 000-nondiff-reward ------------------------------------------------------------------------

SPARSE_MU, SPARSE_SIGMA = 4.0, 1.0


def sparse_objective_gradient() -> torch.Tensor:
    """grad_(mu, psi) of J = P(|w - 5| < 0.5) = Phi((5.5 - mu)/sigma) - Phi((4.5 - mu)/sigma), exact."""
    theta = torch.tensor(
        [SPARSE_MU, math.log(SPARSE_SIGMA)], dtype=torch.float64, requires_grad=True
    )
    s = theta[1].exp()
    J = torch.special.ndtr((W_STAR + 0.5 - theta[0]) / s) - torch.special.ndtr(
        (W_STAR - 0.5 - theta[0]) / s
    )
    (grad,) = torch.autograd.grad(J, theta)
    return grad


def sparse_gradient_mc(pathwise: bool):
    """MC at N(4, 1): the score-function estimate with R4, or (control) the pathwise estimate
    obtained by differentiating R4(mu + sigma eps), which is 0 almost everywhere."""

    def run(ctx: Context) -> Finding:
        policy = GaussianPolicy.create([SPARSE_MU], SPARSE_SIGMA, ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            reward = sparse_reward(x, W_STAR)
            if pathwise:  # d R4 / d w = 0 wherever it exists
                return torch.zeros(n, 2, dtype=x.dtype, device=x.device) * reward[:, None]
            return policy.score(x) * reward[:, None]

        return ctx.mean_test(sampler, sparse_objective_gradient(), resolution=0.01)

    return run


NONDIFF_REWARD = Claim(
    id="000-nondiff-reward",
    title="The estimator needs no derivative of R in w",
    statement=r"\nabla_\theta J = \mathbb{E}[\nabla_\theta \log\pi_\theta(w) R(w)] \text{ holds for non-differentiable } R",
    sources=(
        Source(
            SEED_000,
            "Properties of the Policy Gradient Estimator",
            "can be non-differentiable with respect to $w$",
        ),
    ),
    conditions="R integrable; pi_theta differentiable in theta.",
    expected=Verdict.CONFIRMED,
    reading="Tested with the sparse reward R4 = 1{(w - w*)^2 < 0.25}, where autodiff through the "
    "reward gives 0 almost everywhere.",
    checks=(
        check(
            "score function with R4 at N(4, 1) against the exact gradient (MC)",
            Kind.MONTE_CARLO,
            sparse_gradient_mc(False),
        ),
        negative_control(
            "pathwise derivative through R4 (MC)", Kind.MONTE_CARLO, sparse_gradient_mc(True)
        ),
    ),
)

# --- 000-J-nonconvex-in-sigma ------------------------------------------------------------------

GH_NODES, GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
GH_WEIGHTS = GH_WEIGHTS / GH_WEIGHTS.sum()


def by_quadrature(
    loss: Callable[[np.ndarray], np.ndarray],
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda m, s: (loss(m[..., None] + s[..., None] * GH_NODES) * GH_WEIGHTS).sum(-1)


def folded_normal_mean(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """E|w - w*| for w ~ N(m, s^2), closed form."""
    d = m - W_STAR
    return s * np.sqrt(2 / np.pi) * np.exp(-(d**2) / (2 * s**2)) + d * special.erf(
        d / (s * np.sqrt(2))
    )


#: -J = E[L(w)] for convex losses L, as functions of (mu, sigma).
CONVEX_SMOOTHED_LOSSES = {
    "|w - w*| (closed form)": folded_normal_mean,
    "(w - w*)^4 (closed form)": lambda m, s: (
        (m - W_STAR) ** 4 + 6 * (m - W_STAR) ** 2 * s**2 + 3 * s**4
    ),
    "exp(w - w*) (closed form)": lambda m, s: np.exp(m - W_STAR + s**2 / 2),
    "softplus(w - w*) (quadrature)": by_quadrature(lambda x: np.logaddexp(0.0, x - W_STAR)),
    "Huber(w - w*) (quadrature)": by_quadrature(
        lambda x: np.where(
            np.abs(x - W_STAR) < 1, 0.5 * (x - W_STAR) ** 2, np.abs(x - W_STAR) - 0.5
        )
    ),
}
DOUBLE_WELL = {
    "(w^2 - 1)^2 (closed form)": lambda m, s: (
        m**4 + 6 * m**2 * s**2 + 3 * s**4 - 2 * (m**2 + s**2) + 1
    )
}

SIGMAS = np.linspace(0.05, 3.0, 60)
PSIS = np.linspace(np.log(0.05), np.log(3.0), 60)


def least_second_difference(smoothed_loss, mus: np.ndarray) -> tuple[float, str]:
    """The most negative second difference of E[L] along sigma and along log sigma, and where."""
    worst, where = math.inf, ""
    for label, grid in (("sigma", SIGMAS), ("log sigma", PSIS)):
        s = grid if label == "sigma" else np.exp(grid)
        values = smoothed_loss(mus[:, None], s[None, :])
        second = values[:, 2:] - 2 * values[:, 1:-1] + values[:, :-2]
        scale = np.abs(values).max()
        i, j = np.unravel_index(np.argmin(second), second.shape)
        if second[i, j] / scale < worst:
            worst, where = second[i, j] / scale, f"mu = {mus[i]:.2f}, {label} = {grid[j + 1]:.3g}"
    return float(worst), where


MUS = np.linspace(W_STAR - 2, W_STAR + 2, 9)
TOLERANCE = 1e-9


def nonconvexity_in_sigma(ctx: Context) -> Finding:
    """The claim says -J can be nonconvex in sigma for convex L: look for a negative second
    difference of E[L] on grids of sigma and log sigma, for five convex losses."""
    results = {name: least_second_difference(f, MUS) for name, f in CONVEX_SMOOTHED_LOSSES.items()}
    nonconvex = {k: v for k, v in results.items() if v[0] < -TOLERANCE}
    worst = min(results.values())
    if nonconvex:
        return Finding(
            Outcome.SUPPORTS,
            "second differences on grids",
            estimate=worst[0],
            note=f"nonconvex: {nonconvex}",
        )
    return Finding(
        Outcome.REFUTES,
        "second differences of E[L(mu + sigma Z)] on grids of sigma and log sigma",
        estimate=worst[0],
        reference=0.0,
        resolution=TOLERANCE,
        note=f"convex in sigma and in log sigma for all {len(results)} convex losses and 9 values "
        f"of mu; least relative second difference {worst[0]:.2e} at {worst[1]}",
    )


def quadratic_convexity_symbolic(ctx: Context) -> Finding:
    """For L = 1/2 (w - w*)^2: d^2(-J)/d sigma^2 = 1 > 0 (sympy): -J is convex, J is not 'nonconvex'."""
    neg_J = gaussian_expectation((w - w_star) ** 2 / 2, w, mu, sigma)
    finding = identity_check(sp.diff(neg_J, sigma, 2), sp.Integer(1))
    return Finding(
        Outcome.REFUTES if finding.outcome == Outcome.SUPPORTS else Outcome.INCONCLUSIVE,
        finding.method,
        estimate=finding.estimate,
        note="d^2(-J)/d sigma^2 = 1: -J is convex in sigma for the quadratic L",
    )


def double_well_convexity(ctx: Context) -> Finding:
    """Control: 'E[L] is convex in sigma' for the nonconvex L = (w^2 - 1)^2 must be refuted."""
    worst, where = least_second_difference(next(iter(DOUBLE_WELL.values())), np.linspace(-1, 1, 9))
    return Finding(
        Outcome.REFUTES if worst < -TOLERANCE else Outcome.SUPPORTS,
        "second differences on grids",
        estimate=worst,
        reference=0.0,
        resolution=TOLERANCE,
        note=f"least relative second difference {worst:.2e} at {where}",
    )


J_NONCONVEX = Claim(
    id="000-J-nonconvex-in-sigma",
    title="J is generally nonconvex in sigma, even if L is convex",
    statement=r"L \text{ convex} \not\Rightarrow\ -J(\mu, \sigma) = \mathbb{E}_{w\sim N(\mu,\sigma^2)}[L(w)] \text{ convex in } \sigma",
    sources=(
        Source(
            SEED_000,
            "Properties of the Policy Gradient Estimator",
            "the $J$ is generally nonconvex in $\\sigma$, even if $L$ is convex",
        ),
    ),
    conditions="Convexity of the minimisation problem, i.e. of -J (J is maximised).",
    expected=Verdict.REFUTED,
    reading="For convex L, (mu, sigma) -> L(mu + sigma z) is convex for every z (an affine map "
    "into a convex function), so -J = E[L(mu + sigma Z)] is jointly convex in (mu, sigma), and "
    "also convex in log sigma (it is nondecreasing in sigma). Nonconvexity needs a nonconvex L.",
    checks=(
        check("quadratic L (sympy)", Kind.SYMBOLIC, quadratic_convexity_symbolic),
        check(
            "five convex L, sigma and log sigma grids (closed forms, quadrature)",
            Kind.EXACT,
            nonconvexity_in_sigma,
        ),
        negative_control(
            "'convex in sigma' for the double well (w^2 - 1)^2", Kind.EXACT, double_well_convexity
        ),
    ),
)

# --- 000-gauss-smoothing -----------------------------------------------------------------------

SIGMA_0, MU_0 = 0.8, 0.3


def smoothing_symbolic(ctx: Context) -> Finding:
    """Quadratic L: E[grad_mu log pi(w) (-L(w))] = -d/dmu L_sigma0(mu), with L_sigma0 = E[L(mu + sigma0 Z)]."""
    L = (w - w_star) ** 2 / 2
    smoothed_L = gaussian_expectation(L, w, mu, sigma)
    score = sp.diff(gaussian_log_density(w, mu, sigma), mu)
    return all_hold(
        [
            identity_check(smoothed_L, L.subs(w, mu) + sigma**2 / 2),
            identity_check(
                gaussian_expectation(score * (-L), w, mu, sigma), -sp.diff(smoothed_L, mu)
            ),
        ]
    )


def smoothing_mc(reference: str):
    """MC: the score-function estimate of grad_mu J for L(w) = |w| at mu = 0.3, sigma0 = 0.8,
    against -grad L_sigma0(mu) = -erf(mu / (sigma0 sqrt 2)) or (control) -grad L(mu) = -sign(mu)."""

    def run(ctx: Context) -> Finding:
        policy = GaussianPolicy.create([MU_0], SIGMA_0, ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            return policy.score_mu(x)[:, 0] * (-x[:, 0].abs())

        value = (
            -math.erf(MU_0 / (SIGMA_0 * math.sqrt(2)))
            if reference == "smoothed"
            else -math.copysign(1.0, MU_0)
        )
        return ctx.mean_test(sampler, value, resolution=0.01)

    return run


GAUSS_SMOOTHING = Claim(
    id="000-gauss-smoothing",
    title="With fixed sigma_0, PGT does gradient descent on the Gaussian smoothing of L",
    statement=r"J(\mu) = -L_{\sigma_0}(\mu),\quad \nabla_\mu J(\mu) = -\nabla_\mu L_{\sigma_0}(\mu),"
    r"\quad L_{\sigma_0}(\mu) = \mathbb{E}_{w\sim N(\mu,\sigma_0^2 I)}[L(w)]",
    sources=(
        Source(
            SEED_000,
            "Aside: Connection to Gaussian Smoothing",
            "is the *Gaussian-smoothing* of the function $L(\\cdot)$ evaluated at $\\mu$",
        ),
    ),
    conditions="L integrable under the Gaussian; L need not be smooth.",
    expected=Verdict.CONFIRMED,
    reading="J = -L_sigma0 by definition; the gradient identity holds even for non-smooth L, "
    "tested with |w| whose smoothing has the closed-form derivative erf(mu / (sigma0 sqrt 2)).",
    checks=(
        check("quadratic L (sympy.stats)", Kind.SYMBOLIC, smoothing_symbolic),
        check(
            "L = |w|: score-function gradient against -grad L_sigma0 (MC)",
            Kind.MONTE_CARLO,
            smoothing_mc("smoothed"),
        ),
        negative_control(
            "against the unsmoothed -grad L(mu) = -sign(mu) (MC)",
            Kind.MONTE_CARLO,
            smoothing_mc("unsmoothed"),
        ),
    ),
)
