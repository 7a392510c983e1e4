"""The GPU paths: each runs on CUDA when it is present and is skipped otherwise (CI has no GPU).
Each compares what the GPU computes with an exact value or with the CPU's decision."""

import pytest
import torch

from pgtheory.algos import ALGORITHMS
from pgtheory.envs.finite import discounted_return
from pgtheory.envs.finite import random_mdp
from pgtheory.envs.finite import sample_trajectories
from pgtheory.envs.finite import to_device
from pgtheory.envs.finite import trajectory_expectation
from pgtheory.envs.stateless import Experiment
from pgtheory.envs.stateless import simulate
from pgtheory.estimators import gaussian_score_function_moments
from pgtheory.montecarlo import make_generator
from pgtheory.policies import SoftmaxPolicy
from pgtheory.verify import discover
from pgtheory.verify import select
from pgtheory.verify import verify

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]
CUDA = torch.device("cuda")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_estimator_on_cuda_has_the_exact_mean(dtype):
    """E[g_mu] = w* - mu and E[g_log_sigma] = -sigma^2 d for R = -1/2 ||w - w*||^2."""
    d, sigma, n = 10, 0.5, 1 << 22
    mu, w_star = torch.zeros(d, dtype=dtype, device=CUDA), torch.ones(d, dtype=dtype, device=CUDA)
    moments = gaussian_score_function_moments(mu, sigma, w_star, n, make_generator(0, CUDA))
    exact = torch.cat([torch.ones(d), torch.tensor([-(sigma**2) * d])]).double()
    standard_error = (moments.m2 / (n - 1)).sqrt().cpu() / n**0.5
    assert ((moments.mean.cpu() - exact).abs() < 6 * standard_error).all()


def test_trajectory_sampler_on_cuda_has_the_exact_mean_return():
    mdp = random_mdp(4, 3, 5, make_generator(0))
    logits = torch.randn(4, 3, dtype=torch.float64, generator=make_generator(1))
    exact = trajectory_expectation(mdp, SoftmaxPolicy(logits), lambda t: discounted_return(mdp, t))
    on_gpu = to_device(mdp, CUDA)
    traj = sample_trajectories(
        on_gpu, SoftmaxPolicy(logits.to(CUDA)), 1 << 20, make_generator(2, CUDA)
    )
    returns = discounted_return(on_gpu, traj)
    assert (
        abs(float(returns.mean()) - float(exact)) < 6 * float(returns.std()) / len(returns) ** 0.5
    )


def test_chain_simulator_on_cuda_converges_like_on_cpu():
    """R1 with a baseline: most chains end near w* on either device."""
    experiment = Experiment(reward="R1", episodes=3000)
    for device in (torch.device("cpu"), CUDA):
        mu = simulate(experiment, 256, make_generator(0, device))["mu"][:, -1].cpu()
        assert ((mu - experiment.w_star).abs() < 0.5).float().mean() > 0.9


def test_a_claim_gets_the_same_verdict_on_cuda():
    claims = select(discover(), "001-score-zero-mean,002-log-deriv-trick")
    assert claims
    on_cpu = verify(claims, device="cpu")
    on_gpu = verify(claims, device=CUDA)
    assert [r.verdict for r in on_gpu.results] == [r.verdict for r in on_cpu.results]


@pytest.mark.parametrize("algo", ["ppo", "reinforce", "actor-critic"])
def test_trainers_run_on_cuda(algo):
    result = ALGORITHMS[algo](
        "CartPole-v1", 0, 2_000, CUDA, eval_every=1_000, eval_episodes=2, stop_when_solved=False
    )
    assert result.steps >= 1_000 and result.curve
