"""004: the policy gradient theorem as the lecture writes it, and the updates derived from it."""

import numpy as np
import sympy as sp
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
from pgtheory.envs import tabular
from pgtheory.envs.finite import (
    exact_policy_gradient,
    random_cases,
    step_rewards,
    trajectory_expectation,
)
from pgtheory.envs.tabular import (
    TabularMDP,
    action_values,
    all_actions_sum,
    chain_episodic_mdp,
    random_episodic_mdp,
    visitation,
)
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding, all_hold, effect_size, exact_comparison, proportionality_check
from pgtheory.symbolic import identity_check

NUM_MDPS = 10
DISCOUNT = 0.9


def episodic_cases(ctx: Context, gamma: float) -> list[tuple[TabularMDP, torch.Tensor]]:
    """Ten random episodic MDPs (5 states + terminal, 3 actions) with random softmax policies."""
    gen = ctx.cpu_generator()
    cases = []
    for _ in range(NUM_MDPS):
        mdp = random_episodic_mdp(5, 3, gen, gamma=gamma)
        cases.append((mdp, torch.randn(6, 3, generator=gen, dtype=torch.float64)))
    return cases


def on_policy_distribution(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """mu(s): the fraction of time steps spent in s (undiscounted visits, normalised)."""
    eta = visitation(mdp, logits, gamma=1.0)
    return eta / eta.sum()


def pgt_with_mu(gamma: float):
    """grad J against sum_s mu(s) sum_a q(s, a) grad pi(a|s), mu the on-policy distribution."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                proportionality_check(
                    all_actions_sum(mdp, logits, on_policy_distribution(mdp, logits)),
                    tabular.exact_policy_gradient(mdp, logits),
                )
                for mdp, logits in episodic_cases(ctx, gamma)
            ]
        )

    return run


def proportionality_constant(ctx: Context) -> Finding:
    """gamma = 1: the constant of proportionality is the expected episode length sum_s eta(s)."""
    scales, lengths = [], []
    for mdp, logits in episodic_cases(ctx, 1.0):
        pgt = all_actions_sum(mdp, logits, on_policy_distribution(mdp, logits))
        grad = tabular.exact_policy_gradient(mdp, logits)
        scales.append(float((grad.flatten() @ pgt.flatten()) / (pgt.flatten() @ pgt.flatten())))
        lengths.append(float(visitation(mdp, logits, 1.0).sum()))
    return exact_comparison(
        scales,
        lengths,
        tolerance=1e-9,
        method="scale of grad J over the theorem's sum, against E[episode length]",
    )


def wrong_weights(ctx: Context) -> Finding:
    """Control: uniform state weights in place of mu (gamma = 1)."""
    return all_hold(
        [
            proportionality_check(
                all_actions_sum(mdp, logits, torch.ones(6, dtype=torch.float64)),
                tabular.exact_policy_gradient(mdp, logits),
            )
            for mdp, logits in episodic_cases(ctx, 1.0)
        ]
    )


# --- the size of the missing gamma^t in 004's own setting ----------------------------------------

#: 004's own setting for the effect: discount 0.99 over CartPole-length episodes whose state
#: moves on in time (a chain of 50 states, advancing with probability 0.1 to 0.3 per step:
#: about 250 steps, where gamma^t has fallen to 0.08; CartPole caps at 500).
REALISTIC_SETTING = (
    "10 random episodic chains (50 states, 3 actions, about 250 steps), gamma = 0.99"
)


def realistic_cases(ctx: Context):
    gen = ctx.cpu_generator()
    for _ in range(10):
        mdp = chain_episodic_mdp(50, 3, gen, gamma=0.99)
        yield mdp, torch.randn(51, 3, generator=gen, dtype=torch.float64)


def undiscounted_weights_effect(ctx: Context) -> Finding:
    """How far the update 004 writes (states weighted by visits, no gamma^t) points from grad J
    of its discounted objective: 1 - cos of the angle, median over the MDPs."""
    errors = []
    for mdp, logits in realistic_cases(ctx):
        g = tabular.exact_policy_gradient(mdp, logits).flatten()
        u = all_actions_sum(mdp, logits, visitation(mdp, logits, 1.0)).flatten()
        errors.append(float(1 - (u @ g) / (u.norm() * g.norm())))
    return effect_size(
        float(np.median(errors)),
        measure="1 - cos(update without gamma^t, grad J), median",
        setting=REALISTIC_SETTING,
    )


def mu_rho_distance_effect(ctx: Context) -> Finding:
    """Total variation distance between mu (visit frequencies) and rho (gamma^t-weighted)."""
    distances = []
    for mdp, logits in realistic_cases(ctx):
        mu, rho = on_policy_distribution(mdp, logits), visitation(mdp, logits)
        distances.append(float(0.5 * (mu - rho / rho.sum()).abs().sum()))
    return effect_size(
        float(np.median(distances)),
        measure="total variation distance between mu and rho, median",
        setting=REALISTIC_SETTING,
    )


PGT_PROPORTIONAL = Claim(
    id="004-pgt-proportional",
    title="The policy gradient theorem: grad J is proportional to sum_s mu(s) sum_a q(s,a) grad pi(a|s)",
    statement=r"\nabla J(\theta) \propto \sum_{s} \mu(s) \sum_{a} q_\pi(s,a)\, \nabla_\theta \pi(a|s,\theta),"
    r"\quad J = \mathbb{E}\big[\textstyle\sum_t \gamma^t r_t\big]",
    sources=(
        Source("004", "Policy Gradient", "Our Policy Gradient theorem is"),
        Source("004", "Policy Gradient", "how frequently the agent visits state s"),
    ),
    conditions="Left out by the document: gamma = 1 (episodic). The proof it copies is Sutton and "
    "Barto's undiscounted episodic case, but its J carries gamma^t.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.WRONG,
    reading="With gamma = 1 and mu the on-policy distribution the theorem holds, the constant "
    "being the expected episode length. For the discounted J that 004 defines, weighting "
    "states by how often they are visited is wrong: the correct weights are the discounted "
    "visits sum_t gamma^t Pr(s_t = s), and the sum is then not parallel to grad J.",
    checks=(
        check(
            "gamma = 1, ten random episodic MDPs (exact, linear solves)",
            Kind.EXACT,
            pgt_with_mu(1.0),
        ),
        check(
            "gamma = 1: the constant is E[episode length] (exact)",
            Kind.EXACT,
            proportionality_constant,
        ),
        beyond_conditions(
            "gamma = 0.9, 004's discounted J, mu = visit frequency (exact)",
            Kind.EXACT,
            pgt_with_mu(DISCOUNT),
        ),
        negative_control(
            "uniform state weights in place of mu, gamma = 1 (exact)",
            Kind.EXACT,
            wrong_weights,
            slip=Slip("uniform state weights where mu belongs", SlipKind.WRONG_TERM),
        ),
        effect(
            "direction error of the update without gamma^t, gamma = 0.99 (exact)",
            Kind.EXACT,
            undiscounted_weights_effect,
        ),
    ),
)


def mu_against_rho(gamma: float, first_state_only: bool = False):
    """The on-policy distribution mu against rho, the normalised discounted visitation;
    ``first_state_only`` puts the law of s_0 in mu's place (the slip of reading "the
    distribution of states" as where episodes start)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in episodic_cases(ctx, gamma):
            rho = visitation(mdp, logits)
            mu = mdp.initial if first_state_only else on_policy_distribution(mdp, logits)
            findings.append(exact_comparison(mu, rho / rho.sum()))
        return all_hold(findings)

    return run


MU_EQUALS_RHO = Claim(
    id="004-mu-equals-rho",
    title="mu(s) is the same as rho^pi(s)",
    statement=r"\mu(s) = \rho^\pi(s) = \frac{\sum_t \gamma^t \Pr(s_t = s)}{\sum_{s'} \sum_t \gamma^t \Pr(s_t = s')}",
    sources=(
        Source("004", "Policy Gradient", "Sometimes it’s $\\rho^\\pi(s)$, but it’s the same"),
    ),
    conditions="Left out by the document: gamma = 1. rho^pi, the distribution the discounted "
    "theorem needs, weights visits by gamma^t; mu, the visit frequency, does not.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.WRONG,
    reading="They coincide for gamma = 1 and differ for every gamma < 1, i.e. for the objective "
    "004 writes down.",
    checks=(
        check("gamma = 1, ten random MDPs (exact)", Kind.EXACT, mu_against_rho(1.0)),
        beyond_conditions(
            "gamma = 0.9, ten random MDPs (exact)", Kind.EXACT, mu_against_rho(DISCOUNT)
        ),
        negative_control(
            "the law of s_0 in mu's place, gamma = 1 (exact)",
            Kind.EXACT,
            mu_against_rho(1.0, first_state_only=True),
            slip=Slip("the initial state distribution where mu belongs", SlipKind.WRONG_TERM),
        ),
        effect(
            "distance between mu and rho, gamma = 0.99 (exact)", Kind.EXACT, mu_rho_distance_effect
        ),
    ),
)


def all_actions_form_exact(ctx: Context) -> Finding:
    """(13.6) sum_s mu(s) sum_a q grad pi = E_{S ~ mu}[sum_a q(S, a) grad pi(a|S)] and is
    proportional to grad J (gamma = 1); the expectation is written out over mu's support."""
    findings = []
    for mdp, logits in episodic_cases(ctx, 1.0):
        mu = on_policy_distribution(mdp, logits)
        per_state = torch.stack(
            [
                all_actions_sum(
                    mdp, logits, torch.nn.functional.one_hot(torch.tensor(s), 6).double()
                )
                for s in range(6)
            ]
        )
        expectation = (mu[:, None, None] * per_state).sum(0)
        findings.append(exact_comparison(expectation, all_actions_sum(mdp, logits, mu)))
        findings.append(
            proportionality_check(expectation, tabular.exact_policy_gradient(mdp, logits))
        )
    return all_hold(findings)


def all_actions_form_mc(ctx: Context) -> Finding:
    """MC: states sampled at uniformly random time steps of on-policy episodes (i.e. from mu),
    averaging sum_a q(S, a) grad pi(a|S), against grad J / E[T]."""
    mdp, logits = episodic_cases(ctx, 1.0)[0]
    q = action_values(mdp, logits)
    pi = torch.softmax(logits, -1)
    # grad pi(a|s) wrt logits[s] = pi(a) (e_a - pi): per state the all-actions sum in closed form
    per_state = pi * q - pi * (pi * q).sum(
        -1, keepdim=True
    )  # (S, A): d/dlogits[s, b] of sum_a q pi
    mu = on_policy_distribution(mdp, logits)
    cdf = mu.cumsum(0).to(ctx.device)
    per_state_d = per_state.to(ctx.device)
    reference = (
        tabular.exact_policy_gradient(mdp, logits) / visitation(mdp, logits, 1.0).sum()
    ).flatten()

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, 1, generator=gen, device=ctx.device, dtype=torch.float64)
        s = (cdf < u).sum(-1).clamp_max(5)
        out = torch.zeros(n, 6, 3, dtype=torch.float64, device=ctx.device)
        out[torch.arange(n, device=ctx.device), s] = per_state_d[s]
        return out.flatten(1)

    return ctx.mean_test(sampler, reference, resolution=0.01)


ALL_ACTIONS_FORM = Claim(
    id="004-all-actions-form-13.6",
    title="(13.6): the all-actions form as an expectation over S_t",
    statement=r"\sum_{s} \mu(s) \sum_{a} q_{\pi}(s,a)\, \nabla_{\theta} \pi(a|s,\theta) = \mathbb{E}\Big[\sum_{a} q_{\pi}(S_t,a) \nabla_{\theta} \pi(a|S_t,\theta)\Big]",
    sources=(Source("004", "REINFORCE", "From (13.6), we deduce the sampling form"),),
    conditions="S_t drawn from the on-policy distribution mu; gamma = 1 for the link to grad J.",
    expected=Verdict.CONFIRMED,
    reading="The expectation over states visited under pi is the mu-weighted sum.",
    checks=(
        check(
            "expectation over mu equals the sum, proportional to grad J (exact)",
            Kind.EXACT,
            all_actions_form_exact,
        ),
        check("states sampled from mu (MC)", Kind.MONTE_CARLO, all_actions_form_mc),
        negative_control(
            "uniform state weights (exact)",
            Kind.EXACT,
            wrong_weights,
            slip=Slip("uniform state weights where mu belongs", SlipKind.WRONG_TERM),
        ),
    ),
)


def sampling_form_lhs(use_gradient: bool):
    """The sampling form's right side, E_mu[sum_a q grad pi] = E[G_t grad pi / pi] (vector),
    against its left side: J(theta) as printed (a scalar), or grad J (the intended one)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in episodic_cases(ctx, 1.0):
            rhs = all_actions_sum(mdp, logits, on_policy_distribution(mdp, logits))
            if use_gradient:
                findings.append(
                    proportionality_check(rhs, tabular.exact_policy_gradient(mdp, logits))
                )
            else:
                lhs = tabular.expected_return(mdp, logits).expand_as(
                    rhs
                )  # J broadcast: a scalar cannot equal a vector
                findings.append(proportionality_check(rhs, lhs))
        return all_hold(findings)

    return run


SAMPLING_FORM = Claim(
    id="004-sampling-form",
    title="The sampling form: J(theta) = E_pi[G_t grad pi(A_t|S_t) / pi(A_t|S_t)]",
    statement=r"J(\theta) = \mathbb{E}_{\pi}\Big[G_t \frac{\nabla_{\theta} \pi(A_t|S_t,\theta)}{\pi(A_t|S_t,\theta)}\Big]",
    sources=(Source("004", "REINFORCE", "From (13.6), we deduce the sampling form"),),
    conditions="As printed; gamma = 1.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The left side should be grad J (up to the constant E[T]): J is a number, the right "
    "side a vector. With grad J on the left the chain of equalities holds.",
    checks=(
        check("J(theta) on the left, as printed (exact)", Kind.EXACT, sampling_form_lhs(False)),
        check(
            "corrected: grad J on the left, up to a positive constant (exact)",
            Kind.EXACT,
            sampling_form_lhs(True),
        ),
        negative_control(
            "uniform state weights (exact)",
            Kind.EXACT,
            wrong_weights,
            slip=Slip("uniform state weights where mu belongs", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 004-reinforce-update, 004-baseline-pgt: finite-horizon enumeration -----------------------


def reinforce_update_expectation(gamma: float, step_weight: float | None):
    """E[sum_t w^t G_t grad log pi(A_t|S_t)] against grad J of the discounted objective, five
    random MDPs, H = 4: w = None is 004's update, w = gamma Sutton and Barto's."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        findings = []
        for mdp, logits in random_cases(gen, 5, horizon=4, gamma=gamma):
            policy = SoftmaxPolicy(logits)

            def update(traj, mdp=mdp, policy=policy):
                G = discounted_reward_to_go(step_rewards(mdp, traj), gamma)
                if step_weight is not None:
                    G = G * step_weight ** torch.arange(mdp.horizon, dtype=torch.float64)
                return (
                    (policy.score(traj.states, traj.actions) * G[..., None, None]).sum(1).flatten(1)
                )

            findings.append(
                exact_comparison(
                    trajectory_expectation(mdp, policy, update), exact_policy_gradient(mdp, logits)
                )
            )
        return all_hold(findings)

    return run


REINFORCE_UPDATE = Claim(
    id="004-reinforce-update",
    title="The REINFORCE update theta += alpha G_t grad pi(A_t|S_t) / pi(A_t|S_t)",
    statement=r"\mathbb{E}\Big[\sum_t G_t \nabla_\theta \ln \pi(A_t|S_t)\Big] = \nabla J(\theta),\quad G_t = \sum_{k \ge t} \gamma^{k-t} R_{k+1}",
    sources=(Source("004", "REINFORCE", "REINFORCE Update:"),),
    conditions="Left out by the document: gamma = 1. For its discounted J, Sutton and Barto's "
    "update carries gamma^t.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.ERRATUM,
    reading="Summed over an episode the update is unbiased for grad J when gamma = 1. For "
    "gamma < 1 it misses the factor gamma^t and follows a different vector; with gamma^t it is "
    "exact again.",
    checks=(
        check(
            "gamma = 1, five random MDPs, H = 4 (exact enumeration)",
            Kind.EXACT,
            reinforce_update_expectation(1.0, None),
        ),
        check(
            "with gamma^t, gamma = 0.9 (exact enumeration)",
            Kind.EXACT,
            reinforce_update_expectation(DISCOUNT, DISCOUNT),
        ),
        beyond_conditions(
            "as printed, gamma = 0.9 (exact enumeration)",
            Kind.EXACT,
            reinforce_update_expectation(DISCOUNT, None),
        ),
        negative_control(
            "gamma = 1 with steps weighted by 0.5^t (exact enumeration)",
            Kind.EXACT,
            reinforce_update_expectation(1.0, 0.5),
            slip=Slip("weights 0.5^t where gamma^t belongs", SlipKind.WRONG_TERM),
        ),
        effect(
            "direction error of the update without gamma^t, gamma = 0.99 (exact)",
            Kind.EXACT,
            undiscounted_weights_effect,
        ),
    ),
)


def baseline_pgt(baseline_kind: str):
    """sum_s mu(s) sum_a (q(s, a) - b) grad pi(a|s) against the same sum without b (gamma = 1)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in episodic_cases(ctx, 1.0):
            mu = on_policy_distribution(mdp, logits)
            q = action_values(mdp, logits)
            b = q.mean(-1, keepdim=True) + 3.0
            if baseline_kind == "action":  # the same baseline, one action's bumped by 1
                b = b + torch.nn.functional.one_hot(torch.tensor(0), q.shape[-1])
            theta = logits.clone().requires_grad_(True)
            (with_b,) = torch.autograd.grad(
                (mu[:, None] * (q - b) * torch.softmax(theta, -1)).sum(), theta
            )
            findings.append(exact_comparison(with_b, all_actions_sum(mdp, logits, mu)))
        return all_hold(findings)

    return run


BASELINE_PGT = Claim(
    id="004-baseline-pgt",
    title="REINFORCE with baseline: subtracting b(s) leaves the theorem's sum unchanged",
    statement=r"\sum_{s} \mu(s) \sum_{a} \big(q_{\pi}(s,a) - b(s)\big)\, \nabla_{\theta} \pi(a|s,\theta) = \sum_{s} \mu(s) \sum_{a} q_{\pi}(s,a)\, \nabla_{\theta} \pi(a|s,\theta)",
    sources=(Source("004", "REINFORCE with Baseline", "Update:"),),
    conditions="b depends on s only.",
    expected=Verdict.CONFIRMED,
    reading="sum_a grad pi(a|s) = grad 1 = 0.",
    checks=(
        check(
            "b(s) = mean_a q(s, a) + 3, ten random MDPs (exact)", Kind.EXACT, baseline_pgt("state")
        ),
        negative_control(
            "b(s, a) = mean_a q(s, .) + 3 + [a = 0], which depends on a (exact)",
            Kind.EXACT,
            baseline_pgt("action"),
            slip=Slip(
                "a baseline that depends on the action (one action's raised by 1)",
                SlipKind.ACTION_DEPENDENT,
            ),
        ),
    ),
)

# --- 004-actor-critic-line2 --------------------------------------------------------------------

R, gamma_s, v_next, v_now = sp.symbols("R_{t+1} gamma v(S_{t+1}) v(S_t)", real=True)
ONE_STEP_RETURN = R + gamma_s * v_next  # G_{t:t+1}
TD_ERROR = R + gamma_s * v_next - v_now  # delta_t


def actor_critic_line(line: sp.Expr):
    def run(ctx: Context) -> Finding:
        return identity_check(line, TD_ERROR)

    return run


ACTOR_CRITIC_LINE2 = Claim(
    id="004-actor-critic-line2",
    title="Actor-critic: G_{t:t+1} - v(S_t) = G_{t:t+1} - gamma v(S_{t+1}) - v(S_t) = delta_t",
    statement=r"G_{t:t+1} - \hat v(S_t) = G_{t:t+1} - \gamma \hat v(S_{t+1}) - \hat v(S_t) = \delta_t",
    sources=(Source("004", "Actor-Critic", "From Sutton"),),
    conditions="G_{t:t+1} = R_{t+1} + gamma v(S_{t+1}) (the one-step return), delta_t the TD error.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The second line subtracts gamma v(S_{t+1}) from G_{t:t+1}, which already contains "
    "it: it equals R_{t+1} - v(S_t), not delta_t. It should read R_{t+1} + gamma v(S_{t+1}) - "
    "v(S_t). The first and last lines agree.",
    checks=(
        check(
            "line 2 as printed against delta_t (sympy)",
            Kind.SYMBOLIC,
            actor_critic_line(ONE_STEP_RETURN - gamma_s * v_next - v_now),
        ),
        check(
            "line 1, G_{t:t+1} - v(S_t), against delta_t (sympy)",
            Kind.SYMBOLIC,
            actor_critic_line(ONE_STEP_RETURN - v_now),
        ),
        negative_control(
            "line 1 with a sign error, G_{t:t+1} + v(S_t) (sympy)",
            Kind.SYMBOLIC,
            actor_critic_line(ONE_STEP_RETURN + v_now),
            slip=Slip("line 1 with + v(S_t)", SlipKind.SIGN),
        ),
    ),
)
