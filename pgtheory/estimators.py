"""Policy-gradient estimators and the operations applied to them, vectorised over samples."""

from __future__ import annotations

import torch


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


def ema_of_past_rewards(past_rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """The EMA baseline b_T = sum_k (1 - beta) beta^(T-1-k) R_k of rewards R_0..R_{T-1}.

    ``past_rewards`` has shape ``(..., T)``; b starts at 0 before the first reward, as
    ``b <- beta b + (1 - beta) R`` does when run from b = 0.
    """
    T = past_rewards.shape[-1]
    k = torch.arange(T, dtype=past_rewards.dtype, device=past_rewards.device)
    return past_rewards @ ((1 - beta) * beta ** (T - 1 - k))
