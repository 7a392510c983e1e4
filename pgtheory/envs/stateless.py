"""The stateless problem of 000: sample w from a policy, get a reward that depends on w only.

The quadratic example: L(w) = 1/2 ||w - w*||^2 and the stochastic loss
l(w, z) = 1/2 ||w - (w* + z)||^2 with z ~ N(0, sigma_z^2 I). Rewards are vectorised over
leading dimensions; ``w`` has shape ``(..., d)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def quadratic_loss(w: torch.Tensor, w_star: torch.Tensor | float) -> torch.Tensor:
    """L(w) = 1/2 ||w - w*||^2."""
    return 0.5 * ((w - w_star) ** 2).sum(-1)


def true_reward(w: torch.Tensor, w_star: torch.Tensor | float) -> torch.Tensor:
    """R1(w) = -L(w)."""
    return -quadratic_loss(w, w_star)


def randomised_reward(
    w: torch.Tensor, w_star: torch.Tensor | float, generator: torch.Generator, sigma_z: float = 1.0
) -> torch.Tensor:
    """R2(w, z) = -l(w, z) = -1/2 ||w - (w* + z)||^2 with a fresh z ~ N(0, sigma_z^2 I) per w."""
    z = sigma_z * torch.randn(w.shape, generator=generator, device=w.device, dtype=w.dtype)
    return -quadratic_loss(w, w_star + z)


def sparse_reward(
    w: torch.Tensor, w_star: torch.Tensor | float, radius: float = 0.5
) -> torch.Tensor:
    """R4(w) = 1 if ||w - w*||^2 < radius^2 else 0 (000: (w - w*)^2 < 0.25)."""
    return (((w - w_star) ** 2).sum(-1) < radius**2).to(w.dtype)


def proxy_reward(w: torch.Tensor, w_star: float, train_batch: torch.Tensor) -> torch.Tensor:
    """R3(w) = -1/|S| sum_{z in S} l(w, z), with S = ``train_batch`` of shape (chains, |S|),
    one fixed batch per chain; ``w`` has shape (chains, samples, 1)."""
    return -0.5 * ((w - (w_star + train_batch[:, None, :])) ** 2).mean(-1)


@dataclass(frozen=True)
class Experiment:
    """One arm of 000's experiments: policy-gradient ascent on theta = (mu, log sigma), d = 1.

    The defaults are the settings of the notebook that produced 000's figures
    (``policy-gradient-for-optimization.ipynb``, companion material of 000), where the text
    leaves them open: sigma is clipped to [0.05, 5] after every update (``sigma_bounds``);
    the EMA baseline puts weight 0.1 on the new batch-mean reward, is updated *after* it is
    used (b_t sees only past rewards) and starts at the mean of max(10, N_s) rewards of the
    initial policy (``baseline_init``); the diminishing schedule is alpha_0 / (1 + k / K) with
    K = 2000 (a fifth of the 10^4 episodes); clipping at norm 10 applies to the
    batch-mean gradient. ``sigma_bounds=None, baseline_init="zero", decay_episodes=1000`` are
    the settings this project assumed before it read the notebook.
    """

    reward: str = "R1"  # R1 | R2 | R3 | R4
    """true, randomised (z ~ N(0, 1) per sample), proxy (fixed batch), sparse"""
    learning_rate: float = 0.01
    """alpha, or alpha_0 for the diminishing schedule"""
    baseline: bool = True
    """EMA of past batch-mean rewards"""
    ema_weight: float = 0.9
    """beta in b <- beta b + (1 - beta) mean(R)"""
    schedule: str = "constant"  # constant | diminishing
    """step-size schedule"""
    decay_episodes: float = 2000.0
    """K of the diminishing schedule alpha_0 / (1 + k / K)"""
    sigma_bounds: tuple[float, float] | None = (0.05, 5.0)
    """sigma is clipped to this range after every update (None: unbounded)"""
    baseline_init: str = "initial-rewards"
    """initial-rewards (the mean of max(10, N_s) rewards of the initial policy) | zero"""
    batch: int = 1
    """N_s samples per update (for R3: the size of the fixed batch S_train)"""
    clip: float | None = 10.0
    """gradient-norm clipping threshold; None disables it"""
    episodes: int = 10_000
    """updates per run"""
    w_star: float = 5.0
    mu0: float = 0.0
    sigma0: float = 2.0
    update_sigma: bool = True
    """False holds sigma fixed (the noise-floor analysis)"""


@torch.inference_mode()  # no autograd bookkeeping: about a tenth of the loop's time
def simulate(
    exp: Experiment,
    chains: int,
    generator: torch.Generator,
    record_every: int = 10,
    *,
    batch_of: Callable[[int], int] | None = None,
    record_at: Sequence[int] | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``chains`` independent runs at once; returns ``mu`` and ``sigma`` of shape
    (chains, episodes // record_every + 1), ``episode`` (the recorded episode numbers) and
    ``train_batch`` (each chain's fixed batch S_train of R3, shape (chains, batch)).
    The only Python loop is over episodes; chains and samples are tensor dimensions.

    ``batch_of(k)`` makes N_s a schedule (the batch of episode k, for R1, R2 and R4; the
    baseline starts from max(10, N_s(0)) rewards); ``record_at`` records after those episodes
    instead of every ``record_every`` (episode 0 is always recorded first)."""
    if batch_of is not None and exp.reward == "R3":
        raise ValueError("R3's batch is the fixed training set: it has no schedule")
    device = generator.device
    mu = torch.full((chains, 1), exp.mu0, dtype=torch.float64, device=device)
    psi = torch.full((chains, 1), math.log(exp.sigma0), dtype=torch.float64, device=device)
    train = torch.randn(chains, exp.batch, generator=generator, dtype=torch.float64, device=device)
    samples = 1 if exp.reward == "R3" else exp.batch
    if record_at is None:
        record_at = range(record_every, exp.episodes + 1, record_every)
    recorded = {int(k) for k in record_at if 0 < k <= exp.episodes}

    def batch_size(k: int) -> int:
        return samples if batch_of is None else batch_of(k)

    def reward_of(w: torch.Tensor) -> torch.Tensor:
        if exp.reward == "R1":
            return true_reward(w, exp.w_star)
        if exp.reward == "R2":
            return randomised_reward(w, exp.w_star, generator)
        if exp.reward == "R3":
            return proxy_reward(w, exp.w_star, train)
        return sparse_reward(w, exp.w_star)

    baseline = torch.zeros(chains, 1, dtype=torch.float64, device=device)
    if exp.baseline and exp.baseline_init == "initial-rewards":
        first = max(10, batch_size(0))
        eps = torch.randn(chains, first, generator=generator, dtype=torch.float64, device=device)
        baseline = reward_of(torch.addcmul(mu, psi.exp(), eps).unsqueeze(-1)).mean(1, keepdim=True)
    elif exp.baseline_init not in ("initial-rewards", "zero"):
        raise ValueError(f"unknown baseline_init {exp.baseline_init!r}")
    psi_bounds = (
        (math.log(exp.sigma_bounds[0]), math.log(exp.sigma_bounds[1]))
        if exp.sigma_bounds is not None
        else None
    )
    mus, sigmas = [mu[:, 0].clone()], [psi[:, 0].exp()]
    # few, in-place operations per episode: at tens of chains their count is the run time
    for k in range(exp.episodes):
        sigma = psi.exp()
        eps = torch.randn(
            chains, batch_size(k), generator=generator, dtype=torch.float64, device=device
        )
        reward = reward_of(torch.addcmul(mu, sigma, eps).unsqueeze(-1))  # (chains, samples)
        advantage = reward - baseline if exp.baseline else reward  # (chains, samples)
        g_mu = (eps * advantage).mean(1, keepdim=True).div_(sigma)
        if exp.update_sigma:
            g_psi = eps.square_().sub_(1).mul_(advantage).mean(1, keepdim=True)
        else:
            g_psi = torch.zeros_like(g_mu)
        if exp.clip is not None:  # scale = min(1, clip / ||g||)
            scale = torch.hypot(g_mu, g_psi).reciprocal_().mul_(exp.clip).clamp_(max=1.0)
            g_mu.mul_(scale)
            g_psi.mul_(scale)
        alpha = exp.learning_rate
        if exp.schedule == "diminishing":
            alpha = alpha / (1 + k / exp.decay_episodes)
        mu.add_(g_mu, alpha=alpha)
        psi.add_(g_psi, alpha=alpha)
        if psi_bounds is not None:
            psi.clamp_(*psi_bounds)
        if exp.baseline:
            baseline.mul_(exp.ema_weight).add_(
                reward.mean(1, keepdim=True), alpha=1 - exp.ema_weight
            )
        if k + 1 in recorded:
            mus.append(mu[:, 0].clone())
            sigmas.append(psi[:, 0].exp())
    episodes = torch.tensor([0, *sorted(recorded)])
    return {
        "mu": torch.stack(mus, 1),
        "sigma": torch.stack(sigmas, 1),
        "episode": episodes,
        "train_batch": train,
    }
