import pytest
import torch

from pgtheory.estimators import COMPILE_MIN_SAMPLES
from pgtheory.estimators import choose_kernel
from pgtheory.estimators import clip_by_norm
from pgtheory.estimators import discounted_reward_to_go
from pgtheory.estimators import ema_of_past_rewards
from pgtheory.estimators import gaussian_score_function_moments
from pgtheory.moments import Moments
from pgtheory.policies import GaussianPolicy


def test_fused_estimator_equals_the_generic_path_on_the_same_draws():
    for d in (1, 5, 12):  # both branches of the narrow/wide column sums
        mu = torch.randn(d, dtype=torch.float64)
        w_star = torch.randn(d, dtype=torch.float64)
        n = 3000
        fast = gaussian_score_function_moments(
            mu, 0.7, w_star, n, torch.Generator().manual_seed(1), chunk_elements=n * d
        )
        policy = GaussianPolicy(mu, torch.tensor(0.7, dtype=torch.float64).log())
        eps = torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        w = mu + 0.7 * eps
        slow = Moments.of(policy.score(w) * (-0.5 * ((w - w_star) ** 2).sum(1, keepdim=True)))
        torch.testing.assert_close(fast.mean, slow.mean, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(fast.m2, slow.m2, rtol=1e-9, atol=1e-9)


def test_fused_estimator_is_unbiased_in_float32():
    d = 10
    moments = gaussian_score_function_moments(
        torch.zeros(d), 0.5, torch.ones(d), 400_000, torch.Generator().manual_seed(0)
    )
    expected = torch.cat([torch.ones(d), torch.tensor([-d * 0.25])]).double()  # w* - mu, -d sigma^2
    assert ((moments.mean - expected).abs() <= 6 * moments.standard_error).all()


def test_reward_to_go_and_ema():
    r = torch.tensor([1.0, 0.0, 0.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(
        discounted_reward_to_go(r, 0.9), torch.tensor([2.458, 1.62, 1.8, 2.0], dtype=torch.float64)
    )
    b = 0.0
    for x in (3.0, -1.0, 4.0):
        b = 0.9 * b + 0.1 * x
    assert (
        abs(
            float(ema_of_past_rewards(torch.tensor([3.0, -1.0, 4.0], dtype=torch.float64), 0.9)) - b
        )
        < 1e-12
    )


def test_clip_by_norm():
    g = torch.tensor([[3.0, 4.0], [30.0, 40.0]])
    torch.testing.assert_close(clip_by_norm(g, 10.0), torch.tensor([[3.0, 4.0], [6.0, 8.0]]))


@pytest.mark.slow
def test_compiled_kernel_equals_the_eager_one():
    """torch.compile's fused chunk kernel gives the eager kernel's moments (slow: it compiles)."""
    args = (torch.zeros(5, dtype=torch.float64), 0.7, torch.ones(5, dtype=torch.float64), 10_000)
    eager = gaussian_score_function_moments(*args, torch.Generator().manual_seed(1), kernel="eager")
    fused = gaussian_score_function_moments(
        *args, torch.Generator().manual_seed(1), kernel="compiled"
    )
    torch.testing.assert_close(fused.mean, eager.mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused.m2, eager.m2, rtol=1e-12, atol=1e-12)


def test_auto_kernel_is_a_rule_on_size_and_device():
    """'auto' compiles only where it pays (CPU, d < 8, long runs), so seed and device fix the numbers."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert choose_kernel(1, COMPILE_MIN_SAMPLES, cpu) == "compiled"
    assert choose_kernel(1, COMPILE_MIN_SAMPLES - 1, cpu) == "eager"
    assert choose_kernel(10, COMPILE_MIN_SAMPLES, cpu) == "eager"
    assert choose_kernel(1, COMPILE_MIN_SAMPLES, cuda) == "eager"
    with pytest.raises(ValueError, match="kernel"):
        gaussian_score_function_moments(
            torch.zeros(2), 1.0, torch.ones(2), 10, torch.Generator(), kernel="fast"
        )
