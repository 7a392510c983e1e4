"""The seed documents: their registry, where to find them, and their fenced code blocks."""

from __future__ import annotations

import os
from pathlib import Path

#: The five seed documents by number: a claim cites one as ``Source("000", section, quote)``.
SEED_DOCUMENTS = {
    "000": "000_6d22ed7e183469a6.txt",
    "001": "001_dfff2308e2bb0704.txt",
    "002": "002_1b7ba2deb061a988.txt",
    "003": "003_406e58457e86a039.txt",
    "004": "004_2cb30ec7095a07ef.txt",
}


def document_file(name: str) -> str:
    """The file of a seed document given by its number ("000"); any other name as it is."""
    return SEED_DOCUMENTS.get(name, name)


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
