"""The trajectory likelihood: environment terms drop out of grad log P(tau)."""

from functools import partial

import torch

from pgtheory.claim import Claim, Kind, Slip, SlipKind, Source, Verdict, check, negative_control
from pgtheory.context import Context
from pgtheory.envs.finite import (
    FiniteMDP,
    Trajectories,
    discounted_return,
    enumerate_trajectories,
    exact_policy_gradient,
    log_dynamics,
    log_policy,
    random_mdp,
    score_sum,
    trajectory_probability,
)
from pgtheory.policies import SoftmaxPolicy
from pgtheory.stats import Finding, all_hold, exact_comparison

NUM_MDPS = 5


def log_trajectory_probability(
    mdp: FiniteMDP, logits: torch.Tensor, traj: Trajectories, coupling: float
) -> torch.Tensor:
    """log P(tau | theta) with rho_0, the transitions and the policy, shape (n,).

    ``coupling`` > 0 makes the dynamics react to the policy parameters,
    P_theta(s'|s, a) ~ P(s'|s, a) exp(coupling * theta[s', 0]): the factor that makes the
    claim true (dynamics independent of theta) is then removed.
    """
    transitions = torch.softmax(mdp.transitions.log() + coupling * logits[:, 0], dim=-1)
    return log_dynamics(mdp, traj, transitions) + log_policy(SoftmaxPolicy(logits), traj)


def grad_log_likelihood_exact(coupling: float):
    """For every trajectory of positive probability in five random MDPs (S=3, A=2, H=3),
    the Jacobian of log P(tau | theta) by autograd against sum_t grad log pi(a_t | s_t)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for k in range(NUM_MDPS):
            gen = torch.Generator().manual_seed(ctx.seed + k)
            mdp = random_mdp(3, 2, 3, gen)
            logits = torch.randn(3, 2, generator=gen, dtype=torch.float64)
            traj = enumerate_trajectories(mdp)
            jacobian = torch.autograd.functional.jacobian(
                partial(log_trajectory_probability, mdp, traj=traj, coupling=coupling), logits
            ).flatten(1)
            findings.append(exact_comparison(jacobian, score_sum(SoftmaxPolicy(logits), traj)))
        return all_hold(findings)

    return run


def score_function_gradient_exact(ctx: Context) -> Finding:
    """The consequence: sum_tau P(tau) R(tau) sum_t grad log pi equals grad J by autograd."""
    findings = []
    for k in range(NUM_MDPS):
        gen = torch.Generator().manual_seed(ctx.seed + k)
        mdp = random_mdp(3, 2, 3, gen)
        logits = torch.randn(3, 2, generator=gen, dtype=torch.float64)
        traj = enumerate_trajectories(mdp)
        policy = SoftmaxPolicy(logits)
        prob = trajectory_probability(mdp, policy, traj)
        estimate = (prob * discounted_return(mdp, traj))[:, None] * score_sum(policy, traj)
        findings.append(exact_comparison(estimate.sum(0), exact_policy_gradient(mdp, logits)))
    return all_hold(findings)


TRAJECTORY_FACTORISATION = Claim(
    id="001-traj-factorisation",
    title="Only policy terms survive in grad log P(tau)",
    statement=r"\nabla_\theta \log P(\tau\mid\theta) = \sum_{t} \nabla_\theta \log \pi_\theta(a_t\mid s_t)",
    sources=(
        Source(
            "001",
            "A. Policy Gradient Theorem Proof",
            r"Only policy terms carry \(\theta\) dependence.",
        ),
    ),
    conditions="rho_0 and P(s'|s, a) do not depend on theta; tau has positive probability.",
    expected=Verdict.CONFIRMED,
    reading="Step 7 of Appendix A; the document states the condition (dynamics constant in "
    "theta), so the statement is tested as written.",
    checks=(
        check(
            "Jacobian of log P(tau) = sum of scores, every trajectory (exact enumeration)",
            Kind.EXACT,
            grad_log_likelihood_exact(coupling=0.0),
        ),
        check(
            "E[R(tau) sum_t grad log pi] = grad J (exact enumeration)",
            Kind.EXACT,
            score_function_gradient_exact,
        ),
        negative_control(
            "dynamics that depend on theta (exact enumeration)",
            Kind.EXACT,
            grad_log_likelihood_exact(coupling=0.7),
            slip=Slip("dynamics that depend on theta", SlipKind.CONDITION),
        ),
    ),
)
