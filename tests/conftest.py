"""Shared fixtures: the repository's claims, and the seed documents when they are present."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_DIR = ROOT / "claims"


def seeds_dir() -> Path | None:
    """The seed documents: $PGTHEORY_SEEDS, else ../shared/seeds beside the checkout."""
    candidates = [os.environ.get("PGTHEORY_SEEDS"), ROOT.parent / "shared" / "seeds"]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


@pytest.fixture(scope="session")
def seeds() -> Path:
    found = seeds_dir()
    if found is None:
        pytest.skip("seed documents not found (set PGTHEORY_SEEDS)")
    return found
