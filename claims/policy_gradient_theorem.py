"""004: the policy gradient theorem as the lecture writes it, its glosses (what the
proportionality, mu and the all-actions sum mean), its proof's notation, and the updates
derived from it."""

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
from pgtheory.envs import tabular
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import step_rewards
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.envs.tabular import TabularMDP
from pgtheory.envs.tabular import action_values
from pgtheory.envs.tabular import all_actions_sum
from pgtheory.envs.tabular import chain_episodic_mdp
from pgtheory.envs.tabular import random_end_mdp
from pgtheory.envs.tabular import visitation
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import effect_size
from pgtheory.stats import exact_comparison
from pgtheory.stats import proportionality_check
from pgtheory.symbolic import identity_check

NUM_MDPS = 10
DISCOUNT = 0.9


def episodic_cases(ctx: Context, gamma: float) -> list[tuple[TabularMDP, torch.Tensor]]:
    """Ten random episodic MDPs (5 states + terminal, 3 actions) with random softmax policies."""
    return list(tabular.random_cases(ctx.cpu_generator(), NUM_MDPS, gamma=gamma))


def length_varying_cases(ctx: Context, gamma: float) -> list[tuple[TabularMDP, torch.Tensor]]:
    """Ten episodic MDPs whose expected episode length depends on the policy, because how an
    episode ends depends on the action: five random MDPs (:func:`random_end_mdp`) and five
    chains of 5 states advancing with probability 0.1 to 0.9 per action; each with a random
    softmax policy (6 states, 3 actions)."""
    gen = ctx.cpu_generator()
    cases = []
    for i in range(NUM_MDPS):
        if i % 2 == 0:
            mdp = random_end_mdp(5, 3, gen, gamma)
        else:
            mdp = chain_episodic_mdp(5, 3, gen, gamma=gamma, advance=(0.1, 0.9))
        cases.append((mdp, torch.randn(6, 3, generator=gen, dtype=torch.float64)))
    return cases


def episode_length(mdp: TabularMDP, logits: torch.Tensor) -> float:
    """E[T] = sum_s eta(s), the expected number of steps of an episode under softmax(logits)."""
    return float(visitation(mdp, logits, 1.0).sum())


def on_policy_distribution(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """mu(s): the fraction of time steps spent in s (undiscounted visits, normalised)."""
    eta = visitation(mdp, logits, gamma=1.0)
    return eta / eta.sum()


def pgt_with_mu(gamma: float, cases=episodic_cases):
    """grad J against sum_s mu(s) sum_a q(s, a) grad pi(a|s), mu the on-policy distribution."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                proportionality_check(
                    all_actions_sum(mdp, logits, on_policy_distribution(mdp, logits)),
                    tabular.exact_policy_gradient(mdp, logits),
                )
                for mdp, logits in cases(ctx, gamma)
            ]
        )

    return run


def theorem_sum(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """The theorem's right side, sum_s mu(s) sum_a q(s, a) grad pi(a|s)."""
    return all_actions_sum(mdp, logits, on_policy_distribution(mdp, logits))


def proportionality_constant(length_policy: str = "pi"):
    """gamma = 1, episodes whose length depends on the policy: the constant of proportionality
    (the scale of grad J over the theorem's sum) against E[episode length] under pi, or, for
    the control, under the uniform policy (a constant that ignores how pi ends episodes)."""

    def run(ctx: Context) -> Finding:
        scales, lengths = [], []
        for mdp, logits in length_varying_cases(ctx, 1.0):
            pgt, grad = (
                theorem_sum(mdp, logits).flatten(),
                tabular.exact_policy_gradient(mdp, logits),
            )
            scales.append(float((grad.flatten() @ pgt) / (pgt @ pgt)))
            length_logits = logits if length_policy == "pi" else torch.zeros_like(logits)
            lengths.append(episode_length(mdp, length_logits))
        return exact_comparison(
            scales,
            lengths,
            tolerance=1e-9,
            method=f"scale of grad J over the theorem's sum, against E[episode length] under "
            f"{'pi' if length_policy == 'pi' else 'the uniform policy'}",
        )

    return run


def wrong_weights(cases=episodic_cases):
    """Control: uniform state weights in place of mu (gamma = 1)."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                proportionality_check(
                    all_actions_sum(mdp, logits, torch.ones(6, dtype=torch.float64)),
                    tabular.exact_policy_gradient(mdp, logits),
                )
                for mdp, logits in cases(ctx, 1.0)
            ]
        )

    return run


# --- the size of the missing gamma^t in 004's own setting ----------------------------------------

#: 004's own setting for the effect: discount 0.99 over CartPole-length episodes whose state
#: moves on in time (a chain of 50 states, advancing with probability 0.1 to 0.3 per step:
#: about 250 steps, where gamma^t has fallen to 0.08; CartPole caps at 500).
REALISTIC_SETTING = tabular.CHAIN_SETTING


def realistic_cases(ctx: Context, gamma: float = 0.99):
    """REALISTIC_SETTING's ten chains with random softmax policies."""
    return tabular.random_chain_cases(ctx.cpu_generator(), gamma=gamma)


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
            "gamma = 1, ten episodic MDPs whose end depends on the action (exact, linear solves)",
            Kind.EXACT,
            pgt_with_mu(1.0, length_varying_cases),
        ),
        check(
            "gamma = 1: the constant is E[episode length] under pi (exact)",
            Kind.EXACT,
            proportionality_constant("pi"),
        ),
        beyond_conditions(
            "gamma = 0.9, 004's discounted J, mu = visit frequency (exact)",
            Kind.EXACT,
            pgt_with_mu(DISCOUNT, length_varying_cases),
        ),
        negative_control(
            "uniform state weights in place of mu, gamma = 1 (exact)",
            Kind.EXACT,
            wrong_weights(length_varying_cases),
            slip=Slip("uniform state weights where mu belongs", SlipKind.WRONG_TERM),
        ),
        negative_control(
            "the constant as E[episode length] under the uniform policy, gamma = 1 (exact)",
            Kind.EXACT,
            proportionality_constant("uniform"),
            slip=Slip(
                "the episode length of another policy (one that ignores how pi ends "
                "episodes) as the constant",
                SlipKind.WRONG_TERM,
            ),
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
            wrong_weights(),
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


def sampling_form_effect(ctx: Context) -> Finding:
    """The right side E_mu[G_t grad pi / pi] is grad J / E[T]: how far the printed equation
    (read with grad J on its left, as intended) is from grad J, on episodes of CartPole's
    length (gamma = 1, the form's condition)."""
    errors = []
    for mdp, logits in realistic_cases(ctx, gamma=1.0):
        rhs = theorem_sum(mdp, logits)
        g = tabular.exact_policy_gradient(mdp, logits)
        errors.append(float((rhs - g).norm() / g.norm()))
    return effect_size(
        float(np.median(errors)),
        measure="||E_mu[G_t grad log pi(A_t|S_t)] - grad J|| / ||grad J||, median",
        setting=REALISTIC_SETTING.replace("gamma = 0.99", "gamma = 1"),
    )


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
            wrong_weights(),
            slip=Slip("uniform state weights where mu belongs", SlipKind.WRONG_TERM),
        ),
        effect(
            "discrepancy of the right side from grad J, CartPole-length episodes (exact)",
            Kind.EXACT,
            sampling_form_effect,
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
    conditions="004's own objective, J = E[sum_t gamma^t r_t] (its first equation), with "
    "gamma < 1; gamma = 1 shown beside it. Sutton and Barto's update for a discounted J "
    "carries gamma^t.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="004 defines J with gamma^t, so gamma < 1 is inside its own setting. Summed over an "
    "episode the update is unbiased for grad J when gamma = 1; for gamma < 1 it misses the "
    "factor gamma^t and follows a different vector; with gamma^t it is exact again. A missing "
    "factor, the idea intact: an erratum.",
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
        check(
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


def actor_critic_line2_effect(ctx: Context) -> Finding:
    """With an exact critic v = v_pi, the expected actor-critic update (delta_t, each step
    weighted by gamma^t as Sutton and Barto's I) is grad J; line 2's R_{t+1} - v(S_t) keeps only
    the immediate reward (v(S_t), a state baseline, drops out). Its relative distance from
    grad J on CartPole-length chains with CartPole's reward, 1 per step, where an action matters
    only through how long the episode lasts."""
    errors = []
    for mdp, logits in realistic_cases(ctx):
        rewards = (~mdp.terminal)[:, None].double().expand_as(mdp.rewards).clone()
        mdp = TabularMDP(mdp.transitions, rewards, mdp.initial, mdp.terminal, mdp.gamma)
        g = tabular.exact_policy_gradient(mdp, logits)
        pi = torch.softmax(logits, -1)
        # sum_s rho(s) sum_a pi(a|s) (r(s, a) - v(s)) d log pi(a|s) / d logits(s, b)
        advantage = mdp.rewards - (pi * mdp.rewards).sum(-1, keepdim=True)
        line2 = visitation(mdp, logits)[:, None] * pi * advantage
        errors.append(float((line2 - g).norm() / g.norm()))
    return effect_size(
        float(np.median(errors)),
        measure="||E[update with line 2's R_{t+1} - v(S_t)] - grad J|| / ||grad J||, median",
        setting=REALISTIC_SETTING.replace("gamma", "reward 1 per step as in CartPole, gamma"),
    )


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
        effect(
            "direction error of the line-2 update with an exact critic, gamma = 0.99 (exact)",
            Kind.EXACT,
            actor_critic_line2_effect,
        ),
    ),
)

# --- 004-propto-meaning ------------------------------------------------------------------------


def proportion_as(reading: str, offset: float = 0.0):
    """gamma = 1, episodes whose length depends on pi: grad J against the theorem's sum S read as
    a direct proportion with the constant E[T] + offset (E[T] > 0, the proof's sum_s eta(s)), or
    as an inverse proportion, grad J = k / S componentwise with the best-fitting common k."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in length_varying_cases(ctx, 1.0):
            S = theorem_sum(mdp, logits).flatten()
            g = tabular.exact_policy_gradient(mdp, logits).flatten()
            if reading == "direct":
                findings.append(exact_comparison(g, (episode_length(mdp, logits) + offset) * S))
            else:
                live = S.abs() > 1e-12  # the terminal state's row is 0 on both sides
                inverse = 1 / S[live]
                k = (g[live] @ inverse) / (inverse @ inverse)
                findings.append(exact_comparison(g[live], k * inverse))
        return all_hold(findings)

    return run


def inverse_reading_effect(ctx: Context) -> Finding:
    """How far grad J is from the best inverse proportion k / S, on CartPole-length chains."""
    errors = []
    for mdp, logits in realistic_cases(ctx, gamma=1.0):
        S = theorem_sum(mdp, logits).flatten()
        g = tabular.exact_policy_gradient(mdp, logits).flatten()
        live = S.abs() > 1e-12
        inverse = 1 / S[live]
        k = (g[live] @ inverse) / (inverse @ inverse)
        errors.append(float((g[live] - k * inverse).norm() / g.norm()))
    return effect_size(
        float(np.median(errors)),
        measure="||grad J - k / S|| / ||grad J|| for the best k (S the theorem's sum), median",
        setting=REALISTIC_SETTING.replace("gamma = 0.99", "gamma = 1"),
    )


PROPTO_MEANING = Claim(
    id="004-propto-meaning",
    title="The theorem's proportionality is either direct or inverse",
    statement=r"\nabla J(\theta) \propto S \text{ means either } \nabla J = c\,S \text{ or } "
    r"\nabla J = c / S,\quad S = \sum_{s} \mu(s) \sum_{a} q_\pi(s,a)\, \nabla_\theta \pi(a|s,\theta)",
    sources=(
        Source(
            "004",
            "Policy Gradient",
            "it’s either directly proportional or inversely proportional",
        ),
    ),
    conditions="The episodic theorem 004 proves (gamma = 1), on MDPs whose episode length depends "
    "on the policy.",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="The proof 004 copies ends with grad J = (sum_s' eta(s')) sum_s mu(s) sum_a "
    "grad pi(a|s) q(s, a): the proportionality is direct, and its constant is the sum of the "
    "expected visits, the expected episode length, a positive number (so ascent along the sum is "
    "ascent on J). The inverse reading, grad J a multiple of the componentwise reciprocal of the "
    "sum, is no reading of the symbol and does not hold.",
    checks=(
        check(
            "direct: grad J = E[T] S, E[T] > 0 the expected episode length (exact)",
            Kind.EXACT,
            proportion_as("direct"),
        ),
        check(
            "inverse: grad J = k / S componentwise, best common k (exact)",
            Kind.EXACT,
            proportion_as("inverse"),
        ),
        negative_control(
            "direct with the constant E[T] + 1, the terminal step counted (exact)",
            Kind.EXACT,
            proportion_as("direct", offset=1.0),
            slip=Slip(
                "the episode length counted with its terminal state (E[T] + 1)", SlipKind.INDEX
            ),
        ),
        effect(
            "distance of grad J from the best inverse proportion, CartPole-length episodes (exact)",
            Kind.EXACT,
            inverse_reading_effect,
        ),
    ),
)

# --- 004-mu-long-run-frequency -----------------------------------------------------------------

#: Gauss-Legendre nodes on [0, 1] for E[N(s) / T] = int_0^1 E[N(s) x^(T - 1)] dx.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)
_NODES, _WEIGHTS = 0.5 * (_NODES + 1), 0.5 * _WEIGHTS


def long_run_frequency(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """The fraction of time steps spent in each live state over endlessly repeated episodes:
    the stationary law of the chain that restarts from the initial law whenever an episode
    ends (one restart step per episode), restricted to the live states and renormalised."""
    _, P, _ = tabular.policy_matrices(mdp, logits)
    P = P.clone()
    P[mdp.terminal] = mdp.initial  # the terminal step hands over to a new episode
    n = mdp.num_states
    A = torch.cat(
        [(P.T - torch.eye(n, dtype=torch.float64)), torch.ones(1, n, dtype=torch.float64)]
    )
    b = torch.zeros(n + 1, dtype=torch.float64)
    b[-1] = 1.0
    stationary = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    live = stationary * (~mdp.terminal)
    return live / live.sum()


def mean_episode_frequency(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """E[N(s) / T], the per-episode visit frequency averaged over episodes (a mean of ratios):
    int_0^1 d_x(s) h_x(s) dx with d_x = sum_t x^t Pr(s_t = s) and h_x(s) = E[x^(steps left
    after this one) | s], both by linear solves, the integral by 64-node Gauss-Legendre."""
    _, P, _ = tabular.policy_matrices(mdp, logits)
    live = ~mdp.terminal
    P_live, end = P[live][:, live], P[live][:, mdp.terminal].sum(-1)
    x = torch.as_tensor(_NODES, dtype=torch.float64)[:, None, None]
    eye = torch.eye(int(live.sum()), dtype=torch.float64)
    M = eye - x * P_live  # (nodes, n, n)
    d = torch.linalg.solve(M.transpose(1, 2), mdp.initial[live].expand(len(_NODES), -1))
    h = torch.linalg.solve(M, end.expand(len(_NODES), -1))
    freq = torch.zeros(mdp.num_states, dtype=torch.float64)
    freq[live] = (torch.as_tensor(_WEIGHTS, dtype=torch.float64)[:, None] * d * h).sum(0)
    return freq


def mu_as_long_run_frequency(candidate: str):
    """The long-run fraction of time steps in s against a candidate for it: mu = eta / sum eta
    (ratio of means, the theorem's mu) or E[N(s) / T] (the mean of per-episode frequencies)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in length_varying_cases(ctx, 1.0):
            if candidate == "mu":
                value = on_policy_distribution(mdp, logits)
            else:
                value = mean_episode_frequency(mdp, logits)
            findings.append(exact_comparison(value, long_run_frequency(mdp, logits)))
        return all_hold(findings)

    return run


MU_LONG_RUN_FREQUENCY = Claim(
    id="004-mu-long-run-frequency",
    title="mu(s) is how frequently the agent visits s in the long run",
    statement=r"\mu(s) = \frac{\eta(s)}{\sum_{s'} \eta(s')} = \lim_{n \to \infty} "
    r"\frac{\#\{\text{steps in } s \text{ among the first } n\}}{n}",
    sources=(
        Source(
            "004", "Policy Gradient", "“how frequently the agent visits state s” in the long run"
        ),
    ),
    conditions="The episodic theorem (gamma = 1): eta(s) the expected number of visits to s per "
    "episode, as 004's proof defines it; the long run is a run of repeated episodes, each "
    "starting afresh from the initial distribution (an episode on its own has no long run: it "
    "ends).",
    expected=Verdict.CONFIRMED,
    reading="004's proof defines mu(s) = eta(s) / sum_s' eta(s'), the expected visits per episode "
    "normalised. Over a long run of episodes, the fraction of steps spent in s is the total "
    "visits over the total steps, which by the renewal-reward argument tends to the ratio of the "
    "per-episode means, eta(s) / E[T]: the stationary law of the chain that restarts each "
    "episode. So the words hold, with the long run taken across episodes. It is not the average "
    "of each episode's own visit frequency, E[N(s) / T], a mean of ratios that weights short "
    "episodes as much as long ones.",
    checks=(
        check(
            "mu = eta / sum eta against the restarting chain's stationary law, ten MDPs (exact)",
            Kind.EXACT,
            mu_as_long_run_frequency("mu"),
        ),
        negative_control(
            "E[N(s) / T], the mean of per-episode frequencies, in mu's place (exact)",
            Kind.EXACT,
            mu_as_long_run_frequency("mean of ratios"),
            slip=Slip(
                "each episode's visit frequency averaged over episodes (a mean of ratios) "
                "where the ratio of the means belongs",
                SlipKind.WRONG_TERM,
            ),
        ),
    ),
)

# --- 004-weighted-average-of-actions -----------------------------------------------------------


def action_weight_sums(score: bool, cases=length_varying_cases):
    """Per state s and logit theta_j: the sum over actions of the weights the all-actions sum
    puts on q(s, a), d pi(a|s) / d theta_j (or, for the control, d log pi(a|s) / d theta_j)."""

    def sums(ctx: Context) -> list[torch.Tensor]:
        out = []
        for _, logits in cases(ctx, 1.0):
            theta = logits.detach().clone()

            def per_action(t: torch.Tensor) -> torch.Tensor:
                p = torch.softmax(t, -1)
                return p.log() if score else p

            jac = torch.autograd.functional.jacobian(per_action, theta)  # (S, A, S, A)
            out.append(jac.sum(1))  # sum over a: (S, S, A)
        return out

    return sums


def weights_sum_to(total: float, score: bool = False):
    """The weights sum_a d pi(a|s) / d theta against ``total``: 1 for an average, 0 as grad 1."""

    def run(ctx: Context) -> Finding:
        return all_hold(
            [
                exact_comparison(w, torch.full_like(w, total), tolerance=1e-12)
                for w in action_weight_sums(score)(ctx)
            ]
        )

    return run


def outside_any_average_effect(ctx: Context) -> Finding:
    """The fraction of components sum_a q(s, a) d pi(a|s) / d theta_(s, b) = pi_b (q_b - v(s))
    that lie outside [min_a q(s, a), max_a q(s, a)], where every weighted average of the
    actions' values lies, on CartPole-length chains."""
    outside, total = 0, 0
    for mdp, logits in realistic_cases(ctx):
        q = action_values(mdp, logits)[:-1]  # the live states
        pi = torch.softmax(logits, -1)[:-1]
        component = pi * (q - (pi * q).sum(-1, keepdim=True))
        low, high = q.min(-1, keepdim=True).values, q.max(-1, keepdim=True).values
        outside += int(((component < low) | (component > high)).sum())
        total += component.numel()
    return effect_size(
        outside / total,
        measure="fraction of the sum's components outside the range of the actions' values",
        setting=REALISTIC_SETTING,
    )


WEIGHTED_AVERAGE_OF_ACTIONS = Claim(
    id="004-weighted-average-of-actions",
    title="sum_a q(s, a) grad pi(a|s) is a weighted average of all possible actions",
    statement=r"\sum_a q_\pi(s,a) \nabla_{\theta} \pi(a|s,\theta) \text{ is a weighted average "
    r"over } a\text{: weights } \nabla_\theta \pi(a|s,\theta) \text{ with } \sum_a "
    r"\nabla_\theta \pi(a|s,\theta) = 1",
    sources=(Source("004", "Policy Gradient", "is a weighted average of all possible actions"),),
    conditions="Softmax policies on the theorem's MDPs; the weights of an average sum to one.",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="The weights grad pi(a|s) sum over actions to grad of sum_a pi(a|s) = grad 1 = 0, "
    "not to 1: the expression is a weighted sum whose weights cancel, so it is unchanged when a "
    "constant is added to every q(s, a) (which is why a state baseline is free), whereas an "
    "average would move with the constant. It weighs each action's value against the others; "
    "the weighted average of the actions' values is v(s) = sum_a pi(a|s) q(s, a).",
    checks=(
        check(
            "the weights sum_a grad pi(a|s) sum to 1, every state and logit (exact)",
            Kind.EXACT,
            weights_sum_to(1.0),
        ),
        check(
            "corrected: the weights sum to 0, every state and logit (exact)",
            Kind.EXACT,
            weights_sum_to(0.0),
        ),
        negative_control(
            "the score grad log pi(a|s) as the weights, summed against 0 (exact)",
            Kind.EXACT,
            weights_sum_to(0.0, score=True),
            slip=Slip("grad log pi(a|s) where grad pi(a|s) belongs", SlipKind.WRONG_TERM),
        ),
        effect(
            "components no weighted average of the actions' values can take, gamma = 0.99 (exact)",
            Kind.EXACT,
            outside_any_average_effect,
        ),
    ),
)

# --- 004-pgt-proof-notation --------------------------------------------------------------------


def random_start_cases(ctx: Context) -> list[tuple[TabularMDP, torch.Tensor]]:
    """Five random episodic MDPs with a random start state (a softmax law over 5 states) and
    action-dependent ends (:func:`random_end_mdp`), gamma = 1, random softmax policies."""
    gen = ctx.cpu_generator()
    return [
        (random_end_mdp(5, 3, gen, 1.0), torch.randn(6, 3, generator=gen, dtype=torch.float64))
        for _ in range(5)
    ]


def value_jacobian(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """grad v_pi(s) for every s, by autograd through the linear solve: (S, S, A)."""
    return torch.autograd.functional.jacobian(lambda t: tabular.state_values(mdp, t), logits)


def policy_term(mdp: TabularMDP, logits: torch.Tensor, wrt: str) -> torch.Tensor:
    """sum_a grad pi(a|x) q(x, a) per state x, as (S, S, A): with grad_theta pi (softmax
    logits), or, as printed, grad_pi read as the gradient with respect to pi's probabilities
    (d pi(a|x) / d pi(b|y) = [x = y, a = b], so the term is q(x, .) in row x)."""
    q = action_values(mdp, logits)
    S, A = q.shape
    out = torch.zeros(S, S, A, dtype=torch.float64)
    for x in range(S):
        if wrt == "theta":
            out[x] = all_actions_sum(
                mdp, logits, torch.nn.functional.one_hot(torch.tensor(x), S).double()
            )
        else:
            out[x, x] = q[x]
    return out


def proof_line(part: str):
    """One step of 004's proof on random-start MDPs, gamma = 1, as printed or corrected.

    ``kernel``: line 4, grad v(s) = sum_a [grad pi q + pi sum_s' K(s'|s, a) grad v(s')], K = p
    (corrected) or the document's q read as the action value, K(s'|s, a) = q_pi(s', a);
    ``gradient``: the unrolled sum sum_x eta(x) sum_a grad pi(a|x) q(x, a) with grad_theta or
    the printed grad_pi, against grad J; ``start``: grad J = grad v(s_0) at each start state
    (printed, a fixed start), or E_{s_0 ~ rho_0}[grad v(s_0)] (corrected); ``k from 1``: the
    control, the unrolled sum with Pr(s_0 -> x, k) summed from k = 1."""

    def run(ctx: Context) -> Finding:
        findings = []
        for mdp, logits in random_start_cases(ctx):
            grad_v = value_jacobian(mdp, logits)
            grad_J = tabular.exact_policy_gradient(mdp, logits)
            eta = visitation(mdp, logits, 1.0)
            if part.startswith("kernel"):
                pi = torch.softmax(logits, -1) * (~mdp.terminal)[:, None]
                K = mdp.transitions
                if part == "kernel printed":
                    K = action_values(mdp, logits).T[None].expand_as(K)  # K[s, a, s'] = q(s', a)
                rhs = policy_term(mdp, logits, "theta") + torch.einsum(
                    "sa,sat,tij->sij", pi, K, grad_v
                )
                findings.append(exact_comparison(rhs, grad_v))
            elif part.startswith("gradient") or part == "k from 1":
                wrt = "pi" if part == "gradient printed" else "theta"
                weights = eta - mdp.initial if part == "k from 1" else eta
                unrolled = torch.einsum("x,xij->ij", weights, policy_term(mdp, logits, wrt))
                findings.append(exact_comparison(unrolled, grad_J))
            elif part == "start printed":
                starts = torch.nonzero(mdp.initial > 0).flatten()
                findings += [exact_comparison(grad_v[s], grad_J) for s in starts]
            else:  # start corrected
                findings.append(
                    exact_comparison(torch.einsum("s,sij->ij", mdp.initial, grad_v), grad_J)
                )
        return all_hold(findings)

    return run


def fixed_start_effect(ctx: Context) -> Finding:
    """E_{s_0 ~ rho_0} ||grad v(s_0) - grad J|| / ||grad J|| on CartPole-length chains whose
    start is spread over their first 5 states (CartPole starts near, not at, one state)."""
    errors = []
    for mdp, logits in realistic_cases(ctx, gamma=1.0):
        initial = torch.zeros_like(mdp.initial)
        initial[:5] = 0.2
        mdp = TabularMDP(mdp.transitions, mdp.rewards, initial, mdp.terminal, 1.0)
        grad_v = value_jacobian(mdp, logits)
        grad_J = tabular.exact_policy_gradient(mdp, logits)
        errors.append(
            float(sum(0.2 * (grad_v[s] - grad_J).norm() for s in range(5)) / grad_J.norm())
        )
    return effect_size(
        float(np.median(errors)),
        measure="E_{s_0 ~ rho_0} ||grad v(s_0) - grad J|| / ||grad J||, median",
        setting="10 random episodic chains (50 states, 3 actions, about 250 steps), start "
        "uniform over the first 5 states, gamma = 1",
    )


PGT_PROOF_NOTATION = Claim(
    id="004-pgt-proof-notation",
    title="The proof's notation: q(s', r|s, a), nabla_pi(a|x) and grad J = grad v(s_0)",
    statement=r"\nabla v_\pi(s) = \sum_a \Big[\nabla \pi(a|s) q_\pi(s,a) + \pi(a|s) \sum_{s'} "
    r"q(s'|s,a) \nabla v_\pi(s')\Big],\quad \nabla J(\theta) = \nabla v_\pi(s_0) = \sum_x "
    r"\eta(x) \sum_a \nabla_\pi(a|x) q_\pi(x,a)",
    sources=(
        Source(
            "004",
            "Proof of our Policy Gradient Theorem (episodic case, from Sutton textbook)",
            r"\nabla J(\theta) &= \nabla v_{\pi}(s_{0})",
        ),
        Source(
            "004",
            "Proof of our Policy Gradient Theorem (episodic case, from Sutton textbook)",
            r"\sum_{s', r} q(s',r|s,a)(r+v_{\pi}(s'))",
        ),
        Source(
            "004",
            "Proof of our Policy Gradient Theorem (episodic case, from Sutton textbook)",
            r"\sum_{a} \nabla_{\pi}(a|s)q_{\pi}(s,a)",
        ),
    ),
    conditions="The episodic case (gamma = 1) the proof treats; 004 defines J as an expectation "
    "over trajectories and does not say that episodes start in one fixed state.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="Sutton and Barto write p(s', r|s, a), the dynamics, and grad pi(a|x), the gradient "
    "of the policy in theta; 004 writes q, the letter it uses for the action value, and "
    "nabla_pi(a|x), a gradient with respect to pi. Read as written, each step fails; with p and "
    "grad_theta pi every line holds. Sutton and Barto also assume that every episode starts in "
    "one state s_0, which is what makes grad J = grad v(s_0); 004 leaves that out, and with a "
    "random start grad J is the average of grad v(s_0) over the start law. The proof's "
    "conclusion stands.",
    checks=(
        check(
            "printed line 4: q(s'|s, a) read as the action value q_pi(s', a) (exact)",
            Kind.EXACT,
            proof_line("kernel printed"),
        ),
        check(
            "printed: nabla_pi(a|x) read as the gradient with respect to pi's probabilities (exact)",
            Kind.EXACT,
            proof_line("gradient printed"),
        ),
        check(
            "printed: grad J = grad v(s_0) at each start state, random start (exact)",
            Kind.EXACT,
            proof_line("start printed"),
        ),
        check("corrected line 4: p(s'|s, a) (exact)", Kind.EXACT, proof_line("kernel corrected")),
        check(
            "corrected: sum_x eta(x) sum_a grad_theta pi(a|x) q(x, a) = grad J (exact)",
            Kind.EXACT,
            proof_line("gradient corrected"),
        ),
        check(
            "corrected: grad J = E_{s_0 ~ rho_0}[grad v(s_0)] (exact)",
            Kind.EXACT,
            proof_line("start corrected"),
        ),
        negative_control(
            "corrected sum with Pr(s_0 -> x, k) summed from k = 1 (exact)",
            Kind.EXACT,
            proof_line("k from 1"),
            slip=Slip("the visit counts summed from k = 1, missing k = 0", SlipKind.INDEX),
        ),
        effect(
            "error of grad v(s_0) for grad J, start spread over 5 states, CartPole-length (exact)",
            Kind.EXACT,
            fixed_start_effect,
        ),
    ),
)
