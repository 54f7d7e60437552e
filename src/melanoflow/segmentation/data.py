"""Manifest rows -> the segmenter's 7-channel inputs (RGB, HSV, luminance) and lesion targets.

Images are decoded and resized once (training reads each image many times); joint image + mask
augmentation runs on the cached tensors with torchvision transforms v2, and the colour channels are
derived after augmentation so that HSV and luminance always describe the pixels the network sees.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from tqdm import tqdm

from melanoflow.fileio import BadInputError, read_image, read_mask

log = logging.getLogger(__name__)

# Each channel is scaled to [0, 1] by its range, then normalised to mean 0.5, std 0.5 (the paper's rule).
HUE_RANGE = 360.0  # OpenCV float HSV: H in [0, 360), S and V in [0, 1]
LIGHTNESS_RANGE = 100.0  # OpenCV float Lab: L* in [0, 100]


def network_input(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (7, H, W) float32: R, G, B, H, S, V, L*, each mapped to [-1, 1]."""
    unit = np.ascontiguousarray(rgb, dtype=np.float32) / 255.0
    hsv = cv2.cvtColor(unit, cv2.COLOR_RGB2HSV)
    hsv[..., 0] /= HUE_RANGE
    lightness = cv2.cvtColor(unit, cv2.COLOR_RGB2Lab)[..., :1] / LIGHTNESS_RANGE
    channels = np.concatenate([unit, hsv, lightness], axis=2)
    return (torch.from_numpy(channels).permute(2, 0, 1) - 0.5) / 0.5


def resize_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """Square network-size copy of an image (area averaging when shrinking, as for ISIC's large originals)."""
    shrinking = rgb.shape[0] * rgb.shape[1] > size * size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def load_pair(row, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An image and its ground-truth mask, checked to match, both resized to ``size`` x ``size``."""
    image = read_image(row.image_path)
    mask = read_mask(row.mask_path)
    if mask.shape != image.shape[:2]:
        raise BadInputError(f"{row.mask_path}: mask is {mask.shape[::-1]}, its image {row.image_path} is {image.shape[1::-1]}")
    small_mask = cv2.resize(mask.astype(np.uint8) * 255, (size, size), interpolation=cv2.INTER_AREA) > 127
    return resize_image(image, size), small_mask


def joint_augmentation(size: int, augment: dict) -> v2.Compose:
    """Flips, rotations and scale/crop applied identically to an image and its mask."""
    steps = [v2.RandomResizedCrop(size, scale=tuple(augment["scale"]), ratio=(0.75, 4 / 3), antialias=True)]
    if augment["flip"]:
        steps += [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    if augment["rotation_degrees"]:
        steps.append(v2.RandomRotation(augment["rotation_degrees"]))
    return v2.Compose(steps)


class LesionDataset(Dataset):
    """Manifest rows with ground-truth masks -> (7 x S x S input, 1 x S x S target) pairs."""

    def __init__(self, rows: pd.DataFrame, size: int, augment: dict | None = None, desc: str = "images"):
        missing = rows.loc[rows["mask_path"].isna(), "image_id"].tolist()
        if missing:
            raise ValueError(f"{len(missing)} rows have no ground-truth mask, e.g. {missing[:3]}")
        if rows.empty:
            raise ValueError(f"no {desc} with ground-truth masks to train or validate on")
        pairs = [load_pair(row, size) for row in tqdm(rows.itertuples(), total=len(rows), desc=f"loading {desc}")]
        self.images = [tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)) for image, _ in pairs]
        self.masks = [tv_tensors.Mask(torch.from_numpy(mask.astype(np.uint8))[None]) for _, mask in pairs]
        self.transform = joint_augmentation(size, augment) if augment else None
        log.info("loaded %d %s at %dx%d", len(pairs), desc, size, size)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.images[index], self.masks[index]
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return network_input(image.permute(1, 2, 0).numpy()), mask.float()
