"""Training manifests: ``results/manifests/examples.<variant>.parquet``, one row per example.

A row names its source image (a real image, the purified copy of an occluded one, or a kept synthetic
image), its label and origin, and the transform that makes the example (horizontal flip, vertical flip,
crop box as image fractions, and a seed for the online augmentation during training). Augmentation is
therefore described, not materialised; :func:`materialise` writes the transformed images when wanted.

Validation and test rows are the real images as they are: one row each, never flipped, cropped,
purified or synthetic.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.classification.cache import load_resized
from melanoflow.classification.recipe import (
    FULL_FRAME,
    ORIGINS,
    Recipe,
    choose_flipped,
    copy_transforms,
    stage_counts,
)
from melanoflow.classification.settings import ManifestSettings
from melanoflow.tables import (
    TRAIN_MANIFEST_SCHEMA,
    SchemaError,
    read_columns,
    read_images_manifest,
    write_table,
)

log = logging.getLogger(__name__)

CROP_COLUMNS = ["crop_x0", "crop_y0", "crop_x1", "crop_y1"]
OCCLUSION_COLUMNS = ["image_id", "dataset", "split", "label", "purified_path", "selected"]
SYNTHETIC_COLUMNS = ["synthetic_id", "synthetic_path", "kept"]
EXAMPLE_COLUMNS = ["image_id", "dataset", "source_path", "label", "origin", "split"]


def real_examples(images: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"image_id": images["image_id"], "dataset": images["dataset"],
                         "source_path": images["image_path"], "label": images["label"], "origin": "real",
                         "split": images["split"]})


def purified_examples(occlusions: pd.DataFrame) -> pd.DataFrame:
    """Purified copies of the occluded (``selected``) training images."""
    chosen = occlusions.loc[(occlusions["split"] == "train") & occlusions["selected"].astype(bool)]
    return pd.DataFrame({"image_id": chosen["image_id"], "dataset": chosen["dataset"],
                         "source_path": chosen["purified_path"], "label": chosen["label"],
                         "origin": "purified", "split": "train"})


def synthetic_examples(synthetic: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Kept synthetic images (those not too close to a training image), labelled with their class.

    Their ``dataset`` is ``synthetic/<class>``: each class's generator numbers its images on its own.
    """
    parts = [pd.DataFrame({"image_id": table.loc[table["kept"].astype(bool), "synthetic_id"],
                           "dataset": f"synthetic/{label}",
                           "source_path": table.loc[table["kept"].astype(bool), "synthetic_path"],
                           "label": label, "origin": "synthetic", "split": "train"})
             for label, table in synthetic.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EXAMPLE_COLUMNS)


def check_labels(frame: pd.DataFrame, classes: list[str], name: str) -> None:
    unknown = sorted(set(frame["label"]) - set(classes))
    if unknown:
        raise SchemaError(f"{name}: labels {unknown} are not among the configured classes {classes}")


def build_training_manifest(images: pd.DataFrame, recipe: Recipe, classes: list[str], seed: int,
                            occlusions: pd.DataFrame | None = None,
                            synthetic: Mapping[str, pd.DataFrame] | None = None
                            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest rows of one variant and its per-class stage counts (see :mod:`.recipe`)."""
    if recipe.purified and occlusions is None:
        raise ValueError("the variant uses purified images but no occlusions table was given")
    if recipe.synthetic and synthetic is None:
        raise ValueError("the variant uses synthetic images but no synthetic tables were given")
    ingredients = [real_examples(images.loc[images["split"] == "train"])]
    if recipe.purified:
        ingredients.append(purified_examples(occlusions))
    if recipe.synthetic:
        ingredients.append(synthetic_examples(synthetic))
    pool = pd.concat(ingredients, ignore_index=True)
    check_labels(pool, classes, "training pool")

    counts = stage_counts(*(pool.loc[pool["origin"] == origin, "label"].value_counts() for origin in ORIGINS),
                          recipe=recipe, classes=classes)
    train_parts = []
    for class_index, label in enumerate(classes):
        members = pool.loc[pool["label"] == label].sort_values(["origin", "dataset", "image_id"])
        rng = np.random.default_rng([seed, class_index])
        flipped = members.iloc[choose_flipped(len(members), int(counts.at[label, "hflips"]), rng)]
        examples = pd.concat([members.assign(hflip=False), flipped.assign(hflip=True)], ignore_index=True)
        train_parts.append(expand_copies(examples, recipe, rng))
    evaluation = real_examples(images.loc[images["split"] != "train"]).assign(hflip=False)
    check_labels(evaluation, classes, "validation/test images")
    parts = [*train_parts, expand_copies(evaluation, Recipe(), np.random.default_rng(seed))]
    manifest = pd.concat([part for part in parts if len(part)], ignore_index=True)
    manifest["example_id"] = (manifest["origin"] + ":" + manifest["dataset"] + ":" + manifest["image_id"] + ":"
                              + np.where(manifest["hflip"], "h", "o") + manifest["copy"].astype(str))
    manifest["seed"] = np.random.default_rng([seed, len(classes)]).integers(0, 2**31 - 1, size=len(manifest))
    duplicated = manifest["example_id"].duplicated()
    if duplicated.any():
        raise SchemaError(f"training manifest: example {manifest.loc[duplicated, 'example_id'].iloc[0]!r} "
                          "appears twice (an image listed twice in an input table?)")
    return manifest[TRAIN_MANIFEST_SCHEMA.names], counts


def expand_copies(examples: pd.DataFrame, recipe: Recipe, rng: np.random.Generator) -> pd.DataFrame:
    """``recipe.factor`` rows per example, each with its vertical flip and crop box."""
    rows = []
    for example in examples.itertuples(index=False):
        for copy, (vflip, box) in enumerate(copy_transforms(recipe.factor, rng, recipe.crop_scale)):
            rows.append({**example._asdict(), "copy": copy, "vflip": vflip, **dict(zip(CROP_COLUMNS, box, strict=True))})
    return pd.DataFrame(rows, columns=[*examples.columns, "copy", "vflip", *CROP_COLUMNS])


def read_synthetic_tables(paths: Iterable[str | os.PathLike], classes: list[str]) -> dict[str, pd.DataFrame]:
    """``results/synthetic/<class>/nearest.parquet`` tables keyed by the class named by their folder."""
    tables = {}
    for path in paths:
        label = Path(path).parent.name
        if label not in classes:
            raise SchemaError(f"{path}: folder names class {label!r}, which is not among {classes}")
        tables[label] = read_columns(path, SYNTHETIC_COLUMNS)
    return tables


def build_variant_manifest(images_path: str, out_path: str, counts_path: str, examples_dir: str,
                           settings: ManifestSettings, variant: str, occlusions_path: str | None = None,
                           synthetic_paths: Iterable[str] = ()) -> None:
    """Workflow entry point: read the inputs, build ``variant``'s manifest, write it and its per-class counts
    after each recipe step (CSV, drawn by :func:`melanoflow.classification.figures.draw_counts`).
    ``examples_dir`` is created in any case (a declared output) and holds the examples with ``materialise``."""
    classes, recipe = list(settings.classes), settings.recipe
    images = read_images_manifest(images_path)
    occlusions = read_columns(occlusions_path, OCCLUSION_COLUMNS) if recipe.purified else None
    synthetic = read_synthetic_tables(synthetic_paths, classes) if recipe.synthetic else None
    manifest, counts = build_training_manifest(images, recipe, classes, settings.seed, occlusions, synthetic)
    log.info("variant %s: %s\n%s", variant, recipe, counts.to_string())
    Path(examples_dir).mkdir(parents=True, exist_ok=True)
    if settings.materialise:
        manifest = materialise(manifest, Path(examples_dir), settings.resize)
    write_table(manifest, out_path, TRAIN_MANIFEST_SCHEMA)
    fileio.write_text(counts_path, counts.rename_axis("class").to_csv())


def materialise(manifest: pd.DataFrame, folder: Path, size: int) -> pd.DataFrame:
    """Write every transformed training example as a PNG (``size`` square) and point its row at it.

    The rows then carry no transform any more (no flips, full frame): the files are the examples.
    """
    import torch  # here, not above: building a manifest without materialising it needs no torch

    from melanoflow.classification.data import apply_manifest_transform

    manifest = manifest.copy()
    train = manifest.index[manifest["split"] == "train"]
    for index in tqdm(train, desc="materialising", mininterval=5):
        row = manifest.loc[index]
        image = apply_manifest_transform(torch.from_numpy(load_resized(row["source_path"], size)).permute(2, 0, 1),
                                         row)
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', row['example_id'])}.png"
        fileio.write_image(path, image.permute(1, 2, 0).numpy())
        manifest.loc[index, "source_path"] = str(path)
    manifest.loc[train, ["hflip", "vflip"]] = False
    manifest.loc[train, CROP_COLUMNS] = FULL_FRAME
    return manifest
