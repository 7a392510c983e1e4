"""003: what a linear softmax policy can express and how one update generalises to other states,
and 003's statements about variance reduction (full return against reward-to-go as episodes
grow, advantage normalisation, mini-batches, batching Pong episodes). All exact: float64
algebra on random instances and enumeration of small bandits and finite MDPs."""

import itertools
from dataclasses import replace

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
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import random_cases
from pgtheory.envs.finite import total_variance
from pgtheory.envs.finite import trajectory_probability
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.estimators import full_return
from pgtheory.estimators import reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding
from pgtheory.stats import effect_size
from pgtheory.stats import exact_properties

SOFTMAX_SECTION = "Illustration: Softmax Policy for Discrete Actions"
VARIANCE_SECTION = "The big problem with REINFORCE is variance"
#: Random linear-softmax instances: actions, features, probe states per instance.
ACTIONS, FEATURES, PROBES = 4, 3, 512

# --- 003-policy-picks-action-in-similar-states ---------------------------------------------------


def _linear_case(ctx: Context, actions: int = ACTIONS, features: int = FEATURES):
    """A random theta (A x D), a state s and probe states s' (standard normal)."""
    gen = ctx.cpu_generator()
    theta = torch.randn(actions, features, generator=gen, dtype=torch.float64)
    s = torch.randn(features, generator=gen, dtype=torch.float64)
    probes = torch.randn(PROBES, features, generator=gen, dtype=torch.float64)
    return theta, s, probes


def _printed_update(theta: torch.Tensor, s: torch.Tensor, a: int, ret: float) -> torch.Tensor:
    """003's update direction for a return R_t: R_t (1 - pi_a) s for the chosen action,
    -R_t pi_k s for the others."""
    pi = torch.softmax(theta @ s, 0)
    rows = [ret * ((1 - pi[k]) * s if k == a else -pi[k] * s) for k in range(len(pi))]
    return torch.stack(rows)


def _probability_rates(theta, direction, states, a) -> torch.Tensor:
    """d/d alpha pi(a|s') at alpha = 0 along theta + alpha * direction, for every s' (exact
    autograd in float64: one alpha per state, so one backward pass gives every derivative)."""
    alpha = torch.zeros(len(states), dtype=torch.float64, requires_grad=True)
    logits = states @ theta.T + alpha[:, None] * (states @ direction.T)
    (rates,) = torch.autograd.grad(torch.softmax(logits, -1)[:, a].sum(), alpha)
    return rates


def similar_states_gain(ret: float, which: str):
    """After an update with return ``ret`` at s for action a = 0: ``which`` = "near" tests that
    pi(a|s') rises at every probe s' closer to s than |s| (similar features); "halfspace"
    tests that the states gaining are exactly those with s . s' > 0."""

    def run(ctx: Context) -> Finding:
        theta, s, probes = _linear_case(ctx)
        a = 0
        if which == "near":  # probes within distance |s| of s: s . s' > 0 follows
            radius = torch.rand(PROBES, 1, generator=ctx.cpu_generator(), dtype=torch.float64)
            probes = s + 0.9 * s.norm() * radius * probes / probes.norm(dim=1, keepdim=True)
        rates = _probability_rates(theta, _printed_update(theta, s, a, ret), probes, a)
        if which == "near":
            wrong = int((rates <= 0).sum())
            failures = [f"{wrong} of {PROBES} nearby states lose probability"] if wrong else []
            checked = f"all {PROBES} states within |s| of s gain probability for the action"
        else:
            similarity = probes @ s
            wrong = int((torch.sign(rates) != torch.sign(similarity)).sum())
            failures = [f"{wrong} of {PROBES} states: gain does not follow s . s'"] if wrong else []
            checked = f"for all {PROBES} probe states, pi(a|s') rises iff s . s' > 0"
        return exact_properties(
            failures,
            method="first-order change of pi(a|s') after the printed update (forward-mode autograd)",
            checked=checked,
            values=rates,
            n=PROBES,
        )

    return run


PICKS_ACTION_IN_SIMILAR_STATES = Claim(
    id="003-policy-picks-action-in-similar-states",
    title="A rewarded linear-softmax update raises the action's probability in similar states",
    statement=r"R_t > 0,\ \theta' = \theta + \alpha R_t \nabla_\theta \log\pi_\theta(a|s):\quad "
    r"\frac{d}{d\alpha}\pi_{\theta'}(a|s')\big|_{\alpha=0} = R_t\,(s\cdot s')\,\pi(a|s')\,"
    r"\langle e_a - \pi(\cdot|s),\, e_a - \pi(\cdot|s')\rangle \text{ has the sign of } s\cdot s'",
    sources=(
        Source(
            "003",
            SOFTMAX_SECTION,
            "so the policy will pick this action more often in similar states",
        ),
    ),
    conditions="Linear softmax z_a(s) = theta_a^T s, one update with R_t > 0 and a small step; "
    "'similar states' read as states with similar features (003's footnote), i.e. near s.",
    expected=Verdict.CONFIRMED,
    reading="Each logit moves by alpha R_t (s . s') (1[k = a] - pi(k|s)), so log pi(a|s') moves by "
    "alpha R_t (s . s') <e_a - pi(.|s), e_a - pi(.|s')>, and that inner product is positive "
    "(its terms are (1 - pi_a)(1 - pi'_a) plus products of probabilities). The states that gain "
    "are exactly the half-space s . s' > 0, which contains every state nearer to s than |s|: "
    "similar states gain, and so do dissimilar ones on the same side (a long s' far from s).",
    checks=(
        check(
            "R_t = 1: states nearer to s than |s| gain probability (exact, 4 actions, 3 features)",
            Kind.EXACT,
            similar_states_gain(1.0, "near"),
        ),
        check(
            "R_t = 1: the states that gain are exactly s . s' > 0 (exact)",
            Kind.EXACT,
            similar_states_gain(1.0, "halfspace"),
        ),
        negative_control(
            "R_t = -1: states nearer to s than |s| gain probability (exact)",
            Kind.EXACT,
            similar_states_gain(-1.0, "near"),
            slip=Slip(
                "a below-average return R_t < 0 (half of 003's normalised returns)",
                SlipKind.CONDITION,
            ),
        ),
    ),
)

# --- 003-linear-hyperplane ------------------------------------------------------------------------


def pairwise_boundary(use_difference: bool):
    """For every pair (i, j): pi(i|s) > pi(j|s) iff w . s > 0 with w = theta_i - theta_j, at
    random states (or, for the control, w = theta_i: one logit's sign)."""

    def run(ctx: Context) -> Finding:
        theta, _, states = _linear_case(ctx)
        pi = torch.softmax(states @ theta.T, -1)
        failures = []
        for i, j in itertools.combinations(range(ACTIONS), 2):
            w = theta[i] - theta[j] if use_difference else theta[i]
            wrong = int(((pi[:, i] > pi[:, j]) != (states @ w > 0)).sum())
            if wrong:
                failures.append(f"pair ({i}, {j}): {wrong} of {PROBES} states on the wrong side")
        return exact_properties(
            failures,
            method="softmax preference against the side of one hyperplane (float64)",
            checked=f"all {ACTIONS * (ACTIONS - 1) // 2} pairs, {PROBES} states each",
            values=pi,
        )

    return run


LINEAR_HYPERPLANE = Claim(
    id="003-linear-hyperplane",
    title="A linear softmax divides state space by a single flat hyperplane",
    statement=r"\pi(i|s) > \pi(j|s) \iff (\theta_i - \theta_j)^\top s > 0",
    sources=(Source("003", SOFTMAX_SECTION, "a single flat hyperplane divides state space into"),),
    conditions="Linear softmax z_a(s) = theta_a^T s, read per pair of actions (i against j) as the "
    "text writes it.",
    expected=Verdict.CONFIRMED,
    reading="The footnote is pairwise: a hyperplane divides state space into 'prefer action i' "
    "and 'prefer action j'. pi(i|s) / pi(j|s) = exp((theta_i - theta_j)^T s), so between two "
    "actions the preference flips on one hyperplane through the origin, as written. (With three "
    "or more actions the region where one action is the most probable is an intersection of its "
    "pairwise half-spaces, a cone; the footnote does not claim otherwise.)",
    checks=(
        check(
            "each pair of 4 actions: preference = side of (theta_i - theta_j) . s = 0 (exact)",
            Kind.EXACT,
            pairwise_boundary(True),
        ),
        negative_control(
            "boundary theta_i . s = 0 in place of (theta_i - theta_j) . s = 0 (exact)",
            Kind.EXACT,
            pairwise_boundary(False),
            slip=Slip("one action's logit in place of the difference of two", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 003-full-return-variance-grows-with-horizon -------------------------------------------------

HORIZONS, GROWTH_MDPS, GROWTH_GAMMA = (1, 2, 3, 4, 5, 6), 5, 0.99


def _rtg_from_zero(mdp, policy, traj):
    """The slip: the reward-to-go summed from 0 instead of t, which is the full return."""
    return full_return(mdp, policy, traj)


def _variances_by_horizon(ctx: Context, rtg_estimator) -> list[list[tuple[float, float]]]:
    """Per random MDP (S = 2, A = 2, gamma = 0.99): (tr Var full, tr Var reward-to-go) per H."""
    gen = ctx.cpu_generator()
    table = []
    for _ in range(GROWTH_MDPS):
        base, logits = next(
            random_cases(gen, 1, states=2, actions=2, horizon=1, gamma=GROWTH_GAMMA)
        )
        rows = []
        for h in HORIZONS:
            mdp = replace(base, horizon=h)
            rows.append(
                (
                    total_variance(mdp, logits, full_return),
                    total_variance(mdp, logits, rtg_estimator),
                )
            )
        table.append(rows)
    return table


def full_return_penalty_grows(rtg_estimator):
    """tr Var[full return] rises with H, and Var[reward-to-go] / Var[full] is lower at the
    longest horizon than at H = 2 (the full return's excess grows with the episode)."""

    def run(ctx: Context) -> Finding:
        table = _variances_by_horizon(ctx, rtg_estimator)
        failures, ratios = [], []
        for m, rows in enumerate(table):
            full = [f for f, _ in rows]
            if any(b <= a for a, b in itertools.pairwise(full)):
                failures.append(f"MDP {m}: Var[full return] not increasing in H")
            first, last = rows[1][1] / rows[1][0], rows[-1][1] / rows[-1][0]
            ratios.append(last)
            if not last < first:
                failures.append(
                    f"MDP {m}: ratio {last:.4g} at H = {HORIZONS[-1]} not below {first:.4g} at H = 2"
                )
        return exact_properties(
            failures,
            method="exact variances by enumeration, H = 1..6",
            checked=f"{len(table)} MDPs: Var[full] rises with H; Var[rtg]/Var[full] at H = "
            f"{HORIZONS[-1]} between {min(ratios):.3g} and {max(ratios):.3g}, below its value at H = 2",
            values=[v for rows in table for pair in rows for v in pair],
        )

    return run


FULL_RETURN_VARIANCE_GROWS = Claim(
    id="003-full-return-variance-grows-with-horizon",
    title="The full return's variance grows in long episodes; reward-to-go's excess saving grows too",
    statement=r"\mathrm{tr\,Var}\Big[R(\tau)\sum_t \nabla\log\pi(a_t|s_t)\Big] \uparrow \text{ in } T,"
    r"\quad \frac{\mathrm{tr\,Var}[\sum_t R_t \nabla\log\pi]}{\mathrm{tr\,Var}[R(\tau)\sum_t \nabla\log\pi]} \downarrow \text{ in } T",
    sources=(
        Source(
            "003",
            "Third Trick: Credit assignment",
            "gives the same weight to every action that can high variance in long episodes",
        ),
    ),
    conditions="Random finite MDPs (2 states, 2 actions, standard-normal rewards), softmax "
    "policies, gamma = 0.99, horizons 1 to 6 (exact enumeration).",
    expected=Verdict.CONFIRMED,
    reading="With R(tau) every score term is multiplied by the sum of all T rewards, so the "
    "variance gathers every product of a score and a reward, past ones included; the stepwise "
    "return drops the past rewards, whose number grows with the step. Both variances grow with "
    "T, the full return's faster.",
    checks=(
        check(
            "Var[full] rises with H; Var[rtg]/Var[full] falls from H = 2 to H = 6 (exact, gamma = 0.99)",
            Kind.EXACT,
            full_return_penalty_grows(reward_to_go),
        ),
        negative_control(
            "the reward-to-go summed from 0 (the full return) (exact)",
            Kind.EXACT,
            full_return_penalty_grows(_rtg_from_zero),
            slip=Slip("the reward-to-go summed from 0 where it starts at t", SlipKind.INDEX),
        ),
    ),
)

# --- 003-advantage-normalization-reduces-variance -------------------------------------------------

BANDITS, BANDIT_ARMS, BATCH = 5, 3, 4
NORMALISE_EPS = 1e-8  # the usual (A - mean) / (std + eps): a batch of equal advantages gives 0


def _batch_estimates(logits: torch.Tensor, rewards: torch.Tensor, n: int, mode: str):
    """Every batch of n actions of a softmax bandit, its probability and the estimate
    (1/n) sum_i w_i grad log pi(a_i), w = A = r - V (``plain``), the batch-normalised
    advantage (``normalised``), or n copies of one draw (``copies``, the correlated slip)."""
    pi = torch.softmax(logits, 0)
    value = (pi * rewards).sum()
    if mode == "copies":
        actions = torch.arange(len(pi))[:, None].expand(len(pi), n)
        prob = pi
    else:
        actions = torch.tensor(list(itertools.product(range(len(pi)), repeat=n)))
        prob = pi[actions].prod(1)
    adv = rewards[actions] - value
    if mode == "normalised":
        adv = (adv - adv.mean(1, keepdim=True)) / (adv.std(1, keepdim=True) + NORMALISE_EPS)
    score = torch.eye(len(pi), dtype=torch.float64)[actions] - pi
    return prob, (adv[..., None] * score).mean(1), pi * (rewards - value)


def _moments(prob: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, float]:
    mean = (prob[:, None] * g).sum(0)
    return mean, float((prob[:, None] * (g - mean) ** 2).sum())


def _bandits(ctx: Context):
    gen = ctx.cpu_generator()
    for _ in range(BANDITS):
        logits = torch.randn(BANDIT_ARMS, generator=gen, dtype=torch.float64)
        yield logits, 1 + 3 * torch.randn(BANDIT_ARMS, generator=gen, dtype=torch.float64)


def minibatch_one_over_n(mode: str):
    """tr Var of the batch-mean estimate at n = 4 against a quarter of n = 1 (exact)."""

    def run(ctx: Context) -> Finding:
        failures, values = [], []
        for b, (logits, rewards) in enumerate(_bandits(ctx)):
            _, single = _moments(*_batch_estimates(logits, rewards, 1, "plain")[:2])
            _, batch = _moments(*_batch_estimates(logits, rewards, BATCH, mode)[:2])
            values += [single, batch]
            if abs(batch * BATCH / single - 1) > 1e-9:
                failures.append(f"bandit {b}: n Var_n / Var_1 = {batch * BATCH / single:.4g}")
        return exact_properties(
            failures,
            method="exact variances by enumeration of the batches",
            checked=f"{BANDITS} bandits: Var at n = {BATCH} is Var at n = 1 over {BATCH}",
            values=values,
        )

    return run


def _relative_variance(logits, rewards, n, mode) -> tuple[float, float]:
    """tr Var / |E|^2 (scale-free: the normalised estimate lives on another scale) and the
    cosine between the expected estimate and grad J."""
    prob, g, grad = _batch_estimates(logits, rewards, n, mode)
    mean, var = _moments(prob, g)
    return var / float(mean @ mean), float(mean @ grad / (mean.norm() * grad.norm()))


def normalisation_reduces_variance(ctx: Context) -> Finding:
    """Batch-normalised advantages against A = r - V at the same batch size: is the variance
    relative to the squared mean lower on every bandit? The bias (cosine) goes in the note."""
    failures, values, cosines = [], [], []
    for b, (logits, rewards) in enumerate(_bandits(ctx)):
        plain, _ = _relative_variance(logits, rewards, BATCH, "plain")
        normalised, cos = _relative_variance(logits, rewards, BATCH, "normalised")
        values += [plain, normalised]
        cosines.append(cos)
        if not normalised < plain:
            failures.append(
                f"bandit {b}: relative variance {normalised:.4g} normalised, {plain:.4g} plain"
            )
    bias = f"cos(E[normalised], grad J) from {min(cosines):.4g} to {max(cosines):.4g}"
    return exact_properties(
        [*failures, bias] if failures else [],
        method=f"exact relative variances (tr Var / |E|^2) by enumeration, batch of {BATCH}",
        checked=f"{BANDITS} bandits: normalised below plain; {bias}",
        values=values,
    )


def normalisation_effect(ctx: Context) -> Finding:
    """Median over bandits of relative variance (normalised) / (plain) - 1, batch of 8."""
    ratios = []
    for logits, rewards in _bandits(ctx):
        plain, _ = _relative_variance(logits, rewards, 8, "plain")
        normalised, _ = _relative_variance(logits, rewards, 8, "normalised")
        ratios.append(normalised / plain - 1)
    return effect_size(
        float(torch.tensor(ratios).median()),
        measure="relative variance with normalised advantages / without, minus one (median)",
        setting=f"{BANDITS} random {BANDIT_ARMS}-armed softmax bandits, A = r - V, batches of 8",
    )


ADVANTAGE_NORMALISATION = Claim(
    id="003-advantage-normalization-reduces-variance",
    title="Advantage normalisation and mini-batches further reduce variance",
    statement=r"\hat g_n = \frac1n\sum_{i=1}^n \frac{A_i - \bar A}{s_A}\nabla\log\pi(a_i):\ "
    r"\frac{\mathrm{tr\,Var}[\hat g_n]}{\|\mathbb{E}\hat g_n\|^2} < "
    r"\frac{\mathrm{tr\,Var}[\hat g^{A}_n]}{\|\mathbb{E}\hat g^{A}_n\|^2},\quad "
    r"\mathrm{Var}[\hat g^{A}_n] = \mathrm{Var}[\hat g^{A}_1]/n",
    sources=(
        Source(
            "003",
            VARIANCE_SECTION,
            "We can further reduce variance by advantage normalization and using mini-batch updates.",
        ),
    ),
    conditions="A_t = R_t - V (the critic's exact value, as 003's Actor-Critic has it), softmax "
    "bandits with 3 arms, batches of 4; normalisation over the batch with std + 1e-8. The "
    "normalised estimate is on another scale, so variance is compared relative to the squared "
    "mean (the noise at a matched step length).",
    expected=Verdict.REFUTED,
    severity=Severity.IMPRECISE,
    reading="Averaging n independent samples divides the variance by n. Normalising divides by a "
    "batch statistic: a change of scale (a step-size control) that the comparison must factor "
    "out, plus a batch-mean baseline that adds noise to an advantage already centred by V. "
    "Because the batch's mean and spread depend on the sampled actions, the expected update is "
    "also no longer parallel to grad J.",
    checks=(
        check(
            "mini-batches: Var at n = 4 is Var at n = 1 over 4 (exact)",
            Kind.EXACT,
            minibatch_one_over_n("plain"),
        ),
        check(
            "normalised advantages: lower relative variance, 5 bandits, batch of 4 (exact)",
            Kind.EXACT,
            normalisation_reduces_variance,
        ),
        negative_control(
            "a batch of 4 copies of one draw (exact)",
            Kind.EXACT,
            minibatch_one_over_n("copies"),
            slip=Slip("a batch whose samples are not independent (copies)", SlipKind.CONDITION),
        ),
        effect(
            "relative variance normalised / plain - 1, batches of 8 (exact)",
            Kind.EXACT,
            normalisation_effect,
        ),
    ),
)

# --- 003-batching-reduces-variance ----------------------------------------------------------------

EPISODE_BATCHES, BATCH_GAMMA = (1, 2, 3), 0.99


def _episode_batches(mdp: FiniteMDP, logits: torch.Tensor, b: int, pipeline: str):
    """Every batch of b episodes (H = 2), its probability and the batch's update direction:
    ``plain`` (per-episode reward-to-go, summed and divided by batch_size, as block 11 scales
    it) or ``copies`` (b copies of one episode)."""
    policy = SoftmaxPolicy(logits)
    traj = enumerate_trajectories(mdp)
    p = trajectory_probability(mdp, policy, traj)
    keep = p > 0
    p, states, actions = p[keep], traj.states[keep], traj.actions[keep]
    n, h = len(p), mdp.horizon
    if pipeline == "copies":
        index, prob = torch.arange(n)[:, None].expand(n, b), p
    else:
        index = torch.tensor(list(itertools.product(range(n), repeat=b)))
        prob = p[index].prod(1)
    s, a = states[index].flatten(1), actions[index].flatten(1)
    rewards = mdp.rewards[s, a]
    weights = discounted_reward_to_go(rewards.reshape(-1, b, h), mdp.gamma).reshape(-1, b * h)
    score = policy.score(s, a)
    return prob, (score * weights[..., None, None]).sum(1).flatten(1) / b


def batching_reduces_variance(pipeline: str):
    """Exact, four random MDPs (S = 2, A = 2, H = 2, gamma = 0.99): the update's variance with
    a batch of 3 episodes against a third of one episode's."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        failures, values = [], []
        for m, (mdp, logits) in enumerate(
            random_cases(gen, 4, states=2, actions=2, horizon=2, gamma=BATCH_GAMMA)
        ):
            row = [
                _moments(*_episode_batches(mdp, logits, b, pipeline))[1] for b in EPISODE_BATCHES
            ]
            values += row
            if abs(row[-1] * EPISODE_BATCHES[-1] / row[0] - 1) > 1e-9:
                failures.append(f"MDP {m}: 3 Var_3 / Var_1 = {row[-1] * 3 / row[0]:.4g}")
        return exact_properties(
            failures,
            method="exact variances by enumeration of batches of episodes",
            checked="4 MDPs: Var_3 = Var_1 / 3",
            values=values,
        )

    return run


BATCHING_REDUCES_VARIANCE = Claim(
    id="003-batching-reduces-variance",
    title="Batching episodes together reduces the variance of the update",
    statement=r"\mathrm{Var}\Big[\frac1B\sum_{b=1}^B \hat g(\tau_b)\Big] = \frac1B\mathrm{Var}[\hat g(\tau)]",
    sources=(
        Source(
            "003",
            "Forward Pass",
            "so we batch episodes together, which helps with variance reduction.",
        ),
    ),
    conditions="Independent episodes; the batch loss divided by batch_size as 003's Pong code "
    "does; random finite MDPs with 2 states, 2 actions, 2 steps, gamma = 0.99.",
    expected=Verdict.CONFIRMED,
    reading="Independent episodes' updates add their variances, so their mean has 1/B of one "
    "episode's whatever the episode length; copies of one episode (or strongly correlated "
    "episodes) would not gain.",
    checks=(
        check(
            "per-episode reward-to-go: Var with 3 episodes = Var with 1 over 3 (exact)",
            Kind.EXACT,
            batching_reduces_variance("plain"),
        ),
        negative_control(
            "a batch of 3 copies of one episode (exact)",
            Kind.EXACT,
            batching_reduces_variance("copies"),
            slip=Slip(
                "episodes in the batch that are not independent (copies)", SlipKind.CONDITION
            ),
        ),
    ),
)
