"""The training-run document: what ``pgtheory train --json`` writes and ``verify --rl`` reads.

Its JSON form is pinned by ``schemas/training-run.schema.json``; :meth:`TrainingRun.from_dict`
validates against it, so a malformed file is refused in one line before any work starts.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON schema shipped with the package (``results`` or ``training-run``)."""
    text = resources.files("pgtheory.schemas").joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def schema_errors(document: Any, name: str) -> list[str]:
    """Every way ``document`` breaks the schema ``name``, one line each (empty: valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(name))
    return [
        f"{'/'.join(map(str, e.absolute_path)) or 'the document'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


@dataclass
class TrainingRun:
    """One algorithm on one environment over seeds: per-seed results and their aggregate."""

    algo: str
    env: str
    device: str
    max_steps: int
    seeds: list[dict[str, Any]]
    aggregate: dict[str, Any]
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the document carries (config, versions, command line): kept as is."""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {**out.pop("extra"), **out}

    @classmethod
    def from_dict(cls, document: Any) -> TrainingRun:
        if errors := schema_errors(document, "training-run"):
            raise ValueError(errors[0] + (f" (and {len(errors) - 1} more)" if errors[1:] else ""))
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            **{k: document[k] for k in known if k in document},
            extra={k: v for k, v in document.items() if k not in known},
        )


def read_training_run(path: Path) -> TrainingRun:
    """Read and validate one ``train --json`` file; ``ValueError`` in one line naming it."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return TrainingRun.from_dict(document)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
