"""The tiny end-to-end run: the demo DAG at reduced size, run once per test session.

Tests that mutate a run (rerun triggers, SLURM) copy it first with ``copy_run``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
TINY_CONFIGS = [str(REPO / "config" / "demo.yaml"), str(REPO / "tests" / "e2e" / "tiny.yaml")]


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir`` with the tiny configs; output is captured for asserts."""
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile", *TINY_CONFIGS,
               "--cores", "2", *args]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny run of the whole DAG (every stage's default targets)."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    snakemake(workdir)
    return workdir


@pytest.fixture
def copy_run(tiny_run, tmp_path):
    """A private copy of the tiny run that a test may change (modification times preserved)."""

    def make() -> Path:
        target = tmp_path / "run"
        shutil.copytree(tiny_run, target, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
        shutil.copytree(tiny_run / ".snakemake", target / ".snakemake", symlinks=True,
                        ignore=shutil.ignore_patterns("locks", "incomplete"))
        return target

    return make
