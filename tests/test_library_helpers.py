"""Library helpers that the claims used to write privately: 000's notebook replay and source
reading, Gaussian moments and exact identities, state occupancy and exact variances, random MDPs
with action-dependent ends, the CartPole-like chains, and the tabular softmax's grad-pi sum."""

import ast
import math

import numpy as np
import pytest
import sympy as sp
import torch

from pgtheory.envs import finite
from pgtheory.envs import notebook_000
from pgtheory.envs import tabular
from pgtheory.estimators import full_return
from pgtheory.estimators import reward_to_go
from pgtheory.policies import SoftmaxPolicy
from pgtheory.policies import grad_pi_times
from pgtheory.sources import constant_expression
from pgtheory.sources import module_constants
from pgtheory.sources import notebook_000_path
from pgtheory.stats import Outcome
from pgtheory.symbolic import exact_identity
from pgtheory.symbolic import standard_normal_expectation

z, a = sp.Symbol("z", real=True), sp.Symbol("a", real=True)


# --- 000's notebook ---------------------------------------------------------------------------


def _numpy_run(reward, lr, episodes, settings):
    """The notebook's loop in numpy arithmetic (the slow reference the fast replay replaces)."""
    mu, psi = 0.0, np.log(2.0)
    lo, hi = settings.psi_bounds or (-np.inf, np.inf)

    def sigma():
        return np.exp(np.clip(psi, lo, hi))

    baseline = 0.0
    if settings.baseline_from_initial_rewards:
        baseline = np.mean([reward(np.random.normal(mu, sigma())) for _ in range(10)])
    for _ in range(episodes):
        w = np.random.normal(mu, sigma())
        r = reward(w)
        variance = sigma() ** 2 + 1e-9
        g_mu = np.mean([(w - mu) / variance * (r - baseline)])
        g_psi = np.mean([((w - mu) ** 2 / variance - 1) * (r - baseline)])
        norm = np.sqrt(g_mu**2 + g_psi**2)
        if norm > 10.0:
            g_mu, g_psi = g_mu * 10.0 / norm, g_psi * 10.0 / norm
        mu += lr * g_mu
        psi = np.clip(psi + lr * g_psi, lo, hi)
        baseline = 0.9 * baseline + 0.1 * r
    return float(mu), float(sigma())


@pytest.mark.parametrize(
    "settings", [notebook_000.NOTEBOOK_SETTINGS, notebook_000.EARLIER_SETTINGS]
)
def test_fast_run_agrees_with_the_numpy_loop(settings):
    def reward(w):
        return -0.5 * (w - 5.0) ** 2

    results = []
    for run in (notebook_000.run, _numpy_run):
        np.random.seed(7)
        results.append(run(reward, 0.01, 2000, settings))
    assert np.allclose(results[0], results[1], rtol=0, atol=1e-12)


def test_seeded_replay_restores_numpy_and_reads_given_constants():
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    finals = notebook_000.seeded_replay()
    assert np.array_equal(np.random.get_state()[1], state)
    assert len(finals) == 6 and all(math.isfinite(v) for f in finals.values() for v in f)
    fewer = dict(notebook_000.NOTEBOOK_CONSTANTS, NUM_EPISODES_SPARSE=10)
    assert notebook_000.seeded_replay(constants=fewer) != finals


def test_constants_are_parsed_not_executed():
    source = "A = 2\nB = A * 3 - 1\nC = (np.log(1.0), {'x': B})\nD = print('no')\nE = C[1]['x']"
    assert module_constants(source) == {"A": 2, "B": 5, "C": (0.0, {"x": 5}), "E": 5}
    with pytest.raises(ValueError):
        constant_expression(ast.parse("f(1)").body[0].value, {})


@pytest.mark.skipif(notebook_000_path() is None, reason="000's companion folder is not here")
def test_library_constants_are_the_notebooks():
    from pgtheory.sources import notebook_000_constants

    parsed = notebook_000_constants()
    assert {k: parsed[k] for k in notebook_000.NOTEBOOK_CONSTANTS} == (
        notebook_000.NOTEBOOK_CONSTANTS
    )


# --- symbolic ---------------------------------------------------------------------------------


def test_standard_normal_moments():
    assert standard_normal_expectation(z**4, z) == 3
    assert standard_normal_expectation(z**3 + z, z) == 0
    assert standard_normal_expectation((a + z) ** 2, z) == a**2 + 1


def test_exact_identity_by_cancellation():
    assert exact_identity((a**2 - 1) / (a - 1), a + 1).outcome == Outcome.SUPPORTS
    assert exact_identity([a, a**2], [a, a**2]).outcome == Outcome.SUPPORTS
    assert exact_identity([a, a**2], [a, a**3]).outcome == Outcome.REFUTES


# --- finite and tabular MDPs ------------------------------------------------------------------


def _finite_case():
    return next(finite.random_cases(torch.Generator().manual_seed(2), 1, horizon=3))


def test_state_occupancy_against_enumeration():
    mdp, logits = _finite_case()
    traj = finite.enumerate_trajectories(mdp)
    prob = finite.trajectory_probability(mdp, SoftmaxPolicy(logits), traj)
    one_hot = torch.nn.functional.one_hot(traj.states, mdp.num_states).double()
    by_enumeration = (prob[:, None, None] * one_hot).sum(0)
    assert torch.allclose(finite.state_occupancy(mdp, logits), by_enumeration, atol=1e-12)


def test_total_variance_against_second_moments():
    mdp, logits = _finite_case()
    policy = SoftmaxPolicy(logits)
    for estimator in (full_return, reward_to_go):
        traj = finite.enumerate_trajectories(mdp)
        prob = finite.trajectory_probability(mdp, policy, traj)[:, None]
        g = estimator(mdp, policy, traj)
        mean, second = (prob * g).sum(0), (prob * g**2).sum(0)
        expected = float((second - mean**2).sum())
        assert finite.total_variance(mdp, logits, estimator) == pytest.approx(expected, rel=1e-10)


def test_random_end_mdp_ends_per_state_and_action():
    mdp = tabular.random_end_mdp(4, 3, torch.Generator().manual_seed(0), gamma=0.9)
    assert torch.allclose(mdp.transitions.sum(-1), torch.ones(5, 3, dtype=torch.float64))
    end = mdp.transitions[:4, :, 4]
    assert bool(((end >= 0.05) & (end <= 0.6)).all()) and end.std() > 0
    assert mdp.gamma == 0.9


def test_policy_matrices_and_chain_cases():
    cases = list(tabular.random_chain_cases(torch.Generator().manual_seed(0), count=2))
    assert len(cases) == 2
    mdp, logits = cases[0]
    assert mdp.gamma == 0.99 and logits.shape == (51, 3)
    pi, P, r = tabular.policy_matrices(mdp, logits)
    assert torch.allclose(pi.sum(-1), torch.ones(51, dtype=torch.float64))
    assert torch.allclose(P[:-1].sum(-1), torch.ones(50, dtype=torch.float64))
    assert float(P[-1].abs().sum()) == 0.0 and float(r[-1]) == 0.0


def test_grad_pi_times_against_autograd():
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    q = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    theta = logits.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((torch.softmax(theta, -1) * q).sum(), theta)
    assert torch.allclose(grad_pi_times(torch.softmax(logits, -1), q), grad, atol=1e-14)


def test_tabular_random_cases_match_their_parts():
    gen = torch.Generator().manual_seed(5)
    (mdp, logits), *_ = tabular.random_cases(torch.Generator().manual_seed(5), 2, gamma=0.5)
    again = tabular.random_episodic_mdp(5, 3, gen, gamma=0.5)
    assert torch.equal(mdp.transitions, again.transitions) and mdp.gamma == 0.5
    assert torch.equal(logits, torch.randn(6, 3, generator=gen, dtype=torch.float64))
