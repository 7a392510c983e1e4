"""Monte Carlo sharded over processes and machines with torch.distributed.

Started by ``torchrun`` (gloo on CPU, nccl on GPU), every rank draws an independent stream
(its generator is seeded from run seed, check and rank), streams its share of the samples,
and the ranks merge their moments exactly with Chan's formula. Every rank then holds the same
merged moments and reaches the same decision; rank 0 writes the report. Without an
initialised process group everything here is the identity, so single-process code pays nothing.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from pgtheory.moments import Moments


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_environment(device: torch.device) -> bool:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (
        dist.is_available() and dist.is_initialized()
    ):
        return False
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return True


def share(n: int) -> int:
    """This rank's part of ``n`` samples (the first ``n % world`` ranks take one more)."""
    rank, world = rank_and_world()
    return n // world + (1 if rank < n % world else 0)


def all_reduce_moments(local: Moments) -> Moments:
    """The moments of the union of every rank's samples, merged in rank order (deterministic)."""
    _, world = rank_and_world()
    if world == 1:
        return local
    flat = torch.cat(
        [
            torch.tensor([float(local.count)], dtype=torch.float64, device=local.mean.device),
            local.mean.reshape(-1),
            local.m2.reshape(-1),
        ]
    )
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    k, shape = local.mean.numel(), local.mean.shape
    merged = Moments.empty(tuple(shape), device=local.mean.device)
    for part in gathered:
        merged = merged.merge(
            Moments(
                count=int(part[0]),
                mean=part[1 : 1 + k].reshape(shape),
                m2=part[1 + k :].reshape(shape),
            )
        )
    return merged
