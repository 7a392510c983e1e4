"""Exact finite-horizon tabular MDPs: enumeration of trajectories and batched sampling.

A trajectory is ``(s_0, a_0, ..., s_{H-1}, a_{H-1})`` with reward ``r(s_t, a_t)`` at each
step; the final state ``s_H`` carries no reward and sums out of every expectation, so it
is left out. Everything is float64 and differentiable in the policy logits with autograd.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import replace

import torch

from pgtheory.policies import SoftmaxPolicy


@dataclass(frozen=True)
class FiniteMDP:
    """``transitions[s, a, s']``, ``rewards[s, a]``, ``initial[s]``, horizon, discount."""

    transitions: torch.Tensor
    rewards: torch.Tensor
    initial: torch.Tensor
    horizon: int
    gamma: float = 1.0

    @property
    def num_states(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_actions(self) -> int:
        return self.rewards.shape[1]


def random_mdp(
    num_states: int, num_actions: int, horizon: int, generator: torch.Generator, gamma: float = 1.0
) -> FiniteMDP:
    """A random MDP: Dirichlet(1) transitions and initial law, standard-normal rewards."""

    def dirichlet(*shape: int) -> torch.Tensor:
        e = -torch.rand(*shape, generator=generator, dtype=torch.float64).log()
        return e / e.sum(-1, keepdim=True)

    return FiniteMDP(
        transitions=dirichlet(num_states, num_actions, num_states),
        rewards=torch.randn(num_states, num_actions, generator=generator, dtype=torch.float64),
        initial=dirichlet(num_states),
        horizon=horizon,
        gamma=gamma,
    )


def random_cases(
    generator: torch.Generator,
    count: int = 5,
    *,
    states: int = 3,
    actions: int = 2,
    horizon: int = 3,
    gamma: float = 1.0,
    reward_shift: float = 0.0,
    uniform_rewards: bool = False,
) -> Iterator[tuple[FiniteMDP, torch.Tensor]]:
    """``count`` random MDPs (:func:`random_mdp`, rewards shifted by ``reward_shift``, or
    redrawn uniform in [0, 1] with ``uniform_rewards``), each with standard-normal softmax
    logits, drawn in turn from ``generator``."""
    for _ in range(count):
        mdp = random_mdp(states, actions, horizon, generator, gamma=gamma)
        if uniform_rewards:
            rewards = torch.rand(states, actions, generator=generator, dtype=torch.float64)
            mdp = replace(mdp, rewards=rewards)
        if reward_shift:
            mdp = replace(mdp, rewards=mdp.rewards + reward_shift)
        yield mdp, torch.randn(states, actions, generator=generator, dtype=torch.float64)


@dataclass(frozen=True)
class Trajectories:
    """Index tensors ``states``/``actions`` of shape ``(n, H)``."""

    states: torch.Tensor
    actions: torch.Tensor


def enumerate_trajectories(mdp: FiniteMDP) -> Trajectories:
    """All ``(S * A) ** H`` state-action sequences (including impossible ones, of probability 0)."""
    pairs = list(itertools.product(range(mdp.num_states), range(mdp.num_actions)))
    seqs = torch.tensor(list(itertools.product(pairs, repeat=mdp.horizon)), dtype=torch.long)
    return Trajectories(states=seqs[..., 0], actions=seqs[..., 1])


def log_dynamics(
    mdp: FiniteMDP, traj: Trajectories, transitions: torch.Tensor | None = None
) -> torch.Tensor:
    """``log rho_0(s_0) + sum_t log P(s_{t+1} | s_t, a_t)`` per trajectory, shape ``(n,)``."""
    P = mdp.transitions if transitions is None else transitions
    s, a = traj.states, traj.actions
    steps = P[s[:, :-1], a[:, :-1], s[:, 1:]].log().sum(-1)
    return mdp.initial[s[:, 0]].log() + steps


def log_policy(policy: SoftmaxPolicy, traj: Trajectories) -> torch.Tensor:
    """``sum_t log pi(a_t | s_t)`` per trajectory, shape ``(n,)``."""
    return policy.log_prob(traj.states, traj.actions).sum(-1)


def trajectory_probability(
    mdp: FiniteMDP, policy: SoftmaxPolicy, traj: Trajectories
) -> torch.Tensor:
    """P(tau) = rho_0(s_0) prod_t pi(a_t|s_t) P(s_{t+1}|s_t, a_t) of each trajectory."""
    return (log_dynamics(mdp, traj) + log_policy(policy, traj)).exp()


def discounted_return(mdp: FiniteMDP, traj: Trajectories) -> torch.Tensor:
    """``R(tau) = sum_t gamma^t r(s_t, a_t)`` per trajectory, shape ``(n,)``."""
    discount = mdp.gamma ** torch.arange(
        mdp.horizon, dtype=torch.float64, device=traj.states.device
    )
    return (step_rewards(mdp, traj) * discount).sum(-1)


def score_sum(policy: SoftmaxPolicy, traj: Trajectories) -> torch.Tensor:
    """``sum_t grad_logits log pi(a_t | s_t)``, shape ``(n, S * A)``."""
    return policy.score(traj.states, traj.actions).sum(1).flatten(1)


def expected_return(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """``J(theta) = sum_tau P(tau) R(tau)`` by exact enumeration (differentiable in logits)."""
    traj = enumerate_trajectories(mdp)
    logp = log_dynamics(mdp, traj) + log_policy(SoftmaxPolicy(logits), traj)
    return (logp.exp() * discounted_return(mdp, traj)).sum()


def exact_policy_gradient(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """``grad J`` by autograd through the exact enumeration, flattened to ``(S * A,)``."""
    theta = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_return(mdp, theta), theta)
    return grad.flatten()


def sample_trajectories(
    mdp: FiniteMDP, policy: SoftmaxPolicy, n: int, generator: torch.Generator
) -> Trajectories:
    """``n`` trajectories drawn at once; the only Python loop is over the horizon.

    ``mdp`` and ``policy`` must live on ``generator.device`` (see :func:`to_device`).
    """
    device = generator.device
    P = mdp.transitions
    cdf0 = mdp.initial.cumsum(-1)
    u = torch.rand(n, 1, generator=generator, device=device, dtype=torch.float64)
    s = (cdf0 < u).sum(-1).clamp_max(mdp.num_states - 1)
    states, actions = [], []
    for _ in range(mdp.horizon):
        a = policy.sample(s, generator)
        states.append(s)
        actions.append(a)
        u = torch.rand(n, 1, generator=generator, device=device, dtype=torch.float64)
        s = (P[s, a].cumsum(-1) < u).sum(-1).clamp_max(mdp.num_states - 1)
    return Trajectories(torch.stack(states, 1), torch.stack(actions, 1))


def to_device(mdp: FiniteMDP, device: torch.device | str) -> FiniteMDP:
    return FiniteMDP(
        mdp.transitions.to(device),
        mdp.rewards.to(device),
        mdp.initial.to(device),
        mdp.horizon,
        mdp.gamma,
    )


def trajectory_expectation(mdp: FiniteMDP, policy: SoftmaxPolicy, fn) -> torch.Tensor:
    """``sum_tau P(tau) fn(tau)`` by exact enumeration; ``fn(traj)`` returns ``(n, ...)``."""
    traj = enumerate_trajectories(mdp)
    prob = trajectory_probability(mdp, policy, traj)
    values = fn(traj)
    return (prob.reshape(-1, *([1] * (values.dim() - 1))) * values).sum(0)


def step_rewards(mdp: FiniteMDP, traj: Trajectories) -> torch.Tensor:
    """``r(s_t, a_t)`` per step, shape ``(n, H)`` (undiscounted)."""
    return mdp.rewards[traj.states, traj.actions]


def state_occupancy(mdp: FiniteMDP, logits: torch.Tensor) -> torch.Tensor:
    """alpha[t, s] = Pr(s_t = s) for t < H under softmax(logits), by the forward recursion:
    the state weights of the finite-horizon policy gradient, without enumeration."""
    pi = torch.softmax(logits, -1)
    step = torch.einsum("sa,sat->st", pi, mdp.transitions)
    alpha = [mdp.initial]
    for _ in range(mdp.horizon - 1):
        alpha.append(alpha[-1] @ step)
    return torch.stack(alpha)


def total_variance(
    mdp: FiniteMDP,
    logits: torch.Tensor,
    estimator: Callable[[FiniteMDP, SoftmaxPolicy, Trajectories], torch.Tensor],
) -> float:
    """trace Cov[estimator] under softmax(logits) by exact enumeration of the trajectories:
    the quantity a variance-reduction claim compares, with no sampling error."""
    policy = SoftmaxPolicy(logits)
    traj = enumerate_trajectories(mdp)
    p = trajectory_probability(mdp, policy, traj)
    g = estimator(mdp, policy, traj)
    mean = (p[:, None] * g).sum(0)
    return float((p[:, None] * (g - mean) ** 2).sum())


def finite_horizon_values(
    mdp: FiniteMDP, logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-dependent V[t, s] and Q[t, s, a] by backward recursion over the horizon, with
    Q_t(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V_{t+1}(s') and V_H = 0."""
    pi = torch.softmax(logits, -1)
    V = torch.zeros(mdp.horizon + 1, mdp.num_states, dtype=torch.float64)
    Q = torch.zeros(mdp.horizon, mdp.num_states, mdp.num_actions, dtype=torch.float64)
    for t in reversed(range(mdp.horizon)):
        Q[t] = mdp.rewards + mdp.gamma * mdp.transitions @ V[t + 1]
        V[t] = (pi * Q[t]).sum(-1)
    return V[:-1], Q


def supported_share(
    mdp: FiniteMDP, target: torch.Tensor, covered: torch.Tensor, horizon: int | None = None
) -> float:
    """E_target[R 1{every action covered}] / E_target[R] over ``horizon`` steps (default the
    MDP's; rewards >= 0): what importance sampling summed over a behaviour policy's support
    (``covered[s, a]``) recovers of the target's expectation. A backward recursion in float64:
    surv(s), the probability under the target that the remaining actions are all covered, and
    val(s), the expected return of such trajectories."""
    P, r, initial = (x.double() for x in (mdp.transitions, mdp.rewards, mdp.initial))
    pi = torch.softmax(target.double(), -1)
    kept = pi * covered.double()
    surv, val, full = torch.ones_like(initial), torch.zeros_like(initial), torch.zeros_like(initial)
    for _ in range(mdp.horizon if horizon is None else horizon):
        next_surv, next_val, next_full = P @ surv, P @ val, P @ full  # (S, A)
        val = (kept * (r * next_surv + next_val)).sum(-1)
        full = (pi * (r + next_full)).sum(-1)
        surv = (kept * next_surv).sum(-1)
    return float(initial @ val / (initial @ full))
