"""The exact oracle as a gymnasium environment (issue 15's first step)."""

import json
import subprocess
import sys

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
    logits = torch.randn(
        *env.mdp.rewards.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
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
        logits = torch.randn(
            *mdp.rewards.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
        )
        assert float(expected_return(mdp, logits)) <= best + 1e-9
    assert gym.spec(oracle.ENV_ID).reward_threshold < best


def test_train_on_the_oracle_records_the_exact_j_beside_the_curve(tmp_path, capsys):
    out = tmp_path / "run.json"
    argv = ["train", "ppo", "--env", oracle.ENV_ID, "--max-steps", "3000", "--json", str(out)]
    assert main(argv) == 0 and out.exists()
    seed = json.loads(out.read_text())["seeds"][0]
    steps = [row[0] for row in seed["curve"]]
    assert [row[0] for row in seed["exact_returns"]] == steps
    assert all(j <= seed["optimal_return"] + 1e-9 for _, j in seed["exact_returns"])
    assert "exact J" in capsys.readouterr().out


def test_the_native_vector_env_steps_like_gymnasiums_next_step_autoreset():
    """One sub-environment stepped by OracleVectorEnv: an episode's end is followed by one
    autoreset step (reward 0, no flags), and a time limit truncates."""
    envs = oracle.OracleVectorEnv(num_envs=64, max_episode_steps=3)
    envs.reset(seed=0)
    ended = np.zeros(64, bool)
    seen = {"terminated": 0, "truncated": 0}
    for _ in range(40):
        obs, reward, terminated, truncated, info = envs.step(np.zeros(64, int))
        assert (info["resets"] == ended).all() and (reward[ended] == 0).all()
        assert not (terminated & truncated).any() and (obs.sum(1) == 1).all()
        seen["terminated"] += int(terminated.sum())
        seen["truncated"] += int(truncated.sum())
        ended = terminated | truncated
    assert seen["terminated"] > 0 and seen["truncated"] > 0


def test_the_oracle_registers_itself_for_every_entry_point():
    """A fresh process that never imports pgtheory.envs.oracle can still make, evaluate on and
    read the threshold of pgtheory/RandomMDP-v0 (as `pgtheory evaluate` does)."""
    code = (
        "from pgtheory.algos.common import make_vector_env, reward_threshold\n"
        "env = make_vector_env('pgtheory/RandomMDP-v0', 2, 0)\n"
        "print(type(env).__name__, type(reward_threshold('pgtheory/RandomMDP-v0')).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["OracleVectorEnv", "float"]
