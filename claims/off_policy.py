"""002 and 004: importance weights over trajectories, off-policy gradients, and their variance."""

import itertools

import numpy as np
import torch

from pgtheory.claim import (
    Claim,
    Kind,
    Severity,
    Slip,
    SlipKind,
    Source,
    Verdict,
    beyond_conditions,
    check,
    effect,
    negative_control,
)
from pgtheory.context import Context
from pgtheory.envs.finite import (
    FiniteMDP,
    Trajectories,
    discounted_return,
    enumerate_trajectories,
    exact_policy_gradient,
    log_dynamics,
    log_policy,
    random_mdp,
    score_sum,
    step_rewards,
    trajectory_expectation,
    trajectory_probability,
)
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding, all_hold, effect_size, exact_bound, exact_comparison, slope_test


def cases(ctx: Context, count: int = 5, horizon: int = 3):
    """Random MDPs with a target policy theta' and a behaviour policy theta-bar."""
    gen = ctx.cpu_generator()
    for _ in range(count):
        mdp = random_mdp(3, 2, horizon, gen)
        target = torch.randn(3, 2, generator=gen, dtype=torch.float64)
        behaviour = target + 0.7 * torch.randn(3, 2, generator=gen, dtype=torch.float64)
        yield mdp, target, behaviour


def log_ratio(target: torch.Tensor, behaviour: torch.Tensor, traj: Trajectories) -> torch.Tensor:
    """sum_t log pi_target(a_t|s_t) - log pi_behaviour(a_t|s_t)."""
    return log_policy(SoftmaxPolicy(target), traj) - log_policy(SoftmaxPolicy(behaviour), traj)


# --- 002-traj-is-weight-product --------------------------------------------------------------


def weight_is_product(mismatched_dynamics: bool):
    """P_theta'(tau) / P_theta-bar(tau) against prod_t pi'/pi-bar for every trajectory; the control
    samples theta-bar's trajectories under other dynamics (a simulator that differs from the world)."""

    def run(ctx: Context) -> Finding:
        findings = []
        gen = ctx.cpu_generator()
        for mdp, target, behaviour in cases(ctx):
            traj = enumerate_trajectories(mdp)
            other = random_mdp(3, 2, mdp.horizon, gen) if mismatched_dynamics else mdp
            exact = (log_dynamics(mdp, traj) + log_policy(SoftmaxPolicy(target), traj)) - (
                log_dynamics(other, traj) + log_policy(SoftmaxPolicy(behaviour), traj)
            )
            findings.append(exact_comparison(exact.exp(), log_ratio(target, behaviour, traj).exp()))
        return all_hold(findings)

    return run


TRAJ_IS_WEIGHT_PRODUCT = Claim(
    id="002-traj-is-weight-product",
    title="Trajectory importance weights are products of per-step policy ratios",
    statement=r"\frac{P_{\theta'}(\tau)}{P_{\bar{\theta}}(\tau)} = \prod_{t=1}^T \frac{\pi_{\theta'}(a_t|s_t)}{\pi_{\bar{\theta}}(a_t|s_t)}",
    sources=(Source("002", "6.2. Importance Sampling (IS)", "Importance weight:"),),
    conditions="Both trajectory distributions share rho_0 and the dynamics; pi-bar > 0 on the trajectory.",
    expected=Verdict.CONFIRMED,
    reading="The initial-state and transition factors cancel.",
    checks=(
        check(
            "every trajectory, five random MDPs (exact enumeration)",
            Kind.EXACT,
            weight_is_product(False),
        ),
        negative_control(
            "behaviour data from different dynamics (exact)",
            Kind.EXACT,
            weight_is_product(True),
            slip=Slip("behaviour data from other dynamics", SlipKind.CONDITION),
        ),
    ),
)

# --- 002-offpolicy-pg-full-weight, 004-offpolicy-single-ratio -----------------------------------


def expected_off_policy_estimate(mdp, target, behaviour, weighting: str) -> torch.Tensor:
    """E_{tau ~ theta-bar}[estimate], by enumeration under theta-bar:
    ``full``: prod_t ratio * (sum_t grad log pi') * R(tau) (002);
    ``single``: sum_t ratio_t grad log pi'(a_t|s_t) G_t with G_t from the behaviour data (004);
    ``none``: the on-policy estimator applied to behaviour data."""
    policy = SoftmaxPolicy(target)

    def estimate(traj):
        if weighting == "full":
            return (
                log_ratio(target, behaviour, traj).exp()[:, None]
                * score_sum(policy, traj)
                * discounted_return(mdp, traj)[:, None]
            )
        G = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
        ratio = torch.ones_like(G)
        if weighting == "single":
            ratio = (
                policy.log_prob(traj.states, traj.actions)
                - SoftmaxPolicy(behaviour).log_prob(traj.states, traj.actions)
            ).exp()
        return (
            (policy.score(traj.states, traj.actions) * (ratio * G)[..., None, None])
            .sum(1)
            .flatten(1)
        )

    return trajectory_expectation(mdp, SoftmaxPolicy(behaviour), estimate)


def off_policy_gradient(weighting: str):
    """E_{tau ~ theta-bar}[estimate] against grad J(theta') on random MDPs (see
    :func:`expected_off_policy_estimate`)."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                exact_comparison(
                    expected_off_policy_estimate(mdp, target, behaviour, weighting),
                    exact_policy_gradient(mdp, target),
                )
                for mdp, target, behaviour in cases(ctx)
            ]
        )

    return run


def single_ratio_bias_effect(ctx: Context) -> Finding:
    """The relative bias of 004's single-ratio form, ||E[estimate] - grad J|| / ||grad J||, with
    a behaviour policy far from the target (logits apart by N(0, 1.5^2) per entry) over five
    steps: the regime where off-policy data are used because they differ."""
    gen = ctx.cpu_generator()
    biases = []
    for _ in range(5):
        mdp = random_mdp(3, 2, 5, gen)
        target = torch.randn(3, 2, generator=gen, dtype=torch.float64)
        behaviour = target + 1.5 * torch.randn(3, 2, generator=gen, dtype=torch.float64)
        grad = exact_policy_gradient(mdp, target)
        expected = expected_off_policy_estimate(mdp, target, behaviour, "single")
        biases.append(float((expected - grad).norm() / grad.norm()))
    return effect_size(
        float(np.median(biases)),
        measure="||E[single-ratio estimate] - grad J|| / ||grad J||, median",
        setting="5 random MDPs (3 states, 2 actions, 5 steps), behaviour logits = target "
        "+ N(0, 1.5^2)",
    )


OFFPOLICY_FULL_WEIGHT = Claim(
    id="002-offpolicy-pg-full-weight",
    title="The off-policy policy gradient with full trajectory weights is exact",
    statement=r"\nabla_{\theta'} J(\theta') = \mathbb{E}_{\tau \sim P_{\bar{\theta}}} \Big[\Big(\prod_{t} \frac{\pi_{\theta'}(a_t|s_t)}{\pi_{\bar{\theta}}(a_t|s_t)}\Big) \Big(\sum_{t} \nabla_{\theta'} \log \pi_{\theta'}(a_t|s_t)\Big) R(\tau)\Big]",
    sources=(Source("002", "6.2. Importance Sampling (IS)", "Policy gradient becomes:"),),
    conditions="pi-bar > 0 wherever pi' > 0 (softmax policies).",
    expected=Verdict.CONFIRMED,
    reading="Importance sampling of the on-policy gradient over whole trajectories.",
    checks=(
        check(
            "five random MDPs, theta-bar != theta' (exact enumeration)",
            Kind.EXACT,
            off_policy_gradient("full"),
        ),
        negative_control(
            "no weights at all on behaviour data (exact)",
            Kind.EXACT,
            off_policy_gradient("none"),
            slip=Slip("no importance weights on behaviour data", SlipKind.OMISSION),
        ),
    ),
)

OFFPOLICY_SINGLE_RATIO = Claim(
    id="004-offpolicy-single-ratio",
    title="004's off-policy gradient with a single ratio pi/mu and behaviour returns G_t",
    statement=r"\nabla_{\theta} J(\theta) = \mathbb{E}_{\tau \sim \mu}\Big[\frac{\pi_{\theta}(a|s)}{\mu(a|s)} \nabla_{\theta} \log \pi_{\theta}(a|s) \, G_t \Big]",
    sources=(
        Source(
            "004",
            "Policy gradient methods generally include",
            "belongs to importance sampling (IS)",
        ),
    ),
    conditions="As written: an equality, states and returns from the behaviour policy mu.",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="One ratio corrects the action at t only. The states were reached, and G_t "
    "collected, under mu: correcting them needs the ratios of the earlier and later actions "
    "too. It is the first-order approximation of 002 (claim 002-first-order-approx), not an equality.",
    checks=(
        check(
            "single per-step ratio, five random MDPs (exact enumeration)",
            Kind.EXACT,
            off_policy_gradient("single"),
        ),
        check(
            "corrected: full trajectory weights (exact enumeration)",
            Kind.EXACT,
            off_policy_gradient("full"),
        ),
        negative_control(
            "no ratio at all (exact)",
            Kind.EXACT,
            off_policy_gradient("none"),
            slip=Slip("no ratio at all", SlipKind.OMISSION),
        ),
        effect(
            "relative bias with a far behaviour policy (exact)",
            Kind.EXACT,
            single_ratio_bias_effect,
        ),
    ),
)

# --- 004-is-identity over trajectories -----------------------------------------------------------


def trajectory_is_identity(behaviour_covers: bool):
    """E_{pi'}[R(tau)] against E_{mu}[w(tau) R(tau)] over mu's support (enumeration): with a
    softmax behaviour, and (beyond) with a behaviour that never takes action 1 in state 0."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, target, behaviour in cases(ctx):
            traj = enumerate_trajectories(mdp)
            mu_logits = behaviour.clone()
            if not behaviour_covers:
                mu_logits[0, 1] = -torch.inf
            log_mu = log_dynamics(mdp, traj) + log_policy(SoftmaxPolicy(mu_logits), traj)
            support = log_mu > -torch.inf
            weights = (
                log_policy(SoftmaxPolicy(target), traj) - log_policy(SoftmaxPolicy(mu_logits), traj)
            )[support].exp()
            returns = discounted_return(mdp, traj)
            is_estimate = (log_mu[support].exp() * weights * returns[support]).sum()
            target_mean = (trajectory_probability(mdp, SoftmaxPolicy(target), traj) * returns).sum()
            findings.append(exact_comparison(is_estimate, target_mean))
        return all_hold(findings)

    return run


IS_IDENTITY_004 = Claim(
    id="004-is-identity",
    title="Importance sampling: E_p[f] = E_q[(p/q) f]",
    statement=r"\mathbb{E}_{x \sim p}[f(x)] = \mathbb{E}_{x \sim q}\Big[\frac{p(x)}{q(x)} f(x)\Big]",
    sources=(Source("004", "Policy gradient methods generally include", "are the IS weights"),),
    conditions="Left out by the document: q(x) > 0 wherever p(x) f(x) != 0. Off-policy: the "
    "behaviour policy must take every action the target policy may take.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="Tested on trajectory distributions: exact with a softmax behaviour policy, wrong "
    "when the behaviour policy never takes an action the target takes.",
    checks=(
        check(
            "softmax behaviour policy, five random MDPs (exact enumeration)",
            Kind.EXACT,
            trajectory_is_identity(True),
        ),
        beyond_conditions(
            "behaviour never takes action 1 in state 0 (exact enumeration)",
            Kind.EXACT,
            trajectory_is_identity(False),
        ),
        negative_control(
            "no weights at all",
            Kind.EXACT,
            lambda ctx: _unweighted(ctx),
            slip=Slip("no importance weights", SlipKind.OMISSION),
        ),
    ),
)


def _unweighted(ctx: Context) -> Finding:
    mdp, target, behaviour = next(cases(ctx, 1))
    return exact_comparison(
        trajectory_expectation(mdp, SoftmaxPolicy(behaviour), lambda t: discounted_return(mdp, t)),
        trajectory_expectation(mdp, SoftmaxPolicy(target), lambda t: discounted_return(mdp, t)),
    )


# --- 002-is-variance-explodes ----------------------------------------------------------------------

HORIZONS = np.arange(2, 12)


def second_moment_of_weights(
    mdp: FiniteMDP, target: torch.Tensor, behaviour: torch.Tensor, horizon: int
) -> float:
    """E_mu[(prod_t pi'/mu)^2] over ``horizon`` steps, exactly, by a forward recursion on states."""
    pi, mu = torch.softmax(target, -1), torch.softmax(behaviour, -1)
    step = ((pi**2 / mu)[:, :, None] * mdp.transitions).sum(1)  # (S, S'): sum_a mu (pi/mu)^2 P
    m = mdp.initial.clone()
    for _ in range(horizon):
        m = m @ step
    return float(m.sum())


def weight_variance_growth(same_policy: bool):
    """E[w_H^2] grows at least geometrically in H: every extra step multiplies it by a factor
    above 1 (exact values for H = 2..11); the same policy as behaviour gives factors of 1."""

    def run(ctx: Context) -> Finding:
        mdp, target, behaviour = next(cases(ctx, 1))
        if same_policy:
            behaviour = target
        moments = [second_moment_of_weights(mdp, target, behaviour, int(h)) for h in HORIZONS]
        # E[w_{H+1}^2] = E[w_H^2 E_mu[rho^2 | s_H]]: at least geometric growth when every
        # step multiplies it by more than 1
        growth = [b / a for a, b in itertools.pairwise(moments)]
        return exact_bound(
            min(growth),
            1.0,
            relation="above",
            margin=1e-9,
            method="exact E[w_H^2] for consecutive H: the smallest factor per step",
            note=f"E[w^2] multiplies by {min(growth):.4g} to {max(growth):.4g} per step "
            f"over H = {int(HORIZONS[0])}..{int(HORIZONS[-1])}",
        )

    return run


IS_VARIANCE_EXPLODES = Claim(
    id="002-is-variance-explodes",
    title="Importance weights' variance grows exponentially with the horizon",
    statement=r"\mathrm{Var}_\mu\Big[\prod_{t=1}^T \frac{\pi'(a_t|s_t)}{\mu(a_t|s_t)}\Big] \sim c^T,\ c > 1",
    sources=(
        Source(
            "002",
            "6.2. Importance Sampling (IS)",
            "Importance weights can explode or vanish exponentially",
        ),
    ),
    conditions="pi' != mu (E[w] = 1, so the variance is E[w^2] - 1).",
    expected=Verdict.CONFIRMED,
    reading="Each step multiplies E[w^2] by a factor above 1 (a chi-square divergence plus one).",
    checks=(
        check(
            "log E[w^2] linear in H with positive slope, H = 2..11 (exact)",
            Kind.EXACT,
            weight_variance_growth(False),
        ),
        negative_control(
            "pi' = mu: the same test must find no growth (exact)",
            Kind.EXACT,
            weight_variance_growth(True),
            slip=Slip(
                "behaviour equal to the target, where no growth is possible", SlipKind.CONDITION
            ),
        ),
    ),
)

# --- 002-first-order-approx -----------------------------------------------------------------------

STEP_SIZES = np.geomspace(1e-4, 1e-2, 10)


def first_order_bias(predicted_order: float):
    """||E_{theta-bar}[sum_t ratio_t grad log pi'(a_t|s_t) G_t] - grad J(theta')|| for
    theta' = theta-bar + h u, fitted against h on a log-log scale (exact values)."""

    def run(ctx: Context) -> Finding:
        mdp, behaviour, _ = next(cases(ctx, 1))
        direction = torch.randn(3, 2, generator=ctx.cpu_generator(), dtype=torch.float64)
        biases = []
        for h in STEP_SIZES:
            target = behaviour + h * direction
            policy = SoftmaxPolicy(target)

            def estimate(traj, target=target, policy=policy):
                G = discounted_reward_to_go(step_rewards(mdp, traj), 1.0)
                ratio = (
                    policy.log_prob(traj.states, traj.actions)
                    - SoftmaxPolicy(behaviour).log_prob(traj.states, traj.actions)
                ).exp()
                return (
                    (policy.score(traj.states, traj.actions) * (ratio * G)[..., None, None])
                    .sum(1)
                    .flatten(1)
                )

            approx = trajectory_expectation(mdp, SoftmaxPolicy(behaviour), estimate)
            biases.append(float((approx - exact_policy_gradient(mdp, target)).norm()))
        return slope_test(STEP_SIZES, biases, predicted_order, resolution=0.05, false_alarm=1e-6)

    return run


FIRST_ORDER_APPROX = Claim(
    id="002-first-order-approx",
    title="Dropping the state-marginal ratio: biased, with a bias that vanishes as theta' -> theta",
    statement=r"\Big\|\mathbb{E}_{\bar\theta}\Big[\sum_t \tfrac{\pi_{\theta'}(a_t|s_t)}{\pi_{\bar\theta}(a_t|s_t)} \nabla \log\pi_{\theta'}(a_t|s_t) \hat Q_t\Big] - \nabla J(\theta')\Big\| = O(\|\theta' - \bar\theta\|)",
    sources=(
        Source(
            "002",
            "6.3. Approximations",
            "Ignore marginal state distributions to reduce variance.",
        ),
    ),
    conditions="theta' close to theta-bar; reward-to-go Q-hat.",
    expected=Verdict.CONFIRMED,
    reading="The document says the bias is bounded when theta' is close; the fit shows it "
    "vanishes linearly (order 1) in the distance.",
    checks=(
        check(
            "order of the bias in h = 1 (exact values, log-log fit)",
            Kind.EXACT,
            first_order_bias(1.0),
        ),
        negative_control(
            "order 2 (exact values, log-log fit)",
            Kind.EXACT,
            first_order_bias(2.0),
            slip=Slip("an error of order 2 where it is of order 1", SlipKind.EXPONENT),
        ),
    ),
)
