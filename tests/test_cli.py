"""The command line as a user meets it."""

import json
import subprocess
import sys
import textwrap

import pytest

from pgtheory.cli import main

from conftest import CLAIMS_DIR
from conftest import ROOT


def test_verify_writes_both_reports(tmp_path, capsys):
    assert (
        main(
            [
                "verify",
                str(CLAIMS_DIR),
                "-k",
                "001-traj-factorisation,002-is-identity",
                "--out",
                str(tmp_path),
                "--quick",
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "results.json").read_text())
    assert {"version", "seed", "device", "started", "seconds", "claims"} <= set(doc)
    assert [c["id"] for c in doc["claims"]] == ["001-traj-factorisation", "002-is-identity"]
    claim = doc["claims"][1]
    assert {"id", "title", "sources", "expected", "verdict", "checks"} <= set(claim)
    assert {"file", "section", "quote"} == set(claim["sources"][0])
    roles = {c["role"] for c in claim["checks"]}
    assert {"check", "negative-control"} <= roles <= {"check", "negative-control", "effect"}
    for c in claim["checks"]:
        assert {"name", "kind", "role", "outcome", "seconds"} <= set(c)
    html = (tmp_path / "index.html").read_text()
    assert "002-is-identity" in html and "<svg" in html
    assert "001-traj-factorisation" in capsys.readouterr().out


def test_same_seed_same_results_in_one_process_or_several(tmp_path):
    """Seed 3 twice: once in this process, once with claims spread over 2 processes."""
    for out, jobs in (("a", "1"), ("b", "2")):
        argv = ["verify", str(CLAIMS_DIR), "-k", "state-baseline,002-is-identity"]
        main([*argv, "--out", str(tmp_path / out), "--seed", "3", "--jobs", jobs])
    a, b = (json.loads((tmp_path / o / "results.json").read_text())["claims"] for o in "ab")

    def strip(claims):
        return [
            [{k: v for k, v in c.items() if k != "seconds"} for c in cl["checks"]] for cl in claims
        ]

    assert len(a) >= 2 and strip(a) == strip(b)


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "-k", "no-such-claim"],
        ["verify", "/no/such/path"],
        ["verify", "--device", "nonsense"],
        ["verify", "-k", "002-is-identity", "--jobs", "0"],
        ["list", "-k", "no-such-claim"],
    ],
)
def test_bad_input_gives_one_line_and_status_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgtheory: error:") and "\n" not in err and "Traceback" not in err


def test_a_raising_check_still_writes_the_report_and_fails_the_run(tmp_path):
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "broken.py").write_text(
        textwrap.dedent("""
        from pgtheory.claim import Claim, Kind, Source, Verdict, check, negative_control
        from pgtheory.stats import exact_comparison

        def broken(ctx):
            raise ZeroDivisionError("oops")

        BROKEN = Claim(
            id="042-broken", title="t", statement="s", sources=(Source("f", "s", "q"),),
            conditions="c", expected=Verdict.CONFIRMED,
            checks=(check("raises", Kind.EXACT, broken),
                    negative_control("ctl", Kind.EXACT, lambda ctx: exact_comparison(1, 2))),
        )
    """)
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pgtheory.cli", "verify", str(claims), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "ZeroDivisionError: oops" in proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["claims"][0]["verdict"] == "inconclusive"
    assert doc["claims"][0]["checks"][0]["outcome"] == "error"
    assert (out / "index.html").exists()


def test_list_shows_every_claim(capsys):
    assert main(["list", str(CLAIMS_DIR)]) == 0
    assert "002-is-identity" in capsys.readouterr().out
