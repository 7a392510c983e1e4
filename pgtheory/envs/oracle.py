"""The exact oracle as a gymnasium environment: a tabular episodic MDP whose J, grad J, Q, V
and optimum are known exactly (``pgtheory.envs.tabular``), behind the same API as CartPole,
so that the very trainers that run CartPole can be checked against it.

Observations are one-hot ``Box`` vectors (the trainers read ``single_observation_space``),
actions ``Discrete``; reaching the terminal state ends the episode (a termination), and a time
limit shorter than the natural episode truncates it (``max_episode_steps``), where the exact
values with bootstrapping are still known. :class:`OracleVectorEnv` is its native vector form
(gymnasium's ``vector_entry_point``: every sub-environment stepped at once in numpy, with
gymnasium 1.x next-step autoreset), so thousands of episodes cost one array step each.
``pgtheory/RandomMDP-v0`` is registered on import, fixed by its keyword arguments (sizes,
end probability, an MDP seed); its reward threshold is the optimal J minus a stated epsilon,
so "solved" means near-optimal.
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch

from pgtheory.envs.tabular import TabularMDP
from pgtheory.envs.tabular import expected_return
from pgtheory.envs.tabular import random_episodic_mdp

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


def network_logits(
    network: torch.nn.Module, mdp: TabularMDP, params: dict[str, torch.Tensor] | None = None
) -> torch.Tensor:
    """A policy network's logits at every state of ``mdp`` (its one-hot observations), in
    float64, as a function of its parameters (``params``, default its own)."""
    params = dict(network.named_parameters()) if params is None else params
    one_hot = torch.eye(mdp.num_states, dtype=torch.float64)
    return torch.func.functional_call(
        network, {k: v.double() for k, v in params.items()}, (one_hot,)
    )


def exact_network_gradient(network: torch.nn.Module, mdp: TabularMDP) -> torch.Tensor:
    """grad J of ``mdp`` (its own discount) with respect to a policy network's parameters,
    exactly (autograd through the linear solve), flattened in ``named_parameters`` order."""
    params = {k: v.detach() for k, v in network.named_parameters()}
    grads = torch.func.grad(lambda p: expected_return(mdp, network_logits(network, mdp, p)))(params)
    return torch.cat([g.flatten() for g in grads.values()])


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


class OracleVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of the oracle MDP stepped at once, with next-step autoreset: the
    step after an episode ends returns a first observation (reward 0, neither terminated nor
    truncated) and ignores the action, as gymnasium 1.x vector environments do.

    ``reset(seed=int)`` seeds one stream for all copies; ``reset(seed=[...])`` one stream per
    copy (for groups that start from the same state). ``info["resets"]`` after a step marks
    the sub-environments whose step was an autoreset step."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": [],
        "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        mdp: TabularMDP | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.mdp = mdp if mdp is not None else oracle_mdp(**{**DEFAULTS, **kwargs})
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self._cumulative = self.mdp.transitions.numpy().cumsum(-1)
        self._rewards = self.mdp.rewards.numpy()
        self._initial = self.mdp.initial.numpy().cumsum()
        self._terminal = self.mdp.terminal.numpy()
        states, actions = self._rewards.shape
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (states,), dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(actions)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.render_mode = render_mode
        self._rngs = [np.random.default_rng()]
        self.state = np.zeros(num_envs, dtype=np.int64)
        self.elapsed = np.zeros(num_envs, dtype=np.int64)
        self._ended = np.zeros(num_envs, dtype=bool)

    def _uniform(self) -> np.ndarray:
        if len(self._rngs) == 1:
            return self._rngs[0].random(self.num_envs)
        return np.array([rng.random() for rng in self._rngs])

    def _draw(self, cumulative: np.ndarray) -> np.ndarray:
        """One index per row of ``cumulative`` (cumulative probabilities), by inversion."""
        u = self._uniform()[:, None] * cumulative[:, -1:]
        return np.minimum((u >= cumulative).sum(-1), cumulative.shape[-1] - 1)

    def _observations(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self._rewards.shape[0]), dtype=np.float32)
        obs[np.arange(self.num_envs), self.state] = 1.0
        return obs

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, (list, tuple)):
            self._rngs = [np.random.default_rng(s) for s in seed]
        elif seed is not None:
            self._rngs = [np.random.default_rng(seed)]
        self.state = self._draw(np.broadcast_to(self._initial, (self.num_envs, len(self._initial))))
        self.elapsed[:] = 0
        self._ended[:] = False
        return self._observations(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions, dtype=np.int64)
        restart = self._ended
        reward = np.where(restart, 0.0, self._rewards[self.state, actions])
        moved = self._draw(self._cumulative[self.state, actions])
        fresh = self._draw(np.broadcast_to(self._initial, (self.num_envs, len(self._initial))))
        self.state = np.where(restart, fresh, moved)
        self.elapsed = np.where(restart, 0, self.elapsed + 1)
        terminated = ~restart & self._terminal[self.state]
        limit = self.max_episode_steps
        at_limit = self.elapsed >= limit if limit is not None else np.zeros_like(restart)
        truncated = ~restart & ~terminated & at_limit
        self._ended = terminated | truncated
        info = {"resets": restart.copy()}
        return self._observations(), reward, terminated, truncated, info


def register() -> None:
    """Register ``pgtheory/RandomMDP-v0`` (once) with its near-optimal reward threshold."""
    if ENV_ID in gym.registry:
        return
    best = optimal_return(oracle_mdp(**DEFAULTS))
    gym.register(
        ENV_ID,
        entry_point=TabularMDPEnv,
        kwargs=dict(DEFAULTS),
        vector_entry_point=OracleVectorEnv,
        reward_threshold=best - EPSILON * abs(best) - 0.05,
        max_episode_steps=1000,
    )


register()
