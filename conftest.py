"""Repository-level fixtures for the project's own tests (tests/ and benchmarks/)."""

from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent
SHARED_DATA = REPOSITORY.parent / "shared" / "amb-data"


@pytest.fixture(scope="session")
def amb_original_data() -> Path:
    """The part of the original AgentMemoryBench data kept beside the repository (../shared/amb-data),
    used only by conformance tests; they skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"original AMB data not found at {SHARED_DATA}")
    return SHARED_DATA
