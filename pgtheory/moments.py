"""Streaming, mergeable first and second moments.

Samples arrive in chunks of shape ``(n, *event_shape)``; :class:`Moments` keeps the count,
the mean and the sum of squared deviations (M2) per component in float64 on the samples'
device. Two accumulators merge exactly with Chan et al.'s pairwise formula, so shards computed
on different chunks, devices or processes combine into the moments of their union.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Moments:
    """Count, mean and M2 (sum of squared deviations from the mean) per component.

    ``mean`` and ``m2`` share the event shape of the samples and are float64 tensors.
    ``count`` is a Python int: it never needs the device, so merging never synchronises.
    """

    count: int
    mean: torch.Tensor
    m2: torch.Tensor

    @classmethod
    def of(cls, samples: torch.Tensor) -> Moments:
        """Moments of one chunk; ``samples`` has shape ``(n, *event_shape)``."""
        x = samples.to(torch.float64)
        mean = x.mean(dim=0)
        return cls(count=x.shape[0], mean=mean, m2=((x - mean) ** 2).sum(dim=0))

    @classmethod
    def empty(
        cls, event_shape: tuple[int, ...] = (), device: torch.device | str = "cpu"
    ) -> Moments:
        zeros = torch.zeros(event_shape, dtype=torch.float64, device=device)
        return cls(count=0, mean=zeros, m2=zeros.clone())

    def merge(self, other: Moments) -> Moments:
        """Exact moments of the union of both sample sets (Chan, Golub and LeVeque 1979)."""
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / n)
        return Moments(count=n, mean=mean, m2=m2)

    def __add__(self, other: Moments) -> Moments:
        return self.merge(other)

    @property
    def variance(self) -> torch.Tensor:
        """Unbiased sample variance per component."""
        return self.m2 / max(self.count - 1, 1)

    @property
    def std(self) -> torch.Tensor:
        return self.variance.sqrt()

    @property
    def standard_error(self) -> torch.Tensor:
        """Standard error of the mean per component."""
        return (self.variance / max(self.count, 1)).sqrt()
