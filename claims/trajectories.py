"""001: the trajectory, its length, and its likelihood (environment terms drop out of
grad log P(tau))."""

from collections.abc import Iterator
from functools import partial

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
from pgtheory.envs.finite import Trajectories
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import log_dynamics
from pgtheory.envs.finite import log_policy
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import score_sum
from pgtheory.envs.finite import trajectory_probability
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_comparison
from pgtheory.stats import exact_properties

NUM_MDPS = 5


def log_trajectory_probability(
    mdp: FiniteMDP, logits: torch.Tensor, traj: Trajectories, coupling: float
) -> torch.Tensor:
    """log P(tau | theta) with rho_0, the transitions and the policy, shape (n,).

    ``coupling`` > 0 makes the dynamics react to the policy parameters,
    P_theta(s'|s, a) ~ P(s'|s, a) exp(coupling * theta[s', 0]): the factor that makes the
    claim true (dynamics independent of theta) is then removed.
    """
    transitions = torch.softmax(mdp.transitions.log() + coupling * logits[:, 0], dim=-1)
    return log_dynamics(mdp, traj, transitions) + log_policy(SoftmaxPolicy(logits), traj)


def seeded_cases(ctx: Context) -> Iterator[tuple[FiniteMDP, torch.Tensor]]:
    """NUM_MDPS random MDPs (S=3, A=2, H=3) with softmax logits, the k-th seeded ctx.seed + k."""
    for k in range(NUM_MDPS):
        yield from random_cases(torch.Generator().manual_seed(ctx.seed + k), 1)


def grad_log_likelihood_exact(coupling: float):
    """For every trajectory of positive probability in five random MDPs (S=3, A=2, H=3),
    the Jacobian of log P(tau | theta) by autograd against sum_t grad log pi(a_t | s_t)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in seeded_cases(ctx):
            traj = enumerate_trajectories(mdp)
            jacobian = torch.autograd.functional.jacobian(
                partial(log_trajectory_probability, mdp, traj=traj, coupling=coupling), logits
            ).flatten(1)
            findings.append(exact_comparison(jacobian, score_sum(SoftmaxPolicy(logits), traj)))
        return all_hold(findings)

    return run


def score_function_gradient_exact(ctx: Context) -> Finding:
    """The consequence: sum_tau P(tau) R(tau) sum_t grad log pi equals grad J by autograd."""
    findings = []
    for mdp, logits in seeded_cases(ctx):
        traj = enumerate_trajectories(mdp)
        policy = SoftmaxPolicy(logits)
        prob = trajectory_probability(mdp, policy, traj)
        estimate = (prob * discounted_return(mdp, traj))[:, None] * score_sum(policy, traj)
        findings.append(exact_comparison(estimate.sum(0), exact_policy_gradient(mdp, logits)))
    return all_hold(findings)


TRAJECTORY_FACTORISATION = Claim(
    id="001-traj-factorisation",
    title="Only policy terms survive in grad log P(tau)",
    statement=r"\nabla_\theta \log P(\tau\mid\theta) = \sum_{t} \nabla_\theta \log \pi_\theta(a_t\mid s_t)",
    sources=(
        Source(
            "001",
            "A. Policy Gradient Theorem Proof",
            r"Only policy terms carry \(\theta\) dependence.",
        ),
    ),
    conditions="rho_0 and P(s'|s, a) do not depend on theta; tau has positive probability.",
    expected=Verdict.CONFIRMED,
    reading="Step 7 of Appendix A; the document states the condition (dynamics constant in "
    "theta), so the statement is tested as written.",
    checks=(
        check(
            "Jacobian of log P(tau) = sum of scores, every trajectory (exact enumeration)",
            Kind.EXACT,
            grad_log_likelihood_exact(coupling=0.0),
        ),
        check(
            "E[R(tau) sum_t grad log pi] = grad J (exact enumeration)",
            Kind.EXACT,
            score_function_gradient_exact,
        ),
        negative_control(
            "dynamics that depend on theta (exact enumeration)",
            Kind.EXACT,
            grad_log_likelihood_exact(coupling=0.7),
            slip=Slip("dynamics that depend on theta", SlipKind.CONDITION),
        ),
    ),
)

# --- 001-trajectory-length-off-by-one: count what equations (1) and (3) hold ---------------------

s_, a_ = sp.IndexedBase("s"), sp.IndexedBase("a")
rho0, transition, policy_pi, reward_r = sp.symbols("rho_0 P pi r", cls=sp.Function)
HORIZONS = range(7)  # T = 0..6


def equation_3(T: int) -> sp.Expr:
    """001's equation (3): P(tau|theta) = rho_0(s_0) prod_{t=0}^{T} P(s_{t+1}|s_t, a_t) pi(a_t|s_t)."""
    return rho0(s_[0]) * sp.Mul(
        *[transition(s_[t + 1], s_[t], a_[t]) * policy_pi(a_[t], s_[t]) for t in range(T + 1)]
    )


def equation_1(T: int) -> sp.Expr:
    """001's equation (1): R(tau) = sum_{t=0}^{T} r_t, with r_t = r(s_t, a_t)."""
    return sp.Add(*[reward_r(s_[t], a_[t]) for t in range(T + 1)])


def indices(expr: sp.Expr, base: sp.IndexedBase) -> set[int]:
    """The time indices of ``base`` (states or actions) that a sympy expression holds."""
    return {int(x.indices[0]) for x in expr.atoms(sp.Indexed) if x.base == base}


def action_count(length: int = 0, extra_steps: int = 0):
    """Sympy: for T = 0..6, the number of actions in the trajectory that equation (3) assigns a
    probability to (its last state must be s_{T+1}, as the printed tuple ends), against T +
    ``length``; ``extra_steps`` lengthens the trajectory (the product runs to T + extra_steps)."""

    def run(ctx: Context) -> Finding:
        counted, stated, failures = [], [], []
        for T in HORIZONS:
            probability = equation_3(T + extra_steps)
            actions, states = indices(probability, a_), indices(probability, s_)
            if max(states) != T + 1 + extra_steps or len(states) != len(actions) + 1:
                failures.append(f"T = {T}: states {sorted(states)} do not alternate with actions")
            counted.append(len(actions))
            stated.append(T + length)
        finding = exact_comparison(
            counted, stated, tolerance=0.0, method="sympy: indices of a_t in equation (3)"
        )
        if failures:
            return exact_properties(failures, method=finding.method, checked="")
        return finding

    return run


def rewards_match_actions(ctx: Context) -> Finding:
    """Sympy: equation (1) sums one reward per action of equation (3), T + 1 of each."""
    counted = [len(indices(equation_1(T), a_)) for T in HORIZONS]
    return exact_comparison(
        counted,
        [len(indices(equation_3(T), a_)) for T in HORIZONS],
        tolerance=0.0,
        method="sympy: actions rewarded in equation (1) against actions in equation (3)",
    )


def example_length_effect(ctx: Context) -> Finding:
    """The share of a trajectory's actions that "length T" leaves out, in 001's own worked
    example: one-step episodes, R(tau) = r, i.e. one term in equation (1), so T = 0."""
    T = next(T for T in HORIZONS if len(sp.Add.make_args(equation_1(T))) == 1)
    actions = len(indices(equation_3(T), a_))
    return effect_size(
        (actions - T) / actions,
        measure="actions the stated length T leaves out, as a share of the trajectory's",
        setting="001's worked example: one-step episodes (equation (1) has one reward term)",
    )


TRAJECTORY_LENGTH = Claim(
    id="001-trajectory-length-off-by-one",
    title="A trajectory (s_0, a_0, ..., s_{T+1}) is a sequence of length T",
    statement=r"\tau = (s_0, a_0, \dots, s_{T+1})\ \text{holds } T \text{ actions}",
    sources=(
        Source(
            "001",
            "Problem Setting",
            r"is a sequence of states and actions of length \(T\)",
        ),
    ),
    conditions="The trajectory of equations (1) and (3): the product and the sum run over "
    "t = 0..T, and the tuple ends at s_{T+1}.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="Equation (3) multiplies one policy factor pi(a_t|s_t) for each t = 0..T and "
    "equation (1) sums one reward for each t = 0..T; the tuple ends at s_{T+1}. So the "
    "trajectory holds T + 1 actions and rewards and T + 2 states: no count of it is T. Every "
    "formula of 001 uses T + 1 steps consistently, so only the stated length is off by one "
    "(either the tuple ends at s_T with sums to T - 1, or the length is T + 1 steps).",
    checks=(
        check(
            "length T: actions in equation (3)'s trajectory, T = 0..6 (sympy)",
            Kind.SYMBOLIC,
            action_count(length=0),
        ),
        check(
            "corrected: T + 1 actions, T = 0..6 (sympy)",
            Kind.SYMBOLIC,
            action_count(length=1),
        ),
        check(
            "equation (1) rewards the same T + 1 actions (sympy)",
            Kind.SYMBOLIC,
            rewards_match_actions,
        ),
        negative_control(
            "T + 1 actions against a trajectory one step longer, ending at s_{T+2} (sympy)",
            Kind.SYMBOLIC,
            action_count(length=1, extra_steps=1),
            slip=Slip("a trajectory one step longer than the printed one", SlipKind.INDEX),
        ),
        effect(
            "share of actions the stated length leaves out, 001's example (sympy)",
            Kind.SYMBOLIC,
            example_length_effect,
        ),
    ),
)
