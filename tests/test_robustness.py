"""Evidence that cannot lie: non-finite evidence decides nothing, a faulty check or worker
loses nothing else, interrupts stop cleanly, bad input fails early in one line."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import sympy as sp
import torch

from pgtheory import stats
from pgtheory.cli import main
from pgtheory.moments import Moments
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import planned_mean_test
from pgtheory.montecarlo import planned_ratio_test
from pgtheory.montecarlo import planned_scaling_test
from pgtheory.stats import Outcome
from pgtheory.symbolic import is_zero

from conftest import ROOT

NAN, INF = float("nan"), float("inf")


def moments_of(*values):
    return Moments.of(torch.tensor(values, dtype=torch.float64))


# --- 1. non-finite and empty evidence decides nothing --------------------------------------


def _decisions(bad):
    """Every decision function, fed the bad value ``bad`` (NaN, inf or empty) once."""
    empty = isinstance(bad, list)
    vec = [] if empty else [1.0, bad, 2.0]
    m = Moments.empty() if empty else moments_of(1.0, bad, 2.0)
    good = moments_of(1.0, 2.0, 3.0)
    grid = [] if empty else [1.0, 2.0, 4.0]
    return {
        "exact": stats.exact_comparison(vec if empty else bad, vec if empty else 1.0),
        "mean": stats.mean_equality_test(m, 0.0, resolution=0.1),
        "mean_below": stats.mean_below_test(m, 1.0),
        "ratio": stats.log_ratio_test(m, good, resolution=0.1),
        "slope": stats.slope_test([1.0, 2.0, 4.0] if not empty else [], vec, 1.0, resolution=0.1),
        "proportionality": stats.proportionality_check(
            torch.tensor(vec, dtype=torch.float64), torch.ones(len(vec))
        ),
        "rank": stats.rank_comparison(vec, [1.0, 2.0, 3.0], resolution=0.1, seed=0),
        "equivalence": stats.equivalence_test(vec, [1.0, 2.0, 3.0], resolution=0.1, seed=0),
        "log_slope": stats.log_means_slope_test(grid, vec, np.eye(len(vec)), -1.0, resolution=0.1),
        "trend": stats.log_means_trend_test(grid, vec, np.eye(len(vec)), "falls"),
    }


@pytest.mark.parametrize("bad", [NAN, INF, -INF, []], ids=["nan", "inf", "-inf", "empty"])
def test_every_decision_is_inconclusive_on_non_finite_or_empty_input(bad):
    for name, finding in _decisions(bad).items():
        assert finding.outcome == Outcome.INCONCLUSIVE, name
        assert finding.note, name


def test_the_documented_failures_now_decide_nothing():
    assert stats.exact_comparison(NAN, 1.0).outcome == Outcome.INCONCLUSIVE
    assert stats.exact_comparison([], []).outcome == Outcome.INCONCLUSIVE
    assert stats.proportion_test(0, 0, 0.5).outcome == Outcome.INCONCLUSIVE
    assert stats.sign_test([], "won", planned_for=0.8).outcome == Outcome.INCONCLUSIVE
    assert stats.all_hold([]).outcome == Outcome.INCONCLUSIVE
    assert "non-finite" in stats.exact_comparison(NAN, 1.0).note


def test_monte_carlo_planners_are_inconclusive_on_nan_samples():
    g = make_generator(0)

    def nan_sampler(n, gen):
        return torch.full((n,), NAN, dtype=torch.float64)

    def one(n, gen):
        return torch.rand(n, generator=gen, dtype=torch.float64) + 1

    assert planned_mean_test(nan_sampler, 0.0, generator=g, resolution=0.1).outcome == (
        Outcome.INCONCLUSIVE
    )
    assert planned_ratio_test(nan_sampler, one, generator=g, resolution=0.1).outcome == (
        Outcome.INCONCLUSIVE
    )
    scaling = planned_scaling_test(
        lambda x: nan_sampler, [1.0, 2.0, 4.0], 1.0, generator=g, samples_per_point=100
    )
    assert scaling.outcome == Outcome.INCONCLUSIVE


def test_a_symbolic_zero_test_skips_undefined_points():
    x = sp.Symbol("x")
    assert is_zero(sp.nan * x).outcome == Outcome.INCONCLUSIVE
    assert is_zero(sp.zoo * x).outcome == Outcome.INCONCLUSIVE


def test_finiteness_is_decided_by_an_explicit_predicate():
    nan_is_expected = stats.finiteness_check(np.array([1.0, NAN]), finite=False, what="std")
    assert nan_is_expected.outcome == Outcome.SUPPORTS
    assert stats.finiteness_check(1.0, finite=False, what="x").outcome == Outcome.REFUTES
    assert stats.finiteness_check(math.inf, finite=True, what="x").outcome == Outcome.REFUTES


def _claim_module(body: str) -> str:
    return textwrap.dedent(
        """
        import math, os, signal, sys, time
        import numpy as np
        from pgtheory.claim import Claim, Kind, Source, Verdict, check, negative_control
        from pgtheory.stats import Finding, Outcome, exact_comparison

        def ok(ctx):
            return exact_comparison(1.0, 1.0)

        def control(ctx):
            return exact_comparison(2.0, 1.0)

        def make(cid, run, ctl=control, expected=Verdict.CONFIRMED, **kw):
            return Claim(id=cid, title=cid, statement="s", sources=(Source("f", "s", "q"),),
                         conditions="c", expected=expected,
                         checks=(check("the check", Kind.EXACT, run, **kw),
                                 negative_control("the control", Kind.EXACT, ctl)))
        """
    ) + textwrap.dedent(body)


def test_a_control_that_computes_nan_leaves_its_claim_inconclusive(tmp_path):
    (tmp_path / "nan_control.py").write_text(
        _claim_module(
            """
            NAN_CONTROL = make("042-nan-control", ok, ctl=lambda ctx: exact_comparison(math.nan, 1.0))
            """
        )
    )
    out = tmp_path / "out"
    assert main(["verify", str(tmp_path / "nan_control.py"), "--out", str(out), "--jobs", "1"]) == 1
    claim = json.loads((out / "results.json").read_text())["claims"][0]
    assert claim["verdict"] == "inconclusive"
    assert "no power" in claim["reason"]


# --- 2. one bad check or worker never loses the run ---------------------------------------

FAULTS = """
GOOD = make("042-good", ok)
RAISES = make("042-raises", lambda ctx: 1 / 0)
EXITS = make("042-sys-exit", lambda ctx: sys.exit(3))
RETURNS_BOOL = make("042-returns-bool", lambda ctx: True)
RETURNS_FLOAT = make("042-returns-float", lambda ctx: 0.5)
def with_array(ctx):
    f = exact_comparison(1.0, 1.0)
    f.data["array"] = np.zeros(3)
    return f
def with_lambda(ctx):
    f = exact_comparison(1.0, 1.0)
    f.data["fn"] = lambda: 0
    return f
NUMPY_EVIDENCE = make("042-numpy-evidence", with_array)
LAMBDA_EVIDENCE = make("042-lambda-evidence", with_lambda)
def loops(ctx):
    while True:
        pass
LOOPS = make("042-loops", loops, timeout=2)
"""

WORKER_KILLERS = """
OS_EXIT = make("042-os-exit", lambda ctx: os._exit(7))
KILLED = make("042-killed", lambda ctx: os.kill(os.getpid(), signal.SIGKILL))
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_faulty_check_becomes_inconclusive_and_every_other_claim_runs(tmp_path, jobs, capsys):
    body = FAULTS + (WORKER_KILLERS if jobs != "1" else "")
    (tmp_path / "faults.py").write_text(_claim_module(body))
    out = tmp_path / "out"
    status = main(["verify", str(tmp_path / "faults.py"), "--out", str(out), "--jobs", jobs])
    assert status == 1
    doc = json.loads((out / "results.json").read_text())
    assert (out / "index.html").exists()
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts.pop("042-good") == "confirmed"
    assert set(verdicts.values()) == {"inconclusive"}
    errors = {c["id"]: c["checks"][0].get("error", "") for c in doc["claims"]}
    assert "ZeroDivisionError" in errors["042-raises"]
    assert "sys.exit(3)" in errors["042-sys-exit"]
    assert "returned bool" in errors["042-returns-bool"]
    assert "returned float" in errors["042-returns-float"]
    assert "JSON" in errors["042-numpy-evidence"] and "JSON" in errors["042-lambda-evidence"]
    assert "timed out after 2 s" in errors["042-loops"]
    if jobs != "1":
        assert "worker process died (exit code 7)" in errors["042-os-exit"]
        assert "worker process died (exit code -9)" in errors["042-killed"]
    assert "error in 042-raises / the check" in capsys.readouterr().err


def test_check_timeout_flag_overrides_and_zero_means_none(tmp_path):
    (tmp_path / "slow.py").write_text(
        _claim_module('SLOW = make("042-slow", lambda ctx: (time.sleep(1.5), ok(ctx))[1])')
    )
    out = tmp_path / "out"
    argv = ["verify", str(tmp_path / "slow.py"), "--out", str(out), "--jobs", "1"]
    assert main([*argv, "--check-timeout", "0.5"]) == 1
    assert (
        "timed out"
        in json.loads((out / "results.json").read_text())["claims"][0]["checks"][0]["error"]
    )
    assert main([*argv, "--check-timeout", "0"]) == 0


def test_an_unrenderable_report_keeps_the_json_and_removes_a_stale_html(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "good.py").write_text(_claim_module('GOOD = make("042-good", ok)'))
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("an older report")

    def broken(document, path):
        raise RuntimeError("no figures today")

    monkeypatch.setattr("pgtheory.report.write_report", broken)
    assert main(["verify", str(tmp_path / "good.py"), "--out", str(out), "--jobs", "1"]) == 1
    assert json.loads((out / "results.json").read_text())["claims"][0]["verdict"] == "confirmed"
    assert not (out / "index.html").exists()
    assert "could not be rendered" in capsys.readouterr().err


def test_check_names_reach_matplotlib_as_plain_text(tmp_path):
    (tmp_path / "dollars.py").write_text(
        _claim_module(
            """
            def mean(ctx):
                return ctx.mean_test(lambda n, g: torch.randn(n, generator=g, dtype=torch.float64), 0.0, resolution=0.5)
            import torch
            DOLLARS = Claim(id="042-dollars", title="t", statement="s", sources=(Source("f", "s", "q"),),
                            conditions="c", expected=Verdict.CONFIRMED,
                            checks=(check(r"$\\frac{a$ mean", Kind.MONTE_CARLO, mean),
                                    negative_control(r"$\\frac{b$", Kind.EXACT, control)))
            """
        )
    )
    out = tmp_path / "out"
    assert main(["verify", str(tmp_path / "dollars.py"), "--out", str(out), "--jobs", "1"]) == 0
    assert "frac{a" in (out / "index.html").read_text()


# --- 3. interrupts -----------------------------------------------------------------------------

BLOCKING = """
import pathlib
def waits(ctx):
    marker = pathlib.Path(os.environ["PGTHEORY_TEST_MARKER"])
    marker.with_name(marker.name + f".{os.getpid()}").write_text("")
    while True:
        time.sleep(0.1)
FIRST = make("042-a-first", ok)
BLOCKS = make("042-b-blocks", waits)
BLOCKS_TOO = make("042-c-blocks", waits)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_stops_every_worker_and_writes_a_partial_report(tmp_path, sig, status):
    (tmp_path / "blocking.py").write_text(_claim_module(BLOCKING))
    out, marker = tmp_path / "out", tmp_path / "started"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgtheory.cli",
            "verify",
            str(tmp_path / "blocking.py"),
            "--out",
            str(out),
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, "PGTHEORY_TEST_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180  # a liveness bound, not a measurement
    while len(list(tmp_path.glob("started.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.name.split(".")[1]) for p in tmp_path.glob("started.*")]
    assert len(workers) == 2, "both blocking checks should be running"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status
    assert "interrupted by" in err and "Traceback" not in err
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in workers)
    doc = json.loads((out / "results.json").read_text())
    assert doc["interrupted"] is True
    assert [c["id"] for c in doc["claims"]] == ["042-a-first"]
    assert "partial" in (out / "index.html").read_text()


# --- 4. fail early, in one line ----------------------------------------------------------------


def _one_line_status_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pgtheory: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_unwritable_or_file_out_fails_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    err = _one_line_status_2(["verify", "-k", "002-is-identity", "--out", str(a_file)], capsys)
    assert "is a file" in err
    err = _one_line_status_2(
        ["train", "ppo", "--json", str(a_file / "x.json"), "--max-steps", "10"], capsys
    )
    assert "--json" in err


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b"42",
        b'{"algo": "ppo"}',
        b"\xff\xfe not utf-8",
        json.dumps(
            {
                "algo": "ppo",
                "env": "CartPole-v1",
                "device": "cpu",
                "max_steps": 10,
                "seeds": [],
                "aggregate": {},
            }
        ).encode(),
    ],
    ids=["list", "number", "no-aggregate", "not-utf8", "empty-seeds"],
)
def test_a_malformed_rl_file_is_refused_before_any_work(tmp_path, content, capsys):
    bad = tmp_path / "run.json"
    bad.write_bytes(content)
    err = _one_line_status_2(
        ["verify", "-k", "002-is-identity", "--rl", str(bad), "--out", str(tmp_path / "out")],
        capsys,
    )
    assert str(bad) in err
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("raise RuntimeError('bad module')", "RuntimeError: bad module"),
        ("import sys; sys.exit(4)", "sys.exit(4)"),
    ],
)
def test_a_claim_module_that_fails_to_import_is_one_line(tmp_path, body, words, capsys):
    (tmp_path / "bad.py").write_text(body)
    err = _one_line_status_2(["list", str(tmp_path)], capsys)
    assert "bad.py" in err and words in err


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_unsupported_devices_are_refused(device, capsys):
    _one_line_status_2(["verify", "-k", "002-is-identity", "--device", device], capsys)


@pytest.mark.parametrize("env", ["Pendulum-v1", "MountainCarContinuous-v0", "FrozenLake-v1"])
def test_train_refuses_environments_it_does_not_support(env, capsys):
    err = _one_line_status_2(["train", "reinforce", "--env", env, "--max-steps", "10"], capsys)
    assert "supports" in err


def test_jobs_is_capped_at_cores_and_claims(tmp_path):
    (tmp_path / "good.py").write_text(_claim_module('GOOD = make("042-good", ok)'))
    out = tmp_path / "out"
    assert main(["verify", str(tmp_path / "good.py"), "--out", str(out), "--jobs", "1000"]) == 0
    assert json.loads((out / "results.json").read_text())["environment"]["jobs"] == 1


def test_a_claims_folder_in_the_working_directory_is_never_executed_unnamed(tmp_path):
    (tmp_path / "claims").mkdir()
    marker = tmp_path / "executed"
    (tmp_path / "claims" / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pgtheory.cli", "list", "-k", "001-score-zero-mean"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "001-score-zero-mean" in proc.stdout
    assert not marker.exists()


def test_a_claim_module_can_import_a_helper_beside_it(tmp_path):
    (tmp_path / "helpers_for_claims.py").write_text("VALUE = 1.0\n")
    (tmp_path / "uses_helper.py").write_text(
        _claim_module(
            """
            from helpers_for_claims import VALUE
            USES = make("mydoc-uses-helper", lambda ctx: exact_comparison(VALUE, 1.0))
            """
        )
    )
    out = tmp_path / "out"
    assert main(["verify", str(tmp_path / "uses_helper.py"), "--out", str(out), "--jobs", "1"]) == 0


def test_an_interrupted_training_writes_the_seeds_completed_so_far(tmp_path):
    out = tmp_path / "run.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgtheory.cli",
            "train",
            "reinforce",
            "--seeds",
            "200",
            "--max-steps",
            "1500",
            "--json",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # a seed finished (a liveness wait, not a measurement)
    assert "seed 0" in first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err and "Traceback" not in err
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and 1 <= len(doc["seeds"]) < 200
