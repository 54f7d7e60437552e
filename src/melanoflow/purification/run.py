"""Purify one shard of the manifest: every image (all splits), its purified copy and occlusion mask.

Each image is purified whatever its split, so that the classifier can read purified test images when
test-time purification is configured (the paper's Table 6); ``selected`` marks the images whose
occluded fraction is over the configured threshold, the ones whose copies join the training set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow.fileio import BadInputError, read_image, read_mask, write_image
from melanoflow.purification.base import Purification
from melanoflow.purification.classic import purify_classic
from melanoflow.purification.dullrazor import purify_dullrazor
from melanoflow.purification.paper import purify_paper
from melanoflow.purification.settings import PurifierSettings
from melanoflow.tables import (
    OCCLUSIONS_SCHEMA,
    read_columns,
    read_images_manifest,
    select_shard,
    write_table,
)

log = logging.getLogger(__name__)

LESION_MASK_COLUMNS = ["image_id", "dataset", "mask_path"]

Purifier = Callable[[np.ndarray, np.ndarray | None], Purification]


def make_purifier(settings: PurifierSettings, network_path: str | os.PathLike | None = None,
                  device: str | None = None) -> Purifier:
    """The configured method as a function (RGB image, lesion mask) -> Purification; the network method
    loads the trained network at ``network_path`` onto ``device`` (cpu, cuda or auto)."""
    if settings.method == "paper":
        return lambda rgb, lesion: purify_paper(rgb, lesion, settings.paper)
    if settings.method == "improved":
        return lambda rgb, lesion: purify_classic(rgb, lesion, settings.improved)
    if settings.method == "dullrazor":
        return lambda rgb, lesion: purify_dullrazor(rgb, lesion, settings.dullrazor)
    from melanoflow.purification.network import NetworkPurifier

    if network_path is None or device is None:
        raise ValueError("purification.method is 'network' but no trained network or device was given")
    # the network fills the mask that the improved method's detector finds
    return NetworkPurifier.load(network_path, settings.improved, device)


def output_paths(out_dir: str | os.PathLike, dataset: str, image_id: str) -> tuple[Path, Path]:
    folder = Path(out_dir) / dataset
    return folder / f"{image_id}.png", folder / f"{image_id}_occlusion.png"


def with_lesion_masks(manifest: pd.DataFrame, masks: pd.DataFrame, masks_name: str) -> pd.DataFrame:
    """Manifest rows with their predicted lesion mask as ``lesion_mask_path``; every image must have one."""
    joined = manifest.merge(masks.rename(columns={"mask_path": "lesion_mask_path"}), on=["dataset", "image_id"],
                            how="left", validate="one_to_one")
    absent = joined.loc[joined["lesion_mask_path"].isna(), "image_id"]
    if len(absent):
        raise BadInputError(f"{masks_name}: no lesion mask for {len(absent)} images, e.g. {list(absent[:5])}")
    return joined


def read_lesion(path: str, shape: tuple[int, int]) -> np.ndarray:
    lesion = read_mask(path)
    if lesion.shape != shape:
        raise BadInputError(f"{path}: lesion mask is {lesion.shape[1]}x{lesion.shape[0]}, "
                            f"its image is {shape[1]}x{shape[0]}")
    return lesion


def purify_rows(rows: pd.DataFrame, purifier: Purifier, out_dir: str | os.PathLike,
                select_threshold: float) -> pd.DataFrame:
    """Purify and write every row's image; return their OCCLUSIONS_SCHEMA table."""
    records = []
    for row in tqdm(rows.itertuples(), total=len(rows), desc="purifying", mininterval=5):
        image = read_image(row.image_path)
        result = purifier(image, read_lesion(row.lesion_mask_path, image.shape[:2]))
        purified_path, occlusion_path = output_paths(out_dir, row.dataset, row.image_id)
        write_image(purified_path, result.image)
        write_image(occlusion_path, result.occlusion.astype(np.uint8) * 255)
        records.append({
            "image_id": row.image_id, "dataset": row.dataset, "split": row.split, "label": row.label,
            "purified_path": str(purified_path), "occlusion_mask_path": str(occlusion_path),
            "occluded_fraction": result.occluded_fraction,
            "selected": result.occluded_fraction > select_threshold,
        })
    return pd.DataFrame(records, columns=OCCLUSIONS_SCHEMA.names)


def purify_shard(manifest_path: str | os.PathLike, masks_path: str | os.PathLike, shard: int, n_shards: int,
                 purifier: PurifierSettings, select_threshold: float, out_dir: str | os.PathLike,
                 table_path: str | os.PathLike, network_path: str | os.PathLike | None = None,
                 device: str | None = None) -> pd.DataFrame:
    """Purify the images of one shard of the manifest with the configured method (make_purifier); an image
    is selected when its occluded fraction is over ``select_threshold``."""
    cv2.setNumThreads(1)  # one job per core: shards run in parallel, OpenCV's own threads would oversubscribe
    manifest = read_images_manifest(manifest_path)
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # the declared folder, also for an empty shard
    rows = with_lesion_masks(select_shard(manifest, shard, n_shards), read_columns(masks_path, LESION_MASK_COLUMNS),
                             str(masks_path))
    log.info("shard %d/%d: %d images, method %s", shard, n_shards, len(rows), purifier.method)
    table = purify_rows(rows, make_purifier(purifier, network_path, device), out_dir, select_threshold)
    log.info("shard %d: %d of %d images selected (occluded fraction > %s)", shard, int(table["selected"].sum()),
             len(table), select_threshold)
    write_table(table, table_path, OCCLUSIONS_SCHEMA)
    return table
