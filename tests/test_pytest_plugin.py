"""pgtheory's pytest plugin: `pytest --claims FOLDER` verifies a researcher's own claims."""

import subprocess
import sys
import textwrap

MODULE = textwrap.dedent(
    """
    from pgtheory.claim import Claim, Kind, Source, Verdict, check, negative_control
    from pgtheory.stats import exact_comparison

    def make(cid, value, expected=Verdict.CONFIRMED):
        return Claim(
            id=cid, title=cid, statement="s", sources=(Source("mydoc.md", "Intro", "q"),),
            conditions="none", expected=expected,
            checks=(check("sum", Kind.EXACT, lambda ctx: exact_comparison(value, 4)),
                    negative_control("off by one", Kind.EXACT, lambda ctx: exact_comparison(value + 1, 4))),
        )

    ONE = make("mydoc-claim-one", 2 + 2)
    TWO = make("mydoc-claim-two", 2 + 3)  # wrong: derived refuted, expected confirmed
    """
)


def _pytest(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_pytest_collects_and_verifies_a_users_claims(tmp_path):
    (tmp_path / "my_claims").mkdir()
    (tmp_path / "my_claims" / "arithmetic.py").write_text(MODULE)
    proc = _pytest(
        tmp_path, "--claims", "my_claims", "--claims-report", "out", "--claims-jobs", "1"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "mydoc-claim-two: derived refuted, expected confirmed" in proc.stdout
    assert (tmp_path / "out" / "results.json").exists() and (
        tmp_path / "out" / "index.html"
    ).exists()
    selected = _pytest(tmp_path, "--claims", "my_claims", "-k", "claim-one", "--claims-jobs", "1")
    assert selected.returncode == 0 and "1 passed" in selected.stdout


def test_a_plain_pytest_executes_no_claim_module(tmp_path):
    (tmp_path / "my_claims").mkdir()
    (tmp_path / "my_claims" / "boom.py").write_text("raise SystemExit('executed')\n")
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    proc = _pytest(tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout


def test_the_readme_example_runs_verbatim(tmp_path):
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Writing a claim") :]
    example = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    (tmp_path / "my_claims").mkdir()
    (tmp_path / "my_claims" / "arithmetic.py").write_text(example)
    proc = subprocess.run(
        [sys.executable, "-m", "pgtheory.cli", "verify", "my_claims", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "confirmed" in proc.stdout
    assert _pytest(tmp_path, "--claims", "my_claims", "--claims-jobs", "1").returncode == 0
