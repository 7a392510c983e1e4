"""000: what the Gaussian policy does to the loss: smoothing, convexity, non-differentiable rewards."""

import math
from collections.abc import Callable

import numpy as np
import sympy as sp
import torch
from scipy import special

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
from pgtheory.envs.stateless import sparse_reward
from pgtheory.policies import GaussianPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_properties
from pgtheory.symbolic import gaussian_expectation
from pgtheory.symbolic import gaussian_log_density
from pgtheory.symbolic import identity_check

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
            "000",
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
            "pathwise derivative through R4 (MC)",
            Kind.MONTE_CARLO,
            sparse_gradient_mc(True),
            slip=Slip(
                "the pathwise derivative, which a step reward does not have", SlipKind.WRONG_TERM
            ),
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

SIGMAS = np.linspace(0.1, 3.0, 30)
MUS = np.linspace(W_STAR - 2, W_STAR + 2, 9)
STEP = 0.05  # step of the second differences, in mu and in the scale parameter
DIRECTIONS = 16  # directions of the second differences in the (mu, scale) plane
TOLERANCE = 1e-9  # relative to the values differenced: rounding of closed forms and quadrature


def least_curvature(smoothed_loss, mus: np.ndarray) -> tuple[float, str]:
    """The least second difference f(x + h d) - 2 f(x) + f(x - h d) of f = E[L(mu + sigma Z)]
    over grid points x and directions d, jointly in (mu, sigma) and in (mu, psi = log sigma)
    (000's parametrisation), relative to the values differenced, and where it occurs. A convex
    f has every such difference >= 0; one below 0 is an exact witness of nonconvexity."""
    worst, where = math.inf, ""
    m, x = np.meshgrid(mus, np.log(SIGMAS), indexing="ij")
    for label, t, to_sigma in (("sigma", np.exp(x), lambda t: t), ("psi", x, np.exp)):
        centre = smoothed_loss(m, to_sigma(t))
        for angle in np.linspace(0, np.pi, DIRECTIONS, endpoint=False):
            dm, dt = STEP * np.cos(angle), STEP * np.sin(angle)
            ahead = smoothed_loss(m + dm, to_sigma(t + dt))
            behind = smoothed_loss(m - dm, to_sigma(t - dt))
            size = np.abs(ahead) + 2 * np.abs(centre) + np.abs(behind)
            relative = (ahead - 2 * centre + behind) / np.maximum(size, 1e-300)
            i, j = np.unravel_index(np.argmin(relative), relative.shape)
            if relative[i, j] < worst:
                worst = float(relative[i, j])
                where = (
                    f"mu = {mus[i]:.2f}, sigma = {SIGMAS[j]:.3g}, direction "
                    f"{np.degrees(angle):.0f} deg in (mu, {label})"
                )
    return worst, where


def nonconvex_for_some_convex_loss(ctx: Context) -> Finding:
    """The statement: for some convex L, -J has negative curvature in (mu, sigma) or in
    (mu, log sigma). Searched over five convex losses on a grid."""
    results = {name: least_curvature(f, MUS) for name, f in CONVEX_SMOOTHED_LOSSES.items()}
    name, (worst, where) = min(results.items(), key=lambda kv: kv[1][0])
    return exact_bound(
        worst,
        -TOLERANCE,
        relation="below",
        method="least directional second difference of E[L(mu + sigma Z)], joint in "
        "(mu, sigma) and (mu, log sigma)",
        note=f"least relative second difference {worst:.2e} for {name} at {where}, over "
        f"{len(results)} convex losses",
    )


def convex_share_effect(ctx: Context) -> Finding:
    """How wrong 'generally nonconvex' is: the share of the convex losses searched whose -J
    shows no negative curvature at all (jointly convex, where the statement fails)."""
    convex = [least_curvature(f, MUS)[0] >= -TOLERANCE for f in CONVEX_SMOOTHED_LOSSES.values()]
    return effect_size(
        sum(convex) / len(convex),
        measure="share of the convex losses searched whose -J is convex in (mu, sigma) and "
        "(mu, log sigma)",
        setting=f"{len(convex)} convex losses, grid of mu within 2 of w* and sigma in [0.1, 3]",
    )


m_, s_, c_ = sp.symbols("m s c", nonnegative=True)
psi = sp.Symbol("psi", real=True)


def nonconvex_in_quartic_family(ctx: Context) -> Finding:
    """The statement for the family L = (w - w*)^2 / 2 + c (w - w*)^4, c >= 0: -J has negative
    curvature somewhere in (mu, psi = log sigma). With m = mu - w*, s = e^psi, the Hessian's
    trace and determinant are polynomials in (m, s, c); nonnegative coefficients certify
    that both are >= 0 everywhere, i.e. the Hessian is positive semidefinite."""
    neg_J = gaussian_expectation(w**2 / 2 + c_ * w**4, w, m_, sigma).subs(sigma, sp.exp(psi))
    hessian = sp.hessian(neg_J, (m_, psi)).subs(sp.exp(psi), s_)
    hessian = hessian.applyfunc(lambda e: sp.expand(e.subs(sp.exp(2 * psi), s_**2)))
    failures = []
    for label, expr in (("trace", hessian.trace()), ("determinant", hessian.det())):
        poly = sp.Poly(sp.expand(expr), m_, s_, c_)
        if all(coefficient >= 0 for coefficient in poly.coeffs()):
            failures.append(f"the {label} has only nonnegative coefficients (>= 0 everywhere)")
    return exact_properties(
        [] if len(failures) < 2 else [*failures, "so -J is convex in (mu, log sigma)"],
        method="sympy: Hessian of -J in (mu, log sigma), coefficients of its trace and determinant",
        checked="a coefficient of the trace or determinant is negative: curvature can be negative",
    )


def double_well_is_convex(ctx: Context) -> Finding:
    """Control: the same curvature search must find the negative curvature of the nonconvex
    L = (w^2 - 1)^2 (the slip: reading 'convex' where L is not)."""
    worst, where = least_curvature(next(iter(DOUBLE_WELL.values())), np.linspace(-1, 1, 9))
    return exact_bound(
        worst,
        -TOLERANCE,
        relation="at_least",
        method="least directional second difference, as in the check",
        note=f"least relative second difference {worst:.2e} at {where}",
    )


J_NONCONVEX = Claim(
    id="000-J-nonconvex-in-sigma",
    title="J is generally nonconvex in sigma, even if L is convex",
    statement=r"L \text{ convex} \not\Rightarrow\ -J(\mu, \sigma) = \mathbb{E}_{w\sim N(\mu,\sigma^2)}[L(w)] \text{ convex in } \sigma",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "the $J$ is generally nonconvex in $\\sigma$, even if $L$ is convex",
        ),
    ),
    conditions="Convexity of the minimisation problem, i.e. of -J (J is maximised).",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="For convex L, (mu, sigma) -> L(mu + sigma z) is convex for every z (an affine map "
    "into a convex function), so -J = E[L(mu + sigma Z)] is jointly convex in (mu, sigma). It is "
    "also nondecreasing in sigma (Z is symmetric), and sigma = e^psi is convex in psi, so -J is "
    "jointly convex in (mu, psi) too, 000's own parametrisation. 'Generally nonconvex' is "
    "therefore false for every convex L; nonconvexity needs a nonconvex L.",
    checks=(
        check(
            "L = (w - w*)^2/2 + c (w - w*)^4, c >= 0: negative curvature in (mu, log sigma) (sympy)",
            Kind.SYMBOLIC,
            nonconvex_in_quartic_family,
        ),
        check(
            "five convex L: negative curvature in (mu, sigma) or (mu, log sigma) (closed forms, quadrature)",
            Kind.EXACT,
            nonconvex_for_some_convex_loss,
        ),
        negative_control(
            "'convex' for the double well (w^2 - 1)^2, same curvature search",
            Kind.EXACT,
            double_well_is_convex,
            slip=Slip("calling the smoothing of a nonconvex loss convex", SlipKind.CONDITION),
        ),
        effect("share of convex losses where the statement fails", Kind.EXACT, convex_share_effect),
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
            "000",
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
            slip=Slip(
                "the unsmoothed gradient where the smoothed one belongs", SlipKind.WRONG_TERM
            ),
        ),
    ),
)
