"""001, 002, 003: the objective as a sum over trajectories, the loss sign in code, and policy
gradients under partial observability."""

import numpy as np
import torch

from pgtheory.claim import Claim, Kind, Slip, SlipKind, Source, Verdict, check, negative_control
from pgtheory.context import Context
from pgtheory.envs.finite import (
    FiniteMDP,
    discounted_return,
    enumerate_trajectories,
    expected_return,
    finite_horizon_values,
    log_dynamics,
    random_cases,
    random_mdp,
    sample_trajectories,
    to_device,
    trajectory_expectation,
    trajectory_probability,
)
from pgtheory.envs.tabular import TabularMDP
from pgtheory.envs.tabular import expected_return as tabular_expected_return
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding, exact_bound, exact_comparison


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
            "More samples lead to a more accurate estimate.",
        ),
    ),
    conditions="On-policy samples.",
    expected=Verdict.CONFIRMED,
    reading="An unbiased sample mean.",
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

COUNT_HORIZONS = np.arange(1, 7)


def trajectory_counts(growth: str):
    """Trajectories of positive probability for H = 1..6 (S = 3, A = 2), counted by enumeration,
    against (S A)^H (``exponential``) or, for the control, S A H (``linear``)."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        counts = []
        for h in COUNT_HORIZONS:
            traj = enumerate_trajectories(mdp := random_mdp(3, 2, int(h), gen))
            counts.append(float((log_dynamics(mdp, traj) > -torch.inf).sum()))
        predicted = [6.0**h if growth == "exponential" else 6.0 * h for h in COUNT_HORIZONS]
        return exact_comparison(
            counts, predicted, tolerance=0.0, method="trajectories counted by enumeration"
        )

    return run


TRAJ_COUNT_EXPONENTIAL = Claim(
    id="001-traj-count-exponential",
    title="The number of trajectories grows exponentially with their length",
    statement=r"|\{\tau\}| = (|S|\,|A|)^{H}",
    sources=(
        Source("001", "Policy Gradient Theorem", "grows exponentially with trajectory length"),
    ),
    conditions="All transitions possible (dense dynamics).",
    expected=Verdict.CONFIRMED,
    reading="Counted by enumeration: (S A)^H = 6^H, which is what makes exact sums intractable.",
    checks=(
        check(
            "count = 6^H for H = 1..6 (exact enumeration)",
            Kind.EXACT,
            trajectory_counts("exponential"),
        ),
        negative_control(
            "count = 6 H (exact enumeration)",
            Kind.EXACT,
            trajectory_counts("linear"),
            slip=Slip("a count linear in H where it is exponential", SlipKind.EXPONENT),
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
