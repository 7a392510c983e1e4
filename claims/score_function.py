"""The score function: the log-derivative trick and the zero mean of the score; what the
gradient of J needs from the environment (001); what a gradient step does to a low-reward
action (002); the score function against gradients through the sample and through a
differentiable simulator (003)."""

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
from pgtheory.envs import finite
from pgtheory.envs.finite import FiniteMDP
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import score_sum
from pgtheory.policies import GaussianPolicy
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import Outcome
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_comparison
from pgtheory.stats import exact_properties
from pgtheory.symbolic import exact_identity
from pgtheory.symbolic import gaussian_expectation
from pgtheory.symbolic import gaussian_log_density
from pgtheory.symbolic import identity_check
from pgtheory.symbolic import standard_normal_expectation

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
theta = sp.Symbol("theta", real=True)
psi = sp.Symbol("psi", real=True)  # log sigma
w = sp.Symbol("w", real=True)  # the reward's target
a = sp.Symbol("a", real=True)  # an action: a_gauss = mu + e^psi x
u = sp.Symbol("u", real=True)  # the uniform noise of inverse-CDF sampling
thetas = sp.symbols("theta0:3", real=True)  # a three-action softmax's logits
rewards3 = sp.symbols("r0:3", real=True)
weights3 = sp.symbols("p0:3", positive=True)  # unnormalised probabilities, theta = log p
# a two-step linear system: s_{t+1} = A s_t + B a_t, a_t = theta s_t (a deterministic policy)
s0, A_dyn, B_dyn, q_cost = sp.symbols("s_0 A B c", real=True)
a0_s, a1_s, s1_s = sp.symbols("a_0 a_1 s_1", real=True)


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

# --- 001-exact-gradient-needs-dynamics-derivatives --------------------------------------------

FD_STEP = 1e-5  # central differences: truncation about FD_STEP^2, rounding about 1e-16 / FD_STEP
FD_TOLERANCE = 1e-7


def finite_difference_gradient(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """grad J by central differences of J (exact enumeration): no derivative of anything."""
    grad = torch.zeros(logits.numel(), dtype=torch.float64)
    for j in range(logits.numel()):
        step = torch.zeros(logits.numel(), dtype=torch.float64)
        step[j] = FD_STEP
        step = step.reshape(logits.shape)
        plus = finite.expected_return(mdp, logits + step)
        minus = finite.expected_return(mdp, logits - step)
        grad[j] = (plus - minus) / (2 * FD_STEP)
    return grad


def gradient_from_dynamics_values(
    mdp: FiniteMDP, logits: torch.Tensor, known: bool = True
) -> torch.Tensor:
    """sum_tau P(tau | theta) R(tau) sum_t grad log pi(a_t|s_t) (001's step 8, computed exactly),
    with rho_0 and P entering as plain numbers, never differentiated; ``known=False`` puts
    uniform dynamics in their place (the environment dropped from P(tau | theta) itself)."""
    if not known:
        S = mdp.num_states
        uniform = torch.full_like(mdp.transitions, 1 / S)
        mdp = FiniteMDP(uniform, mdp.rewards, torch.full((S,), 1 / S).double(), mdp.horizon)
    traj = enumerate_trajectories(mdp)
    policy = SoftmaxPolicy(logits.detach())
    with torch.no_grad():
        prob = finite.trajectory_probability(mdp, policy, traj)
        return (
            (prob * finite.discounted_return(mdp, traj))[:, None]
            .mul(score_sum(policy, traj))
            .sum(0)
        )


def dynamics_cases(ctx: Context, count: int = 5, **shape):
    """Random finite MDPs (3 states, 2 actions, H = 3 unless ``shape`` says otherwise): discrete
    states and actions, so the dynamics have no derivative in s or a, and none in theta."""
    return list(random_cases(ctx.cpu_generator(), count, **shape))


def gradient_needs_dynamics_derivatives(ctx: Context) -> Finding:
    """001's sentence predicts that grad J is out of reach without the derivatives of rho_0 and
    P: it fails in each MDP where the gradient from their values alone is grad J."""
    failures, errors = [], []
    for i, (mdp, logits) in enumerate(dynamics_cases(ctx)):
        g = gradient_from_dynamics_values(mdp, logits)
        fd = finite_difference_gradient(mdp, logits)
        err = float((g - fd).abs().max() / fd.abs().max().clamp_min(1.0))
        errors.append(err)
        if err <= FD_TOLERANCE:
            failures.append(
                f"MDP {i}: the gradient from the dynamics' values alone is grad J "
                f"(central differences) to {err:.1e}"
            )
    return exact_properties(
        failures,
        method="sum_tau P(tau) R(tau) sum_t grad log pi, rho_0 and P never differentiated, "
        "against central differences of J",
        checked="the gradient from the dynamics' values alone misses grad J in every MDP",
        values=errors,
    )


def gradient_from_values(known: bool):
    """The gradient from the dynamics' values (or from uniform dynamics) against central
    differences of J."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                exact_comparison(
                    gradient_from_dynamics_values(mdp, logits, known),
                    finite_difference_gradient(mdp, logits),
                    tolerance=FD_TOLERANCE,
                    method="gradient from P(tau | theta)'s values against central differences",
                )
                for mdp, logits in dynamics_cases(ctx)
            ]
        )

    return run


def unknown_dynamics_effect(ctx: Context) -> Finding:
    """What the obstacle 001 misnames costs: the relative error of the exact gradient formula
    evaluated without the dynamics' values (uniform dynamics), median over random MDPs."""
    errors = []
    for mdp, logits in dynamics_cases(ctx, 10, states=3, actions=2, horizon=4):
        g = finite.exact_policy_gradient(mdp, logits)
        guess = gradient_from_dynamics_values(mdp, logits, known=False)
        errors.append(float((guess - g).norm() / g.norm()))
    return effect_size(
        float(np.median(errors)),
        measure="||gradient with the dynamics' values unknown (uniform) - grad J|| / ||grad J||, "
        "median",
        setting="10 random MDPs, 3 states, 2 actions, horizon 4",
    )


EXACT_GRADIENT_NEEDS_DYNAMICS_DERIVATIVES = Claim(
    id="001-exact-gradient-needs-dynamics-derivatives",
    title="Differentiating J would require differentiating the environment's dynamics",
    statement=r"\nabla_\theta J(\theta) \text{ requires } \nabla_\theta \rho_0(s_0) \text{ and } "
    r"\nabla_\theta P(s_{t+1}\mid s_t, a_t)",
    sources=(
        Source(
            "001",
            "State Distribution Issue",
            "Differentiating the objective would require differentiating the environment’s "
            "state distribution",
        ),
        Source(
            "001",
            "A. Policy Gradient Theorem Proof",
            "Differentiate and eliminate environment terms",
        ),
    ),
    conditions="Finite MDPs with discrete states and actions (dynamics with no derivative in s "
    "or a), the exact J of equation (1).",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="001's own Appendix A, step 7, says why the sentence is loose: rho_0 and P do not "
    "depend on theta, so their derivatives are 0, and grad J = sum_tau P(tau | theta) R(tau) "
    "sum_t grad log pi(a_t|s_t) uses the dynamics only through their values. What stands in the "
    "way of the exact gradient is evaluating P(tau | theta) (the dynamics are unknown) and the "
    "number of trajectories (001's first point), not differentiating the dynamics: on MDPs whose "
    "dynamics have no derivative at all, the exact gradient is computed from their values.",
    checks=(
        check(
            "as printed: grad J out of reach without d rho_0 and d P, 5 random MDPs (exact)",
            Kind.EXACT,
            gradient_needs_dynamics_derivatives,
        ),
        check(
            "corrected: grad J from the dynamics' values alone equals central differences (exact)",
            Kind.EXACT,
            gradient_from_values(True),
        ),
        negative_control(
            "the environment dropped from P(tau | theta) itself: uniform dynamics (exact)",
            Kind.EXACT,
            gradient_from_values(False),
            slip=Slip(
                "step 7 read as removing the environment from P(tau | theta), not only from its "
                "log-derivative",
                SlipKind.OMISSION,
            ),
        ),
        effect(
            "error of the exact formula without the dynamics' values (exact)",
            Kind.EXACT,
            unknown_dynamics_effect,
        ),
    ),
)

# --- 002-low-reward-made-less-likely -----------------------------------------------------------

EXAMPLE_PI = (sp.Rational(4, 5), sp.Rational(1, 10), sp.Rational(1, 10))
EXAMPLE_R = (sp.Integer(0), sp.Rational(7, 5), sp.Integer(15))
SMALL_STEP = 0.01


def softmax3(logits) -> list[sp.Expr]:
    e = [sp.exp(t) for t in logits]
    return [v / sum(e) for v in e]


def log_prob_rate(b: int, rewards=rewards3) -> sp.Expr:
    """d/dalpha log pi_b(theta + alpha grad J) at alpha = 0, for a three-action softmax bandit
    with J = sum_a pi_a r_a: the change of log pi_b under an exact gradient-ascent step."""
    pi = softmax3(thetas)
    J = sum(p * r for p, r in zip(pi, rewards, strict=True))
    grad_J = [sp.diff(J, t) for t in thetas]
    return sum(sp.diff(sp.log(pi[b]), t) * g for t, g in zip(thetas, grad_J, strict=True))


def in_probabilities(expr: sp.Expr) -> sp.Expr:
    """``expr`` with theta_a = log p_a (softmax(theta) = p / sum p): a rational function."""
    return expr.subs(dict(zip(thetas, map(sp.log, weights3), strict=True)))


def at_example(expr: sp.Expr) -> sp.Expr:
    """``expr`` at the example's pi = (0.8, 0.1, 0.1), i.e. theta = log pi: a rational number."""
    return sp.cancel(in_probabilities(expr).subs(dict(zip(weights3, EXAMPLE_PI, strict=True))))


def low_reward_less_likely(ctx: Context) -> Finding:
    """002's rule on the example: every action whose reward is below J = E[r] loses probability
    under an exact ascent step (the rate d log pi_b, exactly, and a step of 0.01 in float64)."""
    J = sum(p * r for p, r in zip(EXAMPLE_PI, EXAMPLE_R, strict=True))
    logits = torch.tensor([float(sp.log(p)) for p in EXAMPLE_PI], dtype=torch.float64)
    r = torch.tensor([float(v) for v in EXAMPLE_R], dtype=torch.float64)
    pi = torch.softmax(logits, -1)
    step = torch.softmax(logits + SMALL_STEP * pi * (r - pi @ r), -1)  # grad J = pi (r - J)
    failures, rates = [], []
    for b in range(3):
        rate = at_example(log_prob_rate(b, EXAMPLE_R))
        rates.append(float(rate))
        if EXAMPLE_R[b] < J and (rate > 0 or step[b] > pi[b]):
            failures.append(
                f"action {b} (reward {EXAMPLE_R[b]} below J = {J}) gains probability: "
                f"d log pi/dalpha = {rate}, pi {float(pi[b]):.4f} -> {float(step[b]):.6f}"
            )
    return exact_properties(
        failures,
        method="exact rate of log pi_b along grad J (sympy), and a step of 0.01",
        checked="every below-average action loses probability",
        values=rates,
        estimate=rates,
    )


def rate_formula(with_normaliser: bool):
    """d log pi_b / dalpha against pi_b (r_b - J) - sum_a pi_a^2 (r_a - J), symbolic in the
    logits and rewards (b = 1), or, for the control, without the normaliser's term."""

    def run(ctx: Context) -> Finding:
        pi = [p / sum(weights3) for p in weights3]
        J = sum(p * r for p, r in zip(pi, rewards3, strict=True))
        formula = pi[1] * (rewards3[1] - J)
        if with_normaliser:
            formula -= sum(p**2 * (r - J) for p, r in zip(pi, rewards3, strict=True))
        return exact_identity(in_probabilities(log_prob_rate(1)), formula)

    return run


def below_average_gain_effect(ctx: Context) -> Finding:
    """The fraction of below-average actions that gain probability under an exact ascent step,
    over random softmax bandits with 10 actions, logits and rewards standard normal."""
    gen = ctx.cpu_generator()
    logits = torch.randn(10_000, 10, generator=gen, dtype=torch.float64)
    r = torch.randn(10_000, 10, generator=gen, dtype=torch.float64)
    pi = torch.softmax(logits, -1)
    J = (pi * r).sum(-1, keepdim=True)
    rate = pi * (r - J) - (pi**2 * (r - J)).sum(-1, keepdim=True)
    below = r < J
    return effect_size(
        float((rate[below] > 0).double().mean()),
        measure="probability that a below-average action gains probability under grad J",
        setting="10,000 random softmax bandits, 10 actions, logits and rewards N(0, 1)",
    )


LOW_REWARD_MADE_LESS_LIKELY = Claim(
    id="002-low-reward-made-less-likely",
    title="Low-reward trajectories are made less likely",
    statement=r"r(\tau) < J(\theta) \implies \tfrac{d}{d\alpha} \log P_{\theta + \alpha \nabla J}"
    r"(\tau)\big|_{\alpha = 0} < 0",
    sources=(
        Source(
            "002",
            "3.1. Comparison to Maximum Likelihood",
            "Low-reward trajectories ‚Üí \uf8ffüìâ decrease their log probabilities ‚Üí make them "
            "less likely.",
        ),
    ),
    conditions="The exact policy gradient (the expectation of 002's REINFORCE formula), a small "
    "ascent step; a softmax bandit (one-step trajectories) with pi = (0.8, 0.1, 0.1) and "
    "r = (0, 1.4, 15); 'low reward' read as below the average J.",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="Along grad J the log-probability of an action b changes at the rate pi_b (r_b - J) "
    "- sum_a pi_a^2 (r_a - J): the second term, from the normaliser, is shared by every action, so "
    "whether b gains depends on the other actions as well as on its own reward. In the example "
    "the action with reward 1.4 sits below the average J, which the reward 15 pulls up, while "
    "the action with reward 0 and probability 0.8 dominates the shared term; the check computes "
    "which way it moves. The slogan holds for two actions and on average, not as a rule for "
    "each low-reward trajectory.",
    checks=(
        check(
            "pi = (0.8, 0.1, 0.1), r = (0, 1.4, 15): below-average actions lose probability (exact)",
            Kind.SYMBOLIC,
            low_reward_less_likely,
        ),
        check(
            "corrected: d log pi_b = pi_b (r_b - J) - sum_a pi_a^2 (r_a - J) (sympy)",
            Kind.SYMBOLIC,
            rate_formula(True),
        ),
        negative_control(
            "the rate without the normaliser's term, pi_b (r_b - J) (sympy)",
            Kind.SYMBOLIC,
            rate_formula(False),
            slip=Slip("the normaliser's shared term left out of d log pi_b", SlipKind.OMISSION),
        ),
        effect(
            "below-average actions that gain probability, random 10-action bandits (exact)",
            Kind.EXACT,
            below_average_gain_effect,
        ),
    ),
)

# --- 003-no-gradient-through-sampling ----------------------------------------------------------

GRID = [sp.Rational(2 * i + 1, 20) for i in range(10)]  # uniform noise values
LOGITS_AT = {thetas[0]: 0, thetas[1]: sp.Rational(1, 2), thetas[2]: -1}


def discrete_sample_derivative(ctx: Context) -> Finding:
    """A softmax action sampled by inverse CDF, a = [u > F_1] + [u > F_2], is a step function
    of theta at fixed noise u: its derivative (Dirac terms at the jumps) is 0 at every u of a
    grid, while grad J for r = (0, 1, 3) is not 0."""
    pi = softmax3(thetas)
    action = sp.Heaviside(u - pi[0]) + sp.Heaviside(u - pi[0] - pi[1])
    failures = []
    for t in thetas:
        derivative = sp.diff(action, t).subs(LOGITS_AT)
        nonzero = [v for v in GRID if sp.N(derivative.subs(u, v), 30) != 0]
        if nonzero:
            failures.append(f"d a / d {t} is not 0 at u = {nonzero[0]}")
    J = sum(p * r for p, r in zip(pi, (0, 1, 3), strict=True))
    grad_J = [float(sp.diff(J, t).subs(LOGITS_AT)) for t in thetas]
    if max(abs(g) for g in grad_J) == 0:
        failures.append("grad J is 0: nothing for a gradient through the sample to miss")
    return exact_properties(
        failures,
        method="sympy: derivative of the inverse-CDF sample at fixed noise",
        checked="d a / d theta = 0 at every grid point, grad J != 0",
        values=grad_J,
    )


a_gauss = mu + sp.exp(psi) * x  # the reparameterised sample, x ~ N(0, 1)


def reward(a: sp.Expr) -> sp.Expr:
    """A smooth reward of a continuous action (a cubic, so that grad J depends on sigma)."""
    return -((a - w) ** 2) + a**3 / 3


def pathwise_gradient(forget_chain_factor: bool = False) -> list[sp.Expr]:
    """E[dR/da da/dtheta] for a = mu + e^psi x, theta = (mu, psi); ``forget_chain_factor`` uses
    da/dpsi = x (the derivative in sigma) where e^psi x belongs."""
    R_prime = sp.diff(reward(a), a).subs(a, a_gauss)
    da = [sp.Integer(1), x if forget_chain_factor else sp.diff(a_gauss, psi)]
    return [standard_normal_expectation(R_prime * d, x) for d in da]


def expectation_gradient() -> list[sp.Expr]:
    """grad J for J = E[R(a)], a ~ N(mu, e^(2 psi)): the expectation first, then its gradient."""
    J = standard_normal_expectation(reward(a_gauss), x)
    return [sp.diff(J, p) for p in (mu, psi)]


def gaussian_sample_has_no_gradient(ctx: Context) -> Finding:
    """003's statement for a stochastic (Gaussian) action: it fails when the sample's
    derivative exists and carries grad J."""
    da = [sp.diff(a_gauss, p) for p in (mu, psi)]
    failures = [f"d a / d {p} = {d}" for p, d in zip(("mu", "psi"), da, strict=True) if d != 0]
    if exact_identity(pathwise_gradient(), expectation_gradient()).outcome == Outcome.SUPPORTS:
        failures.append("E[dR/da da/dtheta] = grad J: the gradient through the sample is exact")
    return exact_properties(
        failures,
        method="sympy: the reparameterised Gaussian sample a = mu + sigma x",
        checked="no derivative of the sample with respect to (mu, log sigma)",
    )


def reparameterised_gradient(forget_chain_factor: bool):
    """E[dR/da da/dtheta] through the Gaussian sample against grad J."""

    def run(ctx: Context) -> Finding:
        return exact_identity(pathwise_gradient(forget_chain_factor), expectation_gradient())

    return run


def score_variance_effect(ctx: Context) -> Finding:
    """What believing there is no gradient through sampling costs: Var of the score-function
    estimate of dJ/dmu over Var of the gradient through the sample, minus one, for
    a ~ N(0, 0.5^2), R = -(a - 2)^2 (003-diff-sim-chain-rule's smooth problem), by
    Gauss-Hermite quadrature (exact for these polynomials)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / weights.sum()
    sig, target = 0.5, 2.0
    a = sig * nodes
    score = -((a - target) ** 2) * a / sig**2
    path = -2 * (a - target)

    def var(v):
        return float(weights @ v**2 - (weights @ v) ** 2)

    return effect_size(
        var(score) / var(path) - 1,
        measure="Var[score-function estimate] / Var[gradient through the sample] - 1, d/dmu",
        setting="one-step Gaussian policy N(0, 0.5^2), reward -(a - 2)^2",
    )


NO_GRADIENT_THROUGH_SAMPLING = Claim(
    id="003-no-gradient-through-sampling",
    title="There is no gradient through sampling",
    statement=r"a \sim \pi_\theta \implies \frac{\partial a}{\partial \theta} \text{ does not exist "
    r"(or carries nothing of } \nabla_\theta J)",
    sources=(Source("003", "How come?", "There is no gradient through sampling."),),
    conditions="As 003 writes: an action sampled from a discrete or a stochastic policy; here a "
    "three-action softmax, and a Gaussian N(mu, sigma^2) sampled as a = mu + sigma x.",
    expected=Verdict.REFUTED,
    severity=Severity.MISSING_CONDITION,
    reading="For a discrete action the sample is a step function of theta at fixed noise: its "
    "derivative is 0 wherever it exists, so nothing of grad J flows through it, as 003 says. A "
    "stochastic continuous action is different: a Gaussian sample written a = mu + sigma x has "
    "derivatives 1 and x sigma, and E[dR/da da/dtheta] is grad J (the reparameterisation "
    "gradient). 003's own differentiable-simulator formula multiplies by d a_t / d theta, a "
    "gradient through the action. True for discrete actions, which 003 does not restrict to.",
    checks=(
        check(
            "discrete: the inverse-CDF softmax sample has d a / d theta = 0 (sympy)",
            Kind.SYMBOLIC,
            discrete_sample_derivative,
        ),
        check(
            "stochastic: no gradient through a Gaussian sample a = mu + sigma x (sympy)",
            Kind.SYMBOLIC,
            gaussian_sample_has_no_gradient,
        ),
        check(
            "corrected: E[dR/da da/dtheta] = grad J through the Gaussian sample (sympy)",
            Kind.SYMBOLIC,
            reparameterised_gradient(False),
        ),
        negative_control(
            "through the sample with da/dlog sigma = x, the chain factor sigma left out (sympy)",
            Kind.SYMBOLIC,
            reparameterised_gradient(True),
            slip=Slip("d a / d log sigma taken as x (the derivative in sigma)", SlipKind.OMISSION),
        ),
        effect(
            "variance the score function costs over the gradient through the sample (exact)",
            Kind.EXACT,
            score_variance_effect,
        ),
    ),
)

# --- 003-diff-sim-formula-complete -------------------------------------------------------------


def two_step_return(a_first: sp.Expr, a_second_policy: bool = True) -> tuple[sp.Expr, sp.Expr]:
    """R = -sum_{t<2} (c s_t^2 + a_t^2) - c s_2^2 with s_1 = A s_0 + B a_0, s_2 = A s_1 + B a_1,
    as a function of a_0 (the policy's a_1 = theta s_1 follows), and s_1."""
    s1 = A_dyn * s0 + B_dyn * a_first
    a1 = theta * s1
    s2 = A_dyn * s1 + B_dyn * a1
    R = -(q_cost * s0**2 + a_first**2) - (q_cost * s1**2 + a1**2) - q_cost * s2**2
    return R, s1


def diff_sim_formula(reading: str):
    """003's sum_t dR/da_t da_t/dtheta on the two-step linear system, against dR/dtheta.

    ``partial``: dR/da_t with the states held fixed (only r_t's direct dependence) and
    da_t/dtheta = s_t, as the partial derivatives read; ``total``: dR/da_t the total effect of
    a_t on R through the later states (and the policy's later actions), da_t/dtheta = s_t;
    ``both total``: the total dR/da_t and the total da_t/dtheta (the state path counted twice).
    """

    def run(ctx: Context) -> Finding:
        R, s1 = two_step_return(theta * s0)
        truth = sp.diff(R, theta)
        a0, a1 = theta * s0, theta * s1
        if reading == "partial":
            dR_da = [-2 * a0, -2 * a1]
        else:
            R0, _ = two_step_return(a0_s)  # a_0 free: its effect through s_1, a_1 and s_2
            s2_free = A_dyn * s1_s + B_dyn * a1_s
            R1 = -(q_cost * s1_s**2 + a1_s**2) - q_cost * s2_free**2
            at = {a0_s: a0, s1_s: s1, a1_s: a1}
            dR_da = [sp.diff(R0, a0_s).subs(at), sp.diff(R1, a1_s).subs(at)]
        da_dtheta = (
            [s0, s1] if reading != "both total" else [sp.diff(a0, theta), sp.diff(a1, theta)]
        )
        formula = sum(g * d for g, d in zip(dR_da, da_dtheta, strict=True))
        return exact_identity(formula, truth)

    return run


def partial_formula_effect(ctx: Context) -> Finding:
    """The printed formula with partial derivatives against dR/dK (autograd through the
    rollout), on random stable linear systems: 4-dimensional state (as CartPole's), a scalar
    action a_t = K s_t, H = 100, quadratic cost; relative error, median over 10 systems (the
    systems run side by side)."""
    gen = ctx.cpu_generator()
    n = 10
    Q, _ = torch.linalg.qr(torch.randn(n, 4, 4, generator=gen, dtype=torch.float64))
    A = 0.95 * Q
    B = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    K = (0.1 * torch.randn(n, 4, generator=gen, dtype=torch.float64)).requires_grad_(True)
    s = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    R, printed = torch.zeros(n, dtype=torch.float64), torch.zeros(n, 4, dtype=torch.float64)
    for _t in range(100):
        a = (K * s).sum(-1)
        R = R - ((s * s).sum(-1) + a**2)
        printed = printed + (-2 * a.detach())[:, None] * s.detach()  # dr_t/da_t da_t/dK, s_t held
        s = torch.einsum("nij,nj->ni", A, s) + B * a[:, None]
    (truth,) = torch.autograd.grad(R.sum(), K)
    errors = ((printed - truth).norm(dim=-1) / truth.norm(dim=-1)).tolist()
    return effect_size(
        float(np.median(errors)),
        measure="||sum_t partial r_t/partial a_t s_t - dR/dK|| / ||dR/dK||, median",
        setting="10 random stable linear systems, 4-dimensional state, a_t = K s_t, H = 100, "
        "cost |s_t|^2 + a_t^2",
    )


DIFF_SIM_FORMULA_COMPLETE = Claim(
    id="003-diff-sim-formula-complete",
    title="Through a differentiable simulator, grad R = sum_t dR/da_t da_t/dtheta",
    statement=r"\nabla_{\theta} R = \sum_{t} \frac{\partial R}{\partial a_t} "
    r"\frac{\partial a_t}{\partial \theta}",
    sources=(
        Source(
            "003",
            "What if we could model the environment and reward function as differentiable?",
            r"\nabla_{\theta} R = \sum_{t} \frac{\partial R}{\partial a_t} \frac{\partial a_t}{\partial \theta}",
        ),
    ),
    conditions="003's differentiable simulator s_{t+1} = f(s_t, a_t), r_t = g(s_t, a_t), with a "
    "deterministic policy a_t = pi_theta(s_t); here a two-step linear system with quadratic "
    "cost, the partial derivatives read as partial (the other variables held fixed).",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="a_t moves R directly through r_t and also through every later state (and the later "
    "actions the policy takes there), and theta reaches a_t through s_t as well. With partial "
    "derivatives the sum keeps only the direct terms and leaves out the state path; it is right "
    "when dR/da_t is the total derivative through the later states (what backpropagation through "
    "time computes) and da_t/dtheta the direct one, holding s_t.",
    checks=(
        check(
            "as printed, partial derivatives, two-step linear system (sympy)",
            Kind.SYMBOLIC,
            diff_sim_formula("partial"),
        ),
        check(
            "corrected: total dR/da_t, direct da_t/dtheta (sympy)",
            Kind.SYMBOLIC,
            diff_sim_formula("total"),
        ),
        negative_control(
            "total derivatives in both factors (sympy)",
            Kind.SYMBOLIC,
            diff_sim_formula("both total"),
            slip=Slip(
                "the total da_t/dtheta with the total dR/da_t, counting the state path twice",
                SlipKind.WRONG_TERM,
            ),
        ),
        effect(
            "error of the formula with partial derivatives, H = 100 linear system (exact)",
            Kind.EXACT,
            partial_formula_effect,
        ),
    ),
)
