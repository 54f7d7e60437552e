"""Two clean runs of the tiny DAG on the CPU give byte-identical tables and equal weights: every random
choice is seeded from the config, and nothing depends on timing or thread scheduling."""

import pandas as pd
import pytest
import torch

from .conftest import snakemake

# Columns of training histories that hold durations: compared without them.
TIMED_COLUMNS = ("seconds", "train_images_per_s")


def tables(run):
    return {path.relative_to(run): path for path in sorted((run / "results").rglob("*"))
            if path.suffix in (".parquet", ".csv") and path.is_file()}


def untimed_csv(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=[column for column in frame if column in TIMED_COLUMNS]).to_csv(index=False)


@pytest.mark.slow
def test_two_clean_runs_give_identical_tables_and_weights(tiny_run, tmp_path):
    second = tmp_path / "second"
    snakemake(second)

    first_tables, second_tables = tables(tiny_run), tables(second)
    assert first_tables.keys() == second_tables.keys()
    for name, path in first_tables.items():
        if path.suffix == ".csv":
            assert untimed_csv(path) == untimed_csv(second_tables[name]), f"{name} differs between two clean runs"
        else:
            assert path.read_bytes() == second_tables[name].read_bytes(), f"{name} differs between two clean runs"
    models = sorted((tiny_run / "results" / "models").rglob("*.pt"))
    assert models
    for path in models:
        first = tensors(torch.load(path, weights_only=False, map_location="cpu"))
        other = tensors(torch.load(second / path.relative_to(tiny_run), weights_only=False, map_location="cpu"))
        assert first and first.keys() == other.keys(), path
        assert all(torch.equal(first[name], other[name]) for name in first), path


def tensors(value, prefix=""):
    """Every tensor of a checkpoint (nested dicts and lists), by its path: the weights and optimiser state,
    not the metadata (which records durations)."""
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else []
    return {name: tensor for key, item in items for name, tensor in tensors(item, f"{prefix}/{key}").items()}
