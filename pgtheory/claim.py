"""The data model: Claim, Check, Evidence, Verdict, the record of a run.

A claim module declares *what* is asserted (statement, sources, conditions, the verdict its
authors expect) and *how* to test it (checks and negative controls). The verdict itself is
never written down: :func:`derive_verdict` derives it from the evidence of a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from typing import TYPE_CHECKING
from typing import Any

from pgtheory.stats import Finding
from pgtheory.stats import Outcome

if TYPE_CHECKING:
    from pgtheory.context import Context

#: ``prefix-slug``: a short prefix naming the document (the seed documents use their number,
#: ``000``..``004``; a user's own document any short name, e.g. ``mydoc``), then a slug.
CLAIM_ID = re.compile(r"^[A-Za-z0-9]{1,16}-[A-Za-z0-9][A-Za-z0-9.-]*$")


class Verdict(str, Enum):
    """What the evidence says about a claim as its document writes it."""

    CONFIRMED = "confirmed"  # every check supports, every negative control is refuted
    REFUTED = "refuted"  # a check within the stated conditions refutes the statement
    CONDITIONAL = "conditional"  # holds as stated, fails beyond conditions the text leaves out
    INCONCLUSIVE = "inconclusive"  # an error, a check without power, or too wide an interval


class Severity(str, Enum):
    """How much a finding (a refuted or conditional claim) matters: a second axis beside the
    verdict, declared by the claim's module from the document's words (see the README)."""

    ERRATUM = "erratum"  # a typo, sign, index, missing constant or normalisation; the idea stands
    IMPRECISE = "imprecise"  # the right idea, stated loosely
    MISSING_CONDITION = "missing-condition"  # true only under a condition the document leaves out
    WRONG = "wrong"  # false in the setting the document itself describes


class SlipKind(str, Enum):
    """What kind of mistake a negative control models. A control should be the plausible slip a
    careful reader might make; a bare ``rescaling`` or ``offset`` is refuted by any check
    whatever its subtlety, so it shows no power (a test rejects shipped controls of those
    kinds)."""

    OMISSION = "omission"  # a missing factor, term or normalisation
    SIGN = "sign"  # a flipped sign where a sign slip is the plausible mistake
    EXPONENT = "exponent"  # a wrong power or rate
    INDEX = "index"  # an off-by-one index, horizon or count
    WRONG_TERM = "wrong-term"  # a neighbouring quantity in place of the right one
    ACTION_DEPENDENT = "action-dependent"  # a baseline (or weight) that sees the action
    CONDITION = "condition"  # the statement where its condition fails
    ORDER = "order"  # the reverse of a stated ordering
    CODE = "code"  # a bug planted in code
    RESCALING = "rescaling"  # a positive multiple of the right quantity
    OFFSET = "offset"  # the right quantity plus a constant


@dataclass(frozen=True)
class Slip:
    """The mistake a negative control models: in words, and its kind."""

    description: str
    kind: SlipKind


@dataclass(frozen=True)
class Requirement:
    """Something a claim needs that may be absent where pgtheory runs (a companion folder, an
    optional package): ``missing()`` returns why it is missing, or None when it is present.
    A claim with a missing requirement is skipped, which is not a verdict."""

    name: str
    missing: Callable[[], str | None]


class Kind(str, Enum):
    SYMBOLIC = "symbolic"  # sympy
    EXACT = "exact"  # closed form, quadrature, enumeration or a linear solve in float64
    MONTE_CARLO = "monte-carlo"  # a statistical test on samples
    EXPERIMENT = "experiment"  # an optimisation or training run over many seeds


class Role(str, Enum):
    CHECK = "check"
    NEGATIVE_CONTROL = "negative-control"
    EFFECT = "effect"  # sizes a finding in the document's realistic setting; decides nothing


@dataclass(frozen=True)
class Source:
    """Where a claim is made: the document (a file name, or a seed document's number such as
    ``"000"``, which becomes its file name), the section heading, and a short exact quote."""

    file: str
    section: str
    quote: str

    def __post_init__(self) -> None:
        from pgtheory.sources import document_file

        object.__setattr__(self, "file", document_file(self.file))


CheckFunction = Callable[["Context"], Finding]


@dataclass(frozen=True)
class Check:
    """One function producing a :class:`Finding`.

    ``role`` is ``check`` (the statement itself) or ``negative-control`` (a deliberately wrong
    variant through the same machinery: it must be refuted, or the check has no power).
    ``beyond_conditions`` marks a check of the statement outside the conditions the document
    states or implies; it refuting while the others support makes the claim ``conditional``.
    ``key`` names the check's random stream (default: its name), so that rewording the
    displayed name need not change its numbers. ``timeout`` is its time budget in seconds
    (``None``: the run's default).
    """

    name: str
    kind: Kind
    run: CheckFunction
    role: Role = Role.CHECK
    beyond_conditions: bool = False
    key: str | None = None
    timeout: float | None = None
    slip: Slip | None = None
    """for a negative control: the mistake it models"""

    @property
    def stream_key(self) -> str:
        """The name this check's generator is seeded from."""
        return self.name if self.key is None else self.key


def check(
    name: str,
    kind: Kind,
    run: CheckFunction,
    *,
    key: str | None = None,
    timeout: float | None = None,
) -> Check:
    return Check(name, kind, run, key=key, timeout=timeout)


def negative_control(
    name: str,
    kind: Kind,
    run: CheckFunction,
    *,
    slip: Slip | None = None,
    key: str | None = None,
    timeout: float | None = None,
) -> Check:
    """A deliberately wrong variant through the same machinery, which must be refuted;
    ``slip`` says which plausible mistake it models."""
    return Check(name, kind, run, role=Role.NEGATIVE_CONTROL, key=key, timeout=timeout, slip=slip)


def effect(name: str, kind: Kind, run: CheckFunction, *, timeout: float | None = None) -> Check:
    """How large a finding is, in the setting the document itself describes: ``run`` returns
    :func:`pgtheory.stats.effect_size`. It decides nothing; the report orders findings by it."""
    return Check(name, kind, run, role=Role.EFFECT, timeout=timeout)


def beyond_conditions(
    name: str,
    kind: Kind,
    run: CheckFunction,
    *,
    key: str | None = None,
    timeout: float | None = None,
) -> Check:
    return Check(name, kind, run, beyond_conditions=True, key=key, timeout=timeout)


@dataclass(frozen=True)
class Claim:
    """A checkable statement from a source document, with the checks that decide it.

    :param id: ``prefix-slug``: the document's short name (a seed document's number) and a slug.
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
    severity: Severity | None = None
    """for a claim expected refuted or conditional: how much the finding matters"""
    requires: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        if not CLAIM_ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not of the form prefix-slug")
        if not self.sources:
            raise ValueError(f"claim {self.id} cites no source")
        roles = {c.role for c in self.checks} - {Role.EFFECT}
        if roles != {Role.CHECK, Role.NEGATIVE_CONTROL}:
            raise ValueError(f"claim {self.id} needs at least one check and one negative control")
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise ValueError(f"claim {self.id} has two checks of the same name")


@dataclass
class Evidence:
    """What one check computed, on which seed and device, in how long, and what it says.

    ``finding`` stays nested (the report reads its typed fields); ``to_dict`` flattens it
    into the published check record of results.json."""

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
    slip: Slip | None = None

    @classmethod
    def of(
        cls,
        item: Check,
        outcome: Outcome,
        seed: int,
        device: str,
        seconds: float,
        finding: Finding | None = None,
        error: str | None = None,
    ) -> Evidence:
        """The evidence of the check ``item``: its names and role, and what it gave."""
        return cls(
            item.name,
            item.kind,
            item.role,
            item.beyond_conditions,
            outcome,
            seed,
            device,
            seconds,
            finding,
            error,
            item.slip,
        )

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
        if self.slip is not None:
            out["slip"] = {"description": self.slip.description, "kind": self.slip.kind.value}
        return out


@dataclass
class ClaimResult:
    """A claim's verdict with its evidence; ``skipped`` (the missing requirement) instead of a
    verdict when the claim could not run here."""

    claim: Claim
    verdict: Verdict | None
    reason: str
    evidence: list[Evidence]
    seconds: float
    skipped: str | None = None

    @property
    def as_expected(self) -> bool:
        return self.skipped is not None or self.verdict == self.claim.expected

    @property
    def severity(self) -> Severity | None:
        """The declared severity, for a finding (a refuted or conditional verdict)."""
        findings = (Verdict.REFUTED, Verdict.CONDITIONAL)
        return self.claim.severity if self.verdict in findings else None

    @property
    def effect(self) -> dict[str, Any] | None:
        """The finding's size, ``{"size", "measure", "setting"}``, from its effect evidence."""
        if self.severity is None:
            return None
        for e in self.evidence:
            if e.role == Role.EFFECT and e.finding is not None and e.outcome == Outcome.SUPPORTS:
                f = e.finding
                return {"size": f.estimate, "measure": f.method, "setting": f.note}
        return None

    @property
    def summary(self) -> str:
        """What decided the verdict, in numbers, generated from the evidence."""
        return summarise(self)

    @property
    def errors(self) -> list[Evidence]:
        return [e for e in self.evidence if e.error]


@dataclass
class RunRecord:
    """The results of one ``pgtheory verify`` run and the facts needed to reproduce it.

    ``interrupted`` marks a run stopped by a signal: ``results`` then holds the claims
    finished before it, and the report says the run is partial."""

    seed: int
    device: str
    quick: bool
    started: str
    seconds: float
    results: list[ClaimResult]
    environment: dict[str, Any] = field(default_factory=dict)
    rl_runs: list[dict[str, Any]] = field(default_factory=list)
    """Training runs (``pgtheory train --json`` documents) shown in the report's RL section."""
    interrupted: bool = False

    @property
    def unexpected(self) -> list[ClaimResult]:
        """Claims whose derived verdict differs from the one their module expects."""
        return [r for r in self.results if not r.as_expected]

    @property
    def errors(self) -> list[ClaimResult]:
        return [r for r in self.results if r.errors]


def describe(evidence: Evidence) -> str:
    """One piece of evidence in words: its estimate, interval, reference and resolution (or
    the counts and note of an experiment, or the error)."""
    if evidence.error:
        return f"{evidence.check}: error ({evidence.error})"
    f = evidence.finding
    if f is None:
        return f"{evidence.check}: {evidence.outcome.value}"
    parts = []
    if f.estimate is not None and not isinstance(f.estimate, list | str):
        parts.append(f"estimate {_number(f.estimate)}")
    if isinstance(f.ci, list) and len(f.ci) == 2 and not isinstance(f.ci[0], list):
        parts.append(f"interval [{_number(f.ci[0])}, {_number(f.ci[1])}]")
    if f.reference is not None and not isinstance(f.reference, list | str):
        parts.append(f"reference {_number(f.reference)}")
    if f.resolution is not None and not isinstance(f.resolution, list):
        parts.append(f"resolution {_number(f.resolution)}")
    if f.n is not None:
        parts.append(f"n = {f.n:,}")
    numbers = ", ".join(parts)
    note = f.note.split("; ")[0] if f.note else ""
    body = "; ".join(t for t in (numbers, note) if t) or f.method
    return f"{evidence.check} {evidence.outcome.value}: {body}"


def _number(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def summarise(result: ClaimResult) -> str:
    """The deciding evidence of a claim's verdict, generated from the evidence alone."""
    if result.skipped:
        return f"skipped: {result.skipped}"
    ev = result.evidence
    stated = [e for e in ev if e.role == Role.CHECK and not e.beyond_conditions]
    beyond = [e for e in ev if e.role == Role.CHECK and e.beyond_conditions]
    controls = [e for e in ev if e.role == Role.NEGATIVE_CONTROL]
    refuted_controls = sum(e.outcome == Outcome.REFUTES for e in controls)
    tail = f" Negative controls refuted: {refuted_controls} of {len(controls)}."
    if result.verdict == Verdict.REFUTED:
        deciding = [e for e in stated if e.outcome == Outcome.REFUTES]
    elif result.verdict == Verdict.CONDITIONAL:
        deciding = [e for e in beyond if e.outcome == Outcome.REFUTES]
    elif result.verdict == Verdict.CONFIRMED:
        deciding = stated[:1]
    else:
        deciding = [e for e in ev if e.outcome != Outcome.SUPPORTS and e.role == Role.CHECK]
        deciding = deciding or [e for e in controls if e.outcome != Outcome.REFUTES]
    return " ".join(describe(e) + "." for e in deciding[:2]) + tail


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

    deciding = [e for e in evidence if e.role != Role.EFFECT]  # an effect sizes, never decides
    if errors := [e for e in deciding if e.outcome == Outcome.ERROR]:
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


def __getattr__(name: str) -> Any:
    # Claim modules written against earlier versions import Context from here.
    if name == "Context":
        from pgtheory.context import Context

        return Context
    raise AttributeError(name)


__all__ = [
    "Check",
    "Claim",
    "ClaimResult",
    "Evidence",
    "Kind",
    "Requirement",
    "Role",
    "RunRecord",
    "Severity",
    "Slip",
    "SlipKind",
    "Source",
    "Verdict",
    "beyond_conditions",
    "check",
    "derive_verdict",
    "describe",
    "negative_control",
    "summarise",
]
