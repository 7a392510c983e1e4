"""Run a set of claims and record everything a report needs."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sympy
import torch

import pgtheory
from pgtheory.claim import Claim, ClaimResult, run_claim


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


def verify(
    claims: Sequence[Claim],
    seed: int = 0,
    device: torch.device | str = "cpu",
    quick: bool = False,
    on_result: Callable[[ClaimResult], None] | None = None,
) -> RunRecord:
    """Run every claim; ``on_result`` is called after each (for a progress display)."""
    device = torch.device(device)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    results = []
    for claim in claims:
        results.append(run_claim(claim, seed, device, quick))
        if on_result is not None:
            on_result(results[-1])
    return RunRecord(
        seed=seed,
        device=device,
        quick=quick,
        started=started,
        seconds=time.perf_counter() - start,
        results=results,
        environment=environment_facts(device),
    )
