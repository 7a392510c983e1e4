"""Exact infinite-horizon tabular MDPs by linear solves: values, visitation, exact gradients.

Stationary policies ``pi = softmax(logits[s])``; discount ``gamma <= 1``. With ``gamma = 1``
the MDP must be episodic: a terminal (absorbing, reward-free) state reached with probability
one, so that (I - P_pi) is invertible on the other states. Everything is float64 and
differentiable in the logits with autograd.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TabularMDP:
    """``transitions[s, a, s']``, ``rewards[s, a]``, ``initial[s]``, ``terminal[s]`` (absorbing)."""

    transitions: torch.Tensor
    rewards: torch.Tensor
    initial: torch.Tensor
    terminal: torch.Tensor
    gamma: float = 1.0

    @property
    def num_states(self) -> int:
        return self.rewards.shape[0]

    def with_gamma(self, gamma: float) -> TabularMDP:
        return TabularMDP(self.transitions, self.rewards, self.initial, self.terminal, gamma)


#: The end probability of :func:`random_episodic_mdp` unless given.
DEFAULT_END_PROBABILITY = 0.15


def random_episodic_mdp(
    num_states: int,
    num_actions: int,
    generator: torch.Generator,
    end_probability: float = DEFAULT_END_PROBABILITY,
    gamma: float = 1.0,
) -> TabularMDP:
    """Random transitions (Dirichlet(1)) among ``num_states`` states plus one terminal state,
    reached from every (s, a) with probability at least ``end_probability``; rewards N(0, 1)."""
    S = num_states + 1
    e = -torch.rand(
        num_states, num_actions, num_states, generator=generator, dtype=torch.float64
    ).log()
    moves = (1 - end_probability) * e / e.sum(-1, keepdim=True)
    transitions = torch.zeros(S, num_actions, S, dtype=torch.float64)
    transitions[:num_states, :, :num_states] = moves
    transitions[:num_states, :, -1] = end_probability
    transitions[-1, :, -1] = 1.0
    rewards = torch.zeros(S, num_actions, dtype=torch.float64)
    rewards[:num_states] = torch.randn(
        num_states, num_actions, generator=generator, dtype=torch.float64
    )
    initial = torch.zeros(S, dtype=torch.float64)
    initial[:num_states] = torch.softmax(
        torch.randn(num_states, generator=generator, dtype=torch.float64), 0
    )
    terminal = torch.zeros(S, dtype=torch.bool)
    terminal[-1] = True
    return TabularMDP(transitions, rewards, initial, terminal, gamma)


def random_end_mdp(
    num_states: int,
    num_actions: int,
    generator: torch.Generator,
    gamma: float = 1.0,
    end_low: float = 0.05,
    end_width: float = 0.55,
) -> TabularMDP:
    """A :func:`random_episodic_mdp` whose end probability depends on the state and the action,
    so that the expected episode length depends on the policy: drawn per (s, a) from [end_low,
    end_low + end_width] after the rest, the moves among live states rescaled to match."""
    mdp = random_episodic_mdp(num_states, num_actions, generator, gamma=gamma)
    end = end_low + end_width * torch.rand(
        num_states, num_actions, generator=generator, dtype=torch.float64
    )
    transitions = mdp.transitions.clone()
    live = slice(0, num_states)
    transitions[live, :, live] *= ((1 - end) / (1 - DEFAULT_END_PROBABILITY))[..., None]
    transitions[live, :, num_states] = end
    return TabularMDP(transitions, mdp.rewards, mdp.initial, mdp.terminal, gamma)


def chain_episodic_mdp(
    length: int,
    num_actions: int,
    generator: torch.Generator,
    gamma: float = 1.0,
    advance: tuple[float, float] = (0.1, 0.3),
) -> TabularMDP:
    """A random episodic chain, like an episode that moves through its states in time (as a
    CartPole episode does): from state s each action advances to s + 1 with a probability drawn
    from ``advance`` and stays otherwise; advancing from the last state ends the episode.
    Episodes start at state 0 and last about ``length / mean(advance)`` steps; rewards N(0, 1)."""
    S = length + 1
    forward = advance[0] + (advance[1] - advance[0]) * torch.rand(
        length, num_actions, generator=generator, dtype=torch.float64
    )
    transitions = torch.zeros(S, num_actions, S, dtype=torch.float64)
    states = torch.arange(length)
    transitions[states, :, states] = 1 - forward
    transitions[states, :, states + 1] = forward
    transitions[-1, :, -1] = 1.0
    rewards = torch.zeros(S, num_actions, dtype=torch.float64)
    rewards[:length] = torch.randn(length, num_actions, generator=generator, dtype=torch.float64)
    initial = torch.zeros(S, dtype=torch.float64)
    initial[0] = 1.0
    terminal = torch.zeros(S, dtype=torch.bool)
    terminal[-1] = True
    return TabularMDP(transitions, rewards, initial, terminal, gamma)


#: 003's CartPole-like setting of :func:`random_chain_cases`, for the effects that use it.
CHAIN_SETTING = "10 random episodic chains (50 states, 3 actions, about 250 steps), gamma = 0.99"


def random_cases(
    generator: torch.Generator,
    count: int = 10,
    *,
    states: int = 5,
    actions: int = 3,
    gamma: float = 1.0,
) -> Iterator[tuple[TabularMDP, torch.Tensor]]:
    """``count`` random episodic MDPs (:func:`random_episodic_mdp`, ``states`` live states plus
    the terminal one), each with standard-normal softmax logits, drawn in turn from
    ``generator``: the tabular counterpart of pgtheory.envs.finite.random_cases."""
    for _ in range(count):
        mdp = random_episodic_mdp(states, actions, generator, gamma=gamma)
        yield mdp, torch.randn(states + 1, actions, generator=generator, dtype=torch.float64)


def random_chain_cases(
    generator: torch.Generator, count: int = 10, gamma: float = 0.99
) -> Iterator[tuple[TabularMDP, torch.Tensor]]:
    """Episodes that move on in time as a CartPole episode does (:func:`chain_episodic_mdp`,
    50 states, 3 actions), gamma = 0.99 as in 003's code: about 250 steps, where gamma^t falls
    to about 0.08; each with standard-normal softmax logits, drawn in turn from ``generator``."""
    for _ in range(count):
        mdp = chain_episodic_mdp(50, 3, generator, gamma=gamma)
        yield mdp, torch.randn(51, 3, generator=generator, dtype=torch.float64)


def policy_matrices(
    mdp: TabularMDP, logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pi[s, a], P_pi[s, s'], r_pi[s]) with terminal states' rows zeroed (they end the episode):
    the Markov chain a policy induces, for linear solves over it."""
    pi = torch.softmax(logits, -1)
    live = (~mdp.terminal).to(torch.float64)
    P = torch.einsum("sa,sat->st", pi, mdp.transitions) * live[:, None]
    r = (pi * mdp.rewards).sum(-1) * live
    return pi, P, r


def state_values(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """V solves (I - gamma P_pi) V = r_pi."""
    _, P, r = policy_matrices(mdp, logits)
    return torch.linalg.solve(torch.eye(mdp.num_states, dtype=torch.float64) - mdp.gamma * P, r)


def action_values(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """Q(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V(s'), 0 in terminal states."""
    live = (~mdp.terminal).to(torch.float64)[:, None]
    return (mdp.rewards + mdp.gamma * mdp.transitions @ state_values(mdp, logits)) * live


def expected_return(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """J = E[sum_t gamma^t r_t] = rho_0 . V."""
    return mdp.initial @ state_values(mdp, logits)


def exact_policy_gradient(mdp: TabularMDP, logits: torch.Tensor) -> torch.Tensor:
    """grad J by autograd through the linear solve, shape of ``logits``."""
    theta = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_return(mdp, theta), theta)
    return grad


def visitation(mdp: TabularMDP, logits: torch.Tensor, gamma: float | None = None) -> torch.Tensor:
    """sum_t gamma^t Pr(s_t = s) (unnormalised): with gamma = 1 the expected number of visits
    eta(s), whose total is the expected episode length. Terminal states get 0."""
    g = mdp.gamma if gamma is None else gamma
    _, P, _ = policy_matrices(mdp, logits)
    eye = torch.eye(mdp.num_states, dtype=torch.float64)
    d = torch.linalg.solve((eye - g * P).T, mdp.initial)
    return d * (~mdp.terminal).to(torch.float64)


def all_actions_sum(mdp: TabularMDP, logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_s weights(s) sum_a q(s, a) grad pi(a|s), with q and the policy held at ``logits``."""
    q = action_values(mdp, logits).detach()
    theta = logits.detach().clone().requires_grad_(True)
    pi = torch.softmax(theta, -1)
    (grad,) = torch.autograd.grad((weights.detach()[:, None] * q * pi).sum(), theta)
    return grad
