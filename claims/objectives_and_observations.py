"""001, 002, 003: the objective as a sum over trajectories and its sample estimate, the number
of trajectories, the direction of the update and the loss sign in code, and policy gradients
under partial observability."""

from dataclasses import replace

import numpy as np
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
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import expected_return
from pgtheory.envs.finite import finite_horizon_values
from pgtheory.envs.finite import log_dynamics
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import random_mdp
from pgtheory.envs.finite import sample_trajectories
from pgtheory.envs.finite import step_rewards
from pgtheory.envs.finite import to_device
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.envs.finite import trajectory_probability
from pgtheory.envs.tabular import TabularMDP
from pgtheory.envs.tabular import expected_return as tabular_expected_return
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.montecarlo import Sampler
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison


def random_case(ctx: Context, horizon: int = 4, states: int = 3):
    return next(random_cases(ctx.cpu_generator(), 1, states=states, horizon=horizon))


# --- 001-traj-objective, 002-mc-objective, 001-traj-count-exponential -----------------------------


def objective_by_trajectories(uniform_weights: bool):
    """sum_tau P(tau) R(tau) by enumeration against rho_0 . V_0 by backward recursion."""

    def run(ctx: Context) -> Finding:
        mdp, logits = random_case(ctx)
        traj = enumerate_trajectories(mdp)
        prob = trajectory_probability(mdp, SoftmaxPolicy(logits), traj)
        if uniform_weights:
            prob = torch.full_like(prob, 1 / len(prob))
        V, _ = finite_horizon_values(mdp, logits)
        return exact_comparison((prob * discounted_return(mdp, traj)).sum(), mdp.initial @ V[0])

    return run


TRAJ_OBJECTIVE = Claim(
    id="001-traj-objective",
    title="J(theta) = sum_tau P(tau | theta) R(tau)",
    statement=r"J(\theta) = \mathbb{E}_{\tau \sim \pi_\theta}[R(\tau)] = \sum_{\tau} P(\tau\mid \theta) R(\tau)",
    sources=(
        Source(
            "001",
            "Problem Setting",
            "we do this indirectly by maximising the expected return over trajectories",
        ),
    ),
    conditions="Finite horizon.",
    expected=Verdict.CONFIRMED,
    reading="The sum over all (S A)^H trajectories equals the dynamic-programming value.",
    checks=(
        check(
            "enumeration against backward recursion, H = 4 (exact)",
            Kind.EXACT,
            objective_by_trajectories(False),
        ),
        negative_control(
            "uniform weights over trajectories (exact)",
            Kind.EXACT,
            objective_by_trajectories(True),
            slip=Slip("uniform weights where P(tau) belongs", SlipKind.WRONG_TERM),
        ),
    ),
)


def sample_average(per_step: bool):
    """MC: the average of sum_t r(s_t, a_t) over sampled trajectories against J (exact); the
    control averages the per-step reward instead of the per-trajectory sum."""

    def run(ctx: Context) -> Finding:
        mdp, logits = random_case(ctx)
        reference = float(expected_return(mdp, logits))
        mdp_d, policy = to_device(mdp, ctx.device), SoftmaxPolicy(logits.to(ctx.device))

        def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
            returns = discounted_return(mdp_d, sample_trajectories(mdp_d, policy, n, gen))
            return returns / mdp.horizon if per_step else returns

        return ctx.mean_test(sampler, reference, resolution=0.02)

    return run


MC_OBJECTIVE = Claim(
    id="002-mc-objective",
    title="J is estimated by the average return of N sampled trajectories",
    statement=r"J(\theta) \approx \frac{1}{N} \sum_{i=1}^N \sum_{t=1}^T R(s_{i,t}, a_{i,t})",
    sources=(
        Source(
            "002",
            "2.1. Evaluating the Objective",
            "Estimate $J(\\theta)$ by collecting $N$ sampled trajectories $\\tau_i$:",
        ),
    ),
    conditions="On-policy samples.",
    expected=Verdict.CONFIRMED,
    reading="The average of the N returns is a sample mean of R(tau) under P_theta, so its "
    "expectation is J(theta): the estimate is unbiased for any N.",
    checks=(
        check("average return against the exact J (MC)", Kind.MONTE_CARLO, sample_average(False)),
        negative_control(
            "average per-step reward against J (MC)",
            Kind.MONTE_CARLO,
            sample_average(True),
            slip=Slip("the average per-step reward where the return belongs", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 002-more-samples-more-accurate ------------------------------------------------------------

SAMPLE_COUNTS = 2.0 ** np.arange(0, 7)  # N = 1, 2, ..., 64 trajectories per estimate
EXACT_COUNTS = (1, 2, 3)


def mse_scaling(predicted: float):
    """MC: the squared error (average return of N trajectories - J)^2 for N = 1..64, its mean's
    exponent in N fitted on a log-log scale against ``predicted``."""

    def run(ctx: Context) -> Finding:
        mdp, logits = random_case(ctx)
        reference = float(expected_return(mdp, logits))

        def make_sampler(count: float, device) -> Sampler:
            mdp_d, policy = to_device(mdp, device), SoftmaxPolicy(logits.to(device))
            N = int(count)

            def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
                returns = discounted_return(mdp_d, sample_trajectories(mdp_d, policy, n * N, gen))
                return (returns.reshape(n, N).mean(1) - reference) ** 2

            return sampler

        return ctx.scaling_test(make_sampler, SAMPLE_COUNTS, predicted, samples_per_point=2_000)

    return run


def mse_exact(power: float):
    """Exact: E[(average of N returns - J)^2] over every N-tuple of trajectories (H = 2, so 36
    trajectories and 36^N tuples), times N^power, the same for N = 1, 2, 3 when the MSE falls
    like N^-power."""

    def run(ctx: Context) -> Finding:
        mdp, logits = random_case(ctx, horizon=2)
        traj = enumerate_trajectories(mdp)
        prob = trajectory_probability(mdp, SoftmaxPolicy(logits), traj)
        returns = discounted_return(mdp, traj)
        J = float((prob * returns).sum())
        scaled = []
        for N in EXACT_COUNTS:
            tuple_prob, tuple_sum = (
                torch.ones(1, dtype=torch.float64),
                torch.zeros(1, dtype=torch.float64),
            )
            for _ in range(N):  # the joint law of N independent trajectories
                tuple_prob = (tuple_prob[:, None] * prob[None, :]).flatten()
                tuple_sum = (tuple_sum[:, None] + returns[None, :]).flatten()
            mse = float((tuple_prob * (tuple_sum / N - J) ** 2).sum())
            scaled.append(mse * N**power)
        return exact_comparison(
            scaled,
            [scaled[0]] * len(scaled),
            method="exact MSE over every N-tuple of trajectories, times N^power",
        )

    return run


MORE_SAMPLES = Claim(
    id="002-more-samples-more-accurate",
    title="More sampled trajectories give a more accurate estimate of J",
    statement=r"\mathbb{E}\Big[\Big(\frac1N \sum_{i=1}^N R(\tau_i) - J(\theta)\Big)^2\Big] = \frac{\mathrm{Var}[R(\tau)]}{N}",
    sources=(
        Source(
            "002",
            "2.1. Evaluating the Objective",
            "More samples lead to a more accurate estimate.",
        ),
    ),
    conditions="N independent on-policy trajectories; R(tau) of finite variance.",
    expected=Verdict.CONFIRMED,
    reading="The average of N independent returns is unbiased and its variance is Var[R] / N, "
    "so the mean squared error falls like 1/N: more samples, more accuracy.",
    checks=(
        check(
            "N MSE(N) constant, N = 1, 2, 3 (exact, every N-tuple)",
            Kind.EXACT,
            mse_exact(1.0),
        ),
        check(
            "MSE exponent in N = -1, N = 1..64 (MC, log-log fit)",
            Kind.MONTE_CARLO,
            mse_scaling(-1.0),
        ),
        negative_control(
            "MSE exponent in N = -1/2 (MC, log-log fit)",
            Kind.MONTE_CARLO,
            mse_scaling(-0.5),
            slip=Slip("the root-mean-square error's rate taken for the MSE's", SlipKind.EXPONENT),
        ),
        negative_control(
            "sqrt(N) MSE(N) constant (exact, every N-tuple)",
            Kind.EXACT,
            mse_exact(0.5),
            slip=Slip("the root-mean-square error's rate taken for the MSE's", SlipKind.EXPONENT),
        ),
    ),
)

COUNT_HORIZONS = np.arange(1, 6)


def sparse_mdp(generator: torch.Generator, states: int = 3, actions: int = 2) -> FiniteMDP:
    """A random MDP whose dynamics are sparse: each (s, a) reaches a random nonempty subset of
    the states (Dirichlet weights on it), and the initial law charges a random nonempty subset,
    so that counting the possible trajectories is not counting every sequence."""

    def sparse_law(*shape: int) -> torch.Tensor:
        keep = torch.rand(*shape, generator=generator) < 0.5
        first = torch.randint(0, shape[-1], shape[:-1], generator=generator)
        keep |= torch.nn.functional.one_hot(first, shape[-1]).bool()  # never empty
        e = -torch.rand(*shape, generator=generator, dtype=torch.float64).log() * keep
        return e / e.sum(-1, keepdim=True)

    return FiniteMDP(
        transitions=sparse_law(states, actions, states),
        rewards=torch.zeros(states, actions, dtype=torch.float64),
        initial=sparse_law(states),
        horizon=1,
    )


def trajectory_counts(law: str):
    """Trajectories (s_0, a_0, ..., s_{H-1}, a_{H-1}) of positive probability under a softmax
    policy, counted by enumeration for H = 1..5 on five sparse MDPs, against a law: ``transfer``,
    |A| u^T B^{H-1} 1 with u the initial support and B[s, s'] the number of actions leading from
    s to s' (growth rate: B's spectral radius, which must exceed 1); ``shifted``, the exponent
    H in place of H - 1; ``dense``, (S A)^H, every sequence counted, possible or not."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        findings = []
        for _ in range(5):
            mdp = sparse_mdp(gen)
            B = (mdp.transitions > 0).to(torch.float64).sum(1)  # (S, S')
            u = (mdp.initial > 0).to(torch.float64)
            counts, predicted = [], []
            for h in COUNT_HORIZONS:
                traj = enumerate_trajectories(replace(mdp, horizon=int(h)))
                counts.append(float((log_dynamics(mdp, traj) > -torch.inf).sum()))
                power = int(h) - 1 if law == "transfer" else int(h)
                paths = (
                    u
                    @ torch.linalg.matrix_power(B, power)
                    @ torch.ones(mdp.num_states, dtype=torch.float64)
                )
                predicted.append(
                    float(mdp.num_states * mdp.num_actions) ** int(h)
                    if law == "dense"
                    else mdp.num_actions * float(paths)
                )
            findings.append(
                exact_comparison(
                    counts, predicted, tolerance=0.0, method="trajectories counted by enumeration"
                )
            )
            rate = float(torch.linalg.eigvals(B).abs().max())
            findings.append(
                exact_bound(
                    rate,
                    1.0,
                    relation="above",
                    method="spectral radius of the branching matrix B",
                    note=f"growth rate per step {rate:.4g}",
                )
            )
        return all_hold(findings)

    return run


TRAJ_COUNT_EXPONENTIAL = Claim(
    id="001-traj-count-exponential",
    title="The number of trajectories grows exponentially with their length",
    statement=r"N(H) = |A|\, u^T B^{H-1} \mathbf{1} \sim c\,\lambda^{H},\ \lambda = \rho(B) > 1,\quad B_{s s'} = \#\{a: P(s'|s,a) > 0\}",
    sources=(
        Source("001", "Policy Gradient Theorem", "grows exponentially with trajectory length"),
    ),
    conditions="A stochastic policy (every action has positive probability); any dynamics, "
    "sparse ones included.",
    expected=Verdict.CONFIRMED,
    reading="A possible trajectory extends by any action and any state that action can reach, "
    "so the count follows powers of the branching matrix B, whose rows sum to at least the "
    "number of actions: the growth rate is at least |A| per step, exponential in the length.",
    checks=(
        check(
            "counts = |A| u^T B^(H-1) 1 with rate rho(B) > 1, H = 1..5, sparse MDPs (exact)",
            Kind.EXACT,
            trajectory_counts("transfer"),
        ),
        negative_control(
            "counts = |A| u^T B^H 1 (exact enumeration)",
            Kind.EXACT,
            trajectory_counts("shifted"),
            slip=Slip(
                "the exponent H where H - 1 transitions separate H states", SlipKind.EXPONENT
            ),
        ),
        negative_control(
            "counts = (S A)^H, every sequence (exact enumeration)",
            Kind.EXACT,
            trajectory_counts("dense"),
            slip=Slip("impossible sequences counted as trajectories", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 002-descent-wording -----------------------------------------------------------------------

STEP = 0.01
TRAINING_STEPS, TRAINING_RATE, TRAINING_HORIZON = 200, 1.0, 10


def step_changes_return(direction: str):
    """J after one step of size 0.01 against J before, on five random MDPs (exact enumeration):
    ``descent``, theta - alpha grad J (002's word); ``ascent``, theta + alpha grad J (002's
    REINFORCE step 3); ``pseudo-loss``, descent on E[J~] (002's pseudo-loss, 7.2, handed to an
    optimiser that minimises, without its sign flipped). A step that raises J supports."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in random_cases(ctx.cpu_generator(), 5):
            if direction == "pseudo-loss":
                traj = enumerate_trajectories(mdp)
                prob = trajectory_probability(mdp, SoftmaxPolicy(logits), traj).detach()
                q = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
                theta = logits.clone().requires_grad_(True)
                pseudo = (
                    prob[:, None] * torch.log_softmax(theta, -1)[traj.states, traj.actions] * q
                ).sum()
                (grad,) = torch.autograd.grad(pseudo, theta)
                after = logits - STEP * grad
            else:
                grad = exact_policy_gradient(mdp, logits).reshape(logits.shape)
                after = logits + (STEP if direction == "ascent" else -STEP) * grad
            before, new = float(expected_return(mdp, logits)), float(expected_return(mdp, after))
            findings.append(
                exact_bound(
                    new,
                    before,
                    relation="above",
                    method="exact J by enumeration before and after one step",
                    note=f"J {before:.6g} -> {new:.6g} after one {direction} step",
                )
            )
        return all_hold(findings)

    return run


def value_and_gradient(mdp: FiniteMDP, logits: np.ndarray) -> tuple[float, np.ndarray]:
    """J and grad J for tabular softmax logits by dynamic programming:
    grad J[s, a] = sum_t d_t(s) pi(a|s) (Q_t(s, a) - V_t(s))."""
    P, r, initial = mdp.transitions.numpy(), mdp.rewards.numpy(), mdp.initial.numpy()
    pi = np.exp(logits - logits.max(-1, keepdims=True))
    pi /= pi.sum(-1, keepdims=True)
    V, advantages = np.zeros(len(r)), []
    for _ in range(mdp.horizon):
        Q = r + P @ V
        V = (pi * Q).sum(-1)
        advantages.append(Q - V[:, None])
    d, grad = initial, np.zeros_like(r)
    for A_t in reversed(advantages):  # advantages[-1] is step 0
        grad += d[:, None] * pi * A_t
        d = np.einsum("s,sa,sat->t", d, pi, P)
    return float(initial @ V), grad


def extreme_value(mdp: FiniteMDP, best: bool) -> float:
    """The largest (or smallest) J over all policies, by dynamic programming."""
    P, r = mdp.transitions.numpy(), mdp.rewards.numpy()
    V = np.zeros(len(r))
    for _ in range(mdp.horizon):
        Q = r + P @ V
        V = Q.max(-1) if best else Q.min(-1)
    return float(mdp.initial.numpy() @ V)


def gradient_by_dp_exact(ctx: Context) -> Finding:
    """The effect's dynamic-programming gradient against autograd through the enumeration."""
    return all_hold(
        [
            exact_comparison(
                value_and_gradient(mdp, logits.numpy())[1].flatten(),
                exact_policy_gradient(mdp, logits),
            )
            for mdp, logits in random_cases(ctx.cpu_generator(), 5)
        ]
    )


def descent_regret_effect(ctx: Context) -> Finding:
    """Training by 002's word: 200 exact-gradient descent steps from the uniform policy; the
    share of J's range (best minus worst policy) between where it ends and the best policy."""
    gen = ctx.cpu_generator()
    mdp = random_mdp(3, 2, TRAINING_HORIZON, gen)
    logits = np.zeros((3, 2))
    for _ in range(TRAINING_STEPS):
        logits = logits - TRAINING_RATE * value_and_gradient(mdp, logits)[1]
    J, best, worst = (
        value_and_gradient(mdp, logits)[0],
        extreme_value(mdp, True),
        extreme_value(mdp, False),
    )
    return effect_size(
        (best - J) / (best - worst),
        measure="(J* - J after descent) / (J* - J_min)",
        setting=f"{TRAINING_STEPS} steps of exact-gradient descent, rate {TRAINING_RATE}, from the "
        f"uniform policy, random MDP with 3 states, 2 actions, {TRAINING_HORIZON} steps",
    )


DESCENT_WORDING = Claim(
    id="002-descent-wording",
    title="'Gradient descent to maximize' the expected reward: ascent is meant",
    statement=r"J\big(\theta - \alpha \nabla_\theta J(\theta)\big) > J(\theta) \text{ for small } \alpha > 0",
    sources=(
        Source(
            "002",
            "1. Introduction to Policy Gradients",
            "through gradient descent to maximize the expected sum of rewards",
        ),
    ),
    conditions="As written: a gradient-descent step on the objective J it maximises; small "
    "steps, exact gradients.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="A descent step moves against grad J and lowers J to first order, so descent "
    "cannot maximise J unless it descends -J. 002 itself writes the update as gradient ascent "
    "(REINFORCE step 3, and 'performs gradient ascent' in 3.1): the word is a slip.",
    checks=(
        check(
            "as printed: a descent step on J raises J, five random MDPs (exact)",
            Kind.EXACT,
            step_changes_return("descent"),
        ),
        check(
            "as meant: an ascent step raises J (exact)",
            Kind.EXACT,
            step_changes_return("ascent"),
        ),
        check(
            "the effect's DP gradient = autograd through the enumeration (exact)",
            Kind.EXACT,
            gradient_by_dp_exact,
        ),
        negative_control(
            "minimising 002's pseudo-loss J~ as printed raises J (exact)",
            Kind.EXACT,
            step_changes_return("pseudo-loss"),
            slip=Slip(
                "a loss to maximise handed to a minimiser without its sign flipped", SlipKind.SIGN
            ),
        ),
        effect(
            "share of J's range lost by 200 descent steps (exact)",
            Kind.EXACT,
            descent_regret_effect,
        ),
    ),
)

# --- 003-Lt-loss-sign --------------------------------------------------------------------------


def loss_descent_direction(sign: float):
    """-grad of L_t = sign * R_t * (-log pi(a_t|s_t)) against R_t grad log pi(a_t|s_t)."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        logits = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        states, actions = torch.tensor([0, 1, 3, 2]), torch.tensor([2, 0, 1, 1])
        returns = torch.randn(4, generator=gen, dtype=torch.float64) * 3
        theta = logits.clone().requires_grad_(True)
        loss = (sign * returns * -torch.log_softmax(theta, -1)[states, actions]).sum()
        (grad,) = torch.autograd.grad(loss, theta)
        ascent = (SoftmaxPolicy(logits).score(states, actions) * returns[:, None, None]).sum(0)
        return exact_comparison(
            -grad, ascent, method="autograd of the loss against the REINFORCE ascent direction"
        )

    return run


LT_LOSS_SIGN = Claim(
    id="003-Lt-loss-sign",
    title="The loss L_t = R_t * (-log pi(a_t|s_t)): descending it ascends J",
    statement=r"L_t = R_t \cdot (-\log \pi_\theta(a_t | s_t)),\quad -\nabla_\theta L_t = R_t \nabla_\theta \log \pi_\theta(a_t|s_t)",
    sources=(
        Source(
            "003",
            "Calculating loss and backpropagation. That is the core learning step.",
            "The loss per timestep",
        ),
    ),
    conditions="R_t held constant (detached), as the code does.",
    expected=Verdict.CONFIRMED,
    reading="The sign is right: minimising sum_t L_t follows the REINFORCE gradient.",
    checks=(
        check("autograd against R_t grad log pi (exact)", Kind.EXACT, loss_descent_direction(1.0)),
        negative_control(
            "L_t = R_t log pi, the sign dropped (exact)",
            Kind.EXACT,
            loss_descent_direction(-1.0),
            slip=Slip("the loss without its minus sign", SlipKind.SIGN),
        ),
    ),
)

# --- partial observability ----------------------------------------------------------------------

OBSERVATION_OF = torch.tensor([0, 0, 1, 1])  # four hidden states, two observations


def observation_policy_gradient(wrong_observation: bool):
    """POMDP (4 hidden states seen as 2 observations, H = 3): E[R(tau) sum_t grad log pi(a_t|o_t)]
    over hidden-state trajectories against autograd of J(phi); the control scores each action
    with the other observation's logits."""

    def run(ctx: Context) -> Finding:
        mdp, _ = random_case(ctx, horizon=3, states=4)
        phi = torch.randn(2, 2, generator=ctx.cpu_generator(), dtype=torch.float64)
        grad = exact_gradient_in_observations(mdp, phi)
        obs = OBSERVATION_OF if not wrong_observation else 1 - OBSERVATION_OF
        obs_policy = SoftmaxPolicy(phi)

        def estimator(traj):
            score = obs_policy.score(obs[traj.states], traj.actions).sum(1).flatten(1)
            return score * discounted_return(mdp, traj)[:, None]

        return exact_comparison(
            trajectory_expectation(mdp, SoftmaxPolicy(phi[OBSERVATION_OF]), estimator), grad
        )

    return run


def exact_gradient_in_observations(mdp: FiniteMDP, phi: torch.Tensor) -> torch.Tensor:
    theta = phi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_return(mdp, theta[OBSERVATION_OF]), theta)
    return grad.flatten()


POMDP = Claim(
    id="002-pomdp",
    title="Policy gradients work unchanged with observations in place of states",
    statement=r"\nabla_\phi J(\phi) = \mathbb{E}\Big[R(\tau) \sum_t \nabla_\phi \log \pi_\phi(a_t|o_t)\Big]",
    sources=(
        Source(
            "002",
            "3.3. Partial Observability",
            "Policy gradients apply to POMDPs with minimal change",
        ),
    ),
    conditions="A memoryless policy of the current observation; the hidden dynamics are Markov.",
    expected=Verdict.CONFIRMED,
    reading="The derivation never used the Markov property of what the policy sees.",
    checks=(
        check(
            "4 hidden states, 2 observations, H = 3 (exact enumeration)",
            Kind.EXACT,
            observation_policy_gradient(False),
        ),
        negative_control(
            "each action scored with the other observation (exact)",
            Kind.EXACT,
            observation_policy_gradient(True),
            slip=Slip("each action scored with the other observation", SlipKind.WRONG_TERM),
        ),
    ),
)

# Sutton and Barto's short corridor (Example 13.1): three states that look alike, reward -1 per
# step; in the middle state the actions are reversed. Discounted (gamma = 0.95) so that policies
# that never reach the goal have a finite value.
LEFT, RIGHT = 0, 1
CORRIDOR_NEXT = {
    (0, LEFT): 0,
    (0, RIGHT): 1,
    (1, LEFT): 2,
    (1, RIGHT): 0,
    (2, LEFT): 1,
    (2, RIGHT): 3,
}


def short_corridor() -> TabularMDP:
    P = torch.zeros(4, 2, 4, dtype=torch.float64)
    for (s, a), s_next in CORRIDOR_NEXT.items():
        P[s, a, s_next] = 1.0
    P[3, :, 3] = 1.0
    rewards = torch.full((4, 2), -1.0, dtype=torch.float64)
    rewards[3] = 0.0
    return TabularMDP(
        P,
        rewards,
        torch.tensor([1.0, 0, 0, 0], dtype=torch.float64),
        torch.tensor([False, False, False, True]),
        0.95,
    )


def best_values(observed: bool) -> tuple[float, float, float]:
    """(best deterministic J, best stochastic J on a grid, the best probability of 'right').

    ``observed=False``: one shared action distribution (the states look alike); ``True``: the
    policy sees the state, and the stochastic search runs over each state's own probability."""
    mdp = short_corridor()
    probabilities = np.linspace(0.001, 0.999, 999)

    def value(p_right: np.ndarray) -> float:
        logits = torch.zeros(4, 2, dtype=torch.float64)
        logits[:3, RIGHT] = torch.tensor(np.log(p_right / (1 - p_right)), dtype=torch.float64)
        return float(tabular_expected_return(mdp, logits))

    if not observed:
        deterministic = max(value(np.full(3, p)) for p in (1e-12, 1 - 1e-12))
        stochastic = [value(np.full(3, p)) for p in probabilities]
        return deterministic, max(stochastic), float(probabilities[int(np.argmax(stochastic))])
    corners = [np.array(c, dtype=float) for c in np.ndindex(2, 2, 2)]
    deterministic = max(value(np.clip(c, 1e-12, 1 - 1e-12)) for c in corners)
    coarse = np.linspace(0.01, 0.99, 25)
    stochastic = max(value(np.array([a, b, c])) for a in coarse for b in coarse for c in coarse)
    return deterministic, stochastic, float("nan")


def stochastic_beats_deterministic(observed: bool):
    def run(ctx: Context) -> Finding:
        det, sto, p = best_values(observed)
        return exact_bound(
            sto,
            det,
            relation="above",
            margin=1e-9,
            method="exact values (linear solves) of every deterministic policy and a grid of stochastic ones",
            note=f"best stochastic J {sto:.4f}"
            + (f" at P(right) = {p:.3f}" if not observed else "")
            + f"; best deterministic J {det:.4f}",
        )

    return run


STOCHASTIC_POLICY_PARTIAL_OBS = Claim(
    id="003-stochastic-policy-partial-obs",
    title="Under partial observability a stochastic policy can beat every deterministic one",
    statement=r"\max_{\pi \text{ stochastic}} J(\pi) > \max_{\pi \text{ deterministic}} J(\pi) \text{ for some POMDP (memoryless policies)}",
    sources=(
        Source(
            "003",
            "Policy based methods are better in the following settings:",
            "it can be optimal to use a stochastic policy",
        ),
    ),
    conditions="Memoryless policies of the observation.",
    expected=Verdict.CONFIRMED,
    reading="Sutton and Barto's short corridor: the aliased states force one action distribution; "
    "every deterministic choice loops forever, a stochastic one reaches the goal.",
    checks=(
        check(
            "short corridor, all states look alike (exact)",
            Kind.EXACT,
            stochastic_beats_deterministic(False),
        ),
        negative_control(
            "the same corridor fully observed: no stochastic gain (exact)",
            Kind.EXACT,
            stochastic_beats_deterministic(True),
            slip=Slip("the corridor fully observed", SlipKind.CONDITION),
        ),
    ),
)
