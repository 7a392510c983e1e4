"""REINFORCE done right: batches of complete episodes from a vector environment.

Each update uses ``num_envs`` complete episodes collected in parallel (a sub-environment that
finishes waits, masked, for the others). The weight of grad log pi(a_t|s_t) is the
reward-to-go G_t = sum_{k>=t} gamma^(k-t) r_k, optionally times gamma^t (the factor the
discounted objective J = E[sum_t gamma^t r_t] calls for; most implementations drop it and
optimise a different, undiscounted-state objective), minus a baseline: none, an exponential
moving average of returns, or a learned value V(s_t). Advantages can be normalised per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pgtheory.algos.common import (
    Tracker,
    TrainResult,
    adam,
    log_prob_of,
    make_vector_env,
    mlp,
    sample_actions,
    seed_everything,
)
from pgtheory.estimators import discounted_reward_to_go


@dataclass
class ReinforceConfig:
    """Defaults: 10 of 10 CartPole-v1 seeds solved, median 1.4 s on one CPU core (an EMA
    baseline and a large step; the value baseline also solves, in about twice the steps)."""

    num_envs: int = 8
    """complete episodes per update"""
    learning_rate: float = 1e-2
    """Adam learning rate of the policy (and of the value network)"""
    gamma: float = 0.99
    """discount of the reward-to-go"""
    discount_weight: bool = False
    """multiply the step-t term by gamma^t (the exact gradient of the discounted objective)"""
    baseline: str = "ema"
    """none | ema (of earlier batches' mean returns) | value (a learned V(s_t))"""
    ema_weight: float = 0.9
    """weight of the EMA baseline"""
    normalise_advantages: bool = True
    """normalise the batch's advantages to zero mean and unit variance"""
    hidden: int = 64
    """width of the hidden layers"""


def train_reinforce(
    env_id: str,
    seed: int,
    max_steps: int,
    device: torch.device,
    config: ReinforceConfig | None = None,
    eval_every: int = 10_000,
    eval_episodes: int = 20,
    stop_when_solved: bool = True,
) -> TrainResult:
    cfg = config or ReinforceConfig()
    if cfg.baseline not in ("none", "ema", "value"):
        raise ValueError(f"unknown baseline {cfg.baseline!r}")
    seed_everything(seed)
    envs = make_vector_env(env_id, cfg.num_envs, seed)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    policy = mlp(obs_dim, n_actions, cfg.hidden).to(device)
    value = mlp(obs_dim, 1, cfg.hidden, out_gain=1.0).to(device)
    params = list(policy.parameters()) + (
        list(value.parameters()) if cfg.baseline == "value" else []
    )
    optimiser = adam(params, cfg.learning_rate)
    tracker = Tracker("reinforce", env_id, seed, eval_every, eval_episodes, device)

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return sample_actions(policy(obs))[0]

    ema, steps = None, 0
    envs.reset(seed=seed)
    while steps < max_steps:
        # one complete episode per sub-environment; bookkeeping in numpy, one stack at the end
        obs_list, act_list, rew_list, live_list = [], [], [], []
        running = np.ones(cfg.num_envs, dtype=bool)
        obs_np, _ = envs.reset()
        while running.any():
            obs = torch.as_tensor(obs_np, dtype=torch.float32, device=device)
            action = act(obs)
            obs_np, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
            obs_list.append(obs)
            act_list.append(action)
            rew_list.append(reward * running)
            live_list.append(running.copy())
            running &= ~(terminated | truncated)
        obs_b, act_b = torch.stack(obs_list, 1), torch.stack(act_list, 1)  # (N, T, ...)
        rewards = torch.as_tensor(np.stack(rew_list, 1), dtype=torch.float32, device=device)
        live = torch.as_tensor(np.stack(live_list, 1), dtype=torch.float32, device=device)
        steps += int(live.sum())

        returns = discounted_reward_to_go(rewards, cfg.gamma)
        if cfg.baseline == "value":
            values = value(obs_b).squeeze(-1)
            advantages = returns - values.detach()
        elif cfg.baseline == "ema":
            # the EMA of earlier batches only: updating it with this batch first would bias
            # the estimate (see claim 000-baseline-unbiased)
            advantages = returns - (ema if ema is not None else 0.0)
            batch_mean = float(returns[:, 0].mean())
            ema = (
                batch_mean
                if ema is None
                else cfg.ema_weight * ema + (1 - cfg.ema_weight) * batch_mean
            )
        else:
            advantages = returns
        if cfg.discount_weight:
            advantages = advantages * cfg.gamma ** torch.arange(rewards.shape[1], device=device)
        if cfg.normalise_advantages:
            mean = (advantages * live).sum() / live.sum()
            std = (((advantages - mean) ** 2 * live).sum() / live.sum()).sqrt()
            advantages = (advantages - mean) / (std + 1e-8)

        log_prob = log_prob_of(policy(obs_b), act_b)
        loss = -(log_prob * advantages * live).sum() / live.sum()
        if cfg.baseline == "value":
            loss = loss + 0.5 * (((values - returns) ** 2) * live).sum() / live.sum()
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 0.5, foreach=True)
        optimiser.step()

        if tracker.maybe_evaluate(steps, act) and stop_when_solved:
            break
    envs.close()
    return tracker.result(steps, act)
