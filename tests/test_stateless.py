"""The stateless simulator of 000: vectorised chains, reproducible, and at a fixed sigma the
chains' stationary second moment matches the exact first-order value."""

import pytest
import sympy as sp
import sympy.stats as ss
import torch

from pgtheory.envs.stateless import Experiment
from pgtheory.envs.stateless import simulate
from pgtheory.montecarlo import make_generator


def test_same_seed_same_chains():
    exp = Experiment(reward="R2", episodes=200)
    a = simulate(exp, 8, make_generator(1))
    b = simulate(exp, 8, make_generator(1))
    assert torch.equal(a["mu"], b["mu"]) and torch.equal(a["sigma"], b["sigma"])
    assert a["mu"].shape == (8, 21)


def test_stationary_second_moment_at_fixed_sigma_matches_the_exact_value():
    """e_{k+1} = (1 - alpha) e_k + alpha xi_k: E[e^2] = alpha Var(xi) / (N_s (2 - alpha)) to first
    order; Var(xi) at mu = w*, sigma = 1/2 with R2 from sympy.stats."""
    Z, Zeta = ss.Normal("Z", 0, 1), ss.Normal("Zeta", 0, 1)
    half = sp.Rational(1, 2)
    v0 = float(ss.E((Z / half * (half * Z - Zeta) ** 2 / 2) ** 2))
    alpha, batch = 0.0025, 4
    exp = Experiment(
        reward="R2",
        learning_rate=alpha,
        baseline=False,
        clip=None,
        batch=batch,
        episodes=8000,
        mu0=5.0,
        sigma0=0.5,
        update_sigma=False,
    )
    out = simulate(exp, 256, make_generator(0))
    measured = float(((out["mu"][:, 200:] - 5.0) ** 2).mean())
    exact = alpha * v0 / (batch * (2 - alpha))
    assert abs(measured / exact - 1) < 0.1, (measured, exact)


def test_sparse_reward_does_not_move_the_policy_before_the_first_reward():
    exp = Experiment(reward="R4", episodes=5, mu0=-50.0)  # the rewarding region is unreachable
    out = simulate(exp, 4, make_generator(0), record_every=1)
    assert torch.all(out["mu"] == -50.0) and torch.all(out["sigma"] == 2.0)


def test_a_constant_batch_schedule_is_the_fixed_batch_and_record_at_reads_those_episodes():
    exp = Experiment(reward="R2", episodes=60, batch=3)
    fixed = simulate(exp, 4, make_generator(2), record_every=20)
    scheduled = simulate(exp, 4, make_generator(2), batch_of=lambda k: 3, record_at=[20, 40, 60])
    assert torch.equal(fixed["mu"], scheduled["mu"])
    assert scheduled["episode"].tolist() == [0, 20, 40, 60]
    growing = simulate(exp, 4, make_generator(2), batch_of=lambda k: 1 + k, record_at=[60])
    assert growing["mu"].shape == (4, 2) and not torch.equal(growing["mu"][:, 1], fixed["mu"][:, 3])


def test_r3_has_no_batch_schedule():
    with pytest.raises(ValueError):
        simulate(Experiment(reward="R3", episodes=2), 2, make_generator(0), batch_of=lambda k: 2)
