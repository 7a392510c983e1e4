"""The trainers' own updates on the exact oracle: the machinery of the claims that check
implementations (``claims/trainers.py``) rather than formulas.

A trainer's network is built as the trainer builds it, on the oracle's one-hot states, so that
its exact J and grad J with respect to the network's parameters follow from the tabular
solvers (:func:`pgtheory.envs.oracle.exact_network_gradient`); a sampler then draws the
trainer's own update for many independent batches at once (``torch.func.vmap`` over its loss).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.func import functional_call
from torch.func import grad
from torch.func import vmap

from pgtheory.algos import reinforce
from pgtheory.algos.common import mlp
from pgtheory.algos.common import sample_actions
from pgtheory.algos.reinforce import Episodes
from pgtheory.algos.reinforce import ReinforceConfig
from pgtheory.envs.oracle import OracleVectorEnv
from pgtheory.envs.oracle import network_logits
from pgtheory.envs.tabular import TabularMDP


@contextlib.contextmanager
def planted(module: ModuleType, name: str, replacement: Callable) -> Iterator[None]:
    """A bug (or a switched-off mechanism) planted in a trainer's module for the duration of a
    check: ``module.name`` is ``replacement(faithful)`` until the block ends. Trainers call their
    parts through module attributes, so the plant is seen by their own code path."""
    faithful = getattr(module, name)
    setattr(module, name, replacement(faithful))
    try:
        yield
    finally:
        setattr(module, name, faithful)


#: Batches differentiated at once (bounded memory: episodes are padded to the longest).
CHUNK = 4096


def trainer_network(
    mdp: TabularMDP, outputs: int, seed: int, hidden: int = 16, out_gain: float = 0.01
) -> torch.nn.Module:
    """The trainers' own network (``algos.common.mlp``) on the oracle's one-hot observations,
    its parameters moved off the initialisation by a seeded perturbation (a policy partway
    through training, not the near-uniform one at the start)."""
    with torch.random.fork_rng():  # the network's initialisation draws from the global stream
        torch.manual_seed(seed)
        network = mlp(mdp.num_states, outputs, hidden, out_gain=out_gain)
        with torch.no_grad():
            for p in network.parameters():
                p.add_(0.5 * torch.randn_like(p))
    return network


def directions(
    reference: torch.Tensor, generator: torch.Generator, orthogonal: int = 3
) -> torch.Tensor:
    """Columns: reference / |reference|, then orthonormal random directions orthogonal to it."""
    u = reference / reference.norm()
    others = torch.randn(reference.numel(), orthogonal, generator=generator, dtype=reference.dtype)
    basis, _ = torch.linalg.qr(torch.cat([u[:, None], others], 1))
    basis[:, 0] = u  # QR's first column is +-u
    return basis


def reinforce_updates(
    cfg: ReinforceConfig,
    policy: torch.nn.Module,
    mdp: TabularMDP,
    basis: torch.Tensor,
    value: torch.nn.Module | None = None,
    ema: float | None = None,
) -> Callable[[int, torch.Generator], torch.Tensor]:
    """A sampler of the REINFORCE trainer's update direction for ``n`` independent batches,
    projected on ``basis``: each batch is ``cfg.num_envs`` episodes from the trainer's own
    ``collect_episodes`` on the vector oracle, and its sample is minus the gradient of the
    trainer's own ``reinforce_loss`` with respect to the policy's parameters (before any
    clipping or optimiser step), all batches differentiated at once with ``torch.func``."""
    params = {k: v.detach() for k, v in policy.named_parameters()}
    basis32 = basis.float()

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return sample_actions(policy(obs))[0]

    def minus_loss(p, obs, actions, rewards, live):
        episodes = Episodes(obs, actions, rewards, live)
        objective, value_loss = reinforce.reinforce_loss(
            lambda x: functional_call(policy, p, (x,)), value, episodes, cfg, ema
        )
        return objective - value_loss

    def chunk(n: int, seed: int) -> torch.Tensor:
        envs = OracleVectorEnv(num_envs=n * cfg.num_envs, mdp=mdp)
        envs.reset(seed=seed)
        with torch.random.fork_rng():  # the trainer samples actions from torch's global stream
            torch.manual_seed(seed)
            episodes = reinforce.collect_episodes(envs, act, torch.device("cpu"))
        per_batch = [x.reshape(n, cfg.num_envs, *x.shape[1:]) for x in vars(episodes).values()]
        grads = vmap(grad(minus_loss), in_dims=(None, 0, 0, 0, 0))(params, *per_batch)
        flat = torch.cat([g.reshape(n, -1) for g in grads.values()], 1)
        return (flat @ basis32).double()

    def sampler(n: int, generator: torch.Generator) -> torch.Tensor:
        sizes = [CHUNK] * (n // CHUNK) + ([n % CHUNK] if n % CHUNK else [])
        seeds = torch.randint(2**62, (len(sizes),), generator=generator).tolist()
        return torch.cat([chunk(size, seed) for size, seed in zip(sizes, seeds, strict=True)])

    return sampler


class StepRecorder(gym.vector.VectorWrapper):
    """Records what a vector environment returned at every step, independently of the
    trainer that drives it: the observation before the step, the action, the reward, the
    flags, the observation after, and whether the step was an autoreset step."""

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        self.steps: list[dict[str, np.ndarray]] = []
        self._obs: np.ndarray | None = None
        self._ended = np.zeros(env.num_envs, dtype=bool)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs, self._ended = obs, np.zeros(self.num_envs, dtype=bool)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, ...]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self.steps.append(
            {
                "before": self._obs,
                "action": np.asarray(actions),
                "reward": np.asarray(reward, dtype=np.float64),
                "terminated": terminated.copy(),
                "truncated": truncated.copy(),
                "after": obs,
                "reset": self._ended.copy(),
            }
        )
        self._obs, self._ended = obs, terminated | truncated
        return obs, reward, terminated, truncated, info

    def counts(self) -> dict[str, int]:
        """Terminations, truncations and autoreset steps recorded so far."""
        return {
            "terminations": int(sum(s["terminated"].sum() for s in self.steps)),
            "truncations": int(sum((s["truncated"] & ~s["terminated"]).sum() for s in self.steps)),
            "resets": int(sum(s["reset"].sum() for s in self.steps)),
        }


def gae_by_definition(
    steps: list[dict[str, np.ndarray]], values: np.ndarray, gamma: float, lam: float
) -> np.ndarray:
    """004's GAE written out from recorded steps: A_t = sum_l (gamma lambda)^l delta_{t+l},
    delta_t = r_t + gamma V(s_{t+1}) - V(s_t) with V(s_{t+1}) = 0 at a termination and the
    real final state's value at a time-limit truncation; the sum runs to the episode's end or
    the last recorded step. ``values`` are V of every state (one-hot observations); an
    autoreset step is not a transition (NaN). Float64, shape (T, N)."""
    T, N = len(steps), len(steps[0]["reward"])
    advantages = np.full((T, N), np.nan)
    for i in range(N):
        following = 0.0  # A_{t+1} of the same episode, 0 past its end or the last step
        for t in reversed(range(T)):
            step = steps[t]
            if step["reset"][i]:
                following = 0.0
                continue
            s, s_next = int(step["before"][i].argmax()), int(step["after"][i].argmax())
            ended = step["terminated"][i] or step["truncated"][i]
            bootstrap = 0.0 if step["terminated"][i] else gamma * values[s_next]
            delta = step["reward"][i] + bootstrap - values[s]
            advantages[t, i] = delta + (0.0 if ended else gamma * lam * following)
            following = advantages[t, i]
    return advantages


class ExactValue(torch.nn.Module):
    """A critic that returns the exact V of a tabular MDP at one-hot observations."""

    def __init__(self, values: torch.Tensor):
        super().__init__()
        self.register_buffer("values", values.float()[:, None])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs @ self.values


def exact_fisher(
    network: torch.nn.Module, mdp: TabularMDP, state_weights: torch.Tensor
) -> torch.Tensor:
    """The Fisher matrix of a softmax policy network in its parameters, exactly:
    sum_s w(s) J_s^T (diag pi_s - pi_s pi_s^T) J_s with J_s = d logits(s) / d theta and
    ``state_weights`` w normalised to sum 1 (float64, ``named_parameters`` order)."""
    params = {k: v.detach().double() for k, v in network.named_parameters()}
    shapes = [(k, v.shape, v.numel()) for k, v in params.items()]
    flat = torch.cat([v.flatten() for v in params.values()])

    def logits_of(vector: torch.Tensor) -> torch.Tensor:
        split = dict(zip(params, vector.split([n for _, _, n in shapes]), strict=True))
        return network_logits(network, mdp, {k: split[k].view(shape) for k, shape, _ in shapes})

    jacobian = torch.autograd.functional.jacobian(logits_of, flat)  # (S, A, P)
    pi = logits_of(flat).softmax(-1)
    per_state = torch.diag_embed(pi) - pi[:, :, None] * pi[:, None, :]
    w = state_weights / state_weights.sum()
    return torch.einsum("s,sap,sab,sbq->pq", w, jacobian, per_state, jacobian)
