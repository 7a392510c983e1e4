"""003: the score-function trick, softmax and linear-softmax formulas, the Bernoulli/BCE loss,
differentiable simulators, and the returns helper of the CartPole program."""

import json
import warnings
from pathlib import Path

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
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import score_sum
from pgtheory.envs.finite import step_rewards
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.envs.finite import trajectory_probability
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison
from pgtheory.stats import finiteness_check
from pgtheory.stats import proportionality_check

SOFTMAX_SECTION = "Illustration: Softmax Policy for Discrete Actions"

# --- 003-score-function-trick ------------------------------------------------------------------


def score_function_trick_exact(drop_log: bool):
    """sum_tau P(tau) R(tau) grad log P(tau) against grad J, five random MDPs (S=3, A=2, H=3);
    ``drop_log`` uses grad P(tau) = P(tau) grad log P(tau) in place of grad log P(tau)."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        findings = []
        for mdp, logits in random_cases(gen, 5):
            policy = SoftmaxPolicy(logits)

            def weighted_score(traj, mdp=mdp, policy=policy):
                weight = discounted_return(mdp, traj)
                if drop_log:  # grad P = P grad log P: weight by P(tau) once more
                    weight = weight * trajectory_probability(mdp, policy, traj)
                return score_sum(policy, traj) * weight[:, None]

            findings.append(
                exact_comparison(
                    trajectory_expectation(mdp, policy, weighted_score),
                    exact_policy_gradient(mdp, logits),
                )
            )
        return all_hold(findings)

    return run


SCORE_FUNCTION_TRICK = Claim(
    id="003-score-function-trick",
    title="Pull the gradient outside the sampling: grad J = E[R(tau) grad log pi(tau)]",
    statement=r"\nabla_\theta J(\theta) = \mathbb{E}_{\tau\sim\pi_\theta}[R(\tau)\,\nabla_\theta \log \pi_\theta(\tau)]",
    sources=(
        Source(
            "003",
            "First trick: Pull the gradient outside the sampling process.",
            "Through the log trick",
        ),
    ),
    conditions="Finite trajectories; dynamics independent of theta.",
    expected=Verdict.CONFIRMED,
    reading="The log-derivative trick at the level of trajectories.",
    checks=(
        check(
            "five random MDPs (exact enumeration)", Kind.EXACT, score_function_trick_exact(False)
        ),
        negative_control(
            "grad P(tau) in place of grad log P(tau) (exact enumeration)",
            Kind.EXACT,
            score_function_trick_exact(True),
            slip=Slip("grad P(tau) where grad log P(tau) belongs", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- softmax and linear softmax ----------------------------------------------------------------

A, D = 4, 3


def random_logits(ctx: Context) -> torch.Tensor:
    return 2 * torch.randn(A, generator=ctx.cpu_generator(), dtype=torch.float64)


def log_softmax_formula(with_log: bool):
    def run(ctx: Context) -> Finding:
        z = random_logits(ctx)
        normaliser = torch.log(torch.exp(z).sum()) if with_log else torch.exp(z).sum()
        return exact_comparison(
            z - normaliser, torch.log_softmax(z, 0), method="formula against torch.log_softmax"
        )

    return run


SOFTMAX_LOGPROB = Claim(
    id="003-softmax-logprob",
    title="log pi_i = z_i - log sum_j exp(z_j)",
    statement=r"\log(\pi_i) = z_i - \log\Big(\sum_j e^{z_j}\Big)",
    sources=(
        Source("003", SOFTMAX_SECTION, r"\log(\pi_i) = z_i - \log\left(\sum_j e^{z_j}\right)"),
    ),
    conditions="pi = softmax(z).",
    expected=Verdict.CONFIRMED,
    reading="Definition of the softmax.",
    checks=(
        check("formula against torch.log_softmax, 4 logits", Kind.EXACT, log_softmax_formula(True)),
        negative_control(
            "without the log of the normaliser",
            Kind.EXACT,
            log_softmax_formula(False),
            slip=Slip("the log-probability without the log of the normaliser", SlipKind.OMISSION),
        ),
    ),
)


def softmax_score_formula(wrong_index: bool):
    """d log pi_i / d z_k = 1 - pi_i (k = i), -pi_k (k != i), for every i, against autograd."""

    def run(ctx: Context) -> Finding:
        z = random_logits(ctx)
        pi = torch.softmax(z, 0)
        formula = torch.stack(
            [
                torch.stack(
                    [
                        (1 - pi[i]) if k == i else -(pi[i] if wrong_index else pi[k])
                        for k in range(A)
                    ]
                )
                for i in range(A)
            ]
        )
        theta = z.clone().requires_grad_(True)
        autograd = torch.autograd.functional.jacobian(lambda t: torch.log_softmax(t, 0), theta)
        return exact_comparison(formula, autograd, method="formula against autograd")

    return run


SOFTMAX_SCORE = Claim(
    id="003-softmax-score",
    title="d log pi_i / d z_k = 1 - pi_i if k = i, else -pi_k",
    statement=r"\frac{\partial \log \pi_i}{\partial z_k} = \begin{cases}1 - \pi_i & k = i\\ -\pi_k & k \ne i\end{cases}",
    sources=(Source("003", SOFTMAX_SECTION, "The gradient with respect to each logit"),),
    conditions="pi = softmax(z).",
    expected=Verdict.CONFIRMED,
    reading="Differentiate the log-softmax.",
    checks=(
        check("all i, k against autograd", Kind.EXACT, softmax_score_formula(False)),
        negative_control(
            "-pi_i instead of -pi_k off the diagonal",
            Kind.EXACT,
            softmax_score_formula(True),
            slip=Slip("-pi_i where -pi_k belongs off the diagonal", SlipKind.INDEX),
        ),
    ),
)


def linear_softmax_case(ctx: Context) -> tuple[torch.Tensor, torch.Tensor, int]:
    gen = ctx.cpu_generator()
    theta = torch.randn(A, D, generator=gen, dtype=torch.float64)
    s = torch.randn(D, generator=gen, dtype=torch.float64)
    return theta, s, 2


def linear_log_prob(theta: torch.Tensor, s: torch.Tensor, i: int) -> torch.Tensor:
    return torch.log_softmax(theta @ s, 0)[i]


def linear_softmax_score_formula(with_state: bool):
    """d log pi(i|s) / d theta_k = s (1 - pi(i|s)) for k = i, -s pi(k|s) otherwise."""

    def run(ctx: Context) -> Finding:
        theta, s, i = linear_softmax_case(ctx)
        pi = torch.softmax(theta @ s, 0)
        feature = s if with_state else torch.ones_like(s)
        formula = torch.stack([feature * ((1 - pi[i]) if k == i else -pi[k]) for k in range(A)])
        autograd = torch.autograd.functional.jacobian(lambda t: linear_log_prob(t, s, i), theta)
        return exact_comparison(formula, autograd, method="formula against autograd")

    return run


LINEAR_SOFTMAX_SCORE = Claim(
    id="003-linear-softmax-score",
    title="Linear softmax: d log pi(i|s)/d theta_k = s (1 - pi(i|s)) or -s pi(k|s)",
    statement=r"\frac{\partial \log \pi_\theta(i|s)}{\partial \theta_k} = \begin{cases} s(1-\pi_\theta(i|s)) & k = i\\ -s\,\pi_\theta(k|s) & k \ne i\end{cases}",
    sources=(Source("003", SOFTMAX_SECTION, "Derivative w.r.t parameters"),),
    conditions="z_a(s) = theta_a^T s.",
    expected=Verdict.CONFIRMED,
    reading="Chain rule through z = theta s.",
    checks=(
        check(
            "4 actions, 3 features, against autograd",
            Kind.EXACT,
            linear_softmax_score_formula(True),
        ),
        negative_control(
            "without the factor s",
            Kind.EXACT,
            linear_softmax_score_formula(False),
            slip=Slip("the score without its factor s", SlipKind.OMISSION),
        ),
    ),
)


def linear_softmax_update(wrong_sign: bool):
    """One SGD step (lr alpha) on the loss -R log pi(a_t|s_t) against the printed updates."""

    def run(ctx: Context) -> Finding:
        theta, s, a = linear_softmax_case(ctx)
        alpha, ret = 0.1, 2.5
        pi = torch.softmax(theta @ s, 0)
        printed = theta.clone()
        for k in range(A):
            if k == a:
                printed[k] += alpha * ret * (1 - pi[a]) * s
            else:
                printed[k] += (1 if wrong_sign else -1) * alpha * ret * pi[k] * s
        param = torch.nn.Parameter(theta.clone())
        optimiser = torch.optim.SGD([param], lr=alpha)
        (-ret * linear_log_prob(param, s, a)).backward()
        optimiser.step()
        return exact_comparison(
            printed, param.detach(), method="printed update against torch.optim.SGD"
        )

    return run


LINEAR_SOFTMAX_UPDATES = Claim(
    id="003-linear-softmax-updates",
    title="The linear-softmax REINFORCE updates for the chosen and the other actions",
    statement=r"\theta_{a_t} \leftarrow \theta_{a_t} + \alpha R_t (1 - \pi_\theta(a_t|s_t)) s_t,\quad \theta_k \leftarrow \theta_k - \alpha R_t \pi_\theta(k|s_t) s_t",
    sources=(Source("003", SOFTMAX_SECTION, "The update rule for the parameters"),),
    conditions="A single step with return R_t, learning rate alpha, gradient ascent.",
    expected=Verdict.CONFIRMED,
    reading="Gradient ascent on R_t log pi, i.e. SGD on -R_t log pi.",
    checks=(
        check(
            "printed updates against one torch SGD step", Kind.EXACT, linear_softmax_update(False)
        ),
        negative_control(
            "other actions updated with + instead of -",
            Kind.EXACT,
            linear_softmax_update(True),
            slip=Slip("the other actions updated with + instead of -", SlipKind.SIGN),
        ),
    ),
)


def parallel_to_state(trajectory: bool):
    """Each block d log pi / d theta_k against its projection on s (single step), or, for the
    control, the gradient of a 3-step trajectory summed over different states against s_0."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        theta = torch.randn(A, D, generator=gen, dtype=torch.float64)
        states = torch.randn(3 if trajectory else 1, D, generator=gen, dtype=torch.float64)
        actions = [0, 2, 1][: len(states)]
        grad = sum(
            torch.autograd.functional.jacobian(lambda t, s=s, a=a: linear_log_prob(t, s, a), theta)
            for s, a in zip(states, actions, strict=True)
        )
        s0 = states[0]
        projection = (grad @ s0)[:, None] * s0 / (s0 @ s0)
        finding = exact_comparison(
            grad, projection, method="gradient blocks against their projection on s"
        )
        finding.note += "; a block equals its projection iff it is parallel to s"
        return finding

    return run


GRAD_PARALLEL_TO_S = Claim(
    id="003-grad-parallel-to-s",
    title="The direction of the gradient is the state feature vector s",
    statement=r"\nabla_{\theta_k} \log \pi_\theta(a|s) \parallel s \quad \forall k",
    sources=(
        Source(
            "003",
            SOFTMAX_SECTION,
            "The direction of the gradient is the state feature vector s.",
        ),
    ),
    conditions="Linear softmax, a single step (one state).",
    expected=Verdict.CONFIRMED,
    reading="Per action block, the gradient is a multiple of s; summed over a trajectory it is a "
    "combination of several states' features.",
    checks=(
        check(
            "single step: every block parallel to s (exact)", Kind.EXACT, parallel_to_state(False)
        ),
        negative_control(
            "3-step trajectory: blocks parallel to s_0 (exact)",
            Kind.EXACT,
            parallel_to_state(True),
            slip=Slip(
                "a multi-step trajectory's blocks, parallel to s_0 only", SlipKind.WRONG_TERM
            ),
        ),
    ),
)

# --- 003-bce-equals-neglogpi -------------------------------------------------------------------


def bce_against_log_prob(flip_label: bool):
    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        p = torch.rand(64, generator=gen, dtype=torch.float64) * 0.98 + 0.01
        actions = (torch.rand(64, generator=gen, dtype=torch.float64) < 0.5).double()
        labels = 1 - actions if flip_label else actions
        bce = torch.nn.BCELoss(reduction="none")(p, labels)
        neg_log_pi = -torch.distributions.Bernoulli(probs=p).log_prob(actions)
        return exact_comparison(
            bce, neg_log_pi, method="torch.nn.BCELoss against -Bernoulli(p).log_prob(a)"
        )

    return run


BCE_EQUALS_NEGLOGPI = Claim(
    id="003-bce-equals-neglogpi",
    title="BCE(p, a) equals -log pi(a|s) for a Bernoulli (sigmoid) policy",
    statement=r"\mathrm{BCE}(p, y{=}a) = -[a \log p + (1-a)\log(1-p)] = -\log \pi(a|s)",
    sources=(
        Source(
            "003",
            "Calculating loss and backpropagation. That is the core learning step.",
            "The BCE loss is equivalent to the negative log-likelihood for a Bernoulli distribution.",
        ),
    ),
    conditions="The label is the sampled action a in {0, 1}; p = P(a = 1).",
    expected=Verdict.CONFIRMED,
    reading="Both are -log of the probability of the taken action.",
    checks=(
        check(
            "64 random (p, a) against torch's Bernoulli log_prob",
            Kind.EXACT,
            bce_against_log_prob(False),
        ),
        negative_control(
            "label 1 - a",
            Kind.EXACT,
            bce_against_log_prob(True),
            slip=Slip("the label 1 - a", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 003-diff-sim-chain-rule -------------------------------------------------------------------

SMOOTH_SIGMA, SMOOTH_TARGET = 0.5, 2.0
MUCH = 0.1  # "much more sample-efficient": at least 10x lower variance at equal sample counts


def smooth_gradient_error(estimator: str, device):
    """(g - grad J)^2 for a ~ N(0, 0.5^2), r = -(a - 2)^2, grad_mu J = 4."""

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        eps = torch.randn(n, generator=gen, device=device, dtype=torch.float64)
        a = SMOOTH_SIGMA * eps
        if estimator == "pathwise":
            g = -2 * (a - SMOOTH_TARGET)  # dr/da * da/dmu
        else:
            g = eps / SMOOTH_SIGMA * (-((a - SMOOTH_TARGET) ** 2))
        return (g - 2 * SMOOTH_TARGET) ** 2

    return sampler


CHAOS_HORIZON, CHAOS_SIGMA, CHAOS_R = 20, 0.01, 3.9


def chaotic_gradient_square(estimator: str, device):
    """g^2 for d/dmu E[sum_t s_t], s_{t+1} = 3.9 x (1 - x), x = (s_t + a_t) mod 1, a_t ~ N(mu, 0.01^2),
    H = 20, by the pathwise chain rule (forward-mode, vectorised) or by REINFORCE."""

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        eps = torch.randn(n, CHAOS_HORIZON, generator=gen, device=device, dtype=torch.float64)
        s = torch.full((n,), 0.3, dtype=torch.float64, device=device)
        ds = torch.zeros_like(s)
        total, dtotal = torch.zeros_like(s), torch.zeros_like(s)
        for t in range(CHAOS_HORIZON):
            x = torch.remainder(s + CHAOS_SIGMA * eps[:, t], 1.0)
            ds = CHAOS_R * (1 - 2 * x) * (ds + 1)  # d s_{t+1} / d mu
            s = CHAOS_R * x * (1 - x)
            total, dtotal = total + s, dtotal + ds
        g = dtotal if estimator == "pathwise" else total * eps.sum(1) / CHAOS_SIGMA
        return g**2

    return sampler


def efficiency_ratio(make, numerator: str, denominator: str):
    def run(ctx: Context) -> Finding:
        return ctx.ratio_test(
            make(numerator, ctx.device),
            make(denominator, ctx.device),
            predicted=MUCH,
            alternative="below",
            resolution=0.2,
        )

    return run


def chaotic_ratio_effect(ctx: Context) -> Finding:
    """How many times REINFORCE's mean square the pathwise one reaches through the chaotic
    simulator (ratio minus one, from a ratio test's estimate)."""
    ratio = ctx.ratio_test(
        chaotic_gradient_square("pathwise", ctx.device),
        chaotic_gradient_square("reinforce", ctx.device),
        resolution=0.5,
    )
    return effect_size(
        ratio.estimate - 1,
        measure="E[g^2] pathwise / E[g^2] REINFORCE - 1",
        setting=f"logistic-map simulator (r = {CHAOS_R}), {CHAOS_HORIZON} steps, "
        f"action noise {CHAOS_SIGMA}",
    )


DIFF_SIM = Claim(
    id="003-diff-sim-chain-rule",
    title="Backpropagating through a differentiable simulator is much more sample-efficient than REINFORCE",
    statement=r"\mathrm{Var}[\nabla^{\text{pathwise}}] \ll \mathrm{Var}[\nabla^{\text{REINFORCE}}] \text{ at equal sample counts}",
    sources=(
        Source(
            "003",
            "What if we could model the environment and reward function as differentiable?",
            "This is much more sample-efficient because you use true gradients instead of REINFORCE",
        ),
    ),
    conditions="Left out by the document: smooth, well-conditioned dynamics. 'Much' is taken as a "
    "variance (or mean square) at least 10 times smaller.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="True for a smooth one-step problem. Through 20 steps of a chaotic (logistic-map) "
    "simulator the chain rule multiplies Jacobians whose product explodes, so the pathwise "
    "gradient's mean square can exceed REINFORCE's; the checks compare the two.",
    checks=(
        check(
            "smooth one-step problem: Var pathwise / Var REINFORCE below 0.1 (MC, ratio test)",
            Kind.MONTE_CARLO,
            efficiency_ratio(smooth_gradient_error, "pathwise", "reinforce"),
        ),
        beyond_conditions(
            "chaotic 20-step simulator: E[g^2] pathwise / REINFORCE below 0.1 (MC, ratio test)",
            Kind.MONTE_CARLO,
            efficiency_ratio(chaotic_gradient_square, "pathwise", "reinforce"),
        ),
        negative_control(
            "smooth problem with the arms swapped (MC, ratio test)",
            Kind.MONTE_CARLO,
            efficiency_ratio(smooth_gradient_error, "reinforce", "pathwise"),
            slip=Slip("the two estimators swapped", SlipKind.ORDER),
        ),
        effect(
            "chaotic 20-step simulator: E[g^2] pathwise / REINFORCE - 1 (MC)",
            Kind.MONTE_CARLO,
            chaotic_ratio_effect,
        ),
    ),
)

# --- 003-example-raw-returns, 003-example-normalized-returns, 003-normalized-returns-bias --------

EXAMPLE_REWARDS, EXAMPLE_GAMMA = [1, 0, 0, 2], 0.9
PRINTED_RAW = [2.458, 1.62, 1.8, 2]
PRINTED_NORMALISED = [1.57, -1.13, -0.55, 0.11]

CODE_BLOCKS = json.loads(
    (Path(__file__).parent / "data" / "003_code_blocks.json").read_text(encoding="utf-8")
)["blocks"]
RETURNS_BLOCK = 3  # 003's calculate_stepwise_returns, as printed


def printed_returns_function(population_std: bool = False):
    """003's calculate_stepwise_returns executed from the document's own block; with
    ``population_std`` its std() becomes std(unbiased=False) (a plausible 'fix')."""
    code = CODE_BLOCKS[RETURNS_BLOCK]["code"]
    if population_std:
        code = code.replace("returns.std()", "returns.std(unbiased=False)")
    namespace: dict = {"torch": torch}
    exec(compile(code, "<003 block 3>", "exec"), namespace)
    return namespace["calculate_stepwise_returns"]


def raw_returns(forward: bool):
    """G_t = sum_{k >= t} gamma^(k-t) r_k (or, for the control, accumulated forwards in time)."""

    def run(ctx: Context) -> Finding:
        r = torch.tensor(EXAMPLE_REWARDS, dtype=torch.float64)
        if forward:
            computed = discounted_reward_to_go(r.flip(0), EXAMPLE_GAMMA).flip(0)
        else:
            computed = discounted_reward_to_go(r, EXAMPLE_GAMMA)
        return exact_comparison(
            computed,
            PRINTED_RAW,
            tolerance=1e-12,
            method="exact float64 against the printed values",
        )

    return run


EXAMPLE_RAW_RETURNS = Claim(
    id="003-example-raw-returns",
    title="Rewards [1, 0, 0, 2] with gamma 0.9 give raw returns [2.458, 1.62, 1.8, 2]",
    statement=r"G_t = \sum_{k \ge t} \gamma^{k-t} r_k:\ [1, 0, 0, 2],\ \gamma = 0.9 \ \mapsto\ [2.458, 1.62, 1.8, 2]",
    sources=(Source("003", "Step Returns from rewards", "# Raw returns: [2.458, 1.62, 1.8, 2]"),),
    conditions="As printed.",
    expected=Verdict.CONFIRMED,
    reading="2, 0.9 x 2 = 1.8, 0.9 x 1.8 = 1.62, 1 + 0.9 x 1.62 = 2.458.",
    checks=(
        check("reward-to-go against the printed values", Kind.EXACT, raw_returns(False)),
        negative_control(
            "returns accumulated forwards in time",
            Kind.EXACT,
            raw_returns(True),
            slip=Slip("returns accumulated forwards in time", SlipKind.WRONG_TERM),
        ),
    ),
)

PRINT_TOLERANCE = 0.005  # values printed to two decimals


def printed_normalised(normalise) -> Finding:
    computed = normalise(torch.tensor(PRINTED_RAW, dtype=torch.float64))
    error = float((computed - torch.tensor(PRINTED_NORMALISED, dtype=torch.float64)).abs().max())
    return exact_bound(
        error,
        PRINT_TOLERANCE,
        relation="at_most",
        method="computed values against the printed ones (2 decimals): largest difference",
        note=f"largest difference {error:.4f}",
    )


def printed_example_effect() -> Finding:
    """|printed - returned| / |returned| (Euclidean) for 003's own example."""
    computed = printed_returns_function()(EXAMPLE_REWARDS, EXAMPLE_GAMMA).double()
    printed = torch.tensor(PRINTED_NORMALISED, dtype=torch.float64)
    return effect_size(
        float((printed - computed).norm() / computed.norm()),
        measure="|printed - returned| / |returned| of the normalised returns",
        setting="003's example: rewards [1, 0, 0, 2], gamma 0.9, the function as printed",
    )


EXAMPLE_NORMALIZED_RETURNS = Claim(
    id="003-example-normalized-returns",
    title="The printed 'discounted normalized returns' [1.57, -1.13, -0.55, 0.11]",
    statement=r"\texttt{calculate\_stepwise\_returns([1, 0, 0, 2], 0.9)} = [1.57, -1.13, -0.55, 0.11]",
    sources=(
        Source(
            "003",
            "Step Returns from rewards",
            "# Discounted normalized returns: tensor([ 1.57, -1.13, -0.55,  0.11])",
        ),
    ),
    conditions="The function as printed (torch.Tensor.std, which is the unbiased, n - 1 estimator).",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The document prints both the function and what it returns for its example; the "
    "function's own output is computed here and set against the printed numbers, with the "
    "population standard deviation (n) as the likeliest slip that could explain the gap.",
    checks=(
        check(
            "the printed function, run",
            Kind.EXACT,
            lambda ctx: printed_normalised(
                lambda r: printed_returns_function()(EXAMPLE_REWARDS, EXAMPLE_GAMMA).double()
            ),
        ),
        check(
            "with the population standard deviation",
            Kind.EXACT,
            lambda ctx: printed_normalised(lambda r: (r - r.mean()) / r.std(unbiased=False)),
        ),
        negative_control(
            "scaled by the std without subtracting the mean",
            Kind.EXACT,
            lambda ctx: printed_normalised(lambda r: r / r.std()),
            slip=Slip("scaling by the std without subtracting the mean", SlipKind.OMISSION),
        ),
        effect(
            "relative discrepancy of the printed values (exact)",
            Kind.EXACT,
            lambda ctx: printed_example_effect(),
        ),
    ),
)


def normalised_reward_to_go(rewards: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Per-episode normalisation of the reward-to-go, as calculate_stepwise_returns does."""
    g = discounted_reward_to_go(rewards, gamma)
    return (g - g.mean(-1, keepdim=True)) / g.std(-1, keepdim=True)


def _expected_update(mdp, logits, normalise: bool, score_sign: float = 1.0) -> torch.Tensor:
    """E[sum_t w_t grad log pi(a_t|s_t)] by enumeration, w the (normalised) reward-to-go."""
    policy = SoftmaxPolicy(logits)

    def estimator(traj):
        rewards = step_rewards(mdp, traj)
        weights = (
            normalised_reward_to_go(rewards, mdp.gamma)
            if normalise
            else discounted_reward_to_go(rewards, mdp.gamma)
        )
        return score_sign * (
            policy.score(traj.states, traj.actions) * weights[..., None, None]
        ).sum(1).flatten(1)

    return trajectory_expectation(mdp, policy, estimator)


def proportional_to_gradient(normalise: bool, score_sign: float = 1.0):
    """Exact, five random MDPs (S=3, A=2, H=4): is E[sum_t w_t grad log pi(a_t|s_t)] a positive
    multiple of grad J, with w the (normalised) reward-to-go?"""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        findings = []
        for mdp, logits in random_cases(gen, 5, horizon=4, reward_shift=1.0):
            expected = _expected_update(mdp, logits, normalise, score_sign)
            findings.append(proportionality_check(expected, exact_policy_gradient(mdp, logits)))
        return all_hold(findings)

    return run


def _cosines(ctx: Context, gamma: float, horizon: int, states: int, count: int) -> list[float]:
    """cos(E[normalised-return update], grad J) on ``count`` random MDPs (enumeration)."""
    gen = ctx.cpu_generator()
    cosines = []
    for mdp, logits in random_cases(
        gen, count, states=states, horizon=horizon, gamma=gamma, reward_shift=1.0
    ):
        u, g = _expected_update(mdp, logits, True), exact_policy_gradient(mdp, logits)
        cosines.append(float(u @ g / (u.norm() * g.norm())))
    return cosines


def normalised_update_ascends(ctx: Context) -> Finding:
    """The weaker reading: the expected update still has a positive inner product with grad J."""
    cosines = _cosines(ctx, 1.0, 4, 3, 5)
    return exact_bound(
        min(cosines),
        0.0,
        relation="above",
        method="cos(E[update], grad J) by enumeration: the smallest over five MDPs",
    )


def normalised_direction_effect(ctx: Context) -> Finding:
    """1 - cos(E[update], grad J), median over MDPs, at gamma = 0.99 and 6 steps."""
    cosines = torch.tensor(_cosines(ctx, 0.99, 6, 2, 5), dtype=torch.float64)
    return effect_size(
        float((1 - cosines).median()),
        measure="1 - cos(expected update with normalised returns, grad J), median",
        setting="five random MDPs (2 states, 2 actions), 6 steps, gamma 0.99 (the longest "
        "horizon exact enumeration affords; CartPole's episodes are far longer)",
    )


NORMALIZED_RETURNS_BIAS = Claim(
    id="003-normalized-returns-bias",
    title="Per-episode normalised returns are ready for use in the policy-gradient loss",
    statement=r"\mathbb{E}\Big[\sum_t \frac{G_t - \bar G}{s_G} \nabla_\theta \log\pi_\theta(a_t|s_t)\Big] \propto \nabla_\theta J",
    sources=(
        Source(
            "003",
            "Step Returns from rewards",
            "discounted, normalized returns per step, ready for use in policy gradient loss calculation",
        ),
    ),
    conditions="003 recommends the per-episode normalisation and calls its output ready for use "
    "in the loss it writes as grad J = E[sum_t R_t grad log pi(a_t|s_t)]; it does not claim "
    "unbiasedness. Read as: the normalised returns can stand in for R_t in that formula, i.e. "
    "the expected update still points along grad J (a positive multiple). gamma = 1 in the checks.",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="003 offers the normalised returns as a drop-in for R_t in its gradient formula. The "
    "episode's mean and standard deviation depend on every action of the episode, so they are "
    "not a baseline that leaves the expectation alone: the expected update turns away from "
    "grad J (the weaker reading, that it still ascends, is checked beside it). Without the "
    "normalisation the reward-to-go estimator is unbiased.",
    checks=(
        check(
            "normalised reward-to-go: E[update] along grad J (exact enumeration)",
            Kind.EXACT,
            proportional_to_gradient(True),
        ),
        check(
            "weaker reading: E[update] . grad J > 0 (exact enumeration)",
            Kind.EXACT,
            normalised_update_ascends,
        ),
        check(
            "corrected: plain reward-to-go (exact enumeration)",
            Kind.EXACT,
            proportional_to_gradient(False),
        ),
        negative_control(
            "plain reward-to-go with the score's sign flipped",
            Kind.EXACT,
            proportional_to_gradient(False, -1.0),
            slip=Slip("the plain reward-to-go with the score's sign flipped", SlipKind.SIGN),
        ),
        effect(
            "direction error 1 - cos, gamma = 0.99, 6 steps (exact)",
            Kind.EXACT,
            normalised_direction_effect,
        ),
    ),
)


# --- 003-Gt-truncated-formula, 003-stepwise-returns-one-step-episode ----------------------------

GT_FORMULA = "G_t = r_t + \u0152\u2265*r_{t+1} + \u0152\u2265^2*r_{t+2}"
CARTPOLE_GAMMA, CARTPOLE_LENGTH = 0.99, 500


def truncated_returns(rewards: torch.Tensor, gamma: float, terms: int | None, offset: int = 0):
    """sum_{k = t}^{t + terms - 1} gamma^(k - t + offset) r_k (all k >= t when ``terms`` is None);
    ``offset`` = t gives the slip gamma^k for gamma^(k - t)."""
    T = rewards.shape[-1]
    t, k = torch.arange(T)[:, None], torch.arange(T)[None, :]
    lag = (k - t).double()
    keep = (lag >= 0) & ((lag < terms) if terms is not None else True)
    power = lag + (t.double() if offset else 0.0)
    return rewards @ torch.where(keep, gamma**power, 0.0).T


def gt_formula_against_return(terms: int | None, offset: int = 0):
    """The formula against the discounted return R_t = sum_{k >= t} gamma^(k - t) r_k that 003
    defines and its function computes, on 003's example rewards [1, 0, 0, 2] with gamma 0.9."""

    def run(ctx: Context) -> Finding:
        r = torch.tensor(EXAMPLE_REWARDS, dtype=torch.float64)
        return exact_comparison(
            truncated_returns(r, EXAMPLE_GAMMA, terms, offset),
            discounted_reward_to_go(r, EXAMPLE_GAMMA),
            method="formula against the discounted return on 003's example (float64)",
        )

    return run


def gt_truncation_effect(ctx: Context) -> Finding:
    """1 - (three-term G_0) / (discounted return G_0) for a full CartPole episode."""
    r = torch.ones(CARTPOLE_LENGTH, dtype=torch.float64)
    short = truncated_returns(r, CARTPOLE_GAMMA, 3)[0]
    full = discounted_reward_to_go(r, CARTPOLE_GAMMA)[0]
    return effect_size(
        float(1 - short / full),
        measure="1 - (printed three-term G_0) / (discounted return G_0)",
        setting=f"a CartPole episode of {CARTPOLE_LENGTH} steps, reward 1 per step, gamma {CARTPOLE_GAMMA}",
    )


GT_TRUNCATED = Claim(
    id="003-Gt-truncated-formula",
    title="The printed G_t stops after three terms",
    statement=r"G_t = r_t + \gamma r_{t+1} + \gamma^2 r_{t+2}\ \text{(as printed)}\quad\text{vs}\quad R_t = \sum_{k=t}^{T}\gamma^{k-t} r_k",
    sources=(Source("003", "Step Returns from rewards", GT_FORMULA),),
    conditions="The formula as printed (mojibake for gamma), set against the return 003 defines "
    "in its credit-assignment trick and its calculate_stepwise_returns computes.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The function beneath the formula accumulates every later reward (R = r + R * "
    "discount_factor), as 003's own R_t = sum_{k=t}^{T} gamma^{k-t} r_k does; the printed "
    "formula lacks the trailing '+ ...', so for an episode with rewards beyond t + 2 it gives a "
    "different number. A notation slip; the code is right.",
    checks=(
        check(
            "printed three terms against the discounted return (exact)",
            Kind.EXACT,
            gt_formula_against_return(3),
        ),
        check(
            "corrected: continued to the end of the episode (exact)",
            Kind.EXACT,
            gt_formula_against_return(None),
        ),
        negative_control(
            "continued, with gamma^k in place of gamma^(k - t) (exact)",
            Kind.EXACT,
            gt_formula_against_return(None, offset=1),
            slip=Slip("gamma^k where gamma^(k - t) belongs", SlipKind.EXPONENT),
        ),
        effect(
            "relative shortfall at t = 0, CartPole episode, gamma = 0.99 (exact)",
            Kind.EXACT,
            gt_truncation_effect,
        ),
    ),
)


def returns_finite(rewards: list[float], population_std: bool = False):
    def run(ctx: Context) -> Finding:
        with warnings.catch_warnings():  # torch warns of std() with one degree of freedom
            warnings.simplefilter("ignore")
            out = printed_returns_function(population_std)(rewards, EXAMPLE_GAMMA)
        return finiteness_check(
            out, finite=True, what=f"calculate_stepwise_returns({rewards}, 0.9)"
        )

    return run


def nan_lengths_effect(ctx: Context) -> Finding:
    """Share of CartPole episode lengths 1..500 (reward 1, gamma 0.99) with a non-finite output."""
    function = printed_returns_function()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = sum(
            not bool(torch.isfinite(function([1.0] * n, CARTPOLE_GAMMA)).all())
            for n in range(1, CARTPOLE_LENGTH + 1)
        )
    return effect_size(
        bad / CARTPOLE_LENGTH,
        measure="share of episode lengths for which the printed function returns NaN",
        setting=f"CartPole rewards (1 per step), lengths 1 to {CARTPOLE_LENGTH}, gamma {CARTPOLE_GAMMA}",
    )


STEPWISE_ONE_STEP = Claim(
    id="003-stepwise-returns-one-step-episode",
    title="calculate_stepwise_returns returns NaN for a one-step episode or constant returns",
    statement=r"\texttt{calculate\_stepwise\_returns}(r, \gamma) \in \mathbb{R}^T \text{ for every episode } r",
    sources=(
        Source(
            "003", "Step Returns from rewards", "ready for use in policy gradient loss calculation"
        ),
    ),
    conditions="The function as printed (block 3, executed), on any episode's rewards; "
    "torch.Tensor.std is the n - 1 estimator. Left out by the document: at least two steps and "
    "returns that are not all equal.",
    expected=Verdict.REFUTED,
    severity=Severity.MISSING_CONDITION,
    reading="The function divides by the standard deviation of the episode's returns: the n - 1 "
    "estimator of a single value is 0/0, and equal returns (an episode without reward) give "
    "0/0 as well, so the output is NaN, which is not ready for use in a loss. CartPole's "
    "episodes are longer than one step with distinct returns, where it is finite.",
    checks=(
        check(
            "one-step episode [1.0] (finiteness)",
            Kind.EXACT,
            returns_finite([1.0]),
        ),
        check(
            "an episode without reward [0, 0, 0] (finiteness)",
            Kind.EXACT,
            returns_finite([0.0, 0.0, 0.0]),
        ),
        check(
            "corrected condition: 003's example [1, 0, 0, 2] (finiteness)",
            Kind.EXACT,
            returns_finite([1.0, 0.0, 0.0, 2.0]),
        ),
        negative_control(
            "one-step episode with std(unbiased=False) (finiteness)",
            Kind.EXACT,
            returns_finite([1.0], population_std=True),
            slip=Slip(
                "the population std as the fix, which still divides 0 by 0", SlipKind.WRONG_TERM
            ),
        ),
        effect(
            "share of CartPole episode lengths 1..500 giving NaN (exact)",
            Kind.EXACT,
            nan_lengths_effect,
        ),
    ),
)
