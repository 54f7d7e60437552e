"""Shared test fixtures: paths to the team's real-data samples, a thread cap for the 2-core box, and the
paper's config."""

from pathlib import Path

import pytest
import torch

from melanoflow.config_files import load_config
from tests.tiny_run import (
    DEFAULT_CONFIG,
    copy_run,  # noqa: F401  (a fixture of the end-to-end and SLURM tests)
    tiny_run,  # noqa: F401  (a fixture of the end-to-end and SLURM tests)
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(1)


def default_config() -> dict:
    """config/config.yaml, the paper's settings that every overlay changes: the values a test's settings take
    when the test is not about them (a fresh copy each call, for a test to change)."""
    return load_config([], DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (the team's real ISIC/PH2 samples); tests skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA} (only the team's checkouts have ../shared)")
    return SHARED_DATA
