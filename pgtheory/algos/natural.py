"""The natural policy gradient step of 002 (section 8.2): theta <- theta + alpha F^-1 grad J.

F is never formed: conjugate gradient solves F x = g with Fisher-vector products, each the
gradient of (grad KL . v) at the current parameters, where KL is the mean divergence of the
policy from a frozen copy of itself (its Hessian there is the Fisher matrix). The step size
alpha follows from the KL constraint 002 states, 1/2 alpha^2 x^T F x = max_kl (as in TRPO,
without its line search).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector
from torch.nn.utils import vector_to_parameters


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int = 10
) -> torch.Tensor:
    """Approximate solution of A x = b for a symmetric positive definite A given as matvec."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iterations):
        Ap = matvec(p)
        step = rr / (p @ Ap)
        x += step * p
        r -= step * Ap
        rr_next = r @ r
        if rr_next < 1e-10:
            break
        p = r + (rr_next / rr) * p
        rr = rr_next
    return x


def natural_gradient_step(
    policy: nn.Module,
    obs: torch.Tensor,
    weights: torch.Tensor,
    objective: torch.Tensor,
    max_kl: float,
    damping: float = 0.1,
) -> None:
    """Move ``policy`` along F^-1 grad(objective), scaled so the quadratic KL model equals
    ``max_kl``. ``obs`` are the states the Fisher matrix averages over, with ``weights``
    (0 for padding)."""
    params = [p for p in policy.parameters() if p.requires_grad]
    g = parameters_to_vector(torch.autograd.grad(objective, params))
    logits = policy(obs)
    frozen = logits.detach()
    kl = (frozen.softmax(-1) * (frozen.log_softmax(-1) - logits.log_softmax(-1))).sum(-1)
    kl = (kl * weights).sum() / weights.sum()
    kl_grad = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))

    def fisher_times(v: torch.Tensor) -> torch.Tensor:
        hvp = torch.autograd.grad(kl_grad @ v, params, retain_graph=True)
        return parameters_to_vector(hvp) + damping * v

    direction = conjugate_gradient(fisher_times, g)
    alpha = torch.sqrt(2 * max_kl / (direction @ fisher_times(direction)).clamp_min(1e-12))
    with torch.no_grad():
        vector_to_parameters(parameters_to_vector(params) + alpha * direction, params)
