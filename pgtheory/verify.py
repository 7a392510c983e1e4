"""Run a set of claims and record everything a report needs."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sympy
import torch

import pgtheory
from pgtheory.claim import Claim, ClaimResult, Evidence, Verdict, discover, run_claim
from pgtheory.processes import process_pool


@dataclass
class RunRecord:
    """The results of one ``pgtheory verify`` run and the facts needed to reproduce it."""

    seed: int
    device: torch.device
    quick: bool
    started: str
    seconds: float
    results: list[ClaimResult]
    environment: dict[str, Any] = field(default_factory=dict)
    rl_runs: list[dict[str, Any]] = field(default_factory=list)
    """Training runs (``pgtheory train --json`` documents) shown in the report's RL section."""

    @property
    def unexpected(self) -> list[ClaimResult]:
        """Claims whose derived verdict differs from the one their module expects."""
        return [r for r in self.results if not r.as_expected]

    @property
    def errors(self) -> list[ClaimResult]:
        return [r for r in self.results if any(e.error for e in r.evidence)]


def git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment_facts(device: torch.device) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "pgtheory": pgtheory.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def _run_claim_by_id(
    claim_paths: list[str] | None, claim_id: str, seed: int, device: str, quick: bool
) -> tuple[Verdict, str, list[Evidence], float]:
    """In a worker process: find the claim by id and run it. A claim travels as its id and its
    result comes back without it: claim modules are loaded by path, and checks are closures,
    which do not pickle."""
    claim = next(c for c in discover(claim_paths) if c.id == claim_id)
    result = run_claim(claim, seed, torch.device(device), quick)
    return result.verdict, result.reason, result.evidence, result.seconds


def verify(
    claims: Sequence[Claim],
    seed: int = 0,
    device: torch.device | str = "cpu",
    quick: bool = False,
    on_result: Callable[[ClaimResult], None] | None = None,
    jobs: int = 1,
    claim_paths: Sequence[Path | str] | None = None,
) -> RunRecord:
    """Run every claim; ``on_result`` is called after each (for a progress display).

    ``jobs`` > 1 runs claims in that many fresh processes, one torch thread each (the claims
    in ``claims`` must come from :func:`discover` over ``claim_paths``). Each check's stream
    is seeded by its own names, so which process runs it does not change its numbers."""
    device = torch.device(device)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    results: list[ClaimResult] = []
    if jobs <= 1:
        for claim in claims:
            results.append(run_claim(claim, seed, device, quick))
            if on_result is not None:
                on_result(results[-1])
    else:
        paths = [str(p) for p in claim_paths] if claim_paths else None
        by_id: dict[str, ClaimResult] = {}
        with process_pool(jobs) as pool:
            running = {
                pool.submit(_run_claim_by_id, paths, c.id, seed, str(device), quick): c
                for c in claims
            }
            for future in as_completed(running):
                claim = running[future]
                by_id[claim.id] = ClaimResult(claim, *future.result())
                if on_result is not None:
                    on_result(by_id[claim.id])
        results = [by_id[c.id] for c in claims]
    return RunRecord(
        seed=seed,
        device=device,
        quick=quick,
        started=started,
        seconds=time.perf_counter() - start,
        results=results,
        environment=environment_facts(device),
    )
