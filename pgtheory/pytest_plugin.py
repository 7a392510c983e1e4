"""pytest plugin: ``pytest --claims FOLDER`` verifies claims as tests.

Every :class:`~pgtheory.claim.Claim` defined in the Python modules of the named folders (or
files) becomes a test item named by its id, which passes when the verdict derived at run
time equals the one its module expects. Only folders named by ``--claims`` or the ini
setting ``claims`` are imported: a plain ``pytest`` executes no claim module. The selected
claims run together, in the worker processes ``pgtheory verify`` uses, the first time one
of them is run; ``--claims-report DIR`` writes the same results.json and report as
``pgtheory verify``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

_RESULTS = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pgtheory", "verify pgtheory claims")
    group.addoption(
        "--claims",
        action="append",
        default=[],
        metavar="PATH",
        help="a folder or file of claim modules to verify as tests (repeatable)",
    )
    group.addoption("--claims-seed", type=int, default=0, help="run seed (default 0)")
    group.addoption("--claims-device", default="cpu", help="cpu (default), cuda, auto")
    group.addoption(
        "--claims-jobs",
        type=int,
        default=None,
        help="worker processes for the claims (default: one per CPU core)",
    )
    group.addoption(
        "--claims-report", metavar="DIR", help="also write results.json and index.html here"
    )
    parser.addini("claims", type="paths", help="folders of claim modules to verify as tests")


def _claim_paths(config: pytest.Config) -> list[Path]:
    """The folders named by --claims; else, when pytest runs its default test paths (no
    paths given on the command line), those of the ini setting ``claims``."""
    named = [Path(p) for p in config.getoption("claims")]
    if named:
        return named
    default_run = config.args_source != pytest.Config.ArgsSource.ARGS
    return list(config.getini("claims")) if default_run else []


class ClaimsCollector(pytest.Collector):
    """The claims of one folder or file."""

    def collect(self) -> list[pytest.Item]:
        from pgtheory.verify import ClaimLoadError
        from pgtheory.verify import discover

        try:
            claims = discover([self.path])
        except (ClaimLoadError, FileNotFoundError, ValueError) as exc:
            raise self.CollectError(str(exc)) from None
        items = []
        for claim in claims:
            item = ClaimItem.from_parent(self, name=claim.id, claim=claim)
            if claim.slow:
                item.add_marker(pytest.mark.slow)
            items.append(item)
        return items

    def repr_failure(self, excinfo: Any) -> str:  # type: ignore[override]
        return str(excinfo.value)


class ClaimItem(pytest.Item):
    """One claim: passes when its derived verdict is the expected one."""

    def __init__(self, *, claim: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self) -> None:
        results = self.session.stash.setdefault(_RESULTS, {})
        if self.claim.id not in results:
            _run_selected(self.session, results)
        result = results[self.claim.id]
        if result.skipped:
            pytest.skip(result.skipped)
        powerless = [
            e
            for e in result.evidence
            if e.role.value == "negative-control" and e.outcome.value != "refutes"
        ]
        if not result.as_expected or powerless:
            raise ClaimFailure(result)

    def repr_failure(self, excinfo: Any) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ClaimFailure):
            r = excinfo.value.result
            lines = [
                f"{r.claim.id}: derived {r.verdict.value}, expected {r.claim.expected.value} "
                "(and every negative control must be refuted)",
                f"reason: {r.reason}",
            ]
            for e in r.evidence:
                detail = e.error or (e.finding.note if e.finding else "")
                lines.append(f"  {e.role.value:16s} {e.outcome.value:12s} {e.check}: {detail}")
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"claim {self.claim.id}"


class ClaimFailure(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__(result.claim.id)
        self.result = result


def _run_selected(session: pytest.Session, results: dict) -> None:
    """Run every selected claim not yet run, together (one worker pool)."""
    from pgtheory.montecarlo import resolve_device
    from pgtheory.verify import verify

    config = session.config
    pending = [
        item.claim
        for item in session.items
        if isinstance(item, ClaimItem) and item.claim.id not in results
    ]
    device = resolve_device(config.getoption("claims_device"))
    cores = os.cpu_count() or 1
    jobs = config.getoption("claims_jobs") or (cores if device.type == "cpu" else 1)
    record = verify(
        pending,
        seed=config.getoption("claims_seed"),
        device=device,
        jobs=min(jobs, cores, len(pending)),
    )
    results.update({r.claim.id: r for r in record.results})
    session.stash.setdefault(_RECORDS, []).append(record)


_RECORDS = pytest.StashKey[list]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the claims before -k and -m select among the items."""
    for path in _claim_paths(config):
        collector = ClaimsCollector.from_parent(session, path=Path(path).resolve(), name=str(path))
        report = collector.ihook.pytest_make_collect_report(collector=collector)
        if report.failed:
            raise pytest.UsageError(f"--claims {path}: {report.longrepr}")
        items.extend(report.result)


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("claims_report", None)
    records = session.stash.get(_RECORDS, [])
    if not out or not records:
        return
    from pgtheory.report import results_document
    from pgtheory.report import write_report
    from pgtheory.report import write_results_json

    record = records[0]
    for extra in records[1:]:
        record.results += extra.results
    document = results_document(record)
    write_results_json(document, Path(out) / "results.json")
    write_report(document, Path(out) / "index.html")
