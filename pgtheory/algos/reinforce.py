"""REINFORCE done right: batches of complete episodes from a vector environment.

Each update uses ``num_envs`` complete episodes collected in parallel (a sub-environment that
finishes waits, masked, for the others). The weight of grad log pi(a_t|s_t) is the
reward-to-go G_t = sum_{k>=t} gamma^(k-t) r_k, optionally times gamma^t (the factor the
discounted objective J = E[sum_t gamma^t r_t] calls for; most implementations drop it and
optimise a different, undiscounted-state objective), minus a baseline: none, an exponential
moving average of returns, or a learned value V(s_t). Advantages can be normalised per batch.

Two variants over the same machinery: ``grpo`` (GRPO's group-relative advantage, 004) and
``npg`` (002's natural gradient step in place of Adam, see :mod:`pgtheory.algos.natural`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgtheory.algos.common import Tracker
from pgtheory.algos.common import TrainResult
from pgtheory.algos.common import adam
from pgtheory.algos.common import log_prob_of
from pgtheory.algos.common import make_vector_env
from pgtheory.algos.common import mlp
from pgtheory.algos.common import sample_actions
from pgtheory.algos.common import seed_everything
from pgtheory.algos.natural import natural_gradient_step
from pgtheory.estimators import discounted_reward_to_go


@dataclass
class ReinforceConfig:
    """Defaults tuned for wall clock to solve CartPole-v1 (measure with ``pgtheory bench rl``):
    an EMA baseline and a large step; the value baseline also solves, in more steps."""

    num_envs: int = 8
    """complete episodes per update"""
    learning_rate: float = 1e-2
    """Adam learning rate of the policy (and of the value network)"""
    gamma: float = 0.99
    """discount of the reward-to-go"""
    discount_weight: bool = False
    """multiply the step-t term by gamma^t (the exact gradient of the discounted objective)"""
    baseline: str = "ema"
    """none | ema (of earlier batches' mean returns) | value (a learned V(s_t)) | group (GRPO's
    group-relative advantage: every step of an episode gets (G - mean G) / std G over the
    group of episodes that started from the same state; G is the episode's return)"""
    group_size: int = 4
    """episodes per group for the group baseline (num_envs must be a multiple)"""
    ema_weight: float = 0.9
    """weight of the EMA baseline"""
    normalise_advantages: bool = True
    """normalise the batch's advantages to zero mean and unit variance"""
    hidden: int = 64
    """width of the hidden layers"""
    update: str = "adam"
    """adam | natural (002's natural gradient step; the value network, if any, keeps Adam)"""
    max_kl: float = 0.01
    """the natural step's KL budget: 1/2 step^T F step = max_kl"""


@dataclass
class Episodes:
    """A batch of complete episodes, one per sub-environment, padded to the longest:
    tensors of shape (N, T, ...); ``live`` is 1 on an episode's own steps, 0 on padding."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    live: torch.Tensor


def collect_episodes(
    envs: gym.vector.VectorEnv,
    act: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    seeds: list[int] | None = None,
) -> Episodes:
    """One complete episode per sub-environment (one that finishes waits, masked, for the
    others); bookkeeping in numpy, one stack at the end."""
    obs_list, act_list, rew_list, live_list = [], [], [], []
    running = np.ones(envs.num_envs, dtype=bool)
    obs_np, _ = envs.reset(seed=seeds) if seeds is not None else envs.reset()
    while running.any():
        obs = torch.as_tensor(obs_np, dtype=torch.float32, device=device)
        action = act(obs)
        obs_np, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
        obs_list.append(obs)
        act_list.append(action)
        rew_list.append(reward * running)
        live_list.append(running.copy())
        running &= ~(terminated | truncated)
    as_tensor = partial(torch.as_tensor, dtype=torch.float32, device=device)
    return Episodes(
        torch.stack(obs_list, 1),
        torch.stack(act_list, 1),
        as_tensor(np.stack(rew_list, 1)),
        as_tensor(np.stack(live_list, 1)),
    )


def reinforce_loss(
    policy: Callable[[torch.Tensor], torch.Tensor],
    value: Callable[[torch.Tensor], torch.Tensor] | None,
    episodes: Episodes,
    cfg: ReinforceConfig,
    ema: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The update of one batch before any optimiser step: ``(objective, value_loss)``.
    ``objective`` is the surrogate sum_t log pi(a_t|s_t) A_t averaged over the batch's
    episodes, whose gradient estimates grad J; the loss the optimiser minimises is
    ``value_loss - objective`` (``value_loss`` is 0 unless ``value`` is the baseline). Pure
    tensor code, so it can be differentiated per batch with ``torch.func``; ``ema`` is the
    baseline from earlier batches."""
    rewards, live = episodes.rewards, episodes.live
    returns = discounted_reward_to_go(rewards, cfg.gamma)
    if cfg.baseline == "value":
        values = value(episodes.obs).squeeze(-1)
        advantages = returns - values.detach()
    elif cfg.baseline == "group":
        episode_return = rewards.sum(-1).view(-1, cfg.group_size)
        relative = (episode_return - episode_return.mean(-1, keepdim=True)) / (
            episode_return.std(-1, keepdim=True) + 1e-8
        )
        advantages = relative.view(-1, 1).expand_as(returns)
    elif cfg.baseline == "ema":
        # the EMA of earlier batches only: updating it with this batch first would bias
        # the estimate (see claim 000-baseline-unbiased)
        advantages = returns - (ema if ema is not None else 0.0)
    else:
        advantages = returns
    if cfg.discount_weight:
        advantages = advantages * cfg.gamma ** torch.arange(
            rewards.shape[-1], device=rewards.device
        )
    if cfg.normalise_advantages:
        mean = (advantages * live).sum() / live.sum()
        std = (((advantages - mean) ** 2 * live).sum() / live.sum()).sqrt()
        advantages = (advantages - mean) / (std + 1e-8)

    log_prob = log_prob_of(policy(episodes.obs), episodes.actions)
    # averaged over episodes, a constant count: dividing by the batch's number of steps, a
    # random count, would bias the direction (claim 001-reinforce-trainer-unbiased)
    objective = (log_prob * advantages * live).sum() / live.shape[0]
    value_loss = torch.zeros((), device=rewards.device)
    if cfg.baseline == "value":
        value_loss = 0.5 * (((values - returns) ** 2) * live).sum() / live.sum()
    return objective, value_loss


def next_ema(ema: float | None, episodes: Episodes, cfg: ReinforceConfig) -> float:
    """The EMA baseline after this batch: its episodes' mean return folded in."""
    batch_mean = float(discounted_reward_to_go(episodes.rewards, cfg.gamma)[:, 0].mean())
    return batch_mean if ema is None else cfg.ema_weight * ema + (1 - cfg.ema_weight) * batch_mean


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
    if cfg.baseline not in ("none", "ema", "value", "group"):
        raise ValueError(f"unknown baseline {cfg.baseline!r}")
    grouped = cfg.baseline == "group"
    if grouped and cfg.num_envs % cfg.group_size:
        raise ValueError("num_envs must be a multiple of group_size")
    if cfg.update not in ("adam", "natural"):
        raise ValueError(f"unknown update {cfg.update!r}")
    seed_everything(seed)
    # groups need one initial state per group: one seed per sub-environment
    envs = make_vector_env(env_id, cfg.num_envs, seed, per_env_seeds=grouped)
    group_seeds = np.random.default_rng(seed)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    policy = mlp(obs_dim, n_actions, cfg.hidden).to(device)
    value = mlp(obs_dim, 1, cfg.hidden, out_gain=1.0).to(device)
    natural = cfg.update == "natural"
    params = ([] if natural else list(policy.parameters())) + (
        list(value.parameters()) if cfg.baseline == "value" else []
    )
    optimiser = adam(params, cfg.learning_rate) if params else None
    name = "npg" if natural else "grpo" if grouped else "reinforce"
    tracker = Tracker(name, env_id, seed, eval_every, eval_episodes, device)

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return sample_actions(policy(obs))[0]

    ema, steps = None, 0
    envs.reset(seed=seed)
    while steps < max_steps:
        seeds = None
        if grouped:
            starts = group_seeds.integers(2**31, size=cfg.num_envs // cfg.group_size)
            seeds = np.repeat(starts, cfg.group_size).tolist()
        episodes = collect_episodes(envs, act, device, seeds)
        steps += int(episodes.live.sum())

        objective, value_loss = reinforce_loss(
            policy, value if cfg.baseline == "value" else None, episodes, cfg, ema
        )
        if cfg.baseline == "ema":
            ema = next_ema(ema, episodes, cfg)
        if natural:  # the policy moves by the natural step; Adam fits the value, if any
            natural_gradient_step(policy, episodes.obs, episodes.live, objective, cfg.max_kl)
        loss = value_loss if natural else value_loss - objective
        if optimiser is not None:
            optimiser.zero_grad()
            loss.backward()
            # gradient clipping: a separate transformation of the update, after the loss
            nn.utils.clip_grad_norm_(params, 0.5, foreach=True)
            optimiser.step()

        if tracker.maybe_evaluate(steps, act, policy) and stop_when_solved:
            break
    envs.close()
    return tracker.result(steps, act, policy)
