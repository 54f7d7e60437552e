"""The image manifest: the Parquet table every stage reads instead of globbing folders.

One row per image. Paths are stored relative to the workflow's working directory so that a results
folder can be moved with its project. The schema is fixed and checked on every write and read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from melanoflow.io import atomic_path

SPLITS = ("train", "val", "test")
# The split summary's entry for archive parts without ground truth: not ingested, never scored.
UNSCORED = "unscored"

IMAGES_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("image_path", pa.string(), nullable=False),
        pa.field("mask_path", pa.string(), nullable=True),
        pa.field("lesion_id", pa.string(), nullable=True),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("image_id", pa.string(), nullable=True),
        pa.field("source", pa.string(), nullable=False),
        pa.field("problem", pa.string(), nullable=False),
    ]
)


class SchemaError(ValueError):
    """A Parquet table does not match the schema it is declared to have."""


def conform(frame: pd.DataFrame, schema: pa.Schema, name: str) -> pa.Table:
    """Convert ``frame`` to an Arrow table of exactly ``schema``; raise naming missing/extra columns."""
    missing = [f.name for f in schema if f.name not in frame.columns]
    extra = [c for c in frame.columns if c not in schema.names]
    if missing or extra:
        raise SchemaError(f"{name}: missing columns {missing}, unexpected columns {extra}")
    try:
        table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise SchemaError(f"{name}: {error}") from error
    for field in schema:
        if not field.nullable and table.column(field.name).null_count:
            raise SchemaError(f"{name}: column {field.name!r} has {table.column(field.name).null_count} nulls")
    return table


def write_table(frame: pd.DataFrame, path: str | os.PathLike, schema: pa.Schema) -> None:
    """Check ``frame`` against ``schema`` and write it atomically as Parquet."""
    table = conform(frame, schema, str(path))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_table(path: str | os.PathLike, schema: pa.Schema) -> pd.DataFrame:
    """Read a Parquet file and check that it has exactly ``schema``'s columns and types."""
    table = pq.read_table(path)
    if not table.schema.remove_metadata().equals(schema, check_metadata=False):
        raise SchemaError(f"{path}: schema differs from the expected one:\n{table.schema}\nexpected:\n{schema}")
    return table.to_pandas()


def read_columns(path: str | os.PathLike, columns: list[str]) -> pd.DataFrame:
    """Read ``columns`` of another stage's Parquet table; raise naming the file and any missing column."""
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid) as error:
        raise SchemaError(f"{path}: not a readable Parquet table ({error})") from error
    missing = [column for column in columns if column not in names]
    if missing:
        raise SchemaError(f"{path}: missing columns {missing} (has {names})")
    return pq.read_table(path, columns=columns).to_pandas()


def merge_shard_tables(shard_paths: list[str | os.PathLike], path: str | os.PathLike, schema: pa.Schema) -> None:
    """Concatenate per-shard tables of ``schema`` into one, checking that no image appears twice."""
    frames = [read_table(shard_path, schema) for shard_path in shard_paths]
    merged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=schema.names)
    check_unique_ids(merged, str(path))
    write_table(merged, path, schema)


def write_images_manifest(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    check_unique_ids(frame, str(path))
    write_table(frame, path, IMAGES_SCHEMA)


def read_images_manifest(path: str | os.PathLike) -> pd.DataFrame:
    return read_table(path, IMAGES_SCHEMA)


def check_unique_ids(frame: pd.DataFrame, name: str) -> None:
    duplicated = frame.loc[frame.duplicated(["dataset", "image_id"], keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise SchemaError(f"{name}: image id {first.image_id!r} appears more than once in dataset {first.dataset!r}")


def shard_of(image_id: str, n_shards: int) -> int:
    """Stable shard number of an image: independent of manifest order and of the Python hash seed."""
    digest = hashlib.sha1(image_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % n_shards


def select_shard(frame: pd.DataFrame, shard: int, n_shards: int, key: str = "image_id") -> pd.DataFrame:
    """Rows of ``frame`` whose ``key`` column (an image id, or a path for tables keyed by file) belongs to
    ``shard`` of ``n_shards``."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0..{n_shards - 1}")
    keep = frame[key].map(lambda value: shard_of(value, n_shards) == shard)
    return frame.loc[keep.to_numpy()]


def relative_to_workdir(path: str | os.PathLike) -> str:
    """Store paths relative to the working directory when they lie under it, absolute otherwise."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
