import itertools

import torch

from pgtheory.moments import Moments


def test_merge_equals_moments_of_the_union():
    x = (
        torch.randn(1000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
        + 2
    )
    whole = Moments.of(x)
    for cuts in ([10, 500], [1, 2, 3], [999]):
        edges = [0, *cuts, len(x)]
        merged = Moments.empty((3,))
        for a, b in itertools.pairwise(edges):
            merged = merged + Moments.of(x[a:b])
        assert merged.count == whole.count
        torch.testing.assert_close(merged.mean, whole.mean, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(merged.m2, whole.m2, rtol=1e-12, atol=1e-12)


def test_moments_accumulate_in_float64_and_match_numpy_estimates():
    x = torch.randn(4096, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    m = Moments.of(x)
    assert m.mean.dtype == torch.float64
    x64 = x.double()
    torch.testing.assert_close(m.variance, x64.var(), rtol=1e-12, atol=0)
    torch.testing.assert_close(m.standard_error, x64.std() / 64, rtol=1e-12, atol=0)


def test_empty_is_the_identity_of_merge():
    m = Moments.of(torch.arange(10.0))
    assert Moments.empty().merge(m) is m
    assert m.merge(Moments.empty()) is m
