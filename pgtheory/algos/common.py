"""What the algorithms share: vector environments, networks, evaluation, and the run record.

Conventions (gymnasium 1.x): vector environments use next-step autoreset, so the step after
an episode ends returns the first observation of a new episode and ignores the action. That
step is not a transition and every algorithm masks it out. At a time-limit truncation the
returned observation is the real final one, which lets an algorithm bootstrap its value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def env_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """gymnasium's spec of ``env_id``; pgtheory's own environments (``pgtheory/...``) are
    registered on first use, whichever command or function asks first."""
    if env_id.startswith("pgtheory/"):
        import pgtheory.envs.oracle  # noqa: F401 - registers pgtheory/RandomMDP-v0
    return gym.spec(env_id)


def make_vector_env(
    env_id: str, num_envs: int, seed: int, per_env_seeds: bool = False
) -> gym.vector.VectorEnv:
    """The environment's own vectorised implementation where it has one (CartPole), else a
    synchronous vector of copies; next-step autoreset either way. ``per_env_seeds`` asks for
    copies, whose ``reset(seed=[...])`` takes one seed per sub-environment (CartPole's own
    vector environment takes one seed for all)."""
    env_spec(env_id)
    mode = "sync" if per_env_seeds else "vector_entry_point"
    try:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    except gym.error.Error:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def reward_threshold(env_id: str) -> float:
    threshold = env_spec(env_id).reward_threshold
    if threshold is None:
        raise ValueError(f"{env_id} has no reward threshold to define 'solved'")
    return float(threshold)


def layer(n_in: int, n_out: int, gain: float = np.sqrt(2)) -> nn.Linear:
    """A linear layer with orthogonal weights and zero bias (the PPO implementations' init)."""
    linear = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)
    return linear


def mlp(n_in: int, n_out: int, hidden: int = 64, out_gain: float = 0.01) -> nn.Sequential:
    return nn.Sequential(
        layer(n_in, hidden),
        nn.Tanh(),
        layer(hidden, hidden),
        nn.Tanh(),
        layer(hidden, n_out, out_gain),
    )


# Categorical sampling written out: torch.distributions.Categorical builds an object and
# validates its arguments on every call, which is most of a small policy's time per step.


def sample_actions(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions drawn from softmax(logits) over the last dimension, and their log-probabilities."""
    log_probs = logits.log_softmax(-1)
    actions = torch.multinomial(log_probs.exp(), 1).squeeze(-1)
    return actions, log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def log_prob_of(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[actions], for logits of any leading shape."""
    return logits.log_softmax(-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def entropy_of(logits: torch.Tensor) -> torch.Tensor:
    log_probs = logits.log_softmax(-1)
    return -(log_probs.exp() * log_probs).sum(-1)


def adam(params: Any, lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam as one fused kernel over all parameters (torch >= 2.4 on CPU and CUDA)."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)


@torch.inference_mode()
def evaluate(
    act: Callable[[torch.Tensor], torch.Tensor],
    env_id: str,
    episodes: int,
    seed: int,
    device: torch.device,
) -> float:
    """Mean return of ``episodes`` episodes of the stochastic policy ``act`` (obs -> actions),
    one episode per sub-environment of a vector environment, all run at once."""
    env = make_vector_env(env_id, episodes, seed)
    obs, _ = env.reset(seed=seed)
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        actions = act(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()
        obs, reward, terminated, truncated, _ = env.step(actions)
        returns += reward * running
        running &= ~(terminated | truncated)
    env.close()
    return float(returns.mean())


@dataclass
class TrainResult:
    """One seed's run. ``curve`` rows are (env steps, seconds, evaluation return)."""

    algo: str
    env: str
    seed: int
    solved: bool
    steps_to_solve: int | None
    seconds_to_solve: float | None
    final_eval_return: float
    sps: float
    steps: int
    seconds: float
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    exact_returns: list[tuple[int, float]] = field(default_factory=list)
    """on the exact oracle (pgtheory/RandomMDP-v0): (env steps, the policy's exact J) at each
    evaluation"""
    optimal_return: float | None = None
    """on the exact oracle: the optimal J, by value iteration"""
    diagnostics: list[dict[str, float]] = field(default_factory=list)
    """per update, where the algorithm records them (PPO: approx_kl, clip_fraction,
    explained_variance, entropy, and the env steps so far)"""
    policy: torch.nn.Module | None = field(default=None, repr=False, compare=False)
    """the trained policy network (observations -> action logits), for ``train --save``"""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "policy"}


class Tracker:
    """Evaluates at regular intervals of env steps, times everything (evaluation included),
    and says when the run is solved: the evaluation mean reaches the reward threshold."""

    def __init__(
        self,
        algo: str,
        env_id: str,
        seed: int,
        eval_every: int,
        eval_episodes: int,
        device: torch.device,
    ):
        self.algo, self.env_id, self.seed = algo, env_id, seed
        self.eval_every, self.eval_episodes, self.device = eval_every, eval_episodes, device
        self.threshold = reward_threshold(env_id)
        self.start = time.perf_counter()
        self.next_eval = eval_every
        self.curve: list[tuple[int, float, float]] = []
        self.solved_at: tuple[int, float] | None = None
        self.oracle = exact_oracle(env_id)
        self.exact_returns: list[tuple[int, float]] = []

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def maybe_evaluate(
        self,
        steps: int,
        act: Callable[[torch.Tensor], torch.Tensor],
        policy: torch.nn.Module | None = None,
    ) -> bool:
        """Evaluate if ``steps`` passed the next evaluation point; True once solved. On the
        exact oracle the policy network's exact J is recorded beside the sampled return."""
        if steps < self.next_eval:
            return self.solved_at is not None
        self.next_eval = (steps // self.eval_every + 1) * self.eval_every
        if self.oracle is not None and policy is not None:
            self.exact_returns.append((steps, self.oracle.exact_return(policy)))
        score = evaluate(
            act, self.env_id, self.eval_episodes, self.seed + 10_000 + len(self.curve), self.device
        )
        self.curve.append((steps, self.seconds(), score))
        if score >= self.threshold and self.solved_at is None:
            self.solved_at = (steps, self.seconds())
        return self.solved_at is not None

    def result(
        self,
        steps: int,
        act: Callable[[torch.Tensor], torch.Tensor],
        policy: torch.nn.Module | None = None,
    ) -> TrainResult:
        if not self.curve or self.curve[-1][0] != steps:
            self.next_eval = 0
            self.maybe_evaluate(steps, act, policy)
        seconds = self.seconds()
        return TrainResult(
            algo=self.algo,
            env=self.env_id,
            seed=self.seed,
            solved=self.solved_at is not None,
            steps_to_solve=self.solved_at[0] if self.solved_at else None,
            seconds_to_solve=self.solved_at[1] if self.solved_at else None,
            final_eval_return=self.curve[-1][2],
            sps=steps / seconds,
            steps=steps,
            seconds=seconds,
            curve=self.curve,
            exact_returns=self.exact_returns,
            optimal_return=self.oracle.optimal if self.oracle is not None else None,
            policy=policy,
        )


@dataclass(frozen=True)
class ExactOracle:
    """The exact J of a policy network on the oracle environment, and the optimal J."""

    mdp: Any
    optimal: float

    def exact_return(self, policy: torch.nn.Module) -> float:
        from pgtheory.envs.oracle import network_logits
        from pgtheory.envs.tabular import expected_return

        # the parameters' values on the CPU; the trainer's network stays where it is
        params = {k: v.detach().cpu() for k, v in policy.named_parameters()}
        with torch.no_grad():
            return float(expected_return(self.mdp, network_logits(policy, self.mdp, params)))


def exact_oracle(env_id: str) -> ExactOracle | None:
    """For an environment of :mod:`pgtheory.envs.oracle`, its MDP and optimal J; else None."""
    spec = env_spec(env_id)
    module = getattr(spec.entry_point, "__module__", str(spec.entry_point))
    if not module.startswith("pgtheory.envs.oracle"):
        return None
    from pgtheory.envs.oracle import DEFAULTS
    from pgtheory.envs.oracle import optimal_return
    from pgtheory.envs.oracle import oracle_mdp

    mdp = oracle_mdp(**{**DEFAULTS, **spec.kwargs})
    return ExactOracle(mdp, optimal_return(mdp))


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
