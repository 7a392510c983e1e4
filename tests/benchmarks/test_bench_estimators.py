"""pytest-benchmark measurements (``pytest -m benchmark tests/benchmarks``); no timing is
asserted here: compare the reported rates within one run, or use ``pgtheory bench``."""

import pytest
import torch

from pgtheory.bench import naive_rate
from pgtheory.bench import softmax_estimator_rate
from pgtheory.bench import stateless_chain_rate
from pgtheory.bench import trajectory_sampler_rate
from pgtheory.estimators import FUSED_CHUNK_ELEMENTS
from pgtheory.estimators import gaussian_score_function_moments
from pgtheory.montecarlo import make_generator

pytestmark = pytest.mark.benchmark
N = 1 << 20
CPU = torch.device("cpu")


@pytest.mark.parametrize("d", [1, 10, 100])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_fused_gaussian_estimator(benchmark, d, dtype):
    mu, w_star = torch.zeros(d, dtype=dtype), torch.ones(d, dtype=dtype)
    gen = make_generator(0)
    moments = benchmark(gaussian_score_function_moments, mu, 0.5, w_star, N // d, gen)
    assert moments.count == N // d


@pytest.mark.parametrize("d", [1, 10, 100])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_random_number_limit(benchmark, d, dtype):
    chunk = FUSED_CHUNK_ELEMENTS // d
    buffer = torch.empty(chunk, d, dtype=dtype)
    gen = make_generator(0)

    def draw():
        for start in range(0, N // d, chunk):
            m = min(chunk, N // d - start)
            torch.randn(m, d, generator=gen, out=buffer[:m]).sum()

    benchmark(draw)


def test_naive_loop(benchmark):
    assert benchmark.pedantic(naive_rate, args=(10, 200), rounds=1, iterations=1) > 0


def test_softmax_estimator(benchmark):
    assert benchmark.pedantic(softmax_estimator_rate, args=(N, CPU), rounds=1, iterations=1) > 0


def test_trajectory_sampler(benchmark):
    assert benchmark.pedantic(trajectory_sampler_rate, args=(N // 16, CPU), rounds=1) > 0


def test_stateless_chain_simulator(benchmark):
    assert benchmark.pedantic(stateless_chain_rate, args=(1024, CPU), rounds=1) > 0
