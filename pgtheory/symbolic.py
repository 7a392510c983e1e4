"""Symbolic checks on sympy: Gaussian expectations, zero-testing of expressions and exact
identities of rational functions.

Checks read like the mathematics on the page: declare symbols with their assumptions,
write both sides, and ask :func:`identity_check` whether they agree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import sympy as sp
from sympy import stats as sps

from pgtheory.context import active_check_seed
from pgtheory.stats import Finding
from pgtheory.stats import Outcome
from pgtheory.stats import all_hold
from pgtheory.stats import exact_properties

#: Digits used when a candidate zero is evaluated at an exact rational point.
_PRECISION = 60
#: A value below this magnitude at 60 digits counts as zero at that point.
_ZERO = sp.Float("1e-40")


def _random_point(symbols: list[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, sp.Rational]:
    """An exact rational point that respects each symbol's positivity/nonnegativity."""
    point = {}
    for s in symbols:
        value = sp.Rational(rng.randint(1, 97), rng.randint(1, 13))
        if not (s.is_positive or s.is_nonnegative) and rng.random() < 0.5:
            value = -value
        point[s] = value
    return point


def is_zero(expr: sp.Expr, trials: int = 24, seed: int | None = None) -> Finding:
    """Decide whether ``expr`` is identically zero.

    First ``sympy.simplify``: if it returns 0 the identity is proven. Otherwise ``expr`` is
    evaluated at ``trials`` random exact rational points (60 significant digits): a
    nonzero value refutes with that point as the witness; zero at every point supports,
    and the note says that this is a randomised test, not a proof.
    """
    expr = sp.sympify(expr)
    if isinstance(expr, sp.MatrixBase):  # every entry must vanish
        return all_hold([is_zero(e, trials, seed) for e in expr])
    if sp.simplify(expr) == 0:
        return Finding(Outcome.SUPPORTS, "sympy.simplify reduces the difference to 0", estimate=0)
    symbols = sorted(expr.free_symbols, key=str)
    rng = random.Random(active_check_seed() if seed is None else seed)
    evaluated = 0
    for _ in range(trials):
        point = _random_point(symbols, rng)
        value = sp.N(expr.subs(point), _PRECISION)
        if not value.is_number or not value.is_finite:  # a pole or an undefined point says nothing
            continue
        evaluated += 1
        if abs(value) > _ZERO:
            witness = {str(k): str(v) for k, v in point.items()}
            return Finding(
                Outcome.REFUTES,
                "exact evaluation at random rational points",
                estimate=float(sp.re(value)),
                reference=0,
                note=f"nonzero at {witness}: {sp.N(value, 8)}",
            )
    if evaluated == 0:
        return Finding(
            Outcome.INCONCLUSIVE,
            "exact evaluation at random rational points",
            note=f"the difference is undefined or not a number at all {trials} random points",
        )
    return Finding(
        Outcome.SUPPORTS,
        "exact evaluation at random rational points",
        estimate=0,
        reference=0,
        n=evaluated,
        note=(
            f"simplify did not reach 0; the difference vanishes at {evaluated} random rational "
            "points (a randomised zero test, not a proof)"
        ),
    )


def _short(expr: sp.Expr, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def identity_check(lhs: sp.Expr, rhs: sp.Expr, seed: int | None = None) -> Finding:
    """Decide ``lhs == rhs`` as an identity in all free symbols (see :func:`is_zero`)."""
    finding = is_zero(sp.sympify(lhs) - sp.sympify(rhs), seed=seed)
    finding.estimate, finding.reference = _short(lhs), _short(rhs)
    return finding


def gaussian_expectation(expr: sp.Expr, x: sp.Symbol, mu: sp.Expr, sigma: sp.Expr) -> sp.Expr:
    """``E[expr]`` with ``x ~ N(mu, sigma^2)``, by sympy.stats, simplified."""
    X = sps.Normal("X", mu, sigma)
    return sp.simplify(sps.E(expr.subs(x, X)))


def gaussian_log_density(x: sp.Symbol, mu: sp.Expr, sigma: sp.Expr) -> sp.Expr:
    """``log N(x | mu, sigma^2)`` written out, so that derivatives are explicit."""
    return -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sigma) - sp.log(2 * sp.pi) / 2


def standard_normal_expectation(expr: sp.Expr, z: sp.Symbol) -> sp.Expr:
    """``E[expr]`` for ``z ~ N(0, 1)`` and ``expr`` a polynomial in ``z``, expanded: by the
    moments E[z^k] = (k - 1)!! for even k, 0 for odd k, far faster than sympy.stats."""
    poly = sp.Poly(sp.expand(expr), z)
    return sp.expand(
        sum(c * (sp.factorial2(k - 1) if k % 2 == 0 else 0) for (k,), c in poly.terms())
    )


def exact_identity(lhs: sp.Expr | Sequence[sp.Expr], rhs: sp.Expr | Sequence[sp.Expr]) -> Finding:
    """``lhs == rhs`` (scalars or lists) for rational functions of the symbols (exp(psi) and the
    like as generators), decided by cancelling each difference to its canonical form: a proof
    either way, and much faster than ``simplify`` (:func:`identity_check`) on such expressions."""
    pairs = zip(lhs, rhs, strict=True) if isinstance(lhs, list | tuple) else [(lhs, rhs)]
    differences = [sp.cancel(a - b) for a, b in pairs]
    failures = [
        f"component {i}: the difference is {sp.sstr(d)[:160]}"
        for i, d in enumerate(differences)
        if d != 0
    ]
    return exact_properties(
        failures,
        method="sympy: the difference cancelled to canonical form",
        checked=f"{len(differences)} difference(s) cancel to 0 (a proof)",
    )
