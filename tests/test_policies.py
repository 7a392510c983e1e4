import torch

from pgtheory.montecarlo import make_generator
from pgtheory.policies import GaussianPolicy
from pgtheory.policies import SoftmaxPolicy


def test_gaussian_score_matches_autograd():
    policy = GaussianPolicy.create([0.3, -1.0, 2.0], 0.7)
    w = policy.sample(5, make_generator(0))
    theta = torch.cat([policy.mu, policy.psi.reshape(1)]).requires_grad_(True)
    for i in range(5):
        p = GaussianPolicy(theta[:3], theta[3])
        (grad,) = torch.autograd.grad(p.log_prob(w[i : i + 1]).sum(), theta)
        torch.testing.assert_close(policy.score(w[i : i + 1])[0], grad)


def test_gaussian_log_prob_matches_torch_distributions():
    policy = GaussianPolicy.create([1.0, 2.0], 1.5)
    w = policy.sample(100, make_generator(1))
    ref = torch.distributions.Normal(policy.mu, policy.sigma).log_prob(w).sum(-1)
    torch.testing.assert_close(policy.log_prob(w), ref)


def test_softmax_score_matches_autograd():
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    policy = SoftmaxPolicy(logits)
    for s in range(3):
        for a in range(4):
            theta = logits.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(torch.log_softmax(theta, -1)[s, a], theta)
            torch.testing.assert_close(policy.score(torch.tensor(s), torch.tensor(a)), grad)


def test_softmax_sampling_frequencies():
    policy = SoftmaxPolicy(torch.tensor([[0.0, 1.0, -1.0]], dtype=torch.float64))
    actions = policy.sample(torch.zeros(200_000, dtype=torch.long), make_generator(3))
    freq = torch.bincount(actions, minlength=3).double() / 200_000
    torch.testing.assert_close(freq, policy.probs[0], atol=5e-3, rtol=0)
