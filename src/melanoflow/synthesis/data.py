"""Images in the GAN's preprocessing: shorter side resized to the resolution, centre crop, uint8.

The same preprocessing feeds GAN training and the MSE deduplication, so a generated image is compared
with real images exactly as the GAN saw them (the paper's [0, 1] pixel range comes from dividing by 255).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.tables import read_columns, read_images_manifest

log = logging.getLogger(__name__)

def resize_center_crop(image: np.ndarray, resolution: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (resolution, resolution, 3): shorter side to ``resolution``, centre crop."""
    height, width = image.shape[:2]
    scale = resolution / min(height, width)
    new_w, new_h = max(resolution, round(width * scale)), max(resolution, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - resolution) // 2, (new_w - resolution) // 2
    return resized[top : top + resolution, left : left + resolution]


def load_image(path: str, resolution: int) -> np.ndarray:
    return resize_center_crop(fileio.read_image(path), resolution)


def load_images(paths: Sequence[str], resolution: int, threads: int = 1, desc: str = "images") -> torch.Tensor:
    """Preprocessed images as a uint8 tensor (N, 3, resolution, resolution); decoding runs in threads."""
    out = torch.empty((len(paths), 3, resolution, resolution), dtype=torch.uint8)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        images = pool.map(lambda p: load_image(p, resolution), paths)
        for index, image in enumerate(tqdm(images, total=len(paths), desc=desc, mininterval=5)):
            out[index] = torch.from_numpy(image).permute(2, 0, 1)
    return out


def real_images(manifest_path: str, purified_path: str | None = None) -> pd.DataFrame:
    """Every real image (id, dataset, split, label, path): the manifest's, with purified training images
    substituted in where the purification table has them."""
    rows = read_images_manifest(manifest_path)[["image_id", "dataset", "split", "label", "image_path"]]
    rows = rows.rename(columns={"image_path": "path"})
    if purified_path:
        purified = read_columns(purified_path, ["image_id", "dataset", "purified_path"])
        rows = rows.merge(purified, on=["image_id", "dataset"], how="left")
        use = rows["purified_path"].notna() & (rows["split"] == "train")
        rows.loc[use, "path"] = rows.loc[use, "purified_path"]
        rows = rows.drop(columns="purified_path")
        log.info("using %d purified training images from %s", int(use.sum()), purified_path)
    return rows.reset_index(drop=True)


def training_rows(rows: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Training-split rows of ``classes`` only: the GAN never sees a validation or test image."""
    selected = rows.loc[(rows["split"] == "train") & rows["label"].isin(classes)].reset_index(drop=True)
    for name in classes:
        count = int((selected["label"] == name).sum())
        if count < 2:  # the diversity measure and batch norm need two images at least
            raise fileio.BadInputError(f"class {name!r} has {count} training images in the manifest; a GAN needs 2 or more")
    return selected
