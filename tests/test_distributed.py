"""Two processes on the loopback interface (gloo): merged moments equal those of the union of
the streams, and the verdicts equal those of a single-process run."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pgtheory.distributed import all_reduce_moments
from pgtheory.distributed import share
from pgtheory.moments import Moments
from pgtheory.montecarlo import derive_seed
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import sharded_moments
from pgtheory.verify import discover
from pgtheory.verify import run_claim
from pgtheory.verify import select

from conftest import CLAIMS_DIR

CLAIM_PATTERN = "001-score-zero-mean,002-is-identity,000-var-d-over-sigma2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream(rank: int, n: int) -> torch.Tensor:
    gen = make_generator(derive_seed(0, "test", f"rank {rank}"))
    return torch.randn(n, 3, generator=gen, dtype=torch.float64) * torch.tensor(
        [1.0, 2.0, 3.0], dtype=torch.float64
    )


def worker(rank: int, world: int, port: int, results) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        merged = all_reduce_moments(Moments.of(stream(rank, 1000 + 7 * rank)))
        sharded = sharded_moments(
            lambda n, g: torch.randn(n, generator=g, dtype=torch.float64),
            10_001,
            make_generator(rank),
        )
        verdicts = {
            c.id: run_claim(c, 0, "cpu").verdict.value
            for c in select(discover([CLAIMS_DIR]), CLAIM_PATTERN)
        }
        results.put(
            (
                rank,
                merged.count,
                merged.mean.tolist(),
                merged.m2.tolist(),
                share(10_001),
                sharded.count,
                verdicts,
            )
        )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks():
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    mp.start_processes(worker, args=(2, free_port(), results), nprocs=2, start_method="spawn")
    return sorted(results.get(timeout=120) for _ in range(2))


def test_merged_moments_equal_the_union_of_the_streams(two_ranks):
    union = Moments.of(torch.cat([stream(0, 1000), stream(1, 1007)]))
    for _, count, mean, m2, *_ in two_ranks:
        assert count == union.count
        torch.testing.assert_close(
            torch.tensor(mean, dtype=torch.float64), union.mean, rtol=1e-13, atol=1e-13
        )
        torch.testing.assert_close(
            torch.tensor(m2, dtype=torch.float64), union.m2, rtol=1e-12, atol=1e-12
        )


def test_samples_are_split_and_counted_once(two_ranks):
    assert [r[4] for r in two_ranks] == [5001, 5000]
    assert all(r[5] == 10_001 for r in two_ranks)


def test_verdicts_equal_a_single_process_run(two_ranks):
    single = {
        c.id: run_claim(c, 0, "cpu").verdict.value
        for c in select(discover([CLAIMS_DIR]), CLAIM_PATTERN)
    }
    for *_, verdicts in two_ranks:
        assert verdicts == single
