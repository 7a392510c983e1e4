"""The exact oracle as a gymnasium environment: a tabular episodic MDP whose J, grad J, Q, V
and optimum are known exactly (``pgtheory.envs.tabular``), behind the same API as CartPole,
so that the very trainers that run CartPole can be checked against it.

Observations are one-hot ``Box`` vectors (the trainers read ``single_observation_space``),
actions ``Discrete``; reaching the terminal state ends the episode (a termination).
``pgtheory/RandomMDP-v0`` is registered on import, fixed by its keyword arguments (sizes,
end probability, an MDP seed); its reward threshold is the optimal J minus a stated epsilon,
so "solved" means near-optimal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from pgtheory.envs.tabular import TabularMDP, random_episodic_mdp

ENV_ID = "pgtheory/RandomMDP-v0"
DEFAULTS: dict[str, Any] = {"states": 5, "actions": 3, "end_probability": 0.1, "mdp_seed": 0}
#: "Solved": the evaluation mean reaches the optimal J minus this fraction of |J*| (plus 0.05).
EPSILON = 0.05


def oracle_mdp(states: int, actions: int, end_probability: float, mdp_seed: int) -> TabularMDP:
    """The MDP an environment with these keyword arguments runs."""
    generator = torch.Generator().manual_seed(mdp_seed)
    return random_episodic_mdp(states, actions, generator, end_probability)


def optimal_return(mdp: TabularMDP, iterations: int = 10_000) -> float:
    """The optimal expected return from the initial law, by value iteration (every policy ends
    the episode with probability at least the end probability per step)."""
    P, R = mdp.transitions.numpy(), mdp.rewards.numpy()
    V = np.zeros(P.shape[0])
    for _ in range(iterations):
        new = (R + P @ V).max(1)
        new[mdp.terminal.numpy()] = 0.0
        if np.abs(new - V).max() < 1e-12:
            break
        V = new
    return float(mdp.initial.numpy() @ V)


class TabularMDPEnv(gym.Env):
    """One episode of a :class:`~pgtheory.envs.tabular.TabularMDP` at a time."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, mdp: TabularMDP | None = None, **kwargs: Any) -> None:
        self.mdp = mdp if mdp is not None else oracle_mdp(**{**DEFAULTS, **kwargs})
        self._transitions = self.mdp.transitions.numpy()
        self._rewards = self.mdp.rewards.numpy()
        self._initial = self.mdp.initial.numpy()
        self._terminal = self.mdp.terminal.numpy()
        states, actions = self._rewards.shape
        self.observation_space = gym.spaces.Box(0.0, 1.0, (states,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(actions)
        self.state = 0

    def _observation(self) -> np.ndarray:
        one_hot = np.zeros(self.observation_space.shape, dtype=np.float32)
        one_hot[self.state] = 1.0
        return one_hot

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = int(self.np_random.choice(len(self._initial), p=self._initial))
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        reward = float(self._rewards[self.state, a])
        p = self._transitions[self.state, a]
        self.state = int(self.np_random.choice(len(p), p=p / p.sum()))
        return self._observation(), reward, bool(self._terminal[self.state]), False, {}


def register() -> None:
    """Register ``pgtheory/RandomMDP-v0`` (once) with its near-optimal reward threshold."""
    if ENV_ID in gym.registry:
        return
    best = optimal_return(oracle_mdp(**DEFAULTS))
    gym.register(
        ENV_ID,
        entry_point=TabularMDPEnv,
        kwargs=dict(DEFAULTS),
        reward_threshold=best - EPSILON * abs(best) - 0.05,
        max_episode_steps=1000,
    )


register()
