"""The claims as tests: each derived verdict must equal the one its module expects."""

import re

import pytest

from pgtheory.claim import Role, Verdict, discover, run_claim
from pgtheory.policies import GaussianPolicy
from pgtheory.stats import Outcome

from conftest import CLAIMS_DIR

CLAIMS = discover([CLAIMS_DIR])
FOUNDATION = {
    "002-log-deriv-trick",
    "001-score-zero-mean",
    "001-state-baseline-unbiased",
    "002-constant-baseline-unbiased",
    "000-baseline-unbiased",
    "001-traj-factorisation",
    "002-is-identity",
}


def _marks(claim):
    return [pytest.mark.slow] if claim.slow else []


@pytest.mark.parametrize("claim", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CLAIMS])
def test_claim_verdict_is_the_expected_one(claim):
    result = run_claim(claim, run_seed=0, device="cpu")
    details = [(e.check, e.outcome.value, e.error) for e in result.evidence]
    assert result.verdict == claim.expected, (result.reason, details)
    for e in result.evidence:
        if e.role == Role.NEGATIVE_CONTROL:
            assert e.outcome == Outcome.REFUTES, e.check


def test_the_foundation_claims_are_all_present():
    assert {c.id for c in CLAIMS} >= FOUNDATION


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_sources_quote_their_document_exactly(claim, seeds):
    for source in claim.sources:
        assert source.file[:3] == claim.id[:3], "the id's number is the seed document's"
        document = _normalise((seeds / source.file).read_text(encoding="utf-8"))
        assert _normalise(source.quote) in document, source.quote
        assert _normalise(source.section) in document, source.section


def test_flipping_the_sign_of_the_score_makes_the_check_refute(monkeypatch):
    """Remove the factor that makes 002-log-deriv-trick true: its MC check must refute."""
    claim = next(c for c in CLAIMS if c.id == "002-log-deriv-trick")
    monkeypatch.setattr(
        GaussianPolicy,
        "score_psi",
        lambda self, w: -(((w - self.mu) ** 2).sum(-1) / self.sigma**2 - self.dim),
    )
    result = run_claim(claim)
    mc = next(e for e in result.evidence if e.check.startswith("E[R grad log pi] = grad J"))
    assert mc.outcome == Outcome.REFUTES
    assert result.verdict == Verdict.REFUTED
