"""Shared fixtures: the repository's claims, and the seed documents when they are present."""

from pathlib import Path

import pytest

from pgtheory.sources import seeds_directory

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_DIR = ROOT / "claims"


@pytest.fixture(scope="session")
def seeds() -> Path:
    found = seeds_directory()
    if found is None:
        pytest.skip("seed documents not found (set PGTHEORY_SEEDS)")
    return found
