"""The tables stages exchange: every Parquet schema of the workflow and the checked read/write helpers.

Every stage reads Parquet written by earlier stages instead of globbing folders, first of all the image
manifest (one row per image). Paths are stored relative to the workflow's working directory so that a
results folder can be moved with its project. Schemas are fixed and checked on every write and read.
This module imports no torch, so that any stage (or a test) can name another stage's table cheaply.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from melanoflow.fileio import atomic_path

# ``untrapped`` is the second test split of a trap split (datasets.<name>.trap): test images that keep the
# artefact-class association of the data, beside the ``test`` split where it is reversed.
UNTRAPPED = "untrapped"
SPLITS = ("train", "val", "test", UNTRAPPED)
# The splits classifiers predict: every split but training.
PREDICTED_SPLITS = ("val", "test", UNTRAPPED)
# The split summary's entry for archive parts without ground truth: not ingested, never scored.
UNSCORED = "unscored"

def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in fields])


_ID = (("image_id", pa.string(), False), ("dataset", pa.string(), False), ("split", pa.string(), False))

IMAGES_SCHEMA = _schema(
    *_ID,
    ("label", pa.string(), False),
    ("image_path", pa.string(), False),
    ("mask_path", pa.string(), True),
    ("lesion_id", pa.string(), True),
    ("width", pa.int32(), False),
    ("height", pa.int32(), False),
    ("sha256", pa.string(), False),
    ("source", pa.string(), False),
)

QUARANTINE_SCHEMA = _schema(
    ("dataset", pa.string(), False),
    ("image_id", pa.string(), True),
    ("source", pa.string(), False),
    ("problem", pa.string(), False),
)

MASKS_SCHEMA = _schema(*_ID, ("mask_path", pa.string(), False), ("lesion_fraction", pa.float64(), False))

SEGMENTATION_SCORES = ("jaccard", "thresholded_jaccard", "dice")
PER_IMAGE_SCHEMA = _schema(*_ID, *((score, pa.float64(), False) for score in SEGMENTATION_SCORES))

OCCLUSIONS_SCHEMA = _schema(
    *_ID,
    ("label", pa.string(), False),
    ("purified_path", pa.string(), False),
    ("occlusion_mask_path", pa.string(), False),
    ("occluded_fraction", pa.float64(), False),
    ("selected", pa.bool_(), False),
)

SAMPLES_SCHEMA = _schema(
    ("synthetic_id", pa.string(), False),
    ("synthetic_path", pa.string(), False),
    ("label", pa.string(), False),
)

NEAREST_SCHEMA = _schema(
    ("synthetic_id", pa.string(), False),
    ("synthetic_path", pa.string(), False),
    ("nearest_id", pa.string(), False),
    ("nearest_split", pa.string(), False),
    ("nearest_path", pa.string(), False),
    ("mse", pa.float64(), False),
    ("kept", pa.bool_(), False),
)

TRAIN_MANIFEST_SCHEMA = _schema(
    ("example_id", pa.string(), False),
    ("image_id", pa.string(), False),
    ("dataset", pa.string(), False),
    ("source_path", pa.string(), False),
    ("label", pa.string(), False),
    ("origin", pa.string(), False),  # real | purified | synthetic
    ("split", pa.string(), False),
    ("copy", pa.int32(), False),  # which of the `factor` copies of its example
    ("hflip", pa.bool_(), False),
    ("vflip", pa.bool_(), False),
    ("crop_x0", pa.float64(), False),  # crop box, fractions of width / height
    ("crop_y0", pa.float64(), False),
    ("crop_x1", pa.float64(), False),
    ("crop_y1", pa.float64(), False),
    ("seed", pa.int64(), False),  # seeds this example's online augmentation
)

PREDICTION_ID_COLUMNS = ("image_id", "dataset", "split", "label", "predicted")


def predictions_schema(classes: list[str]) -> pa.Schema:
    """A prediction table's schema: the image, its true and predicted label, one probability per class."""
    return _schema(*((name, pa.string(), False) for name in PREDICTION_ID_COLUMNS),
                   *((f"prob_{label}", pa.float64(), False) for label in classes))


@dataclass(frozen=True)
class Contract:
    """A table stages exchange: its schema, what a row means, and where the workflow writes it."""

    schema: pa.Schema
    meaning: str
    path: str


# Every Parquet table of the workflow (docs/contracts.md describes each; tests/test_contracts.py checks it).
CONTRACTS: dict[str, Contract] = {
    "images": Contract(IMAGES_SCHEMA, "one ingested image with its split, label and ground-truth mask",
                       "results/manifests/images.parquet"),
    "quarantine": Contract(QUARANTINE_SCHEMA, "one archive file not ingested, and why",
                           "results/manifests/quarantine.parquet"),
    "masks": Contract(MASKS_SCHEMA, "one image's predicted lesion mask", "results/segmentation/masks.parquet"),
    "segmentation_scores": Contract(PER_IMAGE_SCHEMA, "one image's predicted mask scored against its ground truth",
                                    "results/segmentation/per_image.parquet"),
    "occlusions": Contract(OCCLUSIONS_SCHEMA, "one image's purified copy and occlusion mask",
                           "results/purified/occlusions.parquet"),
    "samples": Contract(SAMPLES_SCHEMA, "one generated image", "results/synthetic/<class>/samples.parquet"),
    "nearest": Contract(NEAREST_SCHEMA, "one generated image's nearest real image, and whether it is kept",
                        "results/synthetic/<class>/nearest.parquet"),
    "training_manifest": Contract(TRAIN_MANIFEST_SCHEMA, "one classifier example: its source image and transform",
                                  "results/manifests/examples.<variant>.parquet"),
    "predictions": Contract(predictions_schema(["<class>"]), "one image's predicted class probabilities",
                            "results/predictions/<variant>.parquet"),
}


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


def read_training_manifest(path: str | os.PathLike) -> pd.DataFrame:
    return read_table(path, TRAIN_MANIFEST_SCHEMA)


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
