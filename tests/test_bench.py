"""pgtheory bench's measurements: every figure the issue lists is produced, with its ratios."""

import torch

from pgtheory.bench import run_benchmarks


def test_benchmarks_produce_every_measurement_with_ratios():
    measurements = run_benchmarks(
        torch.device("cpu"), budget=0.002, billion=False, compile_kernels=False
    )
    by_name = {m.name: m for m in measurements}
    assert all(m.value > 0 for m in measurements)
    for dtype in ("float32", "float64"):
        for d in (1, 10, 100, 1000):
            limit = by_name[f"random-number limit, d={d}, {dtype}"]
            assert limit.ratio_to_rng_limit == 1.0
            (fused,) = [
                m
                for name, m in by_name.items()
                if name.startswith("gaussian score function, fused eager")
                and name.endswith(f"d={d}, {dtype}")
            ]
            assert fused.ratio_to_rng_limit > 0
    naive_reference = [m for m in measurements if m.ratio_to_naive not in (None, 1.0)]
    assert len(naive_reference) == 1 and "d=10, float32" in naive_reference[0].name
    for name in (
        "softmax score function",
        "finite-MDP trajectory sampler",
        "stateless chain simulator",
    ):
        assert any(m.name.startswith(name) for m in measurements), name
    assert set(measurements[0].to_dict()) == {
        "name",
        "value",
        "unit",
        "ratio_to_rng_limit",
        "ratio_to_naive",
    }
