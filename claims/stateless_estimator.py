"""000: the score-function estimator in the stateless problem (Gaussian policy over w)."""

from collections.abc import Callable

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
from pgtheory.claim import beyond_conditions
from pgtheory.claim import check
from pgtheory.claim import effect
from pgtheory.claim import negative_control
from pgtheory.context import Context
from pgtheory.envs.stateless import quadratic_loss
from pgtheory.envs.stateless import randomised_reward
from pgtheory.envs.stateless import true_reward
from pgtheory.estimators import clip_by_norm
from pgtheory.policies import GaussianPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison
from pgtheory.stats import exact_properties
from pgtheory.symbolic import gaussian_expectation
from pgtheory.symbolic import gaussian_log_density
from pgtheory.symbolic import identity_check

FIGURES = "Illustrative experiments: Policy Gradient for a Quadratic Loss"
W_STAR = 5.0  # the experiments' target
INITIAL_SIGMA = 2.0  # the experiments' initial policy N(0, 4)

w, z = sp.symbols("w z", real=True)
mu, w_star = sp.symbols("mu w_star", real=True)
sigma, sigma_z = sp.symbols("sigma sigma_z", positive=True)
psi = sp.Symbol("psi", real=True)


def quadratic_objective(
    mu_: torch.Tensor, sigma_: torch.Tensor, w_star_: float, sigma_z_: float = 0.0
):
    """J = E[-1/2 ||w - w* - z||^2] = -1/2 (||mu - w*||^2 + d sigma^2 + d sigma_z^2) and grad J in (mu, psi)."""
    d = mu_.numel()
    value = -0.5 * (((mu_ - w_star_) ** 2).sum() + d * sigma_**2 + d * sigma_z_**2)
    grad = torch.cat([w_star_ - mu_, (-d * sigma_**2).reshape(1)])
    return value, grad


def initial_policy(device, d: int = 1) -> GaussianPolicy:
    return GaussianPolicy.create([0.0] * d, INITIAL_SIGMA, device)


# --- 000-gauss-opt-limit -------------------------------------------------------------------

GH_NODES, GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(160)
GH_WEIGHTS = GH_WEIGHTS / GH_WEIGHTS.sum()


def smoothed(
    loss: Callable[[np.ndarray], np.ndarray], mu_: np.ndarray, sigma_: np.ndarray
) -> np.ndarray:
    """E[loss(mu + sigma Z)] by Gauss-Hermite quadrature (160 nodes), broadcast over mu and sigma."""
    points = mu_[..., None] + sigma_[..., None] * GH_NODES
    return (loss(points) * GH_WEIGHTS).sum(-1)


MU_GRID = np.linspace(2.0, 8.0, 61)  # contains w* = 5 exactly
SIGMA_GRID = np.geomspace(0.02, 3.0, 40)


def argmax_of_objective(reward: Callable[[np.ndarray], np.ndarray]) -> Finding:
    """Grid search of J(mu, sigma) = E[R(w)]: does it peak at mu = w* and the smallest sigma?"""
    mu_, sigma_ = np.meshgrid(MU_GRID, SIGMA_GRID, indexing="ij")
    J = smoothed(reward, mu_, sigma_)
    i, j = np.unravel_index(np.argmax(J), J.shape)
    failures = [] if MU_GRID[i] == W_STAR else [f"the argmax has mu = {MU_GRID[i]:.2f}, not w*"]
    failures += [] if j == 0 else [f"the argmax has sigma = {SIGMA_GRID[j]:.3g}, not the smallest"]
    return exact_properties(
        failures,
        method="grid search of J over (mu, sigma), Gauss-Hermite quadrature",
        checked=f"argmax at mu = {MU_GRID[i]:.2f}, sigma = {SIGMA_GRID[j]:.3g}",
        values=J,
        estimate=[float(MU_GRID[i]), float(SIGMA_GRID[j])],
        reference=[W_STAR, float(SIGMA_GRID[0])],
    )


def limit_shortfall(ctx: Context) -> Finding:
    """For the isolated minimum: how much of J's range over the grid the document's limit
    (mu = w*, the smallest sigma) gives up against J's best policy."""
    mu_, sigma_ = np.meshgrid(MU_GRID, SIGMA_GRID, indexing="ij")
    J = smoothed(lambda x: -isolated_minimum_loss(x), mu_, sigma_)
    at_limit = J[np.flatnonzero(MU_GRID == W_STAR)[0], 0]
    return effect_size(
        (J.max() - at_limit) / (J.max() - J.min()),
        measure="share of J's range over the grid lost at the document's limit mu = w*, sigma -> 0+",
        setting="L uniquely minimised at w* = 5 but discontinuous there (lowest elsewhere near 3); "
        "mu in [2, 8], sigma in [0.02, 3]",
    )


def continuous_loss(x: np.ndarray) -> np.ndarray:
    """Non-quadratic, non-smooth, uniquely minimised at w* = 5: |w - 5|^1.5 + 0.3 (1 - cos(w - 5))."""
    return np.abs(x - W_STAR) ** 1.5 + 0.3 * (1 - np.cos(x - W_STAR))


def isolated_minimum_loss(x: np.ndarray) -> np.ndarray:
    """Uniquely minimised at w* = 5 (L = -1 there) but otherwise lowest near 3: not continuous at w*."""
    return np.where(x == W_STAR, -1.0, 1 - np.exp(-((x - 3.0) ** 2)))


def opt_limit_symbolic(ctx: Context) -> Finding:
    J = gaussian_expectation(-((w - w_star) ** 2) / 2, w, mu, sigma)
    return all_hold(
        [
            identity_check(J, -((mu - w_star) ** 2 + sigma**2) / 2),
            identity_check(sp.diff(J, sigma), -sigma),  # negative for every sigma > 0
            identity_check(sp.Matrix(sp.solve(sp.diff(J, mu), mu)), sp.Matrix([w_star])),
        ]
    )


GAUSS_OPT_LIMIT = Claim(
    id="000-gauss-opt-limit",
    title="J is maximised as mu -> w* and sigma -> 0+",
    statement=r"\pi_\theta = N(\mu, \sigma^2),\ R = -L,\ L \text{ uniquely minimised at } w^*"
    r"\ \Rightarrow\ J(\theta) \text{ is maximised as } \mu \to w^*,\ \sigma \to 0^+",
    sources=(
        Source(
            "000",
            "From Optimization to a Stateless RL",
            "approaches $w^\\*$ and the standard deviation $\\sigma$ approaches $0^+$",
        ),
    ),
    conditions="Left out by the document: L continuous at w* (and integrable under the policy).",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="True for the quadratic example and any continuous L with a unique minimum. A unique "
    "but isolated minimum (L discontinuous at w*) satisfies the document's hypothesis, yet the "
    "Gaussian never sees it and J peaks elsewhere.",
    checks=(
        check(
            "quadratic L: J, dJ/dsigma = -sigma, dJ/dmu = 0 iff mu = w* (sympy)",
            Kind.SYMBOLIC,
            opt_limit_symbolic,
        ),
        check(
            "non-quadratic continuous L, grid over (mu, sigma) (quadrature)",
            Kind.EXACT,
            lambda ctx: argmax_of_objective(lambda x: -continuous_loss(x)),
        ),
        beyond_conditions(
            "unique minimum at an isolated point, L discontinuous there (quadrature)",
            Kind.EXACT,
            lambda ctx: argmax_of_objective(lambda x: -isolated_minimum_loss(x)),
        ),
        negative_control(
            "reward +L instead of -L (quadrature)",
            Kind.EXACT,
            lambda ctx: argmax_of_objective(continuous_loss),
            slip=Slip("the reward +L where -L belongs", SlipKind.SIGN),
        ),
        effect(
            "share of J's range lost at the document's limit (quadrature)",
            Kind.EXACT,
            limit_shortfall,
        ),
    ),
)

# --- 000-stoch-objective and 000-R2-mean-offset --------------------------------------------

STOCHASTIC_LOSS = (w - (w_star + z)) ** 2 / 2


def expect_over_z(expr: sp.Expr) -> sp.Expr:
    return gaussian_expectation(expr, z, 0, sigma_z)


def stochastic_objective_symbolic(ctx: Context) -> Finding:
    """E_w E_z[-l(w, z)] = E_w[-L(w)] with L(w) := E_z[l(w, z)] (Fubini), symbolic."""
    L = expect_over_z(STOCHASTIC_LOSS)
    lhs = gaussian_expectation(expect_over_z(-STOCHASTIC_LOSS), w, mu, sigma)
    return identity_check(lhs, gaussian_expectation(-L, w, mu, sigma))


def stochastic_objective_mc(plug_in_mean_of_z: bool):
    """MC: the mean of -l(w, z) over joint samples against E_w[-L(w)] computed exactly.

    ``plug_in_mean_of_z`` replaces L(w) = E_z l(w, z) by l(w, E z) in the reference.
    """

    def run(ctx: Context) -> Finding:
        policy = initial_policy(ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            return randomised_reward(policy.sample(n, gen), W_STAR, gen)

        reference, _ = quadratic_objective(
            policy.mu, policy.sigma, W_STAR, 0.0 if plug_in_mean_of_z else 1.0
        )
        return ctx.mean_test(sampler, float(reference), resolution=0.1)

    return run


STOCH_OBJECTIVE = Claim(
    id="000-stoch-objective",
    title="With a stochastic reward, J = E_w E_z[R] = E_w[-L(w)]",
    statement=r"J(\theta) = \mathbb{E}_{w\sim\pi_\theta}\mathbb{E}_{z\sim D_z}[R(w,z)] = \mathbb{E}_{w}[-L(w)],"
    r"\ R = -\ell,\ L(w) = \mathbb{E}_z[\ell(w,z)]",
    sources=(
        Source(
            "000",
            "From Optimization to a Stateless RL",
            "In this stochastic reward case, the objective becomes",
        ),
    ),
    conditions="L(w) is defined as E_z[l(w, z)]; l integrable.",
    expected=Verdict.CONFIRMED,
    reading="With L defined as the expected loss (the document's first definition), the two "
    "objectives agree by Fubini.",
    checks=(
        check(
            "quadratic l, Gaussian w and z (sympy.stats)",
            Kind.SYMBOLIC,
            stochastic_objective_symbolic,
        ),
        check(
            "mean of -l(w, z) against E_w[-L(w)] (MC)",
            Kind.MONTE_CARLO,
            stochastic_objective_mc(False),
        ),
        negative_control(
            "reference with l(w, E z) in place of E_z l(w, z) (MC)",
            Kind.MONTE_CARLO,
            stochastic_objective_mc(True),
            slip=Slip("l(w, E z) where E_z l(w, z) belongs", SlipKind.WRONG_TERM),
        ),
    ),
)


def r2_offset_symbolic(offset: sp.Expr):
    """E_z[R2(w, z)] against -L(w) + offset for the document's L(w) = 1/2 (w - w*)^2."""

    def run(ctx: Context) -> Finding:
        document_loss = (w - w_star) ** 2 / 2
        return identity_check(expect_over_z(-STOCHASTIC_LOSS), -document_loss + offset)

    return run


def r2_offset_mc(offset: float):
    """MC: mean of R2(w, z) + L(w) over w ~ N(0, 4), z ~ N(0, 1) against ``offset``."""

    def run(ctx: Context) -> Finding:
        policy = initial_policy(ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            return randomised_reward(x, W_STAR, gen) + quadratic_loss(x, W_STAR)

        return ctx.mean_test(sampler, offset, resolution=0.05)

    return run


def offset_relative_to_loss(ctx: Context) -> Finding:
    """The offset E_z[R2] + L(w) relative to the expected loss E_w[L(w)] at the experiments'
    initial policy N(0, 4), w* = 5, sigma_z = 1 (sympy)."""
    offset = sp.simplify(expect_over_z(-STOCHASTIC_LOSS) + (w - w_star) ** 2 / 2)
    loss = gaussian_expectation((w - w_star) ** 2 / 2, w, mu, sigma)
    at = {mu: 0, sigma: INITIAL_SIGMA, w_star: W_STAR, sigma_z: 1}
    return effect_size(
        float(abs(offset.subs(at)) / loss.subs(at)),
        measure="|E_z[R2] + L(w)| relative to E_w[L(w)]",
        setting="the experiments' R2: sigma_z = 1, initial policy N(0, 4), w* = 5",
    )


R2_MEAN_OFFSET = Claim(
    id="000-R2-mean-offset",
    title="In the quadratic example, E_z[R2(w, z)] = -L(w)",
    statement=r"\ell(w,z) = \tfrac12 (w-(w^*+z))^2,\ z\sim N(0,\sigma_z^2),\ L(w) = \tfrac12 (w-w^*)^2"
    r"\ \Rightarrow\ \mathbb{E}_z[R(w,z)] = -L(w)",
    sources=(
        Source(
            "000",
            "Example Reward Formulations",
            "$R(w,z)$ is noisy, but $\\mathbb{E}\\_z[R(w,z)] = -L(w)$",
        ),
        Source(
            "000",
            "Illustrative experiments: Policy Gradient for a Quadratic Loss",
            "A stochastic version of the loss is",
        ),
    ),
    conditions="The document's own example: L(w) = 1/2 (w - w*)^2, l(w, z) = 1/2 (w - (w* + z))^2.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="E_z[l(w, z)] = L(w) + sigma_z^2 / 2, so E_z[R2] = -L(w) - sigma_z^2/2 (-1/2 in the "
    "experiments). The offset is constant in w, so gradients and optima are unaffected, but the "
    "equality as written is false for the example the document pairs it with.",
    checks=(
        check("E_z[R2] = -L(w) (sympy.stats)", Kind.SYMBOLIC, r2_offset_symbolic(sp.Integer(0))),
        check("mean of R2 + L against 0 (MC)", Kind.MONTE_CARLO, r2_offset_mc(0.0)),
        check(
            "corrected: E_z[R2] = -L(w) - sigma_z^2/2 (sympy.stats)",
            Kind.SYMBOLIC,
            r2_offset_symbolic(-(sigma_z**2) / 2),
        ),
        check("corrected: mean of R2 + L against -1/2 (MC)", Kind.MONTE_CARLO, r2_offset_mc(-0.5)),
        negative_control(
            "offset with the wrong sign, +sigma_z^2/2 (MC)",
            Kind.MONTE_CARLO,
            r2_offset_mc(0.5),
            slip=Slip("the variance term added with the wrong sign", SlipKind.SIGN),
        ),
        effect(
            "the offset relative to the expected loss at the initial policy (sympy)",
            Kind.SYMBOLIC,
            offset_relative_to_loss,
        ),
    ),
)

# --- 000-pgt-stateless, 000-ghat-unbiased --------------------------------------------------


def score_function_gradient_mc(
    d: int = 3,
    noisy: bool = True,
    clip: float | None = None,
    score_sign: float = 1.0,
    score_power: int = 2,
    psi_minus: float = 1.0,
    resolution: float | list[float] = 0.1,
):
    """MC: mean of g = grad log pi(w) R(w, z) against the exact grad J (quadratic loss).

    Policy N(0, 2^2 I_d), w* = 5 in every coordinate; R2 (z ~ N(0, I)) when ``noisy``, else R1.
    ``clip`` applies 000's norm clipping; ``score_sign`` and ``score_power`` (the power of sigma
    dividing w - mu in the mu-score) and ``psi_minus`` (the d of the psi-score, per coordinate)
    produce the deliberately wrong variants.
    """

    def run(ctx: Context) -> Finding:
        policy = initial_policy(ctx.device, d)
        _, reference = quadratic_objective(policy.mu, policy.sigma, W_STAR, 1.0 if noisy else 0.0)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            reward = randomised_reward(x, W_STAR, gen) if noisy else true_reward(x, W_STAR)
            score_mu = (x - policy.mu) / policy.sigma**score_power
            score_psi = policy.score_psi(x) + (1.0 - psi_minus) * d  # score_psi has the -d
            score = torch.cat([score_mu, score_psi[:, None]], -1) * score_sign
            g = score * reward[:, None]
            return g if clip is None else clip_by_norm(g, clip)

        return ctx.mean_test(sampler, reference.cpu(), resolution=resolution)

    return run


def pgt_stateless_symbolic(ctx: Context) -> Finding:
    """E_w E_z[d/dmu log pi(w) R(w, z)] = dJ/dmu and the same for psi = log sigma (d = 1)."""
    s = sp.exp(psi)
    logp = gaussian_log_density(w, mu, s)
    reward = -STOCHASTIC_LOSS
    J = gaussian_expectation(expect_over_z(reward), w, mu, s)
    return all_hold(
        [
            identity_check(
                gaussian_expectation(expect_over_z(sp.diff(logp, p) * reward), w, mu, s),
                sp.diff(J, p),
            )
            for p in (mu, psi)
        ]
    )


PGT_STATELESS = Claim(
    id="000-pgt-stateless",
    title="The stateless policy gradient theorem (*)",
    statement=r"\nabla_\theta J(\theta) = \mathbb{E}_{w \sim \pi_\theta, z \sim D_z}[\nabla_\theta \log \pi_\theta(w) R(w,z)]",
    sources=(
        Source(
            "000",
            "The Policy Gradient in a Stateless Setting",
            "For the stateless problem, the policy gradient is:",
        ),
    ),
    conditions="pi_theta differentiable with a theta-independent support; R integrable.",
    expected=Verdict.CONFIRMED,
    reading="Equation (*) is the log-derivative trick with an extra expectation over z.",
    checks=(
        check(
            "Gaussian policy in (mu, log sigma), quadratic l (sympy.stats)",
            Kind.SYMBOLIC,
            pgt_stateless_symbolic,
        ),
        check(
            "d = 3, randomised reward R2 (MC)",
            Kind.MONTE_CARLO,
            score_function_gradient_mc(d=3, resolution=[0.2, 0.2, 0.2, 1.5]),
        ),
        negative_control(
            "mu-score (w - mu) without the 1/sigma^2 (MC)",
            Kind.MONTE_CARLO,
            score_function_gradient_mc(d=3, score_power=0, resolution=[0.2, 0.2, 0.2, 1.5]),
            slip=Slip("the mu-score without its 1/sigma^2", SlipKind.OMISSION),
        ),
    ),
)

GHAT_UNBIASED = Claim(
    id="000-ghat-unbiased",
    title="The one-sample estimator g_t is unbiased",
    statement=r"\mathbb{E}[\hat g_t] = \nabla_\theta J(\theta),\quad \hat g_t = \nabla_\theta \log \pi_\theta(w_t) R(w_t, z_t)",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "is an unbiased estimate of $\\nabla\\_\\theta J(\\theta)$",
        ),
    ),
    conditions="The estimator as 000 defines it (no clipping, no baseline); the experiments' "
    "initial policy N(0, 4), w* = 5, d = 1.",
    expected=Verdict.CONFIRMED,
    reading="000 calls the estimator it has just defined, grad log pi(w_t) R(w_t, z_t), "
    "unbiased; that is the log-derivative trick, with the reward's noise averaged out. The "
    "clipped update the experiments run is a different estimator, about which this sentence "
    "says nothing (claim 000-clipped-ghat-biased).",
    checks=(
        check(
            "R1 at the initial policy N(0, 4), d = 1 (MC)",
            Kind.MONTE_CARLO,
            score_function_gradient_mc(d=1, noisy=False, resolution=[0.1, 0.5]),
        ),
        check(
            "R2 at the initial policy N(0, 4), d = 1 (MC)",
            Kind.MONTE_CARLO,
            score_function_gradient_mc(d=1, noisy=True, resolution=[0.1, 0.5]),
        ),
        negative_control(
            "psi-score without its -d, R1 (MC)",
            Kind.MONTE_CARLO,
            score_function_gradient_mc(d=1, noisy=False, psi_minus=0.0, resolution=[0.1, 0.5]),
            slip=Slip("the psi-score ||w - mu||^2 / sigma^2 without its -d", SlipKind.OMISSION),
        ),
    ),
)

# --- 000-clipped-ghat-biased ------------------------------------------------------------------

CLIP_NORM = 10.0  # 000: "gradient clipping with norm 10.0"
#: Quadrature grid over w ~ N(0, 4): +-12 sd; the clipped integrand is bounded by the norm.
W_GRID = np.linspace(-12 * INITIAL_SIGMA, 12 * INITIAL_SIGMA, 480_001)


def one_sample_estimates(x: np.ndarray) -> np.ndarray:
    """g(w) = (d/dmu, d/dpsi) log pi(w) R1(w) at N(0, 4), w* = 5, d = 1: shape (2, len(w))."""
    reward = -((x - W_STAR) ** 2) / 2
    return np.stack([x / INITIAL_SIGMA**2 * reward, ((x / INITIAL_SIGMA) ** 2 - 1) * reward])


def clip_rows(g: np.ndarray, per_coordinate: bool) -> np.ndarray:
    """000's clipping, g c/||g|| when ||g|| > c (or, for a control, each coordinate to [-c, c])."""
    if per_coordinate:
        return np.clip(g, -CLIP_NORM, CLIP_NORM)
    norm = np.hypot(g[0], g[1])
    return g * np.minimum(1.0, CLIP_NORM / np.maximum(norm, 1e-300))


def clipped_mean(per_coordinate: bool = False) -> np.ndarray:
    """E[clip(g)] over w ~ N(0, 4) by the trapezoid rule on W_GRID (float64)."""
    density = np.exp(-(W_GRID**2) / (2 * INITIAL_SIGMA**2)) / (INITIAL_SIGMA * np.sqrt(2 * np.pi))
    return np.trapezoid(density * clip_rows(one_sample_estimates(W_GRID), per_coordinate), W_GRID)


def exact_gradient() -> np.ndarray:
    """grad J = (w* - mu, -d sigma^2) at N(0, 4), from the closed form of J."""
    mu0 = torch.zeros(1, dtype=torch.float64)
    _, grad = quadratic_objective(mu0, torch.tensor(INITIAL_SIGMA, dtype=torch.float64), W_STAR)
    return grad.numpy()


def clipped_is_unbiased(ctx: Context) -> Finding:
    """E[clip(g)] (quadrature) against grad J (closed form)."""
    return exact_comparison(
        clipped_mean(),
        exact_gradient(),
        tolerance=1e-6,
        method="E[clip_10(g)] by quadrature against grad J in closed form",
    )


def clipped_mean_mc(per_coordinate_reference: bool):
    """MC: the mean of 000's norm-clipped g against its quadrature value (or, for the control,
    the quadrature of per-coordinate clipping)."""

    def run(ctx: Context) -> Finding:
        policy = initial_policy(ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            return clip_by_norm(policy.score(x) * true_reward(x, W_STAR)[:, None], CLIP_NORM)

        reference = torch.tensor(clipped_mean(per_coordinate_reference), dtype=torch.float64)
        return ctx.mean_test(sampler, reference, resolution=[0.1, 0.5])

    return run


def clipped_bias_size(ctx: Context) -> Finding:
    """||E[clip(g)] - grad J|| / ||grad J|| at the experiments' initial policy."""
    grad = exact_gradient()
    return effect_size(
        float(np.linalg.norm(clipped_mean() - grad) / np.linalg.norm(grad)),
        measure="||E[clip(g)] - grad J|| / ||grad J||",
        setting="the experiments' start: N(0, 4), w* = 5, R1, clipping at norm 10, no baseline",
    )


CLIPPED_GHAT_BIASED = Claim(
    id="000-clipped-ghat-biased",
    title="The experiments' estimator, g_t clipped at norm 10, is an unbiased estimate of grad J",
    statement=r"\mathbb{E}\big[\mathrm{clip}_{10}(\hat g_t)\big] = \nabla_\theta J(\theta)"
    r"\ \text{at the experiments' initial policy } N(0, 4),\ w^* = 5",
    sources=(
        Source("000", FIGURES, "use gradient clipping with norm 10.0"),
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "is an unbiased estimate of $\\nabla\\_\\theta J(\\theta)$",
        ),
    ),
    conditions="Every experiment of 000 clips g_t at norm 10 and starts from N(0, 4); R1, no "
    "baseline (figure 2's unbaselined arm at its start). The text never says that clipping "
    "changes the estimator's mean.",
    expected=Verdict.REFUTED,
    severity=Severity.MISSING_CONDITION,
    reading="The text proves unbiasedness for g_t and then runs every experiment with clip(g_t). "
    "Clipping shrinks exactly the large samples, and at N(0, 4) with w* = 5 those are the "
    "samples far from w*, which are not spread symmetrically about the mean; so nothing makes "
    "the clipped mean equal grad J, and the check computes it. Unbiasedness is proved for the "
    "unclipped g_t only, a condition the experiments leave.",
    checks=(
        check(
            "E[clip_10(g)] = grad J at N(0, 4), R1 (quadrature)",
            Kind.EXACT,
            clipped_is_unbiased,
        ),
        check(
            "the mean of clipped g against its quadrature value (MC)",
            Kind.MONTE_CARLO,
            clipped_mean_mc(False),
        ),
        negative_control(
            "the mean of clipped g against per-coordinate clipping's quadrature (MC)",
            Kind.MONTE_CARLO,
            clipped_mean_mc(True),
            slip=Slip(
                "each coordinate clipped to [-10, 10] where the norm is clipped",
                SlipKind.WRONG_TERM,
            ),
        ),
        effect(
            "relative bias of clipped g at the initial policy (quadrature)",
            Kind.EXACT,
            clipped_bias_size,
        ),
    ),
)

# --- 000-var-formula ----------------------------------------------------------------------


def var_formula_symbolic(psi_derivative: bool = True):
    """Var(g) = E[g^2] - (dJ)^2 per component, d = 1, R1, by sympy.stats, with dJ the
    derivative of J's closed form in 000's parameters (mu, psi = log sigma): the formula's
    subtracted term is the square of the gradient, so it holds only if E g = grad J.
    ``psi_derivative=False`` takes dJ/dsigma for the psi-component (a control)."""

    def run(ctx: Context) -> Finding:
        X = sp.stats.Normal("X", mu, sigma)
        reward = -((X - w_star) ** 2) / 2
        J = -((mu - w_star) ** 2 + sigma**2) / 2
        dJ_psi = sigma * sp.diff(J, sigma) if psi_derivative else sp.diff(J, sigma)
        findings = []
        for score, dJ in (
            ((X - mu) / sigma**2, sp.diff(J, mu)),
            (((X - mu) / sigma) ** 2 - 1, dJ_psi),
        ):
            g = score * reward
            findings.append(identity_check(sp.stats.variance(g), sp.stats.E(g**2) - dJ**2))
        return all_hold(findings)

    return run


def variance_is_large(ctx: Context) -> Finding:
    """'Can be large': tr Var(g) / ||grad J||^2 (the inverse signal-to-noise ratio of one
    sample) above 1 at the experiments' initial policy N(0, 4), w* = 5, R1, exactly."""
    second, grad = exact_second_moment_r1()
    ratio = float((second - grad**2).sum() / (grad**2).sum())
    return exact_bound(
        ratio,
        1.0,
        relation="above",
        method="tr Var(g) / ||grad J||^2 from sympy.stats moments",
        note=f"tr Var(g) / ||grad J||^2 = {ratio:.4g} at N(0, 4), w* = 5, R1",
    )


def exact_second_moment_r1() -> tuple[torch.Tensor, torch.Tensor]:
    """E[g^2] and grad J per component at N(0, 2^2), w* = 5, R1, d = 1, evaluated from sympy."""
    X = sp.stats.Normal("X", 0, INITIAL_SIGMA)
    reward = -((X - W_STAR) ** 2) / 2
    scores = (X / INITIAL_SIGMA**2, (X / INITIAL_SIGMA) ** 2 - 1)
    second = [float(sp.stats.E((s * reward) ** 2)) for s in scores]
    return torch.tensor(second, dtype=torch.float64), torch.tensor(
        [W_STAR, -(INITIAL_SIGMA**2)], dtype=torch.float64
    )


def var_formula_mc(subtract_square_of_mean: bool):
    """MC: the mean of (g - grad J)^2, i.e. Var(g), against E[g^2] - (grad J)^2 (or E[g^2])."""

    def run(ctx: Context) -> Finding:
        policy = initial_policy(ctx.device)
        second, grad = exact_second_moment_r1()
        reference = second - grad**2 if subtract_square_of_mean else second
        grad_d = grad.to(ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            x = policy.sample(n, gen)
            return (policy.score(x) * true_reward(x, W_STAR)[:, None] - grad_d) ** 2

        return ctx.mean_test(sampler, reference, resolution=(0.1 * reference).tolist())

    return run


VAR_FORMULA = Claim(
    id="000-var-formula",
    title="Var(g) = E[(grad log pi R)^2] - (grad J)^2, which can be large",
    statement=r"\mathrm{Var}(\hat g_t) = \mathbb{E}[(\nabla_\theta \log \pi_\theta(w) R(w,z))^2] - (\nabla_\theta J(\theta))^2,\ \text{which can be large}",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "The variance of this estimator",
        ),
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "can be large. This variance impacts learning stability and speed.",
        ),
    ),
    conditions="Per component (squares taken componentwise); finite second moments; 'large' "
    "read as a variance above the squared gradient (one sample's noise above its signal) at "
    "the experiments' initial policy N(0, 4), w* = 5.",
    expected=Verdict.CONFIRMED,
    reading="000 writes the variance with (grad J)^2 subtracted: that is Var X = E X^2 - (E X)^2 "
    "only because E g = grad J, the unbiasedness of the sentence before, in 000's parameters "
    "(mu, psi = log sigma). It then says the variance can be large, which is tested where the "
    "experiments start, against the squared gradient it must be compared with.",
    checks=(
        check(
            "d = 1, R1, both components, dJ in (mu, psi) (sympy.stats)",
            Kind.SYMBOLIC,
            var_formula_symbolic(),
        ),
        check(
            "can be large: tr Var(g) above ||grad J||^2 at N(0, 4), R1 (exact)",
            Kind.EXACT,
            variance_is_large,
        ),
        check("Var(g) at N(0, 4), R1 (MC, 10% resolution)", Kind.MONTE_CARLO, var_formula_mc(True)),
        negative_control(
            "the psi-component's dJ taken in sigma, not psi = log sigma (sympy.stats)",
            Kind.SYMBOLIC,
            var_formula_symbolic(psi_derivative=False),
            slip=Slip("dJ/dsigma where dJ/dpsi (psi = log sigma) belongs", SlipKind.WRONG_TERM),
        ),
        negative_control(
            "without subtracting (grad J)^2 (MC)",
            Kind.MONTE_CARLO,
            var_formula_mc(False),
            slip=Slip("the second moment without subtracting (grad J)^2", SlipKind.OMISSION),
        ),
    ),
)

# --- 000-score-mu, 000-score-psi, 000-E-score-sq-d-over-sigma2 -------------------------------

D_SYMBOLIC = 3
ws = sp.symbols(f"w1:{D_SYMBOLIC + 1}", real=True)
mus = sp.symbols(f"mu1:{D_SYMBOLIC + 1}", real=True)


def log_density_d(s: sp.Expr) -> sp.Expr:
    return sum(gaussian_log_density(wi, mi, s) for wi, mi in zip(ws, mus, strict=True))


def score_mu_symbolic(power: int):
    def run(ctx: Context) -> Finding:
        s = sp.exp(psi)
        return all_hold(
            [
                identity_check(sp.diff(log_density_d(s), mi), (wi - mi) / s**power)
                for wi, mi in zip(ws, mus, strict=True)
            ]
        )

    return run


def score_psi_symbolic(minus_d: bool):
    def run(ctx: Context) -> Finding:
        s = sp.exp(psi)
        squared = sum((wi - mi) ** 2 for wi, mi in zip(ws, mus, strict=True))
        return identity_check(
            sp.diff(log_density_d(s), psi), squared / s**2 - (D_SYMBOLIC if minus_d else 0)
        )

    return run


def scores_against_autograd(ctx: Context) -> Finding:
    """The closed-form scores of GaussianPolicy against autograd of its log-density, d = 5."""
    gen = ctx.cpu_generator()
    mu_ = torch.randn(5, generator=gen, dtype=torch.float64)
    psi_ = torch.randn((), generator=gen, dtype=torch.float64)
    policy = GaussianPolicy(mu_, psi_)
    x = policy.sample(64, gen)
    theta = torch.cat([mu_, psi_.reshape(1)]).requires_grad_(True)
    logp = GaussianPolicy(theta[:5], theta[5]).log_prob(x)
    autograd = torch.stack([torch.autograd.grad(lp, theta, retain_graph=True)[0] for lp in logp])
    return exact_comparison(policy.score(x), autograd, tolerance=1e-10)


SCORE_MU = Claim(
    id="000-score-mu",
    title="The mu-score of N(mu, sigma^2 I) is (w - mu)/sigma^2",
    statement=r"\nabla_\mu \log \pi_\theta(w) = (w-\mu)/\sigma^2",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "The score function for $\\mu$ is",
        ),
    ),
    conditions="pi_theta = N(mu, sigma^2 I_d).",
    expected=Verdict.CONFIRMED,
    reading="Direct differentiation.",
    checks=(
        check("d = 3, sigma = exp(psi) (sympy)", Kind.SYMBOLIC, score_mu_symbolic(2)),
        check("closed form against autograd, d = 5", Kind.EXACT, scores_against_autograd),
        negative_control(
            "(w - mu)/sigma (sympy)",
            Kind.SYMBOLIC,
            score_mu_symbolic(1),
            slip=Slip("(w - mu)/sigma where (w - mu)/sigma^2 belongs", SlipKind.EXPONENT),
        ),
    ),
)

SCORE_PSI = Claim(
    id="000-score-psi",
    title="The log-sigma score of N(mu, sigma^2 I) is ||w - mu||^2/sigma^2 - d",
    statement=r"\nabla_\psi \log \pi_\theta(w) = \|w-\mu\|^2/\sigma^2 - d,\quad \psi = \log\sigma",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "The score for $\\psi=\\log\\sigma$ is",
        ),
    ),
    conditions="pi_theta = N(mu, sigma^2 I_d), psi = log sigma.",
    expected=Verdict.CONFIRMED,
    reading="Direct differentiation.",
    checks=(
        check("d = 3 (sympy)", Kind.SYMBOLIC, score_psi_symbolic(True)),
        check("closed form against autograd, d = 5", Kind.EXACT, scores_against_autograd),
        negative_control(
            "without the -d (sympy)",
            Kind.SYMBOLIC,
            score_psi_symbolic(False),
            slip=Slip("the psi-score without its -d", SlipKind.OMISSION),
        ),
    ),
)


def score_square_symbolic(ctx: Context) -> Finding:
    per_component = gaussian_expectation(((w - mu) / sigma**2) ** 2, w, mu, sigma)
    return identity_check(D_SYMBOLIC * per_component, D_SYMBOLIC / sigma**2)


def score_square_mc(sigma_power: int):
    def run(ctx: Context) -> Finding:
        d, s = 5, 0.7
        policy = GaussianPolicy.create([1.0] * d, s, ctx.device)

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            return (policy.score_mu(policy.sample(n, gen)) ** 2).sum(-1)

        reference = d / s**sigma_power
        return ctx.mean_test(sampler, reference, resolution=0.01 * reference)

    return run


E_SCORE_SQ = Claim(
    id="000-E-score-sq-d-over-sigma2",
    title="E||(w - mu)/sigma^2||^2 = d/sigma^2",
    statement=r"\mathbb{E}\big[\|w-\mu\|^2/\sigma^4\big] = d/\sigma^2",
    sources=(
        Source(
            "000",
            "Properties of the Policy Gradient Estimator",
            "contributes a factor scaling as $d/\\sigma^2$",
        ),
    ),
    conditions="w ~ N(mu, sigma^2 I_d).",
    expected=Verdict.CONFIRMED,
    reading="Each of the d coordinates contributes sigma^2/sigma^4.",
    checks=(
        check("d = 3 (sympy.stats)", Kind.SYMBOLIC, score_square_symbolic),
        check("d = 5, sigma = 0.7 (MC, 1% resolution)", Kind.MONTE_CARLO, score_square_mc(2)),
        negative_control(
            "reference d/sigma^4 (MC)",
            Kind.MONTE_CARLO,
            score_square_mc(4),
            slip=Slip("sigma to the fourth where the square belongs", SlipKind.EXPONENT),
        ),
    ),
)
