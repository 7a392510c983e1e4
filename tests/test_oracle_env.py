"""The exact oracle as a gymnasium environment (issue 15's first step)."""

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils.env_checker import check_env

from pgtheory.cli import main
from pgtheory.envs import oracle
from pgtheory.envs.tabular import expected_return


def test_the_oracle_passes_gymnasiums_checker_and_vectorises():
    check_env(gym.make(oracle.ENV_ID).unwrapped)
    envs = gym.make_vec(oracle.ENV_ID, num_envs=4, vectorization_mode="sync")
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (4, oracle.DEFAULTS["states"] + 1) and (obs.sum(1) == 1).all()
    _, reward, _, _, _ = envs.step(np.zeros(4, dtype=int))
    assert reward.shape == (4,)


def test_returns_sampled_from_the_environment_match_the_exact_j():
    """Monte Carlo returns of a fixed softmax policy in the environment against the oracle's J."""
    env = oracle.TabularMDPEnv()
    logits = torch.randn(*env.mdp.rewards.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pi = torch.softmax(logits, -1).numpy()
    rng = np.random.default_rng(0)
    returns = []
    for episode in range(4000):
        obs, _ = env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            s = int(obs.argmax())
            obs, r, done, _, _ = env.step(rng.choice(len(pi[s]), p=pi[s]))
            total += r
        returns.append(total)
    exact = float(expected_return(env.mdp, logits))
    assert abs(np.mean(returns) - exact) < 5 * np.std(returns) / np.sqrt(len(returns))


def test_the_optimum_bounds_every_policy_and_sets_the_threshold():
    mdp = oracle.oracle_mdp(**oracle.DEFAULTS)
    best = oracle.optimal_return(mdp)
    for seed in range(20):
        logits = torch.randn(*mdp.rewards.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        assert float(expected_return(mdp, logits)) <= best + 1e-9
    assert gym.spec(oracle.ENV_ID).reward_threshold < best


def test_train_runs_on_the_oracle(tmp_path):
    out = tmp_path / "run.json"
    argv = ["train", "ppo", "--env", oracle.ENV_ID, "--max-steps", "3000", "--json", str(out)]
    assert main(argv) == 0 and out.exists()
