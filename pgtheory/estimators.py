"""Policy-gradient estimators and the operations applied to them, vectorised over samples."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from pgtheory.envs.finite import FiniteMDP
from pgtheory.envs.finite import Trajectories
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import score_sum
from pgtheory.envs.finite import step_rewards
from pgtheory.moments import Moments
from pgtheory.policies import SoftmaxPolicy

#: A trajectory estimator of grad J: one row of S*A components per trajectory.
Estimator = Callable[[FiniteMDP, SoftmaxPolicy, Trajectories], torch.Tensor]


def clip_by_norm(g: torch.Tensor, max_norm: float) -> torch.Tensor:
    """000's clipping: replace g by c g / ||g|| when ||g|| > c; rows of ``g`` are estimates."""
    norm = g.norm(dim=-1, keepdim=True)
    return torch.where(norm > max_norm, g * (max_norm / norm), g)


def discounted_reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = sum_{k >= t} gamma^(k - t) r_k along the last dimension (any leading shape)."""
    T = rewards.shape[-1]
    k = torch.arange(T, device=rewards.device)
    lag = (k[None, :] - k[:, None]).to(rewards.dtype)  # lag[t, k] = k - t
    weights = torch.where(lag >= 0, torch.as_tensor(gamma, dtype=rewards.dtype) ** lag, 0.0)
    return rewards @ weights.T


def per_step(policy: SoftmaxPolicy, traj: Trajectories, weights: torch.Tensor) -> torch.Tensor:
    """sum_t weights[:, t] grad log pi(a_t|s_t), shape (n, S*A)."""
    return (policy.score(traj.states, traj.actions) * weights[..., None, None]).sum(1).flatten(1)


def full_return(mdp: FiniteMDP, policy: SoftmaxPolicy, traj: Trajectories) -> torch.Tensor:
    """R(tau) sum_t grad log pi(a_t|s_t): 001's equation (4)/(5), 002's REINFORCE."""
    return score_sum(policy, traj) * discounted_return(mdp, traj)[:, None]


def reward_to_go(mdp: FiniteMDP, policy: SoftmaxPolicy, traj: Trajectories) -> torch.Tensor:
    """sum_t G_t grad log pi(a_t|s_t), G_t = sum_{k>=t} gamma^(k-t) r_k."""
    return per_step(policy, traj, discounted_reward_to_go(step_rewards(mdp, traj), mdp.gamma))


def ema_of_past_rewards(past_rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """The EMA baseline b_T = sum_k (1 - beta) beta^(T-1-k) R_k of rewards R_0..R_{T-1}.

    ``past_rewards`` has shape ``(..., T)``; b starts at 0 before the first reward, as
    ``b <- beta b + (1 - beta) R`` does when run from b = 0.
    """
    T = past_rewards.shape[-1]
    k = torch.arange(T, dtype=past_rewards.dtype, device=past_rewards.device)
    return past_rewards @ ((1 - beta) * beta ** (T - 1 - k))


#: Elements (samples x dimension) per chunk of the fused estimator: 1 MiB of float32, which
#: stays in a typical L2 cache while the chunk is read several times.
FUSED_CHUNK_ELEMENTS = 1 << 18


def _chunk_sums_eager(
    eps: torch.Tensor, c: torch.Tensor, c_sq: float, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of g and of g^2 over one chunk, per component, in eager torch."""
    d = eps.shape[1]
    eps_sq = eps * eps
    sq = eps_sq @ torch.ones_like(
        c
    )  # ||eps||^2 (a matrix-vector product beats sum(1) on narrow rows)
    reward = (eps @ c).mul_(-sigma).add_(sq, alpha=-0.5 * sigma**2).sub_(0.5 * c_sq)
    g_psi = (sq - d).mul_(reward)
    weights = torch.stack([reward, reward * reward])  # (2, m)
    if d < 8:  # BLAS is slow on a few tall columns: broadcast instead
        sum_mu, sum_mu_sq = (eps * reward[:, None]).sum(0), (eps_sq * weights[1][:, None]).sum(0)
    else:
        sum_mu, sum_mu_sq = (weights @ eps)[0], (weights @ eps_sq)[1]
    sums = torch.cat([sum_mu / sigma, g_psi.sum().reshape(1)])
    squares = torch.cat([sum_mu_sq / sigma**2, (g_psi * g_psi).sum().reshape(1)])
    return sums, squares


def _chunk_sums_plain(
    eps: torch.Tensor, c: torch.Tensor, c_sq: float, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same sums written plainly, for torch.compile to fuse into a few loops."""
    d = eps.shape[1]
    sq = (eps * eps).sum(1)
    reward = -0.5 * (c_sq + 2 * sigma * (eps * c).sum(1) + sigma**2 * sq)
    g_psi = (sq - d) * reward
    sums = torch.cat([(eps * reward[:, None]).sum(0) / sigma, g_psi.sum().reshape(1)])
    squares = torch.cat(
        [
            (eps * eps * (reward * reward)[:, None]).sum(0) / sigma**2,
            (g_psi * g_psi).sum().reshape(1),
        ]
    )
    return sums, squares


_compiled_chunk_sums = None

#: Runs at least this long (samples) repay torch.compile's one-off build of the kernel.
COMPILE_MIN_SAMPLES = 1 << 28


def choose_kernel(d: int, n: int, device: torch.device) -> str:
    """The kernel ``"auto"`` means. On CPU at d < 8 the eager kernel's several passes over each
    chunk cost more than drawing its normals, and the compiled kernel's single pass is several
    times faster; elsewhere the eager kernel is as fast (GPU, or CPU at larger d where a matrix
    product does the work). A rule on (d, n, device), not a timing, so that one seed and device
    always give the same numbers."""
    if device.type == "cpu" and d < 8 and n >= COMPILE_MIN_SAMPLES:
        return "compiled"
    return "eager"


def _chunk_kernel(kernel: str):
    """The eager kernel, or the plain one through torch.compile, built once per process."""
    global _compiled_chunk_sums
    if kernel == "eager":
        return _chunk_sums_eager
    if kernel != "compiled":
        raise ValueError(f"kernel must be 'auto', 'eager' or 'compiled', not {kernel!r}")
    if _compiled_chunk_sums is None:
        _compiled_chunk_sums = torch.compile(_chunk_sums_plain, dynamic=True)
    return _compiled_chunk_sums


def gaussian_score_function_moments(
    mu: torch.Tensor,
    sigma: float,
    w_star: torch.Tensor,
    n: int,
    generator: torch.Generator,
    chunk_elements: int = FUSED_CHUNK_ELEMENTS,
    kernel: str = "auto",
) -> Moments:
    """Streamed moments of g = grad_(mu, log sigma) log pi(w) R(w), R = -1/2 ||w - w*||^2,
    for n samples w ~ N(mu, sigma^2 I_d): the fused fast path of the score-function estimator.

    Per chunk the normals are drawn once into a reused buffer and every other quantity is a
    reduction over that cache-resident chunk: with eps = (w - mu)/sigma and c = mu - w*,
    R = -1/2 (||c||^2 + 2 sigma c.eps + sigma^2 ||eps||^2), g_mu = eps R / sigma and
    g_psi = (||eps||^2 - d) R. Dtype policy: sampling and within-chunk sums in ``mu.dtype``,
    accumulation across chunks in float64. Returns d + 1 components (mu first, then log sigma).
    ``kernel``: "eager", "compiled" (the per-chunk arithmetic fused by torch.compile: a one-off
    build of tens of seconds, then several times faster at small d) or "auto"
    (:func:`choose_kernel`). The two kernels agree to rounding (about 1e-12 in float64).
    """
    d, dtype, device = mu.shape[0], mu.dtype, mu.device
    chunk = max(1, chunk_elements // d)
    c = (mu - w_star).to(dtype)
    c_sq = float((c.double() ** 2).sum())
    buffer = torch.empty(chunk, d, dtype=dtype, device=device)
    kernel_sums = _chunk_kernel(choose_kernel(d, n, device) if kernel == "auto" else kernel)
    total = Moments.empty((d + 1,), device=device)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        eps = torch.randn(m, d, generator=generator, out=buffer[:m])
        try:
            sums, squares = kernel_sums(eps, c, c_sq, sigma)
        except Exception as error:  # torch.compile needs a working C++ compiler
            if kernel != "auto" or kernel_sums is _chunk_sums_eager:
                raise
            warnings.warn(
                f"compiled kernel unavailable ({error}); using the eager one", stacklevel=2
            )
            kernel_sums = _chunk_sums_eager
            sums, squares = kernel_sums(eps, c, c_sq, sigma)
        mean = sums.double() / m
        total = total.merge(
            Moments(count=m, mean=mean, m2=(squares.double() - m * mean * mean).clamp_min(0))
        )
    return total
