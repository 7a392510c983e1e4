import sympy as sp

from pgtheory.stats import Outcome
from pgtheory.symbolic import gaussian_expectation
from pgtheory.symbolic import identity_check
from pgtheory.symbolic import is_zero

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)


def test_gaussian_moments_read_like_the_page():
    assert gaussian_expectation(x, x, mu, sigma) == mu
    assert sp.simplify(gaussian_expectation((x - mu) ** 2, x, mu, sigma) - sigma**2) == 0


def test_identity_proven_by_simplify():
    finding = identity_check(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)
    assert finding.outcome == Outcome.SUPPORTS
    assert "simplify" in finding.method


def test_non_identity_refuted_with_a_witness():
    finding = is_zero(sp.exp(x) - 1 - x - x**2 / 2)
    assert finding.outcome == Outcome.REFUTES
    assert "nonzero at" in finding.note


def test_random_point_fallback_says_it_is_not_a_proof(monkeypatch):
    monkeypatch.setattr(sp, "simplify", lambda e: e)  # pretend simplify cannot decide
    finding = is_zero(sp.log(sigma**2) - 2 * sp.log(sigma))
    assert finding.outcome == Outcome.SUPPORTS
    assert "not a proof" in finding.note
