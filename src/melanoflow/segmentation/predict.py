"""Batched lesion-mask inference over one shard of the manifest.

Every image gets a mask (all splits, all datasets, with or without ground truth), because purification
and classification need one for each. The network's probabilities are resized back to the image's own
size, thresholded, hole-filled (the paper's post-processing) and optionally cut to the largest
component, then written as 8-bit 0/255 PNGs under ISIC's naming, ``<image_id>_segmentation.png``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from tqdm import tqdm

from melanoflow.fileio import read_image, write_image
from melanoflow.runtime import TTA_FLIPS, autocast, flipped, load_checkpoint, select_device
from melanoflow.segmentation.data import network_input, resize_image
from melanoflow.segmentation.model import DilatedUNet, SegmenterSpec
from melanoflow.segmentation.settings import PredictSettings
from melanoflow.tables import MASKS_SCHEMA, read_images_manifest, select_shard, write_table

log = logging.getLogger(__name__)



def load_segmenter(path: str | os.PathLike, device: torch.device) -> DilatedUNet:
    """Rebuild a trained segmenter from the file ``fit`` writes (its spec and weights)."""
    saved = load_checkpoint(path)
    model = DilatedUNet(SegmenterSpec(**saved["spec"]))
    model.load_state_dict(saved["model"])
    return model.to(device).eval()


def postprocess(probability: np.ndarray, threshold: float, largest_component: bool) -> np.ndarray:
    """Probability map -> boolean lesion mask: threshold, fill holes, optionally keep the largest blob."""
    mask = ndimage.binary_fill_holes(probability > threshold)
    if largest_component and mask.any():
        labels, _ = ndimage.label(mask)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0  # background
        mask = labels == sizes.argmax()
    return mask


def mask_path(masks_dir: str | os.PathLike, dataset: str, image_id: str) -> Path:
    return Path(masks_dir) / dataset / f"{image_id}_segmentation.png"


def predict_probabilities(model: DilatedUNet, images: list[np.ndarray], device: torch.device,
                          mixed_precision: bool, tta: bool = False) -> list[np.ndarray]:  # fmt: skip
    """Lesion probabilities for RGB images of any size, each returned at its own size; with ``tta``, the
    mean of the network's maps over the four flips of each image (each map flipped back)."""
    size = model.spec.input_size
    batch = torch.stack([network_input(resize_image(image, size)) for image in images])
    batch = batch.to(device).contiguous(memory_format=torch.channels_last)
    flips = TTA_FLIPS if tta else ((),)
    with autocast(device, enabled=mixed_precision):
        maps = [flipped(model.predict_proba(flipped(batch, dims)), dims) for dims in flips]
    probabilities = torch.stack(maps).mean(0)[:, 0].cpu().numpy()
    return [
        cv2.resize(probability, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        for probability, image in zip(probabilities, images, strict=True)
    ]


def lesion_masks(model: DilatedUNet, images: list[np.ndarray], device: torch.device,
                 settings: PredictSettings) -> list[np.ndarray]:  # fmt: skip
    """Post-processed boolean lesion masks of one batch of RGB images, each at its image's size."""
    probabilities = predict_probabilities(model, images, device, settings.mixed_precision, settings.tta)
    return [postprocess(probability, settings.threshold, settings.largest_component) for probability in probabilities]


def predict_masks(rows: pd.DataFrame, model: DilatedUNet, settings: PredictSettings, masks_dir: str | os.PathLike,
                  device: torch.device) -> pd.DataFrame:  # fmt: skip
    """Write a mask for every row; return their MASKS_SCHEMA table."""
    records = []
    batch_size = settings.predict_batch_size
    with tqdm(total=len(rows), desc="predicting masks") as progress:
        for start in range(0, len(rows), batch_size):
            chunk = rows.iloc[start : start + batch_size]
            images = [read_image(path) for path in chunk["image_path"]]
            for row, mask in zip(chunk.itertuples(), lesion_masks(model, images, device, settings), strict=True):
                path = mask_path(masks_dir, row.dataset, row.image_id)
                write_image(path, mask.astype(np.uint8) * 255)
                records.append({"image_id": row.image_id, "dataset": row.dataset, "split": row.split,
                                "mask_path": str(path), "lesion_fraction": float(mask.mean())})  # fmt: skip
            progress.update(len(chunk))
    return pd.DataFrame(records, columns=MASKS_SCHEMA.names)


def predict_shard(manifest_path: str | os.PathLike, model_path: str | os.PathLike, shard: int, n_shards: int,
                  settings: PredictSettings, device_name: str, masks_dir: str | os.PathLike,
                  table_path: str | os.PathLike, threads: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Segment the images of one shard of the manifest on ``device_name`` (cpu, cuda or auto)."""
    if threads:
        torch.set_num_threads(threads)
    device = select_device(device_name)
    rows = select_shard(read_images_manifest(manifest_path), shard, n_shards)
    Path(masks_dir).mkdir(parents=True, exist_ok=True)  # the declared folder, also for an empty shard
    log.info("shard %d/%d: %d images on %s", shard, n_shards, len(rows), device)
    model = load_segmenter(model_path, device).to(memory_format=torch.channels_last)
    table = predict_masks(rows, model, settings, masks_dir, device)
    write_table(table, table_path, MASKS_SCHEMA)
    return table
