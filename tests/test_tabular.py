"""The linear-solve engine against finite differences and against Monte Carlo rollouts."""

import torch

from pgtheory.envs.tabular import action_values
from pgtheory.envs.tabular import exact_policy_gradient
from pgtheory.envs.tabular import expected_return
from pgtheory.envs.tabular import random_episodic_mdp
from pgtheory.envs.tabular import state_values
from pgtheory.envs.tabular import visitation


def _case(gamma=0.9):
    gen = torch.Generator().manual_seed(3)
    mdp = random_episodic_mdp(4, 2, gen, gamma=gamma)
    return mdp, torch.randn(5, 2, generator=gen, dtype=torch.float64)


def test_gradient_matches_finite_differences():
    mdp, logits = _case()
    grad = exact_policy_gradient(mdp, logits)
    eps = 1e-6
    for i in range(logits.numel()):
        bump = torch.zeros_like(logits).flatten()
        bump[i] = eps
        up, down = (
            expected_return(mdp, logits + bump.view_as(logits)),
            expected_return(mdp, logits - bump.view_as(logits)),
        )
        assert abs(float((up - down) / (2 * eps)) - float(grad.flatten()[i])) < 1e-7


def test_bellman_consistency_and_visitation():
    mdp, logits = _case()
    V, Q = state_values(mdp, logits), action_values(mdp, logits)
    pi = torch.softmax(logits, -1)
    torch.testing.assert_close((pi * Q).sum(-1), V)
    # J = sum_s d_gamma(s) r_pi(s): discounted visits times expected rewards
    r_pi = (pi * mdp.rewards).sum(-1)
    torch.testing.assert_close(visitation(mdp, logits) @ r_pi, expected_return(mdp, logits))


def _draw(probs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One index per row of ``probs`` by inverse CDF."""
    u = torch.rand(probs.shape[0], 1, generator=gen, dtype=probs.dtype)
    return (probs.cumsum(-1) < u).sum(-1).clamp_max(probs.shape[-1] - 1)


def test_values_match_rollouts():
    """Monte Carlo rollouts of the episodic MDP (gamma = 1) average to rho_0 . V, and their
    lengths to the total undiscounted visitation."""
    mdp, logits = _case(gamma=1.0)
    gen = torch.Generator().manual_seed(0)
    n, pi = 50_000, torch.softmax(logits, -1)
    s = _draw(mdp.initial.expand(n, -1), gen)
    total, steps = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    alive = ~mdp.terminal[s]
    for _ in range(250):  # each step ends the episode with probability >= 0.15
        a = _draw(pi[s], gen)
        total += mdp.rewards[s, a] * alive
        steps += alive
        s = _draw(mdp.transitions[s, a], gen)
        alive &= ~mdp.terminal[s]
        if not alive.any():
            break
    assert not alive.any()
    assert abs(float(total.mean() - expected_return(mdp, logits))) < 5 * float(total.std()) / n**0.5
    expected_length = float(visitation(mdp, logits, 1.0).sum())
    assert abs(float(steps.mean()) - expected_length) < 5 * float(steps.std()) / n**0.5


def test_the_size_of_a_missing_gamma_t_depends_on_the_setting():
    """The direction error of 004's update (visit weights, no gamma^t) is negligible on
    well-mixed random MDPs and large on a chain that moves through its states in time, at the
    same gamma = 0.99 and a similar episode length: an effect is sized in a stated setting."""
    from pgtheory.envs.tabular import all_actions_sum
    from pgtheory.envs.tabular import chain_episodic_mdp
    from pgtheory.envs.tabular import exact_policy_gradient
    from pgtheory.envs.tabular import random_episodic_mdp
    from pgtheory.envs.tabular import visitation

    gen = torch.Generator().manual_seed(0)

    def direction_error(mdp, logits):
        g = exact_policy_gradient(mdp, logits).flatten()
        u = all_actions_sum(mdp, logits, visitation(mdp, logits, 1.0)).flatten()
        return float(1 - (u @ g) / (u.norm() * g.norm()))

    mixed = random_episodic_mdp(5, 3, gen, end_probability=1 / 250, gamma=0.99)
    chain = chain_episodic_mdp(50, 3, gen, gamma=0.99)
    small = direction_error(mixed, torch.randn(6, 3, generator=gen, dtype=torch.float64))
    large = direction_error(chain, torch.randn(51, 3, generator=gen, dtype=torch.float64))
    assert large > 0.01 > small
    assert visitation(chain, torch.zeros(51, 3, dtype=torch.float64), 1.0).sum() > 150
