import torch

from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import enumerate_trajectories
from pgtheory.envs.finite import exact_policy_gradient
from pgtheory.envs.finite import expected_return
from pgtheory.envs.finite import log_dynamics
from pgtheory.envs.finite import log_policy
from pgtheory.envs.finite import random_mdp
from pgtheory.envs.finite import sample_trajectories
from pgtheory.montecarlo import make_generator
from pgtheory.policies import SoftmaxPolicy


def _setup(gamma=0.9):
    gen = torch.Generator().manual_seed(5)
    mdp = random_mdp(3, 2, 3, gen, gamma=gamma)
    return mdp, torch.randn(3, 2, generator=gen, dtype=torch.float64)


def test_enumerated_probabilities_sum_to_one():
    mdp, logits = _setup()
    traj = enumerate_trajectories(mdp)
    assert traj.states.shape == (6**3, 3)
    prob = (log_dynamics(mdp, traj) + log_policy(SoftmaxPolicy(logits), traj)).exp()
    torch.testing.assert_close(prob.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_exact_gradient_matches_finite_differences():
    mdp, logits = _setup()
    grad = exact_policy_gradient(mdp, logits)
    eps = 1e-6
    for i in range(logits.numel()):
        bump = torch.zeros(logits.numel(), dtype=torch.float64)
        bump[i] = eps
        up = expected_return(mdp, logits + bump.reshape(3, 2))
        down = expected_return(mdp, logits - bump.reshape(3, 2))
        assert abs(float((up - down) / (2 * eps)) - float(grad[i])) < 1e-7


def test_sampled_returns_average_to_the_exact_objective():
    mdp, logits = _setup()
    traj = sample_trajectories(mdp, SoftmaxPolicy(logits), 400_000, make_generator(0))
    returns = discounted_return(mdp, traj)
    se = returns.std() / 400_000**0.5
    assert abs(returns.mean() - expected_return(mdp, logits)) < 5 * se
