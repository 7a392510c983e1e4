"""The seed documents: where to find them, and the fenced code blocks they contain."""

from __future__ import annotations

import os
from pathlib import Path


def seeds_directory() -> Path | None:
    """$PGTHEORY_SEEDS, else shared/seeds beside the repository (the project's layout)."""
    candidates = [
        os.environ.get("PGTHEORY_SEEDS"),
        Path(__file__).resolve().parents[2] / "shared" / "seeds",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def fenced_code_blocks(text: str) -> list[dict[str, str]]:
    """Every ``` fenced block of a markdown text, in order: its language tag and its code.
    One-line spans such as ```x = 1``` are inline code, not blocks."""
    blocks: list[dict[str, str]] = []
    language, lines = None, []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("```"):
            if language is not None:
                lines.append(line)
            continue
        if language is None:
            rest = stripped[3:]
            if rest.endswith("```") and len(rest) > 3:
                continue
            language, lines = rest.strip(), []
        else:
            blocks.append({"language": language, "code": "\n".join(lines)})
            language = None
    return blocks
