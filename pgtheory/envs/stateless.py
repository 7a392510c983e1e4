"""The stateless problem of 000: sample w from a policy, get a reward that depends on w only.

The quadratic example: L(w) = 1/2 ||w - w*||^2 and the stochastic loss
l(w, z) = 1/2 ||w - (w* + z)||^2 with z ~ N(0, sigma_z^2 I). Rewards are vectorised over
leading dimensions; ``w`` has shape ``(..., d)``.
"""

from __future__ import annotations

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
