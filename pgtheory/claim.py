"""The data model: Claim, Check, Evidence, Verdict; discovery and running of claims.

A claim module declares *what* is asserted (statement, sources, conditions, the verdict its
authors expect) and *how* to test it (checks and negative controls). The verdict itself is
never written down: :func:`derive_verdict` derives it from the evidence of a run.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from pgtheory.distributed import rank_and_world
from pgtheory.montecarlo import (
    Sampler,
    derive_seed,
    make_generator,
    monte_carlo_mean_test,
    monte_carlo_ratio_test,
    monte_carlo_scaling_test,
)
from pgtheory.stats import DEFAULT_FALSE_ALARM, Finding, Outcome

CLAIM_ID = re.compile(r"^\d{3}-[A-Za-z0-9][A-Za-z0-9.-]*$")


class Verdict(str, Enum):
    """What the evidence says about a claim as its document writes it."""

    CONFIRMED = "confirmed"  # every check supports, every negative control is refuted
    REFUTED = "refuted"  # a check within the stated conditions refutes the statement
    CONDITIONAL = "conditional"  # holds as stated, fails beyond conditions the text leaves out
    INCONCLUSIVE = "inconclusive"  # an error, a check without power, or too wide an interval


class Kind(str, Enum):
    SYMBOLIC = "symbolic"  # sympy
    EXACT = "exact"  # closed form, quadrature, enumeration or a linear solve in float64
    MONTE_CARLO = "monte-carlo"  # a statistical test on samples
    EXPERIMENT = "experiment"  # an optimisation or training run over many seeds


class Role(str, Enum):
    CHECK = "check"
    NEGATIVE_CONTROL = "negative-control"


@dataclass(frozen=True)
class Source:
    """Where a claim is made: seed file name, section heading, and a short exact quote."""

    file: str
    section: str
    quote: str


@dataclass
class Context:
    """What a check may use: its own generator (seeded from run seed and check id) and device."""

    seed: int
    device: torch.device
    generator: torch.Generator
    quick: bool = False

    def mean_test(
        self,
        sampler: Sampler,
        reference: torch.Tensor | float | Sequence[float],
        *,
        resolution: float | Sequence[float],
        false_alarm: float = DEFAULT_FALSE_ALARM,
    ) -> Finding:
        """:func:`monte_carlo_mean_test` on this check's generator.

        The quick tier doubles the resolution (a quarter of the samples); the evidence
        records the resolution actually used.
        """
        scale = 2.0 if self.quick else 1.0
        res = torch.as_tensor(resolution, dtype=torch.float64) * scale
        return monte_carlo_mean_test(
            sampler,
            reference,
            generator=self.generator,
            resolution=res.tolist(),
            false_alarm=false_alarm,
        )

    def ratio_test(
        self,
        numerator: Sampler,
        denominator: Sampler,
        *,
        predicted: float = 1.0,
        alternative: str = "equal",
        resolution: float,
        false_alarm: float = DEFAULT_FALSE_ALARM,
    ) -> Finding:
        """:func:`monte_carlo_ratio_test` on this check's generator (quick tier: 2x resolution)."""
        return monte_carlo_ratio_test(
            numerator,
            denominator,
            generator=self.generator,
            predicted=predicted,
            alternative=alternative,
            resolution=resolution * (2.0 if self.quick else 1.0),
            false_alarm=false_alarm,
        )

    def scaling_test(
        self,
        make_sampler: Callable[[float, torch.device], Sampler],
        xs: Sequence[float],
        predicted: float,
        *,
        samples_per_point: int,
        resolution: float = 0.1,
    ) -> Finding:
        """:func:`monte_carlo_scaling_test` on this check's generator and device. The quick
        tier does not thin it: a slope's interval widens fast with fewer samples."""
        return monte_carlo_scaling_test(
            lambda x: make_sampler(x, self.device),
            xs,
            predicted,
            generator=self.generator,
            samples_per_point=samples_per_point,
            resolution=resolution,
        )

    def cpu_generator(self) -> torch.Generator:
        """A CPU generator on this check's seed, for exact computations on random instances."""
        return make_generator(self.seed, "cpu")


CheckFunction = Callable[[Context], Finding]


@dataclass(frozen=True)
class Check:
    """One function producing a :class:`Finding`.

    ``role`` is ``check`` (the statement itself) or ``negative-control`` (a deliberately wrong
    variant through the same machinery: it must be refuted, or the check has no power).
    ``beyond_conditions`` marks a check of the statement outside the conditions the document
    states or implies; it refuting while the others support makes the claim ``conditional``.
    """

    name: str
    kind: Kind
    run: CheckFunction
    role: Role = Role.CHECK
    beyond_conditions: bool = False


def check(name: str, kind: Kind, run: CheckFunction) -> Check:
    return Check(name, kind, run)


def negative_control(name: str, kind: Kind, run: CheckFunction) -> Check:
    return Check(name, kind, run, role=Role.NEGATIVE_CONTROL)


def beyond_conditions(name: str, kind: Kind, run: CheckFunction) -> Check:
    return Check(name, kind, run, beyond_conditions=True)


@dataclass(frozen=True)
class Claim:
    """A checkable statement from a source document, with the checks that decide it.

    :param id: ``NNN-slug``, NNN the number of the seed document.
    :param statement: the statement in LaTeX.
    :param conditions: the conditions under which the statement is asserted, in words;
        where the document leaves one out, say so here.
    :param expected: the verdict the module's authors expect; a run that derives another
        one fails the test suite and makes ``pgtheory verify`` exit non-zero.
    :param reading: why the document's words lead to the expected verdict.
    """

    id: str
    title: str
    statement: str
    sources: tuple[Source, ...]
    conditions: str
    expected: Verdict
    checks: tuple[Check, ...]
    reading: str = ""
    slow: bool = False

    def __post_init__(self) -> None:
        if not CLAIM_ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not of the form NNN-slug")
        if not self.sources:
            raise ValueError(f"claim {self.id} cites no source")
        roles = {c.role for c in self.checks}
        if roles != {Role.CHECK, Role.NEGATIVE_CONTROL}:
            raise ValueError(f"claim {self.id} needs at least one check and one negative control")
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise ValueError(f"claim {self.id} has two checks of the same name")


@dataclass
class Evidence:
    """What one check computed, on which seed and device, in how long, and what it says."""

    check: str
    kind: Kind
    role: Role
    beyond_conditions: bool
    outcome: Outcome
    seed: int
    device: str
    seconds: float
    finding: Finding | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.check,
            "kind": self.kind.value,
            "role": self.role.value,
            "beyond_conditions": self.beyond_conditions,
            "outcome": self.outcome.value,
            "seed": self.seed,
            "device": self.device,
            "seconds": self.seconds,
        }
        if self.finding is not None:
            finding = self.finding.to_dict()
            finding.pop("outcome")
            out.update({k: v for k, v in finding.items() if v not in (None, "", {})})
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class ClaimResult:
    claim: Claim
    verdict: Verdict
    reason: str
    evidence: list[Evidence]
    seconds: float

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.claim.expected


def derive_verdict(evidence: Sequence[Evidence]) -> tuple[Verdict, str]:
    """The claim's verdict and the reason for it, from its evidence alone.

    In order: an error makes it inconclusive; a refuting check within the stated conditions
    refutes it; a negative control that is not refuted leaves the checks without
    demonstrated power (inconclusive); an inconclusive check is inconclusive; a refuting
    check beyond the stated conditions makes it conditional; otherwise it is confirmed.
    """
    checks = [e for e in evidence if e.role == Role.CHECK]
    stated = [e for e in checks if not e.beyond_conditions]
    beyond = [e for e in checks if e.beyond_conditions]
    controls = [e for e in evidence if e.role == Role.NEGATIVE_CONTROL]

    def names(items: Iterable[Evidence]) -> str:
        return ", ".join(e.check for e in items)

    if errors := [e for e in evidence if e.outcome == Outcome.ERROR]:
        return Verdict.INCONCLUSIVE, f"raised an error: {names(errors)}"
    if refuting := [e for e in stated if e.outcome == Outcome.REFUTES]:
        return Verdict.REFUTED, f"refuted by: {names(refuting)}"
    if powerless := [e for e in controls if e.outcome != Outcome.REFUTES]:
        return Verdict.INCONCLUSIVE, f"negative control not refuted (no power): {names(powerless)}"
    if undecided := [e for e in stated if e.outcome != Outcome.SUPPORTS]:
        return Verdict.INCONCLUSIVE, f"undecided: {names(undecided)}"
    if failing := [e for e in beyond if e.outcome == Outcome.REFUTES]:
        return (
            Verdict.CONDITIONAL,
            f"holds as stated; fails beyond the stated conditions: {names(failing)}",
        )
    if undecided := [e for e in beyond if e.outcome != Outcome.SUPPORTS]:
        return Verdict.INCONCLUSIVE, f"undecided beyond the stated conditions: {names(undecided)}"
    return Verdict.CONFIRMED, "every check supports; every negative control refuted"


def run_check(
    claim: Claim, item: Check, run_seed: int, device: torch.device, quick: bool
) -> Evidence:
    """Run one check on its own generator; an exception becomes ``error`` evidence."""
    rank, world = rank_and_world()
    # one independent stream per rank; a single process keeps the plain (run, check) seed
    names = (claim.id, item.name) if world == 1 else (claim.id, item.name, f"rank {rank}")
    seed = derive_seed(run_seed, *names)
    ctx = Context(seed=seed, device=device, generator=make_generator(seed, device), quick=quick)
    start = time.perf_counter()
    finding: Finding | None = None
    error: str | None = None
    try:
        finding = item.run(ctx)
        outcome = finding.outcome
    except Exception as exc:  # a failing check must not stop the run
        outcome = Outcome.ERROR
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Evidence(
        check=item.name,
        kind=item.kind,
        role=item.role,
        beyond_conditions=item.beyond_conditions,
        outcome=outcome,
        seed=seed,
        device=str(device),
        seconds=time.perf_counter() - start,
        finding=finding,
        error=error,
    )


def run_claim(
    claim: Claim, run_seed: int = 0, device: torch.device | str = "cpu", quick: bool = False
) -> ClaimResult:
    """Run every check of ``claim`` and derive its verdict."""
    device = torch.device(device)
    start = time.perf_counter()
    evidence = [run_check(claim, item, run_seed, device, quick) for item in claim.checks]
    verdict, reason = derive_verdict(evidence)
    return ClaimResult(claim, verdict, reason, evidence, time.perf_counter() - start)


# --- discovery -------------------------------------------------------------------------


def default_claim_paths() -> list[Path]:
    """``./claims`` when run from a checkout, else the claims/ beside the installed package."""
    here = Path.cwd() / "claims"
    return [here if here.is_dir() else Path(__file__).resolve().parent.parent / "claims"]


def _load_module(path: Path) -> Any:
    name = f"pgtheory_claims_{abs(hash(str(path.resolve())))}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import claim module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def discover(paths: Iterable[Path | str] | None = None) -> list[Claim]:
    """Every :class:`Claim` defined at module level in the given files or folders, by id."""
    files: list[Path] = []
    for p in map(Path, paths or default_claim_paths()):
        if p.is_dir():
            files += sorted(f for f in p.glob("*.py") if not f.name.startswith("_"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no claim file or folder at {p}")
    found: dict[str, Claim] = {}
    for f in files:
        for value in vars(_load_module(f)).values():
            if isinstance(value, Claim):
                if value.id in found and found[value.id] is not value:
                    raise ValueError(f"claim id {value.id} is defined twice")
                found[value.id] = value
    return [found[k] for k in sorted(found)]


def select(claims: Sequence[Claim], pattern: str | None) -> list[Claim]:
    """Claims whose id contains ``pattern`` (any of several, comma-separated)."""
    if not pattern:
        return list(claims)
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    return [c for c in claims if any(p in c.id for p in parts)]


__all__ = [
    "Check",
    "Claim",
    "ClaimResult",
    "Context",
    "Evidence",
    "Kind",
    "Role",
    "Source",
    "Verdict",
    "beyond_conditions",
    "check",
    "derive_verdict",
    "discover",
    "negative_control",
    "run_claim",
    "select",
]
