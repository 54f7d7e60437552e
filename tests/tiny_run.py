"""The tiny end-to-end run: the demo DAG at reduced size, run once per test session (the fixtures are
registered by tests/conftest.py for the end-to-end and the SLURM tests alike).

Tests that mutate a run (rerun triggers) copy it first with ``copy_run``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
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


# Columns of training histories that hold durations: compared without them.
TIMED_COLUMNS = ("seconds", "train_images_per_s")


def tables(run):
    return {path.relative_to(run): path for path in sorted((run / "results").rglob("*"))
            if path.suffix in (".parquet", ".csv") and path.is_file()}


def untimed_csv(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=[column for column in frame if column in TIMED_COLUMNS]).to_csv(index=False)


def assert_same_tables_and_weights(first: Path, second: Path) -> None:
    """Two clean runs of the tiny DAG: byte-identical tables (training histories without their durations)
    and equal tensors in every model file."""
    first_tables, second_tables = tables(first), tables(second)
    assert first_tables.keys() == second_tables.keys()
    for name, path in first_tables.items():
        if path.suffix == ".csv":
            assert untimed_csv(path) == untimed_csv(second_tables[name]), f"{name} differs between two clean runs"
        else:
            assert path.read_bytes() == second_tables[name].read_bytes(), f"{name} differs between two clean runs"
    models = sorted((first / "results" / "models").rglob("*.pt"))
    assert models
    for path in models:
        ours = tensors(torch.load(path, weights_only=False, map_location="cpu"))
        theirs = tensors(torch.load(second / path.relative_to(first), weights_only=False, map_location="cpu"))
        assert ours and ours.keys() == theirs.keys(), path
        assert all(torch.equal(ours[name], theirs[name]) for name in ours), path


def tensors(value, prefix=""):
    """Every tensor of a checkpoint (nested dicts and lists), by its path: the weights and optimiser state,
    not the metadata (which records durations)."""
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else []
    return {name: tensor for key, item in items for name, tensor in tensors(item, f"{prefix}/{key}").items()}
