import pytest
import torch

from pgtheory.moments import Moments
from pgtheory.montecarlo import derive_seed
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import planned_mean_test
from pgtheory.montecarlo import resolve_device
from pgtheory.montecarlo import stream_moments


def _normal(n, gen):
    return torch.randn(n, 2, generator=gen, device=gen.device, dtype=torch.float64)


def test_seeds_are_stable_and_depend_on_every_name():
    assert derive_seed(0, "a", "b") == derive_seed(0, "a", "b")
    assert (
        len(
            {derive_seed(0, "a"), derive_seed(1, "a"), derive_seed(0, "b"), derive_seed(0, "a", "")}
        )
        == 4
    )
    assert 0 <= derive_seed(123, "x") < 2**63


def test_same_seed_same_numbers():
    a = planned_mean_test(_normal, 0.0, generator=make_generator(7), resolution=0.05)
    b = planned_mean_test(_normal, 0.0, generator=make_generator(7), resolution=0.05)
    c = planned_mean_test(_normal, 0.0, generator=make_generator(8), resolution=0.05)
    assert a.estimate == b.estimate and a.ci == b.ci and a.n == b.n
    assert a.estimate != c.estimate


def test_streamed_moments_equal_those_of_all_samples_at_once():
    drawn = []

    def recording(n, gen):
        drawn.append(_normal(n, gen))
        return drawn[-1]

    streamed = stream_moments(recording, 10_000, make_generator(1), chunk_size=999)
    assert [len(d) for d in drawn] == [999] * 10 + [10]
    whole = Moments.of(torch.cat(drawn))
    assert streamed.count == whole.count
    torch.testing.assert_close(streamed.mean, whole.mean, rtol=0, atol=1e-14)
    torch.testing.assert_close(streamed.m2, whole.m2, rtol=1e-12, atol=0)


def test_sample_size_follows_the_error_budget():
    coarse = planned_mean_test(_normal, 0.0, generator=make_generator(0), resolution=0.1)
    fine = planned_mean_test(_normal, 0.0, generator=make_generator(0), resolution=0.05)
    assert 3.5 < fine.n / coarse.n < 4.5  # n grows as 1 / resolution^2


def test_a_binding_cap_gives_inconclusive_not_support():
    finding = planned_mean_test(
        _normal, 0.0, generator=make_generator(0), resolution=0.001, max_samples=10_000
    )
    assert finding.outcome.value == "inconclusive"
    assert "capped" in finding.note


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sampling_matches_cpu_decision():
    gen = make_generator(3, "cuda")
    finding = planned_mean_test(_normal, 0.0, generator=gen, resolution=0.02)
    assert finding.outcome.value == "supports"
