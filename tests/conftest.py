"""Shared test fixtures: paths to the team's real-data samples and a thread cap for the 2-core box."""

from pathlib import Path

import pytest
import torch

from tests.tiny_run import copy_run, tiny_run  # noqa: F401  (fixtures of the end-to-end and SLURM tests)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (the team's real ISIC/PH2 samples); tests skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA} (only the team's checkouts have ../shared)")
    return SHARED_DATA
