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


def document_title(file: str) -> str:
    """The title of a seed document (its front matter's ``title:``, else its first line), read
    at run time; the file name where the document is not here."""
    seeds = seeds_directory()
    path = seeds / file if seeds else None
    if path is None or not path.is_file():
        return file
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() == "---":
                break
            if line.startswith("title:"):
                return line.removeprefix("title:").strip().strip('"')
    return next((line.strip() for line in lines if line.strip()), file)


#: 000's figures as the document shows them, in its companion folder (figures/), by number.
FIGURE_FILES_000 = {
    1: "R1_True-Learning-Rate-Comparison.png",
    2: "R1_True-Baseline-Comparison.png",
    3: "R1_True-Stepsize-Schedule-Comparison.png",
    4: "R1_True-Batch-Gradient-Estimator-Comparison.png",
    5: "R2_Randomized-Learning-Rate-Comparison.png",
    6: "R2_Randomized-Baseline-Comparison.png",
    7: "R2_Randomized-Stepsize-Schedule-Comparison.png",
    8: "R2_Randomized-Batch-Gradient-Estimator-Comparison.png",
    9: "R3_Proxy-Batch-Size-Comparison.png",
    10: "R4_DiscreteSparse-Single-Run.png",
}


def companion_000() -> Path | None:
    """000's companion folder (its notebook, figures and cited post), where present."""
    seeds = seeds_directory()
    folder = seeds / "000-companion" if seeds else None
    return folder if folder is not None and folder.is_dir() else None


def published_figure_000(number: int) -> Path | None:
    """The PNG of 000's figure ``number`` as published, where the companion folder is here."""
    folder = companion_000()
    path = folder / "figures" / FIGURE_FILES_000.get(number, "") if folder else None
    return path if path is not None and path.is_file() else None


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
