"""The trainers of ``pgtheory.algos``, as implemented, against the exact oracle.

The claims elsewhere check formulas; these check the code that trains. Each drives a
trainer's own functions (its episode collection, its loss, its rollout and GAE, its natural
step) on the oracle environment (``pgtheory.envs.oracle``), whose J, grad J, V and Fisher
matrix are known exactly, and compares what the trainer computes with the theory the
document states. Controls are the trainer's own switches set the way a plausible slip sets
them, or a bug planted in its code for the duration of the check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pgtheory.algos.reinforce import ReinforceConfig
from pgtheory.claim import (
    Claim,
    Kind,
    Slip,
    SlipKind,
    Source,
    Verdict,
    check,
    effect,
    negative_control,
)
from pgtheory.context import Context
from pgtheory.envs.oracle import exact_network_gradient, network_logits
from pgtheory.envs.tabular import chain_episodic_mdp, expected_return
from pgtheory.implementation import directions, reinforce_updates, trainer_network
from pgtheory.stats import Finding, effect_size

#: An episodic chain whose episode length depends on the actions (each action advances with
#: its own probability), so that a random per-batch count can bias an update's direction.
CHAIN = chain_episodic_mdp(3, 2, torch.Generator().manual_seed(0), advance=(0.3, 0.9))
#: Components compared: grad J's own direction and this many directions orthogonal to it.
ORTHOGONAL_DIRECTIONS = 3
#: Resolution of every component, as a fraction of |grad J|.
RELATIVE_RESOLUTION = 0.1
#: The seeds of the policy and value networks (fixed: every check sees the same policy).
POLICY_SEED, VALUE_SEED = 3, 4
#: Episodes per batch (the trainer's ``num_envs``) and the hidden width of its networks.
EPISODES, HIDDEN = 4, 16


def reinforce_unbiased(
    cfg: ReinforceConfig, baseline: str = "none"
) -> Callable[[Context], Finding]:
    """Monte Carlo mean test: E[trainer's update] = grad J of the MDP at the trainer's discount
    (constant 1: the loss averages over episodes), on grad J's direction and orthogonal ones."""

    def run(ctx: Context) -> Finding:
        mdp = CHAIN.with_gamma(cfg.gamma)
        policy = trainer_network(mdp, 2, POLICY_SEED, HIDDEN)
        reference = exact_network_gradient(policy, mdp)
        basis = directions(reference, ctx.cpu_generator(), ORTHOGONAL_DIRECTIONS)
        value = trainer_network(mdp, 1, VALUE_SEED, HIDDEN, out_gain=1.0)
        # the EMA of earlier batches' returns, once it has converged: J itself
        ema = float(expected_return(mdp, network_logits(policy, mdp).detach()))
        sampler = reinforce_updates(
            cfg,
            policy,
            mdp,
            basis,
            value=value if baseline == "value" else None,
            ema=ema if baseline == "ema" else None,
        )
        return ctx.mean_test(
            sampler,
            basis.T @ reference,
            resolution=RELATIVE_RESOLUTION * float(reference.norm()),
            pilot_samples=2_000,
        )

    return run


def plain(**changes) -> ReinforceConfig:
    """The trainer's config with reward-to-go, no baseline and no normalisation, changed by
    ``changes``."""
    base = dict(
        num_envs=EPISODES, hidden=HIDDEN, gamma=1.0, baseline="none", normalise_advantages=False
    )
    return ReinforceConfig(**{**base, **changes})


def normalisation_direction_bias(ctx: Context) -> Finding:
    """How far batch-normalised advantages turn the update away from grad J's direction: the
    mean update's component orthogonal to grad J over its component along it."""
    cfg = plain(normalise_advantages=True)
    policy = trainer_network(CHAIN, 2, POLICY_SEED, HIDDEN)
    reference = exact_network_gradient(policy, CHAIN)
    basis = directions(reference, ctx.cpu_generator(), ORTHOGONAL_DIRECTIONS)
    samples = reinforce_updates(cfg, policy, CHAIN, basis)(20_000, ctx.generator)
    mean = samples.mean(0)
    return effect_size(
        float(mean[1:].norm() / mean[0]),
        measure="orthogonal over parallel component of the mean update with batch-normalised "
        f"advantages ({ORTHOGONAL_DIRECTIONS} random orthogonal directions)",
        setting=f"the chain oracle, batches of {EPISODES} episodes, 20,000 batches",
    )


REINFORCE_TRAINER_UNBIASED = Claim(
    id="001-reinforce-trainer-unbiased",
    title="The REINFORCE trainer's update is an unbiased estimate of grad J",
    statement=r"\mathbb{E}\big[-\nabla_\theta L_{\text{trainer}}(\text{batch})\big] = "
    r"c\,\nabla_\theta J(\theta),\; c = 1",
    sources=(
        Source(
            "001",
            "REINFORCE",
            "This method is unbiased but still noisy.",
        ),
    ),
    conditions=(
        "pgtheory.algos.reinforce as implemented (collect_episodes, reinforce_loss), its "
        "policy network on the oracle's one-hot states, batches of complete episodes; "
        "each variant the trainer offers: reward-to-go, gamma^t weighting, EMA and value "
        "baselines (gradient clipping and the optimiser step come after and are not part of "
        "the estimate)"
    ),
    expected=Verdict.CONFIRMED,
    reading=(
        "001 calls the Monte Carlo REINFORCE estimator unbiased; the trainer implements it "
        "with reward-to-go and optional baselines, each of which keeps it unbiased in theory, "
        "and divides the batch's sum by the number of episodes, a constant, so that its "
        "expectation is grad J itself. A division by the batch's number of steps, a random "
        "count correlated with the sum, would tilt the direction; so would the missing "
        "gamma^t with gamma below one, which is the control. Batch normalisation of the "
        "advantages is biased in theory; its effect is measured, not assumed away."
    ),
    checks=(
        check("reward-to-go, gamma = 1", Kind.MONTE_CARLO, reinforce_unbiased(plain())),
        check(
            "reward-to-go times gamma^t, gamma = 0.9",
            Kind.MONTE_CARLO,
            reinforce_unbiased(plain(gamma=0.9, discount_weight=True)),
        ),
        check(
            "EMA baseline from earlier batches",
            Kind.MONTE_CARLO,
            reinforce_unbiased(plain(baseline="ema"), "ema"),
        ),
        check(
            "learned value baseline V(s_t)",
            Kind.MONTE_CARLO,
            reinforce_unbiased(plain(baseline="value"), "value"),
        ),
        negative_control(
            "gamma^t left out, gamma = 0.9",
            Kind.MONTE_CARLO,
            reinforce_unbiased(plain(gamma=0.9, discount_weight=False)),
            slip=Slip("the discounted reward-to-go without the gamma^t factor", SlipKind.OMISSION),
        ),
        effect(
            "batch-normalised advantages: the direction's bias",
            Kind.MONTE_CARLO,
            normalisation_direction_bias,
        ),
    ),
)
