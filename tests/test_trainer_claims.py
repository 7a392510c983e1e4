"""Bugs planted in the real trainers (monkeypatch) make the claims that check them refute.

The claims of ``claims/trainers.py`` drive the trainers' own functions on the exact oracle;
each test here plants one plausible implementation bug in a trainer module and runs the
claim's main check, which must then refute (its verdict: refuted)."""

import sys

import pytest
import torch

from pgtheory.algos import actor_critic
from pgtheory.algos import natural
from pgtheory.algos import ppo
from pgtheory.algos import reinforce
from pgtheory.claim import Role
from pgtheory.claim import Verdict
from pgtheory.stats import Outcome
from pgtheory.verify import discover
from pgtheory.verify import run_check

from conftest import CLAIMS_DIR

CLAIMS = {c.id: c for c in discover([CLAIMS_DIR])}
#: claims/trainers.py as loaded (claim modules are loaded by path, not imported by name)
trainers = sys.modules[CLAIMS["004-gae-trainer-matches-definition"].checks[0].run.__module__]


def main_check(claim_id: str, name_start: str = ""):
    """The claim's first check (role check) whose name starts with ``name_start``."""
    claim = CLAIMS[claim_id]
    item = next(k for k in claim.checks if k.role == Role.CHECK and k.name.startswith(name_start))
    return run_check(claim, item, run_seed=0, device="cpu", quick=False)


def test_the_unplanted_trainers_pass_their_checks():
    for claim_id in (
        "004-gae-trainer-matches-definition",
        "004-actor-critic-trainer-update",
        "002-npg-trainer-direction",
        "002-ppo-surrogate-gradient-at-old-policy",
    ):
        assert main_check(claim_id).outcome == Outcome.SUPPORTS, claim_id


# --- PPO: GAE ---------------------------------------------------------------------------------


def test_a_sign_error_in_the_td_error_refutes_the_gae_claim(monkeypatch):
    faithful = ppo.gae

    def flipped(rewards, values, dones, last_value, gamma, lam):
        return faithful(-rewards, values, dones, last_value, gamma, lam)

    monkeypatch.setattr(ppo, "gae", flipped)
    assert main_check("004-gae-trainer-matches-definition").outcome == Outcome.REFUTES


def test_advantages_shifted_by_one_step_refute_the_gae_claim(monkeypatch):
    faithful = ppo.gae

    def shifted(*args):
        return torch.roll(faithful(*args), 1, dims=0)

    monkeypatch.setattr(ppo, "gae", shifted)
    assert main_check("004-gae-trainer-matches-definition").outcome == Outcome.REFUTES


def test_a_missing_bootstrap_at_truncation_refutes_the_gae_claim(monkeypatch):
    """collect_rollout bootstraps where ``truncated & ~terminated``: drop it by making the
    environment's truncations look like terminations to the trainer only."""
    faithful = ppo.collect_rollout
    monkeypatch.setattr(
        ppo,
        "collect_rollout",
        lambda envs, *a, **k: faithful(trainers.TruncationAsTermination(envs), *a, **k),
    )
    assert main_check("004-gae-trainer-matches-definition").outcome == Outcome.REFUTES


# --- actor-critic, NPG, PPO surrogate -------------------------------------------------------------


def test_a_sign_error_in_the_actor_loss_refutes_the_actor_critic_claim(monkeypatch):
    monkeypatch.setattr(actor_critic, "log_prob_of", lambda logits, a: -ppo.log_prob_of(logits, a))
    assert main_check("004-actor-critic-trainer-update").outcome == Outcome.REFUTES


def test_one_conjugate_gradient_iteration_refutes_the_npg_claim(monkeypatch):
    faithful = natural.conjugate_gradient
    monkeypatch.setattr(
        natural, "conjugate_gradient", lambda matvec, b, iterations=10: faithful(matvec, b, 1)
    )
    assert (
        main_check("002-npg-trainer-direction", "the step's direction").outcome == Outcome.REFUTES
    )


def test_the_log_ratio_taken_for_the_ratio_refutes_the_surrogate_claim(monkeypatch):
    def surrogate(logits, actions, old_log_probs, advantages, clip):
        ratio = ppo.log_prob_of(logits, actions) - old_log_probs  # exp() forgotten
        return torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()

    monkeypatch.setattr(ppo, "clipped_surrogate", surrogate)
    outcome = main_check("002-ppo-surrogate-gradient-at-old-policy").outcome
    assert outcome == Outcome.REFUTES


# --- REINFORCE ---------------------------------------------------------------------------------------


def test_an_action_dependent_baseline_refutes_the_reinforce_claim(monkeypatch):
    """A baseline half the current reward r(s_t, a_t): it sees the action."""
    faithful = reinforce.discounted_reward_to_go
    monkeypatch.setattr(
        reinforce, "discounted_reward_to_go", lambda r, gamma: faithful(r, gamma) - 0.5 * r
    )
    finding = main_check("001-reinforce-trainer-unbiased", "reward-to-go, gamma = 1")
    assert finding.outcome == Outcome.REFUTES


def test_the_full_return_with_gamma_t_refutes_the_reinforce_claim(monkeypatch):
    """The full discounted return from t = 0 where the reward-to-go is meant, times gamma^t."""
    faithful = reinforce.discounted_reward_to_go
    monkeypatch.setattr(
        reinforce,
        "discounted_reward_to_go",
        lambda r, gamma: faithful(r, gamma)[..., :1].expand_as(r),
    )
    finding = main_check("001-reinforce-trainer-unbiased", "reward-to-go times gamma^t")
    assert finding.outcome == Outcome.REFUTES


@pytest.mark.slow
def test_dividing_by_the_batchs_steps_tilts_the_reinforce_direction():
    """The evidence behind the trainer's divisor: the loss averaged over the batch's steps (a
    random count) instead of its episodes has a mean update with components orthogonal to
    grad J (a z-test over 200,000 batches); averaged over episodes it has none."""
    from pgtheory.envs.oracle import exact_network_gradient
    from pgtheory.implementation import directions
    from pgtheory.implementation import reinforce_updates
    from pgtheory.implementation import trainer_network

    t = trainers
    cfg = t.plain()
    policy = trainer_network(t.CHAIN, 2, t.POLICY_SEED, t.HIDDEN)
    reference = exact_network_gradient(policy, t.CHAIN)
    basis = directions(reference, torch.Generator().manual_seed(5), orthogonal=8)[:, 1:]
    generator = torch.Generator().manual_seed(0)

    def largest_orthogonal_z() -> float:
        samples = reinforce_updates(cfg, policy, t.CHAIN, basis)(200_000, generator)
        return float((samples.mean(0) / (samples.std(0) / len(samples) ** 0.5)).abs().max())

    assert largest_orthogonal_z() < 4.5
    faithful = reinforce.reinforce_loss

    def per_step(policy, value, episodes, cfg, ema=None):
        objective, value_loss = faithful(policy, value, episodes, cfg, ema)
        return objective * episodes.live.shape[0] / episodes.live.sum(), value_loss

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reinforce, "reinforce_loss", per_step)
        assert largest_orthogonal_z() > 5


def test_the_sb3_claim_is_skipped_without_stable_baselines3(monkeypatch):
    import importlib.util

    from pgtheory.verify import run_claim

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "stable_baselines3" else real(name, *a),
    )
    result = run_claim(CLAIMS["004-gae-stable-baselines3"])
    assert result.verdict is None and "Stable-Baselines3" in result.reason
    assert result.verdict != Verdict.INCONCLUSIVE
