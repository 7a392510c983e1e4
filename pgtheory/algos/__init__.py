"""Policy-gradient algorithms on gymnasium, each readable top to bottom in its own file.

One protocol, written once here: an algorithm is a :class:`Trainer`, config in, result out.
``Trainer.train(env_id, seed, max_steps, device, config=None, eval_every=..., eval_episodes=...,
stop_when_solved=...) -> TrainResult``. npg and grpo are REINFORCE's machinery with a variant
(002's natural step; GRPO's group-relative advantage) that every config they are given keeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import torch

from pgtheory.algos.actor_critic import ActorCriticConfig
from pgtheory.algos.actor_critic import train_actor_critic
from pgtheory.algos.common import TrainResult
from pgtheory.algos.ppo import PPOConfig
from pgtheory.algos.ppo import train_ppo
from pgtheory.algos.reinforce import ReinforceConfig
from pgtheory.algos.reinforce import train_reinforce
from pgtheory.algos.reinforce_003 import train_reinforce_003


@dataclass(frozen=True)
class Trainer:
    """An algorithm: its training function, its config type, the fields that define it as a
    variant (applied to every config it runs with) and its other defaults."""

    function: Callable[..., TrainResult]
    config_type: type | None = None
    variant: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    def default_config(self) -> Any:
        if self.config_type is None:
            return None
        return dataclasses.replace(self.config_type(), **{**self.defaults, **self.variant})

    def train(
        self,
        env_id: str,
        seed: int,
        max_steps: int,
        device: torch.device,
        config: Any = None,
        **options: Any,
    ) -> TrainResult:
        """Train one seed; ``options`` are eval_every, eval_episodes, stop_when_solved."""
        if config is None:
            config = self.default_config()
        elif self.variant:
            config = dataclasses.replace(config, **self.variant)
        return self.function(env_id, seed, max_steps, device, config, **options)


TRAINERS: dict[str, Trainer] = {
    "reinforce-003": Trainer(train_reinforce_003),
    "reinforce": Trainer(train_reinforce, ReinforceConfig),
    "actor-critic": Trainer(train_actor_critic, ActorCriticConfig),
    "ppo": Trainer(train_ppo, PPOConfig),
    "npg": Trainer(train_reinforce, ReinforceConfig, variant={"update": "natural"}),
    "grpo": Trainer(
        train_reinforce, ReinforceConfig, variant={"baseline": "group"}, defaults={"num_envs": 16}
    ),
}

#: name -> training function with that algorithm's defaults and variant
ALGORITHMS: dict[str, Callable[..., TrainResult]] = {
    name: trainer.train for name, trainer in TRAINERS.items()
}

__all__ = ["ALGORITHMS", "TRAINERS", "TrainResult", "Trainer"]
