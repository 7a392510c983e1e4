"""The wheel, installed in a fresh virtual environment, runs the shipped claims from an empty
folder (slow tier: it builds and installs)."""

import subprocess
import sys
import venv

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_the_wheel_runs_the_shipped_claims_from_an_empty_folder(tmp_path):
    dist, env, empty = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    # the new environment sees this one's packages (torch included), not this checkout
    venv.create(env, with_pip=True, system_site_packages=True)
    python = env / "bin" / "python"
    wheel = next(dist.glob("pgtheory-*.whl"))
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel], check=True
    )
    pgtheory = env / "bin" / "pgtheory"

    def run(*args):
        return subprocess.run([pgtheory, *args], cwd=empty, capture_output=True, text=True)

    assert run("--version").stdout.startswith("pgtheory ")
    listing = run("list")
    assert listing.returncode == 0 and "002-is-identity" in listing.stdout
    verified = run("verify", "-k", "001-score-zero-mean")
    assert verified.returncode == 0, verified.stderr
    assert "confirmed" in verified.stdout
    assert (empty / "reports" / "index.html").exists()
