"""Discover claims, run their checks, and record everything a report needs.

The spine of a run: :func:`discover` (claim modules -> claims) -> :func:`select` ->
:func:`verify` (every check in a worker process, or in this one) -> :func:`derive_verdict`
per claim -> a complete :class:`RunRecord`. A fault in one check (an exception, a wrong
return value, evidence that cannot be serialised, a timeout, a dead worker) becomes that
check's ``error`` and loses nothing else.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any

import torch

import pgtheory
from pgtheory.claim import Check
from pgtheory.claim import Claim
from pgtheory.claim import ClaimResult
from pgtheory.claim import Evidence
from pgtheory.claim import RunRecord
from pgtheory.claim import derive_verdict
from pgtheory.context import Context
from pgtheory.context import checking
from pgtheory.distributed import rank_and_world
from pgtheory.montecarlo import derive_seed
from pgtheory.montecarlo import make_generator
from pgtheory.processes import Task
from pgtheory.processes import TaskResult
from pgtheory.processes import run_isolated
from pgtheory.stats import Finding
from pgtheory.stats import Outcome

#: A check's time budget when it declares none (``--check-timeout`` overrides; 0 = none).
DEFAULT_CHECK_TIMEOUT = 600.0


class ClaimLoadError(Exception):
    """A claim module could not be imported: one line naming the file and the error."""


# --- discovery -------------------------------------------------------------------------

#: Where each discovered claim was defined, so a worker process loads only that module.
_ORIGINS: dict[str, Path] = {}


def default_claim_paths() -> list[Path]:
    """The claims shipped with pgtheory (the package ``pgtheory.claims``), wherever pgtheory
    runs. Nothing in the current folder is executed unless it is named."""
    spec = importlib.util.find_spec("pgtheory.claims")
    if spec is not None and spec.submodule_search_locations:
        return [Path(next(iter(spec.submodule_search_locations)))]
    source_tree = Path(__file__).resolve().parent.parent / "claims"  # not installed
    if source_tree.is_dir():
        return [source_tree]
    raise FileNotFoundError("the claims shipped with pgtheory (pgtheory.claims) are not installed")


def _load_module(path: Path) -> Any:
    path = path.resolve()
    name = f"pgtheory_claims_{abs(hash(str(path)))}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ClaimLoadError(f"cannot import claim module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # a helper module beside the claim file imports
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # a module that raises or exits must not take the run down
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        detail = "".join(_exception_line(exc))
        raise ClaimLoadError(f"cannot import claim module {path}: {detail}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _exception_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def _claims_in(path: Path) -> list[Claim]:
    claims = [v for v in vars(_load_module(path)).values() if isinstance(v, Claim)]
    for c in claims:
        _ORIGINS.setdefault(c.id, path.resolve())
    return claims


def _index_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pgtheory" / "claim-index.json"


class _ClaimIndex:
    """Which claim ids each module defines, cached by the file's modification time and size,
    so that ``-k`` loads only the modules that define the selected claims. A module not in
    the cache (new or changed) is loaded once to learn its ids; the cache is advisory and a
    failure to read or write it costs only speed."""

    def __init__(self) -> None:
        self.path = _index_path()
        try:
            self.entries: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    @staticmethod
    def _stamp(f: Path) -> list[int]:
        st = f.stat()
        return [st.st_mtime_ns, st.st_size]

    def ids(self, f: Path) -> list[str] | None:
        entry = self.entries.get(str(f.resolve()))
        return entry["ids"] if entry and entry["stamp"] == self._stamp(f) else None

    def record(self, f: Path, ids: list[str]) -> None:
        entry = {"stamp": self._stamp(f), "ids": ids}
        if self.entries.get(str(f.resolve())) != entry:
            self.entries[str(f.resolve())] = entry
            self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        with contextlib.suppress(OSError):
            from pgtheory.report.results import write_atomically

            write_atomically(self.path, json.dumps(self.entries))


def discover(paths: Iterable[Path | str] | None = None, pattern: str | None = None) -> list[Claim]:
    """Every :class:`Claim` defined at module level in the given files or folders, by id.
    With ``pattern`` (as :func:`select` takes it), modules the index knows define none of
    the matching ids are not loaded (the result still holds every matching claim)."""
    files: list[Path] = []
    for p in map(Path, paths or default_claim_paths()):
        if p.is_dir():
            files += sorted(f for f in p.glob("*.py") if not f.name.startswith("_"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no claim file or folder at {p}")
    index = _ClaimIndex() if pattern else None
    found: dict[str, Claim] = {}
    for f in files:
        if index is not None:
            known = index.ids(f)
            if known is not None and not any(_matches(i, pattern) for i in known):
                continue
        claims = _claims_in(f)
        if index is not None:
            index.record(f, [c.id for c in claims])
        for value in claims:
            if value.id in found and found[value.id] is not value:
                raise ValueError(f"claim id {value.id} is defined twice")
            found[value.id] = value
    if index is not None:
        index.save()
    return [found[k] for k in sorted(found)]


def _matches(claim_id: str, pattern: str | None) -> bool:
    parts = [p.strip() for p in (pattern or "").split(",") if p.strip()]
    return not parts or any(p in claim_id for p in parts)


def select(claims: Sequence[Claim], pattern: str | None) -> list[Claim]:
    """Claims whose id contains ``pattern`` (any of several, comma-separated)."""
    return [c for c in claims if _matches(c.id, pattern)]


# --- running ---------------------------------------------------------------------------


class CheckTimeout(BaseException):
    """Raised in this process when a check overruns its budget (``--jobs 1``). A
    BaseException, so that a check's own ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` after ``seconds`` (main thread of a Unix process only;
    elsewhere the limit is not enforced in-process)."""
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_budget(item: Check, override: float | None) -> float | None:
    """The time budget of one check: ``override`` when given (0 = none), else its own, else
    the default."""
    seconds = override if override is not None else item.timeout or DEFAULT_CHECK_TIMEOUT
    return seconds or None


def _validated(finding: Any) -> Finding:
    """The check's return value, if it is a finding whose record can be written as JSON."""
    if not isinstance(finding, Finding):
        raise TypeError(f"the check returned {type(finding).__name__}, not a Finding")
    from pgtheory.report.results import strict_json

    try:
        json.dumps(strict_json(finding.to_dict()), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"its evidence cannot be written as JSON: {exc}") from None
    return finding


def run_check(
    claim: Claim,
    item: Check,
    run_seed: int,
    device: torch.device | str,
    quick: bool,
    timeout: float | None = None,
) -> Evidence:
    """Run one check on its own generator. Anything but a valid finding (an exception,
    ``sys.exit``, a wrong return value, unserialisable evidence, overrunning ``timeout``
    seconds) becomes ``error`` evidence."""
    device = torch.device(device)
    rank, world = rank_and_world()
    # one independent stream per rank; a single process keeps the plain (run, check) seed
    names = (claim.id, item.stream_key)
    seed = derive_seed(run_seed, *names, *([f"rank {rank}"] if world > 1 else []))
    ctx = Context(
        seed=seed,
        device=device,
        generator=make_generator(seed, device),
        quick=quick,
        run_seed=run_seed,
    )
    start = time.perf_counter()
    finding: Finding | None = None
    error: str | None = None
    try:
        with _time_limit(timeout), checking(seed):
            finding = _validated(item.run(ctx))
        outcome = finding.outcome
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except (Exception, SystemExit, CheckTimeout) as exc:  # a failing check must not stop the run
        outcome, finding = Outcome.ERROR, None
        error = str(exc) if isinstance(exc, CheckTimeout) else _exception_line(exc)
    seconds = time.perf_counter() - start
    return Evidence.of(item, outcome, seed, str(device), seconds, finding, error)


def _result(claim: Claim, evidence: list[Evidence], seconds: float) -> ClaimResult:
    verdict, reason = derive_verdict(evidence)
    return ClaimResult(claim, verdict, reason, evidence, seconds)


def missing_requirement(claim: Claim) -> str | None:
    """Why ``claim`` cannot run here (its first missing requirement), or None."""
    for requirement in claim.requires:
        try:
            reason = requirement.missing()
        except Exception as exc:  # a broken probe means the requirement is not met
            reason = f"cannot tell ({_exception_line(exc)})"
        if reason:
            return f"{requirement.name}: {reason}"
    return None


def _skipped(claim: Claim, reason: str) -> ClaimResult:
    return ClaimResult(claim, None, f"skipped: {reason}", [], 0.0, skipped=reason)


def run_claim(
    claim: Claim,
    run_seed: int = 0,
    device: torch.device | str = "cpu",
    quick: bool = False,
    check_timeout: float | None = None,
) -> ClaimResult:
    """Run every check of ``claim`` in this process and derive its verdict (or skip it when a
    requirement is missing)."""
    if reason := missing_requirement(claim):
        return _skipped(claim, reason)
    start = time.perf_counter()
    evidence = [
        run_check(claim, item, run_seed, device, quick, check_budget(item, check_timeout))
        for item in claim.checks
    ]
    return _result(claim, evidence, time.perf_counter() - start)


def _run_check_in_worker(
    origin: str, claim_id: str, index: int, run_seed: int, device: str, quick: bool
) -> Evidence:
    """In a worker process: load the one module that defines the claim and run one check.
    The claim travels as its id (checks are closures, which do not pickle); the time limit
    is the parent's to enforce."""
    claim = next(c for c in _claims_in(Path(origin)) if c.id == claim_id)
    return run_check(claim, claim.checks[index], run_seed, device, quick, timeout=None)


def _lost(item: Check, failure: str, seed: int, device: str) -> Evidence:
    return Evidence.of(item, Outcome.ERROR, seed, device, 0.0, error=failure)


def verify(
    claims: Sequence[Claim],
    seed: int = 0,
    device: torch.device | str = "cpu",
    quick: bool = False,
    on_result: Callable[[ClaimResult], None] | None = None,
    jobs: int = 1,
    check_timeout: float | None = None,
    rl_runs: Sequence[dict[str, Any]] = (),
) -> RunRecord:
    """Run every claim; ``on_result`` is called after each (for a progress display).

    ``jobs`` > 1 runs the checks in that many fresh processes, one torch thread each. Each
    check's stream is seeded by its own names, so which process runs it does not change its
    numbers. An interrupt (Ctrl-C, or SIGTERM turned into :class:`KeyboardInterrupt`) stops
    every worker and returns the claims finished so far, marked ``interrupted``."""
    device = torch.device(device)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    results: dict[str, ClaimResult] = {}

    def finished(result: ClaimResult) -> None:
        results[result.claim.id] = result
        if on_result is not None:
            on_result(result)

    interrupted = False
    try:
        for claim in claims:
            if reason := missing_requirement(claim):
                finished(_skipped(claim, reason))
        runnable = [c for c in claims if c.id not in results]
        _run(runnable, [seed], device, quick, jobs, check_timeout, lambda _, r: finished(r))
    except KeyboardInterrupt:
        interrupted = True
    return RunRecord(
        seed=seed,
        device=str(device),
        quick=quick,
        started=started,
        seconds=time.perf_counter() - start,
        results=[results[c.id] for c in claims if c.id in results],
        environment=environment_facts(device, jobs),
        rl_runs=list(rl_runs),
        interrupted=interrupted,
    )


def _run_in_workers(
    claims: Sequence[Claim],
    seeds: Sequence[int],
    device: str,
    quick: bool,
    jobs: int,
    check_timeout: float | None,
    finished: Callable[[int, ClaimResult], None],
) -> None:
    """Every check of ``claims`` under every run seed as its own task; ``finished(seed,
    result)`` is called when a claim's last check under that seed ends."""
    if not claims:
        return
    units = [(s, c, i) for s in seeds for c in claims for i in range(len(c.checks))]
    tasks = [
        Task(
            _run_check_in_worker,
            (str(_ORIGINS[c.id]), c.id, i, s, device, quick),
            check_budget(c.checks[i], check_timeout),
        )
        for s, c, i in units
    ]
    evidence: dict[tuple[int, str], dict[int, Evidence]] = {}
    with contextlib.closing(run_isolated(tasks, jobs)) as outcomes:
        for outcome in outcomes:
            seed, claim, i = units[outcome.index]
            done = evidence.setdefault((seed, claim.id), {})
            done[i] = _evidence_of(claim, i, outcome, seed, device)
            if len(done) == len(claim.checks):
                ordered = [done[k] for k in range(len(claim.checks))]
                finished(seed, _result(claim, ordered, sum(e.seconds for e in ordered)))


def _evidence_of(claim: Claim, index: int, outcome: TaskResult, seed: int, device: str) -> Evidence:
    if outcome.failure is None:
        return outcome.value
    item = claim.checks[index]
    return _lost(item, outcome.failure, derive_seed(seed, claim.id, item.stream_key), device)


def calibrate(
    claims: Sequence[Claim],
    seeds: Sequence[int],
    device: torch.device | str = "cpu",
    quick: bool = False,
    jobs: int = 1,
    check_timeout: float | None = None,
    on_result: Callable[[int, ClaimResult], None] | None = None,
) -> dict[str, dict[int, ClaimResult]]:
    """Run ``claims`` under each run seed: per claim id, the result under each seed. A
    verdict that changes with the seed, or a control that fails to refute under some seed,
    is a check whose error budget or sample size is wrong. Claims defined outside a module
    run in this process."""
    out: dict[str, dict[int, ClaimResult]] = {c.id: {} for c in claims}

    def finished(seed: int, result: ClaimResult) -> None:
        out[result.claim.id][seed] = result
        if on_result is not None:
            on_result(seed, result)

    runnable = [c for c in claims if missing_requirement(c) is None]
    _run(runnable, seeds, torch.device(device), quick, jobs, check_timeout, finished)
    return out


def _run(
    claims: Sequence[Claim],
    seeds: Sequence[int],
    device: torch.device,
    quick: bool,
    jobs: int,
    check_timeout: float | None,
    finished: Callable[[int, ClaimResult], None],
) -> None:
    """Every claim under every seed: in worker processes with ``jobs`` > 1 (claims defined
    outside a module, which a worker cannot load, run here), else in this process."""
    isolated = [c for c in claims if c.id in _ORIGINS] if jobs > 1 else []
    in_workers = {c.id for c in isolated}
    for seed in seeds:
        for claim in claims:
            if claim.id not in in_workers:
                finished(seed, run_claim(claim, seed, device, quick, check_timeout))
    _run_in_workers(isolated, seeds, str(device), quick, jobs, check_timeout, finished)


# --- the facts of a run ------------------------------------------------------------------


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


def environment_facts(device: torch.device, jobs: int = 1) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    _, world = rank_and_world()
    facts: dict[str, Any] = {
        "pgtheory": pgtheory.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        **{name: installed(name) for name in ("numpy", "scipy", "sympy")},
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "jobs": jobs,
        "world_size": world,
        "git_commit": git_commit(Path(__file__).resolve().parent),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts
