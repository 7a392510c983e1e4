"""Policies with closed-form scores, vectorised over samples.

Scores are written out analytically (the formulas on the page) rather than taken by
autograd per sample; the unit tests check them against autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianPolicy:
    """``w ~ N(mu, sigma^2 I_d)`` with parameters ``theta = (mu, psi)``, ``psi = log sigma``.

    ``mu`` has shape ``(d,)``; ``psi`` is a 0-d tensor.
    """

    mu: torch.Tensor
    psi: torch.Tensor

    @classmethod
    def create(
        cls,
        mu: list[float] | torch.Tensor,
        sigma: float,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> GaussianPolicy:
        mu_t = torch.as_tensor(mu, dtype=dtype, device=device).reshape(-1)
        return cls(mu_t, torch.tensor(sigma, dtype=dtype, device=device).log())

    @property
    def dim(self) -> int:
        return self.mu.shape[0]

    @property
    def sigma(self) -> torch.Tensor:
        return self.psi.exp()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, d)`` samples."""
        noise = torch.randn(
            n, self.dim, generator=generator, device=self.mu.device, dtype=self.mu.dtype
        )
        return self.mu + self.sigma * noise

    def log_prob(self, w: torch.Tensor) -> torch.Tensor:
        """``(n,)`` log densities of ``(n, d)`` samples."""
        z = (w - self.mu) / self.sigma
        const = self.dim * (self.psi + 0.5 * torch.log(torch.tensor(2 * torch.pi)))
        return -0.5 * (z**2).sum(-1) - const

    def score_mu(self, w: torch.Tensor) -> torch.Tensor:
        """``grad_mu log pi(w) = (w - mu) / sigma^2``, shape ``(n, d)``."""
        return (w - self.mu) / self.sigma**2

    def score_psi(self, w: torch.Tensor) -> torch.Tensor:
        """``grad_psi log pi(w) = ||w - mu||^2 / sigma^2 - d``, shape ``(n,)``."""
        return ((w - self.mu) ** 2).sum(-1) / self.sigma**2 - self.dim

    def score(self, w: torch.Tensor) -> torch.Tensor:
        """``grad_theta log pi(w)`` for ``theta = (mu, psi)``, shape ``(n, d + 1)``."""
        return torch.cat([self.score_mu(w), self.score_psi(w)[:, None]], dim=-1)


@dataclass(frozen=True)
class SoftmaxPolicy:
    """Tabular softmax ``pi(a|s) = exp(logits[s, a]) / sum_b exp(logits[s, b])``.

    ``logits`` has shape ``(S, A)``; a bandit is ``S = 1``. The score with respect to the
    logits of state ``s`` is ``onehot(a) - pi(.|s)``, zero in the other states' rows.
    """

    logits: torch.Tensor

    @property
    def probs(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1)

    def sample(self, states: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One action per entry of ``states`` (any shape), by inverse CDF."""
        cdf = self.probs.cumsum(-1)[states]
        u = torch.rand((*states.shape, 1), generator=generator, device=cdf.device, dtype=cdf.dtype)
        return (cdf < u).sum(-1).clamp_max(self.logits.shape[-1] - 1)

    def log_prob(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.logits, dim=-1)
        return logp[states, actions]

    def score(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``grad_logits log pi(a|s)``, shape ``(*states.shape, S, A)``."""
        S, A = self.logits.shape
        onehot_a = torch.nn.functional.one_hot(actions, A).to(self.logits.dtype)
        row = onehot_a - self.probs[states]
        onehot_s = torch.nn.functional.one_hot(states, S).to(self.logits.dtype)
        return onehot_s[..., :, None] * row[..., None, :]


def grad_pi_times(pi: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sum_a q(s, a) grad_{theta_s} pi(a|s) for a tabular softmax, per state: pi (q - sum_a pi q),
    the inner sum of the policy gradient theorem in closed form."""
    return pi * (q - (pi * q).sum(-1, keepdim=True))
