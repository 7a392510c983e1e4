"""The data model: validation, verdict derivation, a failing check, discovery."""

import textwrap

import pytest

from pgtheory.claim import Claim
from pgtheory.claim import Evidence
from pgtheory.claim import Kind
from pgtheory.claim import Role
from pgtheory.claim import Source
from pgtheory.claim import Verdict
from pgtheory.claim import check
from pgtheory.claim import derive_verdict
from pgtheory.claim import negative_control
from pgtheory.stats import Finding
from pgtheory.stats import Outcome
from pgtheory.verify import discover
from pgtheory.verify import run_claim
from pgtheory.verify import select

SOURCE = (Source("000_x.txt", "S", "q"),)
S, R, I, E = Outcome.SUPPORTS, Outcome.REFUTES, Outcome.INCONCLUSIVE, Outcome.ERROR


def ev(outcome, role=Role.CHECK, beyond=False):
    return Evidence("c", Kind.EXACT, role, beyond, outcome, seed=0, device="cpu", seconds=0.0)


def ctl(outcome):
    return ev(outcome, Role.NEGATIVE_CONTROL)


@pytest.mark.parametrize(
    ("evidence", "verdict"),
    [
        ([ev(S), ev(S), ctl(R)], Verdict.CONFIRMED),
        ([ev(S), ev(R), ctl(R)], Verdict.REFUTED),
        ([ev(S), ctl(S)], Verdict.INCONCLUSIVE),  # the control was not refuted: no power
        ([ev(S), ctl(I)], Verdict.INCONCLUSIVE),
        ([ev(I), ctl(R)], Verdict.INCONCLUSIVE),  # too wide an interval never confirms
        ([ev(S), ev(E), ctl(R)], Verdict.INCONCLUSIVE),
        ([ev(S), ev(R, beyond=True), ctl(R)], Verdict.CONDITIONAL),
        ([ev(S), ev(S, beyond=True), ctl(R)], Verdict.CONFIRMED),
        ([ev(S), ev(I, beyond=True), ctl(R)], Verdict.INCONCLUSIVE),
        ([ev(R), ev(R, beyond=True), ctl(R)], Verdict.REFUTED),
    ],
)
def test_verdict_derivation(evidence, verdict):
    assert derive_verdict(evidence)[0] == verdict


def _finding(outcome):
    return lambda ctx: Finding(outcome, "fixed")


def test_a_claim_needs_a_valid_id_a_source_and_a_negative_control():
    checks = (check("a", Kind.EXACT, _finding(S)), negative_control("b", Kind.EXACT, _finding(R)))
    Claim("001-ok", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks)
    Claim("mydoc-claim-one", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks)
    with pytest.raises(ValueError, match="prefix-slug"):
        Claim("ok", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks)
    with pytest.raises(ValueError, match="negative control"):
        Claim("001-ok", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks[:1])
    with pytest.raises(ValueError, match="source"):
        Claim("001-ok", "t", "s", (), "c", Verdict.CONFIRMED, checks)


def test_a_check_that_raises_makes_the_claim_inconclusive_and_others_still_run():
    def boom(ctx):
        raise RuntimeError("deliberate failure")

    claim = Claim(
        "001-boom",
        "t",
        "s",
        SOURCE,
        "c",
        Verdict.CONFIRMED,
        (
            check("raises", Kind.EXACT, boom),
            check("fine", Kind.EXACT, _finding(S)),
            negative_control("ctl", Kind.EXACT, _finding(R)),
        ),
    )
    result = run_claim(claim)
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "deliberate failure" in result.evidence[0].error
    assert [e.outcome for e in result.evidence] == [E, S, R]


def test_each_check_gets_its_own_reproducible_generator():
    draws = {}

    def draw(name):
        def run(ctx):
            draws.setdefault(name, []).append(float(ctx.generator.initial_seed()))
            return Finding(S if name != "ctl" else R, "fixed")

        return run

    claim = Claim(
        "001-seeds",
        "t",
        "s",
        SOURCE,
        "c",
        Verdict.CONFIRMED,
        (
            check("a", Kind.EXACT, draw("a")),
            check("b", Kind.EXACT, draw("b")),
            negative_control("ctl", Kind.EXACT, draw("ctl")),
        ),
    )
    run_claim(claim, run_seed=1)
    run_claim(claim, run_seed=1)
    run_claim(claim, run_seed=2)
    assert draws["a"][0] == draws["a"][1] != draws["a"][2]
    assert draws["a"][0] != draws["b"][0]


def test_discovery_of_a_user_folder(tmp_path):
    (tmp_path / "mine.py").write_text(
        textwrap.dedent("""
        from pgtheory.claim import Claim, Kind, Source, Verdict, check, negative_control
        from pgtheory.stats import exact_comparison

        MINE = Claim(
            id="042-two-plus-two", title="2 + 2 = 4", statement="2 + 2 = 4",
            sources=(Source("mine.txt", "1", "two and two make four"),),
            conditions="none", expected=Verdict.CONFIRMED,
            checks=(
                check("sum", Kind.EXACT, lambda ctx: exact_comparison(2 + 2, 4)),
                negative_control("off by one", Kind.EXACT, lambda ctx: exact_comparison(2 + 3, 4)),
            ),
        )
    """)
    )
    (tmp_path / "_private.py").write_text("raise RuntimeError('not a claim module')")
    claims = discover([tmp_path])
    assert [c.id for c in claims] == ["042-two-plus-two"]
    assert run_claim(claims[0]).verdict == Verdict.CONFIRMED
    assert select(claims, "two") == claims and select(claims, "three") == []


def test_a_check_is_seeded_by_its_stream_key_not_its_display_name():
    """Rewording a check's name with the old name as its key keeps its numbers."""
    import torch

    def draw(ctx):
        return Finding(S, "draw", estimate=float(torch.rand(1, generator=ctx.generator)))

    ctl = negative_control("ctl", Kind.EXACT, _finding(R))
    before, renamed, reseeded = (
        Claim("042-k", "t", "s", SOURCE, "c", Verdict.CONFIRMED, (first, ctl))
        for first in (
            check("old", Kind.EXACT, draw),
            check("new words", Kind.EXACT, draw, key="old"),
            check("new words", Kind.EXACT, draw),
        )
    )
    a, b, c = (run_claim(x).evidence[0].finding.estimate for x in (before, renamed, reseeded))
    assert a == b != c


def test_calibrate_counts_verdicts_over_seeds():
    from pgtheory.verify import calibrate

    checks = (check("a", Kind.EXACT, _finding(S)), negative_control("b", Kind.EXACT, _finding(R)))
    claim = Claim("042-cal", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks)
    table = calibrate([claim], seeds=[0, 1, 2])
    assert sorted(table["042-cal"]) == [0, 1, 2]
    assert {r.verdict for r in table["042-cal"].values()} == {Verdict.CONFIRMED}


def test_train_choices_are_the_registered_algorithms():
    from pgtheory.algos import ALGORITHMS
    from pgtheory.cli import _parser

    train = _parser()._subparsers._group_actions[0].choices["train"]
    algo = next(a for a in train._actions if a.dest == "algo")
    assert sorted(algo.choices) == sorted(ALGORITHMS)


def test_a_claim_with_a_missing_requirement_is_skipped_not_judged(tmp_path):
    import json

    from pgtheory.claim import Requirement
    from pgtheory.cli import main

    checks = (check("a", Kind.EXACT, _finding(R)), negative_control("b", Kind.EXACT, _finding(R)))
    absent = Requirement("companion folder", lambda: "not found at /nowhere")
    claim = Claim("042-needs", "t", "s", SOURCE, "c", Verdict.CONFIRMED, checks, requires=(absent,))
    result = run_claim(claim)
    assert result.verdict is None and result.as_expected
    assert result.skipped == "companion folder: not found at /nowhere"
    assert result.summary.startswith("skipped")
    module = tmp_path / "needs.py"
    module.write_text(
        "from pgtheory.claim import Claim, Kind, Requirement, Source, Verdict, check, negative_control\n"
        "from pgtheory.stats import exact_comparison\n"
        "NEEDS = Claim('042-needs', 't', 's', (Source('f', 's', 'q'),), 'c', Verdict.CONFIRMED,\n"
        "    (check('a', Kind.EXACT, lambda ctx: exact_comparison(1, 1)),\n"
        "     negative_control('b', Kind.EXACT, lambda ctx: exact_comparison(1, 2))),\n"
        "    requires=(Requirement('sb3', lambda: 'not installed'),))\n"
    )
    assert main(["verify", str(module), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (
        doc["claims"][0]["verdict"] is None and doc["claims"][0]["skipped"] == "sb3: not installed"
    )
    assert "skipped" in (tmp_path / "out" / "index.html").read_text()


def test_every_result_carries_a_summary_generated_from_its_evidence():
    checks = (
        check(
            "a", Kind.EXACT, lambda ctx: Finding(R, "m", estimate=1.5, reference=1.0, note="off")
        ),
        negative_control("b", Kind.EXACT, _finding(R)),
    )
    result = run_claim(Claim("042-sum", "t", "s", SOURCE, "c", Verdict.REFUTED, checks))
    assert "a refutes: estimate 1.5, reference 1; off." in result.summary
    assert "Negative controls refuted: 1 of 1." in result.summary
