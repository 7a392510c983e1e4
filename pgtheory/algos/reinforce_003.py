"""003's CartPole REINFORCE program, kept faithful to the printed code.

A 4-128-2 network with dropout 0.5 between the first layer and its ReLU, left in training
mode while acting (``policy.train()`` in ``forward_pass``); Adam with learning rate 0.01;
discount 0.99; per-episode normalised reward-to-go; one update per episode with the loss
-(returns * log_prob_actions).sum(); at most 500 episodes; solved when the mean return of the
last 25 episodes reaches 475. Its weaknesses (dropout noise while acting, per-episode
normalisation, one episode per update, a Python loop per step) are what the suite measures.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import distributions
from torch import nn

from pgtheory.algos.common import Tracker
from pgtheory.algos.common import TrainResult
from pgtheory.algos.common import seed_everything
from pgtheory.processes import process_pool

MAX_EPOCHS, DISCOUNT_FACTOR, N_TRIALS, REWARD_THRESHOLD = 500, 0.99, 25, 475
HIDDEN_DIM, DROPOUT, LEARNING_RATE = 128, 0.5, 0.01


class PolicyNetwork(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, dropout: float):
        super().__init__()
        self.layer1 = nn.Linear(input_dim, hidden_dim)
        self.layer2 = nn.Linear(hidden_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(x)
        x = self.dropout(x)
        x = F.relu(x)
        x = self.layer2(x)
        return x


def calculate_stepwise_returns(rewards: list[float], discount_factor: float) -> torch.Tensor:
    returns = []
    R = 0.0
    for r in reversed(rewards):
        R = r + R * discount_factor
        returns.insert(0, R)
    returns_t = torch.tensor(returns)
    return (returns_t - returns_t.mean()) / returns_t.std()


def forward_pass(env: gym.Env, policy: PolicyNetwork, discount_factor: float):
    log_prob_actions, rewards = [], []
    done, episode_return = False, 0.0
    policy.train()
    observation, info = env.reset()
    while not done:
        observation = torch.FloatTensor(observation).unsqueeze(0)
        action_pred = policy(observation)
        action_prob = F.softmax(action_pred, dim=-1)
        dist = distributions.Categorical(action_prob)
        action = dist.sample()
        log_prob_action = dist.log_prob(action)
        observation, reward, terminated, truncated, info = env.step(action.item())  # noqa: RUF059
        done = terminated or truncated
        log_prob_actions.append(log_prob_action)
        rewards.append(reward)
        episode_return += reward
    log_prob_actions = torch.cat(log_prob_actions)
    stepwise_returns = calculate_stepwise_returns(rewards, discount_factor)
    return episode_return, stepwise_returns, log_prob_actions


def update_policy(
    stepwise_returns: torch.Tensor, log_prob_actions: torch.Tensor, optimizer
) -> float:
    stepwise_returns = stepwise_returns.detach()
    loss = -(stepwise_returns * log_prob_actions).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@dataclass
class Run003:
    """The program's own record: returns per episode, and whether (and when) its criterion hit."""

    episode_returns: list[float]
    solved_at_episode: int | None


def run_program_003(
    seed: int,
    env_id: str = "CartPole-v1",
    after_episode: Callable[[PolicyNetwork, int], bool] | None = None,
    learning_rate: float = LEARNING_RATE,
    return_sign: float = 1.0,
) -> Run003:
    """Run 003's training loop; ``after_episode(policy, steps)`` returning True stops it early.
    ``learning_rate`` and ``return_sign`` exist for controls (-1 plants a sign slip: the loss
    without its minus sign); 003 uses 0.01 and +1."""
    seed_everything(seed)
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    policy = PolicyNetwork(env.observation_space.shape[0], HIDDEN_DIM, env.action_space.n, DROPOUT)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    episode_returns: list[float] = []
    steps = 0
    for episode in range(1, MAX_EPOCHS + 1):
        episode_return, stepwise_returns, log_prob_actions = forward_pass(
            env, policy, DISCOUNT_FACTOR
        )
        update_policy(return_sign * stepwise_returns, log_prob_actions, optimizer)
        episode_returns.append(episode_return)
        steps += len(log_prob_actions)
        if np.mean(episode_returns[-N_TRIALS:]) >= REWARD_THRESHOLD:
            env.close()
            return Run003(episode_returns, episode)
        if after_episode is not None and after_episode(policy, steps):
            break
    env.close()
    return Run003(episode_returns, None)


def run_program_003_seeds(
    seeds: Sequence[int],
    learning_rate: float = LEARNING_RATE,
    workers: int | None = None,
    return_sign: float = 1.0,
) -> list[Run003]:
    """:func:`run_program_003` for many seeds at once, one process per CPU core (the program
    is a Python loop per step, so runs, not samples, are what can go in parallel). Each run
    depends only on its seed. Fresh ("spawn") processes: forking after torch has started
    its thread pool can deadlock."""
    with process_pool(workers or min(len(seeds), os.cpu_count() or 1)) as pool:
        run = partial(run_program_003, learning_rate=learning_rate, return_sign=return_sign)
        return list(pool.map(run, seeds))


def train_reinforce_003(
    env_id: str,
    seed: int,
    max_steps: int,
    device: torch.device,
    config: None = None,
    eval_every: int = 10_000,
    eval_episodes: int = 20,
    stop_when_solved: bool = True,
) -> TrainResult:
    """003's program under the common protocol: evaluated every ``eval_every`` steps (with
    dropout off), stopped when solved, at ``max_steps`` or after 500 episodes."""
    if device.type != "cpu":
        raise ValueError("reinforce-003 runs on the CPU, as printed")
    tracker = Tracker("reinforce-003", env_id, seed, eval_every, eval_episodes, device)
    last = {"policy": None, "steps": 0}

    def act_with(policy: PolicyNetwork) -> Callable[[torch.Tensor], torch.Tensor]:
        def act(obs: torch.Tensor) -> torch.Tensor:
            policy.eval()
            with torch.no_grad():
                return distributions.Categorical(logits=policy(obs)).sample()

        return act

    def after_episode(policy: PolicyNetwork, steps: int) -> bool:
        last.update(policy=policy, steps=steps)
        solved = tracker.maybe_evaluate(steps, act_with(policy), policy)
        return (solved and stop_when_solved) or steps >= max_steps

    run_program_003(seed, env_id, after_episode)
    return tracker.result(last["steps"], act_with(last["policy"]), last["policy"])
