"""Policy-gradient algorithms on gymnasium, each readable top to bottom in its own file.

Every trainer has the signature ``train(env_id, seed, max_steps, device, config=None,
eval_every=..., eval_episodes=..., stop_when_solved=...) -> TrainResult``; :data:`TRAINERS`
pairs each algorithm's name with its trainer and its default config (npg and grpo are
REINFORCE with another default config, so a config passed to them keeps its variant only
if it says so).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgtheory.algos.actor_critic import ActorCriticConfig, train_actor_critic
from pgtheory.algos.common import TrainResult
from pgtheory.algos.ppo import PPOConfig, train_ppo
from pgtheory.algos.reinforce import ReinforceConfig, train_grpo, train_npg, train_reinforce
from pgtheory.algos.reinforce_003 import train_reinforce_003


@dataclass(frozen=True)
class Trainer:
    """An algorithm: its training function and the config it runs with by default."""

    train: Callable[..., TrainResult]
    default_config: Callable[[], Any] | None = None


TRAINERS: dict[str, Trainer] = {
    "reinforce-003": Trainer(train_reinforce_003),
    "reinforce": Trainer(train_reinforce, ReinforceConfig),
    "actor-critic": Trainer(train_actor_critic, ActorCriticConfig),
    "ppo": Trainer(train_ppo, PPOConfig),
    "npg": Trainer(train_reinforce, lambda: ReinforceConfig(update="natural")),
    "grpo": Trainer(train_reinforce, lambda: ReinforceConfig(baseline="group", num_envs=16)),
}

#: name -> training function with that algorithm's defaults
ALGORITHMS = {
    "reinforce-003": train_reinforce_003,
    "reinforce": train_reinforce,
    "actor-critic": train_actor_critic,
    "ppo": train_ppo,
    "npg": train_npg,
    "grpo": train_grpo,
}

__all__ = ["ALGORITHMS", "TRAINERS", "TrainResult", "Trainer"]
