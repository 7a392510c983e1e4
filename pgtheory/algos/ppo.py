"""PPO-clip with GAE(lambda) and 004's total loss, readable top to bottom (after CleanRL).

    L(theta) = -L_clip(theta) + c1 E[(V(s_t) - R_t)^2] - c2 E[S[pi](s_t)]

Details the best implementations agree on: orthogonal initialisation, advantage
normalisation per minibatch, global gradient-norm clipping, Adam with eps 1e-5, linear
learning-rate (and clip-range) annealing, several epochs of minibatches, optional value-loss
clipping. Time-limit truncation bootstraps V(final observation) into the last reward;
termination does not. The reset step that next-step autoreset inserts is masked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgtheory.algos.common import Tracker
from pgtheory.algos.common import TrainResult
from pgtheory.algos.common import adam
from pgtheory.algos.common import entropy_of
from pgtheory.algos.common import log_prob_of
from pgtheory.algos.common import make_vector_env
from pgtheory.algos.common import mlp
from pgtheory.algos.common import sample_actions
from pgtheory.algos.common import seed_everything


@dataclass
class PPOConfig:
    """Defaults tuned for wall clock to solve CartPole-v1 (measure with ``pgtheory bench rl``):
    twice the rl-zoo rollout, half its epochs, twice its learning rate. Fewer, larger gradient
    steps, because a small network's time on CPU goes per operation, not per sample.
    :meth:`rl_zoo` gives the rl-zoo settings."""

    num_envs: int = 16
    """parallel environments"""
    num_steps: int = 32
    """steps per environment per rollout"""
    learning_rate: float = 2e-3
    """Adam learning rate at the start (annealed linearly to 0)"""
    gamma: float = 0.98
    """discount"""
    gae_lambda: float = 0.8
    """GAE lambda: 0 gives the one-step TD error, 1 the Monte Carlo advantage"""
    minibatch_size: int = 512
    """transitions per minibatch (the whole rollout of 16 x 32 here)"""
    update_epochs: int = 10
    """passes over each rollout"""
    clip_coef: float = 0.2
    """epsilon of the clipped surrogate (annealed with the learning rate)"""
    clip_vloss: bool = False
    """clip the value loss around the old values"""
    ent_coef: float = 0.0
    """c2, the entropy bonus"""
    vf_coef: float = 0.5
    """c1, the value loss"""
    max_grad_norm: float = 0.5
    """global gradient-norm clipping"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    anneal: bool = True
    """anneal the learning rate and clip range linearly to 0"""
    hidden: int = 64
    """width of the two hidden layers"""

    @classmethod
    def rl_zoo(cls) -> PPOConfig:
        """The rl-zoo hyperparameters for CartPole-v1 (those SB3 is benchmarked with)."""
        return cls(num_envs=8, learning_rate=1e-3, minibatch_size=256, update_epochs=20)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int):
        super().__init__()
        self.actor = mlp(obs_dim, n_actions, hidden, out_gain=0.01)
        self.critic = mlp(obs_dim, 1, hidden, out_gain=1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return sample_actions(self.actor(obs))[0]


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """GAE advantages, shape (T, N): A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}.

    ``dones[t]`` ends the episode at step t (its bootstrap, if any, is already in rewards[t]).
    """
    advantages = torch.zeros_like(rewards)
    next_adv, next_value = torch.zeros_like(last_value), last_value
    for t in reversed(range(rewards.shape[0])):
        live = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * live - values[t]
        next_adv = delta + gamma * lam * live * next_adv
        advantages[t], next_value = next_adv, values[t]
    return advantages


@dataclass
class Rollout:
    """``num_steps`` steps of every sub-environment, shape (T, N, ...). ``valid`` is False on
    the autoreset steps (not transitions); ``rewards`` already hold gamma V(final observation)
    at a time-limit truncation; ``dones`` end an episode at that step (or mark an autoreset
    step)."""

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    valid: torch.Tensor


def collect_rollout(
    envs: gym.vector.VectorEnv,
    agent: ActorCritic,
    obs: torch.Tensor,
    resetting: np.ndarray,
    cfg: PPOConfig,
) -> tuple[Rollout, torch.Tensor, np.ndarray]:
    """Step every sub-environment ``cfg.num_steps`` times from ``obs`` (``resetting`` marks
    sub-environments whose next step is an autoreset step); returns the rollout and the state
    to continue from. Network calls in torch, per-step bookkeeping in numpy."""
    T, N, device = cfg.num_steps, envs.num_envs, obs.device
    obs_buf = torch.zeros(T, N, obs.shape[-1], device=device)
    act_buf = torch.zeros(T, N, dtype=torch.long, device=device)
    logp_buf, val_buf = torch.zeros(T, N, device=device), torch.zeros(T, N, device=device)
    valid, rewards, dones = np.zeros((T, N), bool), np.zeros((T, N)), np.zeros((T, N))
    for t in range(T):
        with torch.no_grad():
            action, logp_buf[t] = sample_actions(agent.actor(obs))
            val_buf[t] = agent.value(obs)
        obs_buf[t], act_buf[t] = obs, action
        next_np, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
        next_obs = torch.as_tensor(next_np, dtype=torch.float32, device=device)
        bootstrap = truncated & ~terminated & ~resetting
        if bootstrap.any():  # a time limit: add gamma V(real final observation)
            with torch.no_grad():
                reward = reward + cfg.gamma * agent.value(next_obs).cpu().numpy() * bootstrap
        done = terminated | truncated
        valid[t], rewards[t], dones[t] = ~resetting, reward * ~resetting, done | resetting
        resetting, obs = done, next_obs
    as_tensor = partial(torch.as_tensor, dtype=torch.float32, device=device)
    rollout = Rollout(
        obs_buf,
        act_buf,
        logp_buf,
        val_buf,
        as_tensor(rewards),
        as_tensor(dones),
        torch.as_tensor(valid, device=device),
    )
    return rollout, obs, resetting


def advantages_and_returns(
    rollout: Rollout, agent: ActorCritic, next_obs: torch.Tensor, cfg: PPOConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages of the rollout, bootstrapped from V(next_obs) after its last step, and
    the value targets R_t = A_t + V(s_t)."""
    with torch.no_grad():
        advantages = gae(
            rollout.rewards,
            rollout.values,
            rollout.dones,
            agent.value(next_obs),
            cfg.gamma,
            cfg.gae_lambda,
        )
    return advantages, advantages + rollout.values


def clipped_surrogate(
    logits: torch.Tensor,
    actions: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
) -> torch.Tensor:
    """L_clip = E[min(r A, clip(r, 1 - eps, 1 + eps) A)], r = pi(a|s) / pi_old(a|s)."""
    ratio = (log_prob_of(logits, actions) - old_log_probs).exp()
    return torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()


def train_ppo(
    env_id: str,
    seed: int,
    max_steps: int,
    device: torch.device,
    config: PPOConfig | None = None,
    eval_every: int = 10_000,
    eval_episodes: int = 20,
    stop_when_solved: bool = True,
) -> TrainResult:
    cfg = config or PPOConfig()
    seed_everything(seed)
    envs = make_vector_env(env_id, cfg.num_envs, seed)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    agent = ActorCritic(obs_dim, n_actions, cfg.hidden).to(device)
    optimiser = adam(agent.parameters(), cfg.learning_rate, eps=1e-5)
    tracker = Tracker("ppo", env_id, seed, eval_every, eval_episodes, device)

    obs_np, _ = envs.reset(seed=seed)
    obs = torch.as_tensor(obs_np, dtype=torch.float32, device=device)
    resetting = np.zeros(cfg.num_envs, dtype=bool)  # the next step is an autoreset step
    steps, iterations = 0, max(1, max_steps // (cfg.num_steps * cfg.num_envs))
    diagnostics: list[dict[str, float]] = []
    for iteration in range(iterations):
        frac = 1.0 - iteration / iterations if cfg.anneal else 1.0
        optimiser.param_groups[0]["lr"] = frac * cfg.learning_rate
        clip = frac * cfg.clip_coef if cfg.anneal else cfg.clip_coef

        rollout, obs, resetting = collect_rollout(envs, agent, obs, resetting, cfg)
        advantages, returns = advantages_and_returns(rollout, agent, obs, cfg)
        steps += int(rollout.valid.sum())

        keep = rollout.valid.flatten()
        b_obs, b_act = rollout.obs.flatten(0, 1)[keep], rollout.actions.flatten()[keep]
        b_logp, b_adv = rollout.log_probs.flatten()[keep], advantages.flatten()[keep]
        b_ret, b_val = returns.flatten()[keep], rollout.values.flatten()[keep]
        n = len(b_obs)
        for _ in range(cfg.update_epochs):
            for idx in torch.randperm(n, device=device).split(cfg.minibatch_size):
                logits = agent.actor(b_obs[idx])
                adv = b_adv[idx]
                if cfg.norm_adv and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                clip_objective = clipped_surrogate(logits, b_act[idx], b_logp[idx], adv, clip)
                value = agent.value(b_obs[idx])
                if cfg.clip_vloss:
                    clipped = b_val[idx] + (value - b_val[idx]).clamp(-clip, clip)
                    value_loss = torch.max(
                        (value - b_ret[idx]) ** 2, (clipped - b_ret[idx]) ** 2
                    ).mean()
                else:
                    value_loss = ((value - b_ret[idx]) ** 2).mean()
                loss = -clip_objective + cfg.vf_coef * value_loss
                if cfg.ent_coef:
                    loss = loss - cfg.ent_coef * entropy_of(logits).mean()
                optimiser.zero_grad()
                loss.backward()
                # gradient clipping: a separate transformation of the update, after the loss
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm, foreach=True)
                optimiser.step()
        diagnostics.append(
            {"steps": steps, **update_diagnostics(agent, b_obs, b_act, b_logp, b_ret, b_val, clip)}
        )

        if tracker.maybe_evaluate(steps, agent.act, agent.actor) and stop_when_solved:
            break
    envs.close()
    result = tracker.result(steps, agent.act, agent.actor)
    result.diagnostics = diagnostics
    return result


@torch.no_grad()
def update_diagnostics(
    agent: ActorCritic,
    obs: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
    clip: float,
) -> dict[str, float]:
    """What one update did, over its whole batch after all epochs (as cleanrl and SB3 log it):
    the approximate KL(old || new) ``E[(r - 1) - log r]``, the fraction of ratios outside
    ``[1 - clip, 1 + clip]``, the old value function's explained variance of the returns, and
    the new policy's entropy."""
    logits = agent.actor(obs)
    log_ratio = log_prob_of(logits, actions) - old_logp
    ratio = log_ratio.exp()
    variance = returns.var()
    explained = 1 - (returns - old_values).var() / variance if variance > 0 else float("nan")
    return {
        "approx_kl": float(((ratio - 1) - log_ratio).mean()),
        "clip_fraction": float(((ratio - 1).abs() > clip).float().mean()),
        "explained_variance": float(explained),
        "entropy": float(entropy_of(logits).mean()),
    }
