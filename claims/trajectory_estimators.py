"""001, 002, 003: trajectory-level estimators on finite MDPs: the REINFORCE gradient, its sum
limits, reward-to-go, advantages, and what the documents say about their variance."""

from collections.abc import Callable

import numpy as np
import torch

from pgtheory.battery import unbiased_by_monte_carlo
from pgtheory.battery import unbiased_exactly
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
from pgtheory.envs import tabular
from pgtheory.envs.finite import FiniteMDP
from pgtheory.envs.finite import Trajectories
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import finite_horizon_values
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import state_occupancy
from pgtheory.envs.finite import step_rewards
from pgtheory.envs.finite import total_variance
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.envs.finite import trajectory_probability
from pgtheory.envs.tabular import CHAIN_SETTING
from pgtheory.envs.tabular import random_chain_cases
from pgtheory.estimators import Estimator
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.estimators import full_return
from pgtheory.estimators import per_step
from pgtheory.estimators import reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.policies import grad_pi_times
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison


def cases(ctx: Context, count: int = 5, horizon: int = 3, gamma: float = 1.0):
    return random_cases(ctx.cpu_generator(), count, horizon=horizon, gamma=gamma)


def unbiased_on_random_mdps(
    estimator: Estimator, count: int = 5, horizon: int = 3, gamma: float = 1.0
):
    """Exact: E[estimator] against grad J by enumeration, on ``count`` random MDPs."""
    return unbiased_exactly(estimator, lambda ctx: cases(ctx, count, horizon, gamma))


def unbiased_mc(estimator: Estimator, batch: int = 1, scale: float = 1.0, resolution: float = 0.05):
    """MC: the mean of ``scale`` times the sum over batches of ``batch`` sampled trajectories."""
    return unbiased_by_monte_carlo(
        estimator, lambda ctx: next(cases(ctx, 1)), batch, scale, resolution
    )


def sign_flipped(mdp, policy, traj):
    return -full_return(mdp, policy, traj)


# --- the documents' realistic settings, for the effects of the findings -------------------------

#: CartPole's episode cap (003's environment; 003's code discounts with gamma = 0.99).
LONG_HORIZON = 500
LONG_SETTING = "random finite-horizon MDPs (10 states, 2 actions, N(0, 1) rewards), H = 500"


def long_horizon_cases(ctx: Context, count: int = 3):
    """Finite-horizon MDPs of CartPole's episode length, with random softmax policies."""
    return random_cases(ctx.cpu_generator(), count, states=10, actions=2, horizon=LONG_HORIZON)


def finite_horizon_gradient(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """grad J = sum_t sum_s Pr(s_t = s) sum_a Q_t(s, a) grad pi(a|s), without enumeration."""
    _, Q = finite_horizon_values(mdp, logits)
    pi = torch.softmax(logits, -1)
    return (state_occupancy(mdp, logits)[..., None] * grad_pi_times(pi, Q)).sum(0)


def relative_discrepancy(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value - reference).norm() / reference.norm())


def direction_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """1 - cos of the angle between two vectors."""
    v, r = value.flatten(), reference.flatten()
    return float(1 - (v @ r) / (v.norm() * r.norm()))


def undiscounted_visits_update(mdp, logits) -> torch.Tensor:
    """E[sum_t G_t grad log pi(a_t|s_t)] on an episodic MDP: states weighted by their expected
    visits (no gamma^t), actions by q_gamma; equals E[sum_t A_t grad log pi] (sum_a grad pi = 0)."""
    return tabular.all_actions_sum(mdp, logits, tabular.visitation(mdp, logits, 1.0))


def missing_discount_effect(measure: str):
    """How far an update without gamma^t lands from grad J of the discounted objective, in the
    CartPole-length setting: ``relative`` (||u - grad J|| / ||grad J||) or ``direction``
    (1 - cos), median over the chains."""

    def run(ctx: Context) -> Finding:
        errors = []
        for mdp, logits in random_chain_cases(ctx.cpu_generator()):
            u = undiscounted_visits_update(mdp, logits)
            g = tabular.exact_policy_gradient(mdp, logits)
            errors.append(
                relative_discrepancy(u, g) if measure == "relative" else direction_error(u, g)
            )
        name = (
            "||E[update without gamma^t] - grad J|| / ||grad J||, median"
            if measure == "relative"
            else "1 - cos(update without gamma^t, grad J), median"
        )
        return effect_size(float(np.median(errors)), measure=name, setting=CHAIN_SETTING)

    return run


# --- 001-pgt-eq4, 002-reinforce-gradient, 001-reinforce-eq5-unbiased ----------------------------

PGT_EQ4 = Claim(
    id="001-pgt-eq4",
    title="Equation (4): grad J = E[R(tau) sum_t grad log pi(a_t|s_t)]",
    statement=r"\nabla_\theta J(\theta) = \mathbb{E}_{\tau \sim \pi_\theta} \Big[ R(\tau) \sum_{t=0}^{T} \nabla_\theta \log \pi_\theta(a_t\mid s_t) \Big]",
    sources=(
        Source(
            "001",
            "Policy Gradient Theorem",
            "Derive the policy gradient as an expectation over trajectories",
        ),
    ),
    conditions="Finite horizon; R(tau) the return of the whole trajectory; dynamics independent of theta.",
    expected=Verdict.CONFIRMED,
    reading="The log-derivative trick with the environment terms dropped (Appendix A).",
    checks=(
        check(
            "five random MDPs, H = 3 (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(full_return),
        ),
        negative_control(
            "with the score's sign flipped (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(sign_flipped),
            slip=Slip("the score with its sign flipped", SlipKind.SIGN),
        ),
    ),
)

REINFORCE_GRADIENT = Claim(
    id="002-reinforce-gradient",
    title="The REINFORCE gradient E[(sum_t grad log pi(a_t|s_t)) R(tau)]",
    statement=r"\nabla_\theta J(\theta) = \mathbb{E}_{\tau \sim P_\theta(\tau)} \Big[\Big(\sum_{t=1}^T \nabla_\theta \log \pi_\theta(a_t|s_t)\Big) \cdot R(\tau)\Big]",
    sources=(
        Source(
            "002",
            "2.2. Evaluating the Policy Gradient",
            "Since only the policy depends on $\\theta$:",
        ),
    ),
    conditions="Finite horizon; dynamics independent of theta.",
    expected=Verdict.CONFIRMED,
    reading="As 001's equation (4), with time indexed from 1.",
    checks=(
        check(
            "five random MDPs, H = 4 (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(full_return, horizon=4),
        ),
        check("sampled trajectories (MC)", Kind.MONTE_CARLO, unbiased_mc(full_return)),
        negative_control(
            "with the score's sign flipped (MC)",
            Kind.MONTE_CARLO,
            unbiased_mc(sign_flipped),
            slip=Slip("the score with its sign flipped", SlipKind.SIGN),
        ),
    ),
)

M_TRAJECTORIES = 5

REINFORCE_EQ5 = Claim(
    id="001-reinforce-eq5-unbiased",
    title="Estimator (5), the average over m sampled trajectories, is unbiased",
    statement=r"\mathbb{E}\Big[\frac{1}{m} \sum_{i=1}^{m} \sum_{t=0}^{T} \nabla_\theta \log \pi_\theta(a_t^{(i)}\mid s_t^{(i)}) R(\tau^{(i)})\Big] = \nabla_\theta J",
    sources=(Source("001", "REINFORCE", "This method is unbiased but still noisy."),),
    conditions="On-policy samples.",
    expected=Verdict.CONFIRMED,
    reading="An average of unbiased terms.",
    checks=(
        check(
            "m = 5 trajectories per estimate (MC)",
            Kind.MONTE_CARLO,
            unbiased_mc(full_return, M_TRAJECTORIES, 1 / M_TRAJECTORIES),
        ),
        negative_control(
            "the sum without 1/m (MC)",
            Kind.MONTE_CARLO,
            unbiased_mc(full_return, M_TRAJECTORIES, 1.0, resolution=0.3),
            slip=Slip("the sum without its 1/m", SlipKind.OMISSION),
        ),
    ),
)

# --- 003-pg-sum-to-T-1 --------------------------------------------------------------------------


def sum_to(last: int):
    """R(tau) sum_{t=0}^{H-1+last} grad log pi: last = 0 sums every action, -1 stops at T - 1."""

    def estimator(mdp, policy, traj):
        steps = mdp.horizon + last
        return per_step(
            policy,
            Trajectories(traj.states[:, :steps], traj.actions[:, :steps]),
            discounted_return(mdp, traj)[:, None].expand(-1, steps),
        )

    return estimator


def last_score_effect(ctx: Context) -> Finding:
    """The term the sum to T - 1 drops, E[R(tau) grad log pi(a_T|s_T)] = E[r_T grad log pi(a_T|s_T)]
    (earlier rewards are uncorrelated with the last score), relative to grad J, median over the
    MDPs, at CartPole's episode length."""
    errors = []
    for mdp, logits in long_horizon_cases(ctx):
        pi = torch.softmax(logits, -1)
        dropped = state_occupancy(mdp, logits)[-1][:, None] * grad_pi_times(pi, mdp.rewards)
        errors.append(float(dropped.norm() / finite_horizon_gradient(mdp, logits).norm()))
    return effect_size(
        float(np.median(errors)),
        measure="||E[estimate summed to T - 1] - grad J|| / ||grad J||, median",
        setting=LONG_SETTING + ", gamma = 1",
    )


PG_SUM_TO_T_MINUS_1 = Claim(
    id="003-pg-sum-to-T-1",
    title="003's gradient with the sum over t running to T - 1",
    statement=r"\nabla_{\theta} J(\theta) = \mathbb{E}_{\tau} \Big[ \sum_{t=0}^{T-1} \nabla_{\theta} \log \pi_{\theta}(a_t | s_t) \cdot R(\tau) \Big],\quad \tau = (s_0, a_0, \dots, s_T, a_T)",
    sources=(
        Source(
            "003",
            "Second trick: Factorizing the trajectory probability:",
            "The trajectory probability is a product of policy probabilities over time",
        ),
    ),
    conditions="003's own trajectory (s_0, a_0, ..., s_T, a_T), whose probability has T + 1 policy factors.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The factorisation two lines above has T + 1 policy terms, t = 0..T; stopping the "
    "sum at T - 1 drops the last action's score, which is correlated with R(tau) through "
    "r(s_T, a_T). Summing to T is unbiased.",
    checks=(
        check(
            "sum to T - 1, five random MDPs (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(sum_to(-1)),
        ),
        check(
            "corrected: sum to T (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(sum_to(0)),
        ),
        negative_control(
            "sum to T - 2 (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(sum_to(-2)),
            slip=Slip("the sum to T - 2", SlipKind.INDEX),
        ),
        effect(
            "relative bias of the sum to T - 1 at H = 500 (exact recursion)",
            Kind.EXACT,
            last_score_effect,
        ),
    ),
)

# --- reward-to-go -----------------------------------------------------------------------------------


def rtg_equals_full_return(gamma: float):
    """E[sum_t G_t grad log pi] against E[R(tau) sum_t grad log pi], R(tau) = sum_t gamma^t r_t."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in cases(ctx, gamma=gamma):
            policy = SoftmaxPolicy(logits)
            findings.append(
                exact_comparison(
                    trajectory_expectation(
                        mdp, policy, lambda t, m=mdp, p=policy: reward_to_go(m, p, t)
                    ),
                    trajectory_expectation(
                        mdp, policy, lambda t, m=mdp, p=policy: full_return(m, p, t)
                    ),
                )
            )
        return all_hold(findings)

    return run


RTG_EQUIVALENT = Claim(
    id="003-rtg-equivalent-in-expectation",
    title="R(tau) and the stepwise discounted return are equivalent in expectation",
    statement=r"\mathbb{E}\Big[\sum_t R_t \nabla_\theta \log\pi_\theta(a_t|s_t)\Big] = \mathbb{E}\Big[R(\tau) \sum_t \nabla_\theta \log\pi_\theta(a_t|s_t)\Big],\quad R_t = \sum_{k=t}^{T} \gamma^{k-t} r_k",
    sources=(
        Source(
            "003",
            "Third Trick: Credit assignment",
            "stepwise return  forms are mathematically equivalent in expectation",
        ),
    ),
    conditions="Left out by the document: gamma = 1. Its code uses gamma = 0.99.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="With gamma = 1 dropping past rewards changes nothing in expectation. With gamma < 1, "
    "R_t = sum_k gamma^(k-t) r_k is missing the factor gamma^t that R(tau) = sum_k gamma^k r_k "
    "puts on the same rewards, so the two expectations differ.",
    checks=(
        check(
            "gamma = 1, five random MDPs (exact enumeration)",
            Kind.EXACT,
            rtg_equals_full_return(1.0),
        ),
        beyond_conditions(
            "gamma = 0.99, the code's value (exact enumeration)",
            Kind.EXACT,
            rtg_equals_full_return(0.99),
        ),
        negative_control(
            "gamma = 1, reward-to-go against the sign-flipped full return",
            Kind.EXACT,
            lambda ctx: _rtg_against_flipped(ctx),
            slip=Slip("the full return with its sign flipped", SlipKind.SIGN),
        ),
        effect(
            "relative gap of the two expectations, gamma = 0.99, about 250 steps (exact)",
            Kind.EXACT,
            missing_discount_effect("relative"),
        ),
    ),
)


def _rtg_against_flipped(ctx: Context) -> Finding:
    mdp, logits = next(cases(ctx))
    policy = SoftmaxPolicy(logits)
    return exact_comparison(
        trajectory_expectation(mdp, policy, lambda t: reward_to_go(mdp, policy, t)),
        trajectory_expectation(mdp, policy, lambda t: sign_flipped(mdp, policy, t)),
    )


RTG_UNBIASED = Claim(
    id="002-rtg-unbiased",
    title="Reward-to-go keeps the estimator unbiased",
    statement=r"\mathbb{E}\Big[\sum_t \nabla_\theta \log\pi_\theta(a_t|s_t)\, \hat Q_t\Big] = \nabla_\theta J,\quad \hat Q_{t} = \sum_{t'=t}^T r_{t'}",
    sources=(
        Source(
            "002",
            "5.1. Causality (Reward-to-Go)",
            "Reduces variance while maintaining unbiasedness.",
        ),
    ),
    conditions="Undiscounted reward-to-go for the undiscounted objective.",
    expected=Verdict.CONFIRMED,
    reading="Past rewards are independent of the current score given the past, so they contribute zero in expectation.",
    checks=(
        check(
            "five random MDPs, H = 4 (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(reward_to_go, horizon=4),
        ),
        check("sampled trajectories (MC)", Kind.MONTE_CARLO, unbiased_mc(reward_to_go)),
        negative_control(
            "reward-from-start (rewards before t only) in place of reward-to-go (exact)",
            Kind.EXACT,
            unbiased_on_random_mdps(
                lambda m, p, t: per_step(p, t, step_rewards(m, t).cumsum(1) - step_rewards(m, t))
            ),
            slip=Slip("the rewards before t where those from t on belong", SlipKind.WRONG_TERM),
        ),
    ),
)


def rtg_conditional_mean(skip_current: bool):
    """E[R_t | s_t = s, a_t = a] against Q_t(s, a) for every t, s, a with positive probability,
    by enumeration (gamma = 0.9, H = 4); ``skip_current`` starts the reward-to-go at t + 1."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in cases(ctx, 3, horizon=4, gamma=0.9):
            policy = SoftmaxPolicy(logits)
            _, Q = finite_horizon_values(mdp, logits)
            S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon

            def joint(traj, m=mdp, S=S, A=A):
                rewards = step_rewards(m, traj)
                G = discounted_reward_to_go(rewards, m.gamma)  # (n, H)
                if skip_current:
                    G = G - rewards
                index = torch.nn.functional.one_hot(
                    traj.states * A + traj.actions, S * A
                ).double()  # (n, H, SA)
                return torch.cat([index, index * G[..., None]], -1)

            moments = trajectory_expectation(mdp, policy, joint)  # (H, 2 SA)
            visit, weighted = moments[:, : S * A], moments[:, S * A :]
            findings.append(exact_comparison(weighted / visit, Q.reshape(H, S * A)))
        return all_hold(findings)

    return run


RTG_ESTIMATES_Q = Claim(
    id="001-rtg-estimates-Q",
    title="The reward-to-go of one trajectory estimates Q(s, a)",
    statement=r"\mathbb{E}\big[R_t^{(i)} \mid s_t = s, a_t = a\big] = Q^\pi_t(s, a),\quad R_t^{(i)} = \sum_{k=t}^T \gamma^{k-t} r_k^{(i)}",
    sources=(
        Source(
            "001",
            "Looking through the Advantage Function Lens",
            "This uses only future rewards, as actions cannot affect the past.",
        ),
    ),
    conditions="Finite horizon: Q is time-dependent.",
    expected=Verdict.CONFIRMED,
    reading="Q is defined as that conditional expectation; checked against a backward recursion.",
    checks=(
        check(
            "every (t, s, a), three random MDPs, gamma = 0.9 (exact enumeration)",
            Kind.EXACT,
            rtg_conditional_mean(skip_current=False),
        ),
        negative_control(
            "the reward-to-go from t + 1 against Q (exact enumeration)",
            Kind.EXACT,
            rtg_conditional_mean(skip_current=True),
            slip=Slip("the reward-to-go from t + 1 where it starts at t", SlipKind.INDEX),
        ),
    ),
)

# --- does reward-to-go reduce variance? ------------------------------------------------------------


#: A two-state, two-action, two-step MDP found by random search and rounded: the first reward
#: acts as a control variate for the second step's score term, and dropping it hurts.
COUNTEREXAMPLE = FiniteMDP(
    transitions=torch.tensor(
        [[[0.42, 0.58], [0.04, 0.96]], [[0.78, 0.22], [0.005, 0.995]]], dtype=torch.float64
    ),
    rewards=torch.tensor([[0.0, -0.67], [-0.11, 1.03]], dtype=torch.float64),
    initial=torch.tensor([0.986, 0.014], dtype=torch.float64),
    horizon=2,
)
COUNTEREXAMPLE_LOGITS = torch.tensor([[-4.46, -1.22], [1.35, -1.38]], dtype=torch.float64)


def variance_reduction_on(
    cases: Callable[[Context], list], rtg_estimator: Estimator = reward_to_go
):
    """Exact: trace Var[reward-to-go] < trace Var[full return] on every given MDP."""

    def run(ctx: Context) -> Finding:
        ratios = [
            total_variance(m, lg, rtg_estimator) / total_variance(m, lg, full_return)
            for m, lg in cases(ctx)
        ]
        worst = max(ratios)
        return exact_bound(
            worst,
            1.0,
            relation="below",
            method="exact variances by enumeration: the largest ratio over the MDPs",
            note=f"Var(reward-to-go)/Var(full return): largest {worst:.4g}, smallest {min(ratios):.4g}, "
            f"{sum(r < 1 for r in ratios)} of {len(ratios)} MDPs reduced",
        )

    return run


def typical_mdps(ctx: Context) -> list:
    return list(cases(ctx, 60, horizon=3))


def counterexample(ctx: Context) -> list:
    return [(COUNTEREXAMPLE, COUNTEREXAMPLE_LOGITS)]


RANDOM_SMALL_MDPS = 100


def variance_increase_effect(ctx: Context) -> Finding:
    """How often reward-to-go raises the variance: the share of random MDPs of the
    counterexample's size (2 states, 2 actions, 2 steps) where trace Var grows, exact."""
    ratios = [
        total_variance(m, lg, reward_to_go) / total_variance(m, lg, full_return)
        for m, lg in random_cases(
            ctx.cpu_generator(), RANDOM_SMALL_MDPS, states=2, actions=2, horizon=2
        )
    ]
    return effect_size(
        sum(r > 1 for r in ratios) / len(ratios),
        measure="share of random MDPs where reward-to-go raises trace Var",
        setting=f"{RANDOM_SMALL_MDPS} random MDPs with 2 states, 2 actions, 2 steps, N(0, 1) rewards",
    )


def _rtg_from_zero(mdp, policy, traj):
    """The reward-to-go summed from 0 instead of t: the full return again."""
    return full_return(mdp, policy, traj)


RTG_REDUCES_VARIANCE_002 = Claim(
    id="002-rtg-reduces-variance",
    title="Reward-to-go reduces variance",
    statement=r"\mathrm{tr}\,\mathrm{Var}\Big[\sum_t \nabla\log\pi(a_t|s_t) \hat Q_t\Big] < \mathrm{tr}\,\mathrm{Var}\Big[\sum_t \nabla\log\pi(a_t|s_t) R(\tau)\Big]",
    sources=(
        Source(
            "002",
            "5.1. Causality (Reward-to-Go)",
            "Reduces variance while maintaining unbiasedness.",
        ),
    ),
    conditions="Stated without conditions.",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="Usually true, not always: dropping past rewards removes terms with zero mean, but "
    "those terms can be negatively correlated with the rest and act as a control variate. A "
    "two-state counterexample is built so that they are.",
    checks=(
        check(
            "60 random MDPs, H = 3 (exact enumeration)",
            Kind.EXACT,
            variance_reduction_on(typical_mdps),
        ),
        check(
            "a two-state counterexample (exact enumeration)",
            Kind.EXACT,
            variance_reduction_on(counterexample),
        ),
        negative_control(
            "the reward-to-go summed from 0 (the full return), 60 random MDPs (exact)",
            Kind.EXACT,
            variance_reduction_on(typical_mdps, _rtg_from_zero),
            slip=Slip("the reward-to-go summed from 0 where it starts at t", SlipKind.INDEX),
        ),
        effect(
            "share of random two-step MDPs where reward-to-go raises the variance (exact)",
            Kind.EXACT,
            variance_increase_effect,
        ),
    ),
)

RTG_UNBIASED_LOWER_VARIANCE_003 = Claim(
    id="003-rtg-unbiased-lower-variance",
    title="Stepwise returns reduce variance and keep the estimator unbiased",
    statement=r"\sum_t R_t \nabla\log\pi(a_t|s_t):\ \text{unbiased, and lower variance than } R(\tau)\sum_t \nabla\log\pi(a_t|s_t)",
    sources=(
        Source(
            "003",
            "Third Trick: Credit assignment",
            "This is variance reduction but keeps the estimator unbiased.",
        ),
    ),
    conditions="gamma = 1 for unbiasedness (see 003-rtg-equivalent-in-expectation); stated without conditions on the variance.",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="Unbiased (gamma = 1), but the variance claim fails on the counterexample.",
    checks=(
        check(
            "unbiased, five random MDPs (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(reward_to_go),
        ),
        check(
            "variance reduced on 60 random MDPs and the counterexample (exact)",
            Kind.EXACT,
            variance_reduction_on(lambda ctx: typical_mdps(ctx) + counterexample(ctx)),
        ),
        negative_control(
            "the reward-to-go summed from 0 (the full return) (exact)",
            Kind.EXACT,
            variance_reduction_on(typical_mdps, _rtg_from_zero),
            slip=Slip("the reward-to-go summed from 0 where it starts at t", SlipKind.INDEX),
        ),
        effect(
            "share of random two-step MDPs where reward-to-go raises the variance (exact)",
            Kind.EXACT,
            variance_increase_effect,
        ),
    ),
)

# --- advantages -----------------------------------------------------------------------------------


def advantage_definitions(value_rule: str):
    """E_{a ~ pi}[A(s, a)] = 0 for A = Q - V with V = E_a[Q] (or, for the control, V = max_a Q)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in cases(ctx, horizon=4, gamma=0.9):
            _, Q = finite_horizon_values(mdp, logits)
            pi = torch.softmax(logits, -1)
            V = (pi * Q).sum(-1) if value_rule == "expectation" else Q.max(-1).values
            findings.append(
                exact_comparison((pi * (Q - V[..., None])).sum(-1), torch.zeros_like(V))
            )
        return all_hold(findings)

    return run


ADVANTAGE_DEFS = Claim(
    id="001-advantage-defs",
    title="A = Q - V with V(s) = E_a[Q(s, a)]: the advantage is zero on average",
    statement=r"A^{\pi}(s, a) = Q^{\pi}(s, a) - V^{\pi}(s),\quad V^{\pi}(s) = \mathbb{E}_{a \sim \pi(\cdot\mid s)}[Q^{\pi}(s, a)]",
    sources=(
        Source(
            "001",
            "Looking through the Advantage Function Lens",
            "We can define the advantage function as",
        ),
    ),
    conditions="Time-dependent Q_t, V_t in a finite horizon.",
    expected=Verdict.CONFIRMED,
    reading="Consistent definitions: E_a[A] = 0 in every state and step.",
    checks=(
        check(
            "E_pi[A_t(s, .)] = 0, three random MDPs (exact)",
            Kind.EXACT,
            advantage_definitions("expectation"),
        ),
        negative_control(
            "V = max_a Q (exact)",
            Kind.EXACT,
            advantage_definitions("max"),
            slip=Slip(
                "V = max_a Q (the optimal value) where the policy's average belongs",
                SlipKind.WRONG_TERM,
            ),
        ),
    ),
)


def eq6_term_against_advantage(term: str):
    """E[(term) | s_t = s, a_t = a] against A_t(s, a) for every t, s, a (enumeration, gamma = 1):
    ``full``: equation (6)'s R(tau) - b(s_t); ``rtg``: R_t - V_t(s_t); b = V_t."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in cases(ctx, 3, horizon=4):
            policy = SoftmaxPolicy(logits)
            V, Q = finite_horizon_values(mdp, logits)
            S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon

            def joint(traj, m=mdp, V=V, S=S, A=A, H=H):
                rewards = step_rewards(m, traj)
                if term == "full":
                    returns = discounted_return(m, traj)[:, None].expand(-1, H)
                elif term == "rtg":
                    returns = discounted_reward_to_go(rewards, 1.0)
                else:  # "rtg-next": the reward-to-go from t + 1, the current reward left out
                    returns = discounted_reward_to_go(rewards, 1.0) - rewards
                value = torch.stack([V[t, traj.states[:, t]] for t in range(H)], 1)
                index = torch.nn.functional.one_hot(traj.states * A + traj.actions, S * A).double()
                return torch.cat([index, index * (returns - value)[..., None]], -1)

            moments = trajectory_expectation(mdp, policy, joint)
            advantage = (Q - V[..., None]).reshape(H, S * A)
            findings.append(exact_comparison(moments[:, S * A :] / moments[:, : S * A], advantage))
        return all_hold(findings)

    return run


def past_reward_offsets(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """c[t, s] = E[sum_{k<t} r_k | s_t = s]: what R(tau) - V_t(s_t) adds to A_t given (s_t, a_t)
    (the past does not depend on a_t given s_t), by a forward recursion."""
    pi = torch.softmax(logits, -1)
    step = torch.einsum("sa,sat->st", pi, mdp.transitions)
    alpha = state_occupancy(mdp, logits)
    mass = torch.zeros(mdp.num_states, dtype=torch.float64)  # E[sum_{k<t} r_k 1{s_t = s}]
    offsets = []
    for t in range(mdp.horizon):
        offsets.append(torch.where(alpha[t] > 0, mass / alpha[t].clamp_min(1e-300), 0.0))
        earned = alpha[t][:, None] * pi * mdp.rewards
        mass = mass @ step + torch.einsum("sa,sat->t", earned, mdp.transitions)
    return torch.stack(offsets)


def past_reward_effect(ctx: Context) -> Finding:
    """The part of equation (6)'s weight that is not the advantage, E[sum_{k<t} r_k | s_t],
    in root mean square over the on-policy (t, s, a), relative to the advantage's, median over
    the MDPs, at CartPole's episode length."""
    sizes = []
    for mdp, logits in long_horizon_cases(ctx):
        pi = torch.softmax(logits, -1)
        V, Q = finite_horizon_values(mdp, logits)
        alpha = state_occupancy(mdp, logits)
        extra = (alpha * past_reward_offsets(mdp, logits) ** 2).sum()
        advantage = (alpha[..., None] * pi * (Q - V[..., None]) ** 2).sum()
        sizes.append(float((extra / advantage).sqrt()))
    return effect_size(
        float(np.median(sizes)),
        measure="RMS of E[R(tau) - V(s_t) | s_t, a_t] - A_t over RMS of A_t, median",
        setting=LONG_SETTING + ", gamma = 1",
    )


EQ6_IS_ADVANTAGE = Claim(
    id="001-eq6-is-advantage",
    title="Equation (6)'s baseline-subtracted term is exactly the advantage estimate",
    statement=r"R(\tau^{(i)}) - b(s_t^{(i)}) \ \text{ is exactly }\ \hat{A}^{\pi}(s_t^{(i)}, a_t^{(i)}) = R_t^{(i)} - b(s_t^{(i)})",
    sources=(
        Source(
            "001",
            "Looking through the Advantage Function Lens",
            "The baseline-subtracted term from equation",
        ),
    ),
    conditions="b(s_t) = V_t(s_t); gamma = 1.",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="Equation (6) weights by the whole return R(tau), which includes the rewards before "
    "t; the advantage estimate uses the reward-to-go R_t. Given (s_t, a_t), R(tau) - V(s_t) "
    "averages to A(s_t, a_t) plus the rewards already collected. The two terms agree only "
    "after taking the expectation of the whole gradient.",
    checks=(
        check(
            "E[R(tau) - V(s_t) | s_t, a_t] against A_t (exact enumeration)",
            Kind.EXACT,
            eq6_term_against_advantage("full"),
        ),
        check(
            "corrected: E[R_t - V(s_t) | s_t, a_t] against A_t (exact)",
            Kind.EXACT,
            eq6_term_against_advantage("rtg"),
        ),
        negative_control(
            "E[R_{t+1} - V(s_t) | s_t, a_t], the current reward left out, against A_t (exact)",
            Kind.EXACT,
            eq6_term_against_advantage("rtg-next"),
            slip=Slip("the reward-to-go from t + 1 where it starts at t", SlipKind.INDEX),
        ),
        effect(
            "size of the past-reward term against the advantage, H = 500 (exact recursion)",
            Kind.EXACT,
            past_reward_effect,
        ),
    ),
)


def advantage_estimator(sign: float, discount_weights: bool = False):
    """sum_t w_t A_t(s_t, a_t) grad log pi(a_t|s_t), A_t = Q_t - V_t with 001's discounted R_t;
    w_t = sign, times gamma^t when ``discount_weights``."""

    def estimator(mdp, policy, traj):
        V, Q = finite_horizon_values(mdp, policy.logits)
        H = mdp.horizon
        advantage = torch.stack(
            [
                Q[t, traj.states[:, t], traj.actions[:, t]] - V[t, traj.states[:, t]]
                for t in range(H)
            ],
            1,
        )
        if discount_weights:
            advantage = advantage * mdp.gamma ** torch.arange(H, dtype=torch.float64)
        return sign * per_step(policy, traj, advantage)

    return estimator


PGT_ADVANTAGE_EQ8 = Claim(
    id="001-pgt-advantage-eq8",
    title="Equation (8): grad J = E[sum_t grad log pi(a_t|s_t) A(s_t, a_t)]",
    statement=r"\nabla_\theta J(\theta) = \mathbb{E}_{\tau \sim \pi_\theta} \Big[ \sum_{t=0}^T \nabla_\theta \log \pi_\theta(a_t\mid s_t) A^{\pi}(s_t, a_t) \Big],"
    r"\quad Q^\pi(s, a) = \mathbb{E}[R_t \mid s_t = s, a_t = a],\ R_t = \sum_{k=t}^T \gamma^{k-t} r_k",
    sources=(
        Source(
            "001",
            "Looking through the Advantage Function Lens",
            "Hence, the final policy gradient estimator uses the advantage function:",
        ),
    ),
    conditions="Time-dependent advantages in a finite horizon. Left out by the document: "
    "gamma = 1. 001 defines R_t, and so Q and A, with a discount gamma; its objective (1) is "
    "undiscounted.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="Reward-to-go plus a state-value baseline, in expectation: with gamma = 1 equation "
    "(8) is grad J. 001 defines Q through the discounted R_t, and then A_t is the advantage of "
    "the discounted return from t. Summed without gamma^t it is the gradient neither of 001's "
    "undiscounted J (equation (1)) nor of the discounted one, whose policy gradient theorem "
    "weights step t by gamma^t; with gamma^t it is the discounted objective's gradient again. "
    "The document leaves gamma = 1 unsaid.",
    checks=(
        check(
            "gamma = 1, five random MDPs, H = 3 (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(advantage_estimator(1.0)),
        ),
        check(
            "with gamma^t, gamma = 0.9, against grad of E[sum_t gamma^t r_t] (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(advantage_estimator(1.0, True), gamma=0.9),
        ),
        beyond_conditions(
            "as printed, gamma = 0.9, against grad of E[sum_t gamma^t r_t] (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(advantage_estimator(1.0), gamma=0.9),
        ),
        negative_control(
            "advantage with the sign flipped (exact enumeration)",
            Kind.EXACT,
            unbiased_on_random_mdps(advantage_estimator(-1.0)),
            slip=Slip("the advantage with its sign flipped", SlipKind.SIGN),
        ),
        effect(
            "direction error without gamma^t, gamma = 0.99, about 250 steps (exact)",
            Kind.EXACT,
            missing_discount_effect("direction"),
        ),
    ),
)

# --- 001-averaging-m-reduces-variance: estimator (5) over m independent trajectories -----------

M_VALUES = (1, 2, 3, 4)


def averaged_estimator_variances(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """Var of estimator (5) with m = 1..4 trajectories, per component, by enumerating every
    m-tuple of trajectories with its product probability (rows: m)."""
    policy = SoftmaxPolicy(logits)
    traj = enumerate_trajectories(mdp)
    prob = trajectory_probability(mdp, policy, traj)
    keep = prob > 0
    prob, single = prob[keep], full_return(mdp, policy, traj)[keep]
    total_prob, total = prob, single  # the distribution of the sum of m estimates
    variances = []
    for m in M_VALUES:
        if m > 1:
            total_prob = (total_prob[:, None] * prob[None, :]).reshape(-1)
            total = (total[:, None, :] + single[None, :, :]).reshape(-1, single.shape[1])
        mean = total / m
        first = (total_prob[:, None] * mean).sum(0)
        variances.append((total_prob[:, None] * mean**2).sum(0) - first**2)
    return torch.stack(variances)


def variance_rate(exponent: float):
    """Exact: m^exponent Var[estimate of m trajectories] against Var[one trajectory's], every
    component, m = 1..4, three random MDPs (2 states, 2 actions, 2 steps)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in random_cases(ctx.cpu_generator(), 3, states=2, actions=2, horizon=2):
            variances = averaged_estimator_variances(mdp, logits)
            scale = torch.tensor([m**exponent for m in M_VALUES], dtype=torch.float64)[:, None]
            findings.append(
                exact_comparison(
                    scale * variances,
                    variances[:1].expand_as(variances),
                    method="exact enumeration of m-tuples of trajectories",
                )
            )
        return all_hold(findings)

    return run


AVERAGING_REDUCES_VARIANCE = Claim(
    id="001-averaging-m-reduces-variance",
    title="Averaging m trajectories' estimates divides the variance by m",
    statement=r"\mathrm{Var}\Big[\frac{1}{m} \sum_{i=1}^{m} \sum_{t=0}^{T} \nabla_\theta \log \pi_\theta(a_t^{(i)}\mid s_t^{(i)}) R(\tau^{(i)})\Big]"
    r" = \frac{1}{m}\,\mathrm{Var}\Big[\sum_{t=0}^{T} \nabla_\theta \log \pi_\theta(a_t\mid s_t) R(\tau)\Big]",
    sources=(
        Source(
            "001",
            "REINFORCE",
            r"Each trajectory gives a noisy gradient estimate; averaging \(m\) of them reduces variance.",
        ),
    ),
    conditions="The m trajectories are sampled independently from the current policy.",
    expected=Verdict.CONFIRMED,
    reading="Estimator (5) averages m independent, identically distributed terms, so every "
    "component's variance falls as 1/m. Checked without that algebra: the variance of the "
    "average is computed from the product law of all m-tuples of trajectories.",
    checks=(
        check(
            "m Var_m = Var_1, m = 1..4, every component (exact enumeration of m-tuples)",
            Kind.EXACT,
            variance_rate(1.0),
        ),
        negative_control(
            "sqrt(m) Var_m = Var_1, the standard deviation's rate (exact enumeration)",
            Kind.EXACT,
            variance_rate(0.5),
            slip=Slip(
                "the variance falling as 1/sqrt(m), the standard error's rate",
                SlipKind.EXPONENT,
            ),
        ),
    ),
)
