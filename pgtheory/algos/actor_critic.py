"""One-step actor-critic, vectorised over environments, in Sutton and Barto's form:

    delta_t = r_t + gamma v(s_{t+1}) - v(s_t)            (v(terminal) = 0)
    w       <- w + alpha_w delta_t grad v(s_t)
    theta   <- theta + alpha_theta I delta_t grad log pi(a_t|s_t)
    I       <- gamma I                                    (I = 1 at the start of each episode)

004 writes the actor's line without I (theta <- theta + alpha delta_t grad log pi, its
"Actor-Critic" section); Sutton and Barto's episodic algorithm has I = gamma^t, which the
discounted objective needs. ``discount_factor_I=False`` gives 004's line as printed.

An update after every step of every sub-environment (one batched step). At a time-limit
truncation v(s_{t+1}) is bootstrapped from the real final observation; at termination it is 0.
The gradient steps use Adam rather than plain SGD (a practical choice, stated here).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
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


@dataclass
class ActorCriticConfig:
    num_envs: int = 8
    """parallel environments, one batched update per step"""
    actor_lr: float = 1e-3
    """alpha_theta"""
    critic_lr: float = 5e-3
    """alpha_w"""
    gamma: float = 0.99
    """discount"""
    discount_factor_I: bool = True
    """multiply the actor's step by I = gamma^t (Sutton and Barto; 004's line omits it)"""
    hidden: int = 64
    """width of the hidden layers"""


@dataclass
class Transitions:
    """Where the loop stands: the observations, which sub-environments' next step is an
    autoreset step, and each one's I = gamma^t."""

    obs: torch.Tensor
    resetting: torch.Tensor
    discount_I: torch.Tensor


def actor_critic_step(
    envs: gym.vector.VectorEnv,
    actor: nn.Module,
    critic: nn.Module,
    state: Transitions,
    cfg: ActorCriticConfig,
) -> tuple[Transitions, torch.Tensor, torch.Tensor, int]:
    """One batched step of every sub-environment and its update before any optimiser step:
    ``(next state, actor_loss, critic_loss, transitions)``. The actor's loss is minus
    I delta_t log pi(a_t|s_t) averaged over the step's transitions (the autoreset step is
    none), delta_t = r_t + gamma v(s_{t+1}) - v(s_t) with v(s_{t+1}) = 0 at a termination."""
    obs, resetting, device = state.obs, state.resetting, state.obs.device
    logits = actor(obs)
    action = sample_actions(logits.detach())[0]
    next_np, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
    next_obs = torch.as_tensor(next_np, dtype=torch.float32, device=device)
    reward_t = torch.as_tensor(reward, dtype=torch.float32, device=device)
    term_t = torch.as_tensor(terminated, device=device)
    valid = (~resetting).float()

    value = critic(obs).squeeze(-1)
    with torch.no_grad():
        target = reward_t + cfg.gamma * critic(next_obs).squeeze(-1) * (~term_t).float()
    delta = target - value
    count = valid.sum().clamp_min(1)
    critic_loss = 0.5 * (delta**2 * valid).sum() / count
    weight = (state.discount_I if cfg.discount_factor_I else 1.0) * delta.detach() * valid
    actor_loss = -(weight * log_prob_of(logits, action)).sum() / count

    done = term_t | torch.as_tensor(truncated, device=device)
    discount_I = next_discount(state.discount_I, done | resetting, cfg.gamma)
    return Transitions(next_obs, done, discount_I), actor_loss, critic_loss, int(valid.sum())


def next_discount(discount_I: torch.Tensor, restart: torch.Tensor, gamma: float) -> torch.Tensor:
    """I for the next step: gamma I, or 1 where an episode starts again (after its end or
    its autoreset step, so that an episode's first real transition gets I = 1)."""
    return torch.where(restart, torch.ones_like(discount_I), discount_I * gamma)


def train_actor_critic(
    env_id: str,
    seed: int,
    max_steps: int,
    device: torch.device,
    config: ActorCriticConfig | None = None,
    eval_every: int = 10_000,
    eval_episodes: int = 20,
    stop_when_solved: bool = True,
) -> TrainResult:
    cfg = config or ActorCriticConfig()
    seed_everything(seed)
    envs = make_vector_env(env_id, cfg.num_envs, seed)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    actor = mlp(obs_dim, n_actions, cfg.hidden).to(device)
    critic = mlp(obs_dim, 1, cfg.hidden, out_gain=1.0).to(device)
    actor_opt = adam(actor.parameters(), cfg.actor_lr)
    critic_opt = adam(critic.parameters(), cfg.critic_lr)
    tracker = Tracker("actor-critic", env_id, seed, eval_every, eval_episodes, device)

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return sample_actions(actor(obs))[0]

    obs_np, _ = envs.reset(seed=seed)
    state = Transitions(
        torch.as_tensor(obs_np, dtype=torch.float32, device=device),
        torch.zeros(cfg.num_envs, dtype=torch.bool, device=device),
        torch.ones(cfg.num_envs, device=device),
    )
    steps = 0
    while steps < max_steps:
        state, actor_loss, critic_loss, transitions = actor_critic_step(
            envs, actor, critic, state, cfg
        )
        critic_opt.zero_grad()
        actor_opt.zero_grad()
        (critic_loss + actor_loss).backward()
        critic_opt.step()
        actor_opt.step()
        steps += transitions

        if tracker.maybe_evaluate(steps, act, actor) and stop_when_solved:
            break
    envs.close()
    return tracker.result(steps, act, actor)
