"""results.json: the facts of a run, for machines, written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from pgtheory.claim import ClaimResult
from pgtheory.claim import RunRecord

SCHEMA_VERSION = 1


def claim_document(result: ClaimResult) -> dict[str, Any]:
    claim = result.claim
    return {
        "id": claim.id,
        "title": claim.title,
        "statement": claim.statement,
        "sources": [
            {"file": s.file, "section": s.section, "quote": s.quote} for s in claim.sources
        ],
        "conditions": claim.conditions,
        "reading": claim.reading,
        "expected": claim.expected.value,
        "verdict": result.verdict.value if result.verdict else None,
        "skipped": result.skipped,
        "severity": result.severity.value if result.severity else None,
        "effect": result.effect,
        "summary": result.summary,
        "reason": result.reason,
        "as_expected": result.as_expected,
        "seconds": result.seconds,
        "checks": [e.to_dict() for e in result.evidence],
    }


def results_document(record: RunRecord) -> dict[str, Any]:
    """The published results document (see ``results.schema.json``): built once per run and
    handed to both writers, results.json and the HTML report."""
    return {
        "version": SCHEMA_VERSION,
        "seed": record.seed,
        "device": str(record.device),
        "quick": record.quick,
        "started": record.started,
        "seconds": record.seconds,
        "environment": record.environment,
        "interrupted": record.interrupted,
        "claims": [claim_document(r) for r in record.results],
        "rl": record.rl_runs,
    }


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def strict_json(value: Any) -> Any:
    """Non-finite floats become the strings "inf", "-inf" and "nan" (JSON has none of them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def write_results_json(document: dict[str, Any], path: Path) -> None:
    write_atomically(path, json.dumps(strict_json(document), indent=2, allow_nan=False))
