"""002 and 004: the Fisher information, the KL's quadratic approximation, natural gradients,
GAE and PPO's clipped surrogate and total loss."""

import mpmath
import numpy as np
import sympy as sp
import torch
from scipy.optimize import minimize

from pgtheory.claim import Claim
from pgtheory.claim import Kind
from pgtheory.claim import Slip
from pgtheory.claim import SlipKind
from pgtheory.claim import Source
from pgtheory.claim import Verdict
from pgtheory.claim import check
from pgtheory.claim import negative_control
from pgtheory.context import Context
from pgtheory.stats import Finding
from pgtheory.stats import all_hold
from pgtheory.stats import exact_bound
from pgtheory.stats import exact_comparison
from pgtheory.stats import exact_properties
from pgtheory.stats import slope_test
from pgtheory.symbolic import identity_check

K = 4  # actions of the bandit policies below


def random_logits(ctx: Context) -> torch.Tensor:
    return torch.randn(K, generator=ctx.cpu_generator(), dtype=torch.float64)


def fisher(logits: torch.Tensor) -> torch.Tensor:
    """E_a[grad log pi(a) grad log pi(a)^T] for pi = softmax(logits), exact."""
    pi = torch.softmax(logits, 0)
    scores = torch.eye(K, dtype=torch.float64) - pi  # row a: grad log pi(a)
    return (pi[:, None, None] * scores[:, :, None] * scores[:, None, :]).sum(0)


# --- 002-fisher-def ----------------------------------------------------------------------------


def fisher_identity(wrong: bool):
    """F = E[grad log pi grad log pi^T] against -E[Hessian of log pi] (the information identity);
    the control uses E[grad log pi] E[grad log pi]^T."""

    def run(ctx: Context) -> Finding:
        logits = random_logits(ctx)
        pi = torch.softmax(logits, 0)
        hessians = torch.stack(
            [
                torch.autograd.functional.hessian(lambda t, a=a: torch.log_softmax(t, 0)[a], logits)
                for a in range(K)
            ]
        )
        information = -(pi[:, None, None] * hessians).sum(0)
        if wrong:
            mean_score = (pi[:, None] * (torch.eye(K, dtype=torch.float64) - pi)).sum(0)
            return exact_comparison(torch.outer(mean_score, mean_score), information)
        return exact_comparison(
            fisher(logits), information, method="outer products against -E[Hessian] by autograd"
        )

    return run


FISHER_DEF = Claim(
    id="002-fisher-def",
    title="The Fisher information F = E[grad log pi grad log pi^T]",
    statement=r"F = \mathbb{E}_{\pi_\theta}\big[\nabla_\theta \log \pi_\theta\, \nabla_\theta \log \pi_\theta^T\big] = -\mathbb{E}_{\pi_\theta}\big[\nabla^2_\theta \log \pi_\theta\big]",
    sources=(Source("002", "8.2. Natural Policy Gradient", "Fisher Information Matrix (FIM):"),),
    conditions="A regular family (softmax here).",
    expected=Verdict.CONFIRMED,
    reading="The definition agrees with the curvature form of the information identity.",
    checks=(
        check(
            "softmax, 4 actions: outer products = -E[Hessian] (exact)",
            Kind.EXACT,
            fisher_identity(False),
        ),
        negative_control(
            "outer product of the mean score (exact)",
            Kind.EXACT,
            fisher_identity(True),
            slip=Slip(
                "the outer product of the mean score where the mean of the outer product belongs",
                SlipKind.WRONG_TERM,
            ),
        ),
    ),
)

# --- 002-kl-quadratic --------------------------------------------------------------------------

STEPS = np.geomspace(1e-4, 1e-2, 10)


def kl_remainder_order(predicted: float):
    """|KL(pi_{theta + h u} || pi_theta) - h^2 u^T F u / 2| against h, log-log. The KL is
    computed with 50 digits: the remainder is ~h^3 and float64 rounding would swamp it."""

    def run(ctx: Context) -> Finding:
        # one fixed instance, so that the check and its control fit the same numbers
        gen = torch.Generator().manual_seed(7)
        logits, u = (torch.randn(K, generator=gen, dtype=torch.float64) for _ in range(2))
        quadratic = mpmath.mpf(0.5 * float(u @ fisher(logits) @ u))
        remainders = []
        with mpmath.workdps(50):
            old = [mpmath.mpf(float(x)) for x in logits]
            log_z_old = mpmath.log(sum(mpmath.exp(x) for x in old))
            for h in STEPS:
                new = [x + mpmath.mpf(float(h)) * float(y) for x, y in zip(old, u, strict=True)]
                log_z_new = mpmath.log(sum(mpmath.exp(x) for x in new))
                kl = sum(
                    mpmath.exp(n - log_z_new) * ((n - log_z_new) - (o - log_z_old))
                    for n, o in zip(new, old, strict=True)
                )
                remainders.append(float(abs(kl - quadratic * mpmath.mpf(float(h)) ** 2)))
        return slope_test(STEPS, remainders, predicted, resolution=0.05)

    return run


KL_QUADRATIC = Claim(
    id="002-kl-quadratic",
    title="KL(pi_theta' || pi_theta) ~ 1/2 (theta' - theta)^T F (theta' - theta)",
    statement=r"D_{KL}(\pi_{\theta'} \| \pi_{\theta}) = \tfrac{1}{2} (\theta' - \theta)^T F (\theta' - \theta) + O(\|\theta' - \theta\|^3)",
    sources=(Source("002", "8.2. Natural Policy Gradient", "Constrain divergence (KL) between"),),
    conditions="theta' near theta.",
    expected=Verdict.CONFIRMED,
    reading="Second-order Taylor expansion; the remainder is third order.",
    checks=(
        check(
            "remainder of order 3 in h (50-digit arithmetic, log-log fit)",
            Kind.EXACT,
            kl_remainder_order(3.0),
        ),
        negative_control(
            "remainder of order 2 (50-digit arithmetic, log-log fit)",
            Kind.EXACT,
            kl_remainder_order(2.0),
            slip=Slip("a remainder of order 2 where it is of order 3", SlipKind.EXPONENT),
        ),
    ),
)

# --- 002-npg-update-invariance -----------------------------------------------------------------


def update_invariance(natural: bool):
    """A bandit policy with logits (theta, 0), theta in R^3 (so F is invertible), reward r(a).
    Reparametrise theta = A phi: the step in theta from the phi-step, A delta_phi, against the
    step computed in theta directly; natural gradient F^-1 grad J, or (control) plain grad J."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        theta = torch.randn(K - 1, generator=gen, dtype=torch.float64)
        rewards = torch.randn(K, generator=gen, dtype=torch.float64)
        A = torch.randn(K - 1, K - 1, generator=gen, dtype=torch.float64) + 2 * torch.eye(
            K - 1, dtype=torch.float64
        )

        def J(t: torch.Tensor) -> torch.Tensor:
            return (torch.softmax(torch.cat([t, t.new_zeros(1)]), 0) * rewards).sum()

        def fisher_in(param_to_theta, param):
            def log_probs(p):
                return torch.log_softmax(torch.cat([param_to_theta(p), param.new_zeros(1)]), 0)

            jac = torch.autograd.functional.jacobian(log_probs, param)  # (K, dim)
            pi = log_probs(param).exp()
            return (pi[:, None, None] * jac[:, :, None] * jac[:, None, :]).sum(0)

        def step(param_to_theta, param):
            grad = torch.autograd.functional.jacobian(lambda p: J(param_to_theta(p)), param)
            return torch.linalg.solve(fisher_in(param_to_theta, param), grad) if natural else grad

        direct = step(lambda t: t, theta)
        phi = torch.linalg.solve(A, theta)
        through_phi = A @ step(lambda p: A @ p, phi)
        return exact_comparison(
            through_phi, direct, method="step mapped back to theta against the direct step"
        )

    return run


NPG_INVARIANCE = Claim(
    id="002-npg-update-invariance",
    title="The natural gradient step is the same in every parametrisation",
    statement=r"\theta = A\phi:\quad A\, F_\phi^{-1} \nabla_\phi J = F_\theta^{-1} \nabla_\theta J",
    sources=(
        Source(
            "002",
            "8.2. Natural Policy Gradient",
            "Rescale gradients so updates are equal in **policy space**, not **parameter space**.",
        ),
    ),
    conditions="Invertible (linear) reparametrisation; F invertible.",
    expected=Verdict.CONFIRMED,
    reading="F transforms as A^T F A and the gradient as A^T grad, so the step is covariant; "
    "the plain gradient step is not.",
    checks=(
        check("natural gradient, random invertible A (exact)", Kind.EXACT, update_invariance(True)),
        negative_control(
            "plain gradient, same A (exact)",
            Kind.EXACT,
            update_invariance(False),
            slip=Slip("the plain gradient where the natural one belongs", SlipKind.WRONG_TERM),
        ),
    ),
)

# --- 002-npg-steepest-ascent -------------------------------------------------------------------

TRUST_RADIUS = 0.01  # epsilon in 1/2 d^T F d = epsilon


def bandit_fisher_and_gradient(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """A bandit with logits (theta, 0), theta in R^3 (F invertible), random rewards: F and grad J
    in closed form, d log pi(a) / d theta_j = [a = j] - pi_j."""
    gen = ctx.cpu_generator()
    theta = torch.randn(K - 1, generator=gen, dtype=torch.float64).numpy()
    rewards = torch.randn(K, generator=gen, dtype=torch.float64).numpy()
    z = np.concatenate([theta, [0.0]])
    pi = np.exp(z - z.max())
    pi /= pi.sum()
    jac = (np.eye(K) - pi)[:, : K - 1]  # row a: grad_theta log pi(a)
    F = (pi[:, None, None] * jac[:, :, None] * jac[:, None, :]).sum(0)
    return F, (pi[:, None] * jac * rewards[:, None]).sum(0)


def steepest_ascent(candidate: str):
    """argmax g^T d subject to 1/2 d^T F d = epsilon, found by a constrained optimiser (SLSQP),
    against a closed-form candidate scaled onto the constraint: ``natural`` F^-1 g, or, for the
    controls, ``plain`` g and ``fisher`` F g."""

    def run(ctx: Context) -> Finding:
        F, g = bandit_fisher_and_gradient(ctx)
        start = np.ones(K - 1) * 0.01
        found = minimize(
            lambda d: -g @ d,
            start,
            jac=lambda d: -g,
            constraints=[
                {
                    "type": "eq",
                    "fun": lambda d: 0.5 * d @ F @ d - TRUST_RADIUS,
                    "jac": lambda d: F @ d,
                }
            ],
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 500},
        )
        direction = {"natural": np.linalg.solve(F, g), "plain": g, "fisher": F @ g}[candidate]
        scaled = direction * np.sqrt(2 * TRUST_RADIUS / (direction @ F @ direction))
        if not found.success:
            return exact_properties(
                [f"SLSQP did not converge: {found.message}"],
                method="constrained optimisation (SLSQP)",
                checked="",
            )
        return exact_comparison(
            found.x,
            scaled,
            tolerance=1e-6,
            method=f"SLSQP's maximiser against the {candidate} direction on the constraint",
        )

    return run


NPG_STEEPEST_ASCENT = Claim(
    id="002-npg-steepest-ascent",
    title="The natural gradient is the steepest ascent under a KL (Fisher) trust region",
    statement=r"\arg\max_{d:\ \frac12 d^T F d = \epsilon} \nabla_\theta J^T d = \sqrt{\frac{2\epsilon}{\nabla J^T F^{-1} \nabla J}}\, F^{-1} \nabla_\theta J",
    sources=(
        Source(
            "002",
            "8.2. Natural Policy Gradient",
            "Rescale gradients so updates are equal in **policy space**, not **parameter space**.",
        ),
        Source("002", "8.2. Natural Policy Gradient", "Natural Gradient Update:"),
    ),
    conditions="F positive definite (a bandit with logits (theta, 0), theta in R^3); the KL "
    "replaced by its quadratic form, as 002 does; epsilon = 0.01.",
    expected=Verdict.CONFIRMED,
    reading="Constraining 1/2 d^T F d, the second-order KL between the old and new policies, "
    "measures the step in policy space. The Lagrange condition g = lambda F d gives d "
    "proportional to F^-1 g, 002's natural gradient update, while the plain gradient is the "
    "steepest ascent for the Euclidean constraint in parameter space.",
    checks=(
        check(
            "SLSQP's maximiser = scaled F^-1 g (numerical optimisation, tolerance 1e-6)",
            Kind.EXACT,
            steepest_ascent("natural"),
        ),
        negative_control(
            "SLSQP's maximiser = scaled g (numerical optimisation)",
            Kind.EXACT,
            steepest_ascent("plain"),
            slip=Slip("the Euclidean steepest ascent g where F^-1 g belongs", SlipKind.WRONG_TERM),
        ),
        negative_control(
            "SLSQP's maximiser = scaled F g (numerical optimisation)",
            Kind.EXACT,
            steepest_ascent("fisher"),
            slip=Slip("F where F^-1 belongs", SlipKind.EXPONENT),
        ),
    ),
)

# --- 004-gae -------------------------------------------------------------------------------------

T_EPISODE = 4
rs = sp.symbols(f"r0:{T_EPISODE}", real=True)
vs = sp.symbols(f"V0:{T_EPISODE}", real=True)
g_, lam = sp.symbols("gamma lambda", positive=True)


def td_error(t: int) -> sp.Expr:
    next_value = vs[t + 1] if t + 1 < T_EPISODE else 0  # the episode terminates after step 3
    return rs[t] + g_ * next_value - vs[t]


def gae_sum(t: int, weight: sp.Expr) -> sp.Expr:
    return sum(weight**l * td_error(t + l) for l in range(T_EPISODE - t))


def gae_properties(weight: sp.Expr):
    """With A_t = sum_l w^l delta_{t+l}, w = gamma lambda: lambda = 0 gives delta_t, lambda = 1
    gives G_t - V(s_t), and the recursion A_t = delta_t + w A_{t+1} holds (sympy, 4 steps)."""

    def run(ctx: Context) -> Finding:
        findings = []
        for t in range(T_EPISODE):
            A_t = gae_sum(t, weight)
            monte_carlo = sum(g_**l * rs[t + l] for l in range(T_EPISODE - t)) - vs[t]
            findings.append(identity_check(A_t.subs(lam, 0), td_error(t)))
            findings.append(identity_check(A_t.subs(lam, 1), monte_carlo))
            if t + 1 < T_EPISODE:
                findings.append(
                    identity_check(A_t, td_error(t) + g_ * lam * gae_sum(t + 1, weight))
                )
        return all_hold(findings)

    return run


GAE = Claim(
    id="004-gae",
    title="GAE: A_t = sum_l (gamma lambda)^l delta_{t+l}; lambda = 0 is the TD error, lambda = 1 the Monte Carlo advantage",
    statement=r"\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t),\quad \hat{A}_t = \sum_{l=0}^{\infty} (\gamma\lambda)^l \delta_{t+l}",
    sources=(Source("004", "Proximal Policy Optimization (PPO)", "GAE (Advantage Estimation):"),),
    conditions="An episode that terminates (V = 0 after the end).",
    expected=Verdict.CONFIRMED,
    reading="The sum telescopes to G_t - V(s_t) at lambda = 1 and is the one-step TD error at lambda = 0.",
    checks=(
        check("4-step episode, every t (sympy)", Kind.SYMBOLIC, gae_properties(g_ * lam)),
        negative_control(
            "weights lambda^l without gamma (sympy)",
            Kind.SYMBOLIC,
            gae_properties(lam),
            slip=Slip("weights lambda^l without gamma", SlipKind.OMISSION),
        ),
    ),
)

# --- 004-ppo-clip, 004-ppo-total-loss -----------------------------------------------------------

EPSILON = 0.2
RATIOS = torch.linspace(0.5, 1.5, 201, dtype=torch.float64)


def surrogate_properties(with_min: bool):
    """On a grid of ratios and advantages +-1: (1) equal to r A inside [1 - eps, 1 + eps];
    (2) never above r A (pessimistic); (3) zero gradient once r leaves the range in the direction
    the advantage favours. The control drops the min and keeps only the clipped term."""

    def run(ctx: Context) -> Finding:
        failures = []
        for advantage in (1.0, -1.0):
            r = RATIOS.clone().requires_grad_(True)
            clipped = r.clamp(1 - EPSILON, 1 + EPSILON) * advantage
            surrogate = torch.min(r * advantage, clipped) if with_min else clipped
            (grad,) = torch.autograd.grad(surrogate.sum(), r)
            inside = (RATIOS >= 1 - EPSILON) & (RATIOS <= 1 + EPSILON)
            beyond = RATIOS > 1 + EPSILON if advantage > 0 else RATIOS < 1 - EPSILON
            if not torch.allclose(surrogate.detach()[inside], (RATIOS * advantage)[inside]):
                failures.append(f"A={advantage:+g}: differs from r A inside the range")
            if (surrogate.detach() > RATIOS * advantage + 1e-12).any():
                failures.append(f"A={advantage:+g}: above r A somewhere")
            if grad[beyond].abs().max() > 0:
                failures.append(f"A={advantage:+g}: nonzero gradient beyond the range")
        return exact_properties(
            failures,
            method="exact values and autograd on a grid of 201 ratios",
            checked="all three properties hold for A = +1 and A = -1",
        )

    return run


PPO_CLIP = Claim(
    id="004-ppo-clip",
    title="The clipped surrogate: equals r A near 1, a pessimistic bound, flat beyond the clip",
    statement=r"L^{\text{CLIP}} = \mathbb{E}_t\big[\min\big(r_t\hat{A}_t,\, \operatorname{clip}(r_t, 1-\epsilon, 1+\epsilon)\hat{A}_t\big)\big]",
    sources=(
        Source(
            "004",
            "Proximal Policy Optimization (PPO)",
            "use a clipped surrogate objective to constrain large policy updates",
        ),
    ),
    conditions="epsilon = 0.2.",
    expected=Verdict.CONFIRMED,
    reading="The min makes it a lower bound of the unclipped surrogate and removes the incentive "
    "to move the ratio further once it has left the range in the favoured direction.",
    checks=(
        check(
            "three properties on a grid (exact, autograd)", Kind.EXACT, surrogate_properties(True)
        ),
        negative_control(
            "the clipped term alone, without the min (exact)",
            Kind.EXACT,
            surrogate_properties(False),
            slip=Slip("the clipped term alone, without the min", SlipKind.OMISSION),
        ),
    ),
)


def total_loss_terms(clip_sign: float = -1.0, entropy_sign: float = -1.0):
    """L = clip_sign L_clip + c1 (V - R)^2 + entropy_sign c2 S, 004's signs by default. With
    nonzero advantages, a small descent step on each of L's terms alone must move its quantity
    the way PPO wants: L_clip up, the value error down, the entropy up. A sign slip on any term
    shows as its quantity moving the wrong way."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        logits = torch.randn(8, 3, generator=gen, dtype=torch.float64).requires_grad_(True)
        values = torch.randn(8, generator=gen, dtype=torch.float64).requires_grad_(True)
        returns = torch.randn(8, generator=gen, dtype=torch.float64)
        actions = torch.randint(0, 3, (8,), generator=gen)
        old_logp = torch.log_softmax(logits.detach(), -1)[torch.arange(8), actions]
        advantages = torch.randn(8, generator=gen, dtype=torch.float64)

        def quantities(lg, v):
            dist = torch.distributions.Categorical(logits=lg)
            ratio = (dist.log_prob(actions) - old_logp).exp()
            clip = torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
            return {
                "L_clip": clip,
                "value error": ((v - returns) ** 2).mean(),
                "entropy": dist.entropy().mean(),
            }

        before = quantities(logits, values)
        in_loss = {
            "L_clip": clip_sign * before["L_clip"],
            "value error": 0.5 * before["value error"],
            "entropy": entropy_sign * 0.01 * before["entropy"],
        }
        wanted = {"L_clip": "above", "value error": "below", "entropy": "above"}
        findings = []
        for name, term in in_loss.items():
            g_logits, g_values = torch.autograd.grad(
                term, [logits, values], retain_graph=True, allow_unused=True
            )
            step_logits = logits - 1e-2 * (g_logits if g_logits is not None else 0)
            step_values = values - 1e-2 * (g_values if g_values is not None else 0)
            with torch.no_grad():
                after = float(quantities(step_logits, step_values)[name])
            was = float(before[name].detach())
            findings.append(
                exact_bound(
                    after,
                    was,
                    relation=wanted[name],
                    method="a descent step on one term of L, autograd",
                    note=f"{name} {was:.7f} -> {after:.7f} after a step on its term of L",
                )
            )
        return all_hold(findings)

    return run


PPO_TOTAL_LOSS = Claim(
    id="004-ppo-total-loss",
    title="PPO's total loss: -L_clip + c1 value error - c2 entropy",
    statement=r"L(\theta) = -L^{\text{CLIP}}(\theta) + c_1\,\mathbb{E}_t\big[(V_{\theta}(s_t)-R_t)^2\big] - c_2\,\mathbb{E}_t\big[S[\pi_{\theta}](s_t)\big]",
    sources=(
        Source(
            "004",
            "Proximal Policy Optimization (PPO)",
            "Total loss (value + entropy regularization):",
        ),
    ),
    conditions="Minimised by gradient descent; c1 = 0.5, c2 = 0.01.",
    expected=Verdict.CONFIRMED,
    reading="L is minimised, so its terms carry the signs that make descent raise the clipped "
    "objective (-L_clip), lower the value error (+c1) and raise the entropy (-c2 S). Each term "
    "is checked on its own with nonzero advantages, so a sign slip in any one of them shows.",
    checks=(
        check(
            "descent on each term: L_clip rises, the value error falls, the entropy rises (exact)",
            Kind.EXACT,
            total_loss_terms(),
        ),
        negative_control(
            "with +L_clip, the clipped term's sign flipped (exact)",
            Kind.EXACT,
            total_loss_terms(clip_sign=+1.0),
            slip=Slip("+L_clip, the clipped objective's sign flipped", SlipKind.SIGN),
        ),
        negative_control(
            "with +c2 S, the entropy's sign flipped (exact)",
            Kind.EXACT,
            total_loss_terms(entropy_sign=+1.0),
            slip=Slip("+c2 S, the entropy's sign flipped", SlipKind.SIGN),
        ),
    ),
)
