"""The claims' catalogue: every id the issues name is encoded, every quote is verbatim."""

import json
import re

import pytest

from pgtheory.claim import Role
from pgtheory.claim import Verdict
from pgtheory.policies import GaussianPolicy
from pgtheory.sources import fenced_code_blocks
from pgtheory.stats import Outcome
from pgtheory.verify import discover
from pgtheory.verify import run_claim

from conftest import CLAIMS_DIR

CLAIMS = discover([CLAIMS_DIR])
#: The claim ids each issue names: every one must be encoded.
ISSUE_CLAIMS = {
    "issue-2 foundation": """002-log-deriv-trick 001-score-zero-mean 001-state-baseline-unbiased
        002-constant-baseline-unbiased 000-baseline-unbiased 001-traj-factorisation 002-is-identity""",
    "issue-3 one-step estimator": """000-gauss-opt-limit 000-stoch-objective 000-R2-mean-offset
        000-pgt-stateless 000-ghat-unbiased 000-var-formula 000-score-mu 000-score-psi
        000-E-score-sq-d-over-sigma2 000-var-d-over-sigma2 000-nondiff-reward 000-J-nonconvex-in-sigma
        000-gauss-smoothing 000-baseline-reduces-var 000-batch-var-over-Ns 000-clip-def
        000-clip-necessary 001-opt-baseline-eq7 001-opt-baseline-appC 001-opt-baseline-is-V
        001-example-baseline-numbers 001-raw-example-update 001-EZ-const-in-b 002-opt-baseline
        002-var-scales-with-reward 002-constant-shift-changes-estimate 002-sigma-conditioning
        002-pseudo-loss 002-weighted-mle 003-score-function-trick 003-softmax-logprob
        003-softmax-score 003-linear-softmax-score 003-linear-softmax-updates 003-grad-parallel-to-s
        003-bce-equals-neglogpi 003-diff-sim-chain-rule 003-example-raw-returns
        003-example-normalized-returns 003-normalized-returns-bias""",
    "issue-4 trajectories": """001-traj-objective 002-mc-objective 001-traj-count-exponential
        001-pgt-eq4 002-reinforce-gradient 001-reinforce-eq5-unbiased 003-pg-sum-to-T-1
        002-rtg-unbiased 001-rtg-estimates-Q 002-rtg-reduces-variance 003-rtg-unbiased-lower-variance
        003-rtg-equivalent-in-expectation 003-Lt-loss-sign 001-advantage-defs 001-eq6-is-advantage
        001-pgt-advantage-eq8 002-pomdp 003-stochastic-policy-partial-obs 004-pgt-proportional
        004-mu-equals-rho 004-all-actions-form-13.6 004-sampling-form 004-reinforce-update
        004-baseline-pgt 004-actor-critic-line2 002-is-identity 004-is-identity
        002-traj-is-weight-product 002-offpolicy-pg-full-weight 002-is-variance-explodes
        002-first-order-approx 004-offpolicy-single-ratio 002-fisher-def 002-kl-quadratic
        002-npg-update-invariance 004-gae 004-ppo-clip 004-ppo-total-loss""",
    "issue-5 dynamics and figures": """000-noise-floor-formula 000-robbins-monro
        000-sparse-threshold 000-five-formulations 000-fig1-R1-lr 000-fig3-R1-schedule
        000-fig4-R1-batch 000-fig5-R2-lr 000-fig7-R2-schedule 000-fig8-R2-batch 000-fig2-R1-baseline
        000-fig6-R2-baseline 000-R3-proxy-optimum 000-fig9-R3-closer-as-Ns-grows 000-fig10-R4-sparse""",
    "issue-13 findings": """000-text-omits-sigma-bound 000-author-runs-reproduced""",
    "issue-14 coverage": """000-zeroth-order-link 000-batch-growth-for-convergence
        000-sparse-reward-rare 000-fig4-fig8-per-update-variance 001-trajectory-length-off-by-one
        001-exact-gradient-needs-dynamics-derivatives 001-averaging-m-reduces-variance
        001-example-baseline-reduces-variance 001-eq6-multistep-state-baseline-unbiased
        002-low-reward-made-less-likely 002-average-reward-decent-baseline
        002-first-order-reduces-variance 002-first-order-still-improves 002-offpolicy-more-unstable
        002-more-samples-more-accurate 002-npg-steepest-ascent 002-per-decision-is-unbiased
        002-descent-wording 003-no-gradient-through-sampling 003-diff-sim-formula-complete
        003-baseline-is-actor-critic 003-advantage-normalization-reduces-variance
        003-stepwise-returns-one-step-episode 003-policy-picks-action-in-similar-states
        003-linear-hyperplane 003-full-return-variance-grows-with-horizon
        003-recomputed-logprobs-match 003-Gt-truncated-formula 003-batching-reduces-variance
        004-propto-meaning 004-mu-long-run-frequency 004-weighted-average-of-actions
        004-baseline-and-ac-updates-gamma-t 004-pgt-proof-notation""",
    "issue-15 implementations": """001-reinforce-trainer-unbiased 004-gae-trainer-matches-definition
        004-actor-critic-trainer-update 002-npg-trainer-direction
        002-ppo-surrogate-gradient-at-old-policy 004-ppo-clip-constrains-updates
        002-baseline-helps-small-batches 004-gae-stable-baselines3""",
    "issue-6 training code": """003-batchsize-division-equals-smaller-lr
        003-dropout-inference-scaling 003-log-softmax-alt-pong 003-reinforce-cartpole-solves
        003-code-runs-as-printed""",
}


# Each claim's verdict is checked by pgtheory's pytest plugin: `pytest` with no paths collects
# every claim of claims/ (the ini setting `claims` in pyproject.toml) as a test named by its id.


@pytest.mark.parametrize("issue", sorted(ISSUE_CLAIMS))
def test_every_claim_an_issue_names_is_encoded(issue):
    missing = set(ISSUE_CLAIMS[issue].split()) - {c.id for c in CLAIMS}
    assert not missing


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


def test_vendored_code_blocks_are_the_documents(seeds):
    """claims/data/003_code_blocks.json must be the document's fenced blocks, verbatim."""
    vendored = json.loads(
        (CLAIMS_DIR / "data" / "003_code_blocks.json").read_text(encoding="utf-8")
    )
    document = (seeds / vendored["source"]).read_text(encoding="utf-8")
    assert vendored["blocks"] == fenced_code_blocks(document)


def test_every_expected_finding_declares_its_severity():
    findings = [c for c in CLAIMS if c.expected in (Verdict.REFUTED, Verdict.CONDITIONAL)]
    assert findings and all(c.severity is not None for c in findings)


def test_every_negative_control_names_a_near_miss_slip():
    """A control proves a check's power only as the plausible slip a careful reader might make:
    every shipped control says which, and none is a bare rescaling or offset."""
    controls = [(c.id, k) for c in CLAIMS for k in c.checks if k.role == Role.NEGATIVE_CONTROL]
    assert controls and all(k.slip is not None for _, k in controls)
    bare = [(cid, k.name) for cid, k in controls if k.slip.kind.value in ("rescaling", "offset")]
    assert not bare


NUMBER = re.compile(r"(?<![A-Za-z_^])(\d+(?:\.\d+)?(?:e-?\d+)?)")


def test_readings_state_arguments_not_run_results(seeds):
    """A reading gives the argument from the document's words; numbers it states come from the
    cited documents, or from the claim's own statement, conditions and checks (its design),
    never from a run (the generated summary carries those)."""
    for claim in CLAIMS:
        documents = " ".join(
            (seeds / s.file).read_text(encoding="utf-8", errors="replace")
            for s in claim.sources
            if (seeds / s.file).is_file()
        )
        own = " ".join(
            [claim.statement, claim.conditions, claim.title] + [k.name for k in claim.checks]
        )
        allowed = set(NUMBER.findall(documents + " " + own)) | {
            "0",
            "1",
            "2",
            "000",
            "001",
            "002",
            "003",
            "004",
        }
        extra = [n for n in NUMBER.findall(claim.reading) if n not in allowed]
        assert not extra, (claim.id, extra)


def test_an_effect_changes_with_its_setting(monkeypatch):
    """004-reinforce-update's effect (1 - cos between the printed update and grad J) is sized
    at gamma = 0.99 over CartPole-length chains; at gamma = 1 the printed update is exact and
    the same measure vanishes."""
    import sys

    from pgtheory.claim import Role
    from pgtheory.verify import run_check

    claim = next(c for c in CLAIMS if c.id == "004-reinforce-update")
    item = next(k for k in claim.checks if k.role == Role.EFFECT)
    module = sys.modules[item.run.__module__]
    realistic = run_check(claim, item, run_seed=0, device="cpu", quick=False).finding.estimate
    faithful = module.realistic_cases
    monkeypatch.setattr(module, "realistic_cases", lambda ctx, gamma=0.99: faithful(ctx, 1.0))
    undiscounted = run_check(claim, item, run_seed=0, device="cpu", quick=False).finding.estimate
    assert realistic > 0.01 and abs(undiscounted) < 1e-9


def test_claim_texts_hold_no_control_characters():
    """A LaTeX statement written without a raw string turns \\t of \\text into a tab."""
    for claim in CLAIMS:
        texts = [claim.title, claim.statement, claim.conditions, claim.reading]
        assert not any(ch < " " for text in texts for ch in text), claim.id
