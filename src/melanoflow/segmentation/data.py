"""Manifest rows -> the segmenter's 7-channel inputs (RGB, HSV, luminance) and lesion targets.

Images are decoded and resized once (training reads each image many times); joint image + mask
augmentation runs on the cached tensors with torchvision transforms v2, and the colour channels are
derived after augmentation so that HSV and luminance always describe the pixels the network sees.
Optionally, pasted cloth, stickers and drawn ink rings teach the network what is not lesion.
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

# Colours picked by eye from the stickers and skin-marker ink in ISIC 2017 images (orange, pale blue, magenta,
# green, violet), and from the violet pen that rings lesions there.
STICKER_COLOURS = ((240, 140, 30), (110, 200, 210), (230, 40, 160), (60, 160, 80), (120, 60, 150))
INK_RING_COLOUR = (110, 50, 120)
STICKER_RADIUS = (0.12, 0.30)  # fraction of the image side
# The ring's axes: the ellipse through the corners of the lesion's bounding box, enlarged by this factor.
INK_RING_MARGIN = (1.0, 1.6)
INK_RING_THICKNESS = (2, 6)  # pixels, the upper bound excluded
# Cloth covers the image beyond a straight edge: this fraction of its area, in a sticker colour with a weave.
CLOTH_AREA = (0.10, 0.35)
CLOTH_WEAVE = 12  # standard deviation of the per-pixel colour noise, in 8-bit levels


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


def uniform(low: float, high: float, count: int = 1) -> np.ndarray:
    """Uniform draws from torch's global generator, which training seeds and checkpoints with every epoch."""
    return (low + (high - low) * torch.rand(count, dtype=torch.float64)).numpy()


def beyond_random_edge(side: int, area: float) -> np.ndarray:
    """A ``side`` x ``side`` boolean mask of the pixels beyond a straight edge at a random angle, placed so that
    they make up ``area`` of the image."""
    angle = uniform(0, 2 * np.pi)[0]
    rows, columns = np.mgrid[:side, :side]
    reach = columns * np.cos(angle) + rows * np.sin(angle)
    return reach > np.quantile(reach, 1 - area)


def paste_distractors(rgb: np.ndarray, mask: np.ndarray, *, cloth: float, stickers: float,
                      ink_rings: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Occluders the segmenter must learn to leave out of the lesion, pasted after the joint augmentation.

    With probability ``cloth`` a coloured cloth over the image beyond a random straight edge (lesions beside
    drapes or under gel pads were segmented as the whole skin region such an edge bounds); with probability
    ``stickers`` a filled disc in a sticker colour, anywhere. The pixels of both are never lesion (the mask is
    cleared under them). With probability ``ink_rings`` a violet ellipse outline round the lesion, as drawn in
    clinics (somewhat larger than the ellipse through its bounding box's corners), with the mask unchanged.
    A probability of 0 draws nothing from the generator.
    Returns new arrays; the inputs are not changed.
    """
    rgb, mask = rgb.copy(), mask.copy()
    side = rgb.shape[0]
    if cloth and torch.rand(1).item() < cloth:
        covered = beyond_random_edge(side, uniform(*CLOTH_AREA)[0])
        colour = np.array(STICKER_COLOURS[int(torch.randint(len(STICKER_COLOURS), (1,)))], np.float64)
        weave = CLOTH_WEAVE * torch.randn(int(covered.sum()), 3, dtype=torch.float64).numpy()
        rgb[covered] = np.clip(np.round(colour + weave), 0, 255).astype(np.uint8)
        mask[covered] = 0
    if stickers and torch.rand(1).item() < stickers:
        centre = tuple(int(value) for value in uniform(0, side, 2))
        radius = int(uniform(*STICKER_RADIUS)[0] * side)
        colour = STICKER_COLOURS[int(torch.randint(len(STICKER_COLOURS), (1,)))]
        cv2.circle(rgb, centre, radius, colour, thickness=-1)
        cv2.circle(mask, centre, radius, 0, thickness=-1)
    if ink_rings and torch.rand(1).item() < ink_rings:
        rows, columns = np.nonzero(mask)
        if len(rows):
            centre = np.array([columns.mean(), rows.mean()])
            half_box = np.array([np.ptp(columns), np.ptp(rows)]) / 2 + 1
        else:  # no lesion in view: round the central quarter of the image
            centre, half_box = np.full(2, side / 2), np.full(2, side / 8)
        axes = half_box * np.sqrt(2) * uniform(*INK_RING_MARGIN, 2)
        thickness = int(torch.randint(*INK_RING_THICKNESS, (1,)))
        cv2.ellipse(rgb, tuple(int(value) for value in centre), tuple(int(value) for value in axes), 0, 0, 360,
                    INK_RING_COLOUR, thickness)
    return rgb, mask


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
        self.occluders = {name: augment[name] if augment else 0.0 for name in ("cloth", "stickers", "ink_rings")}
        log.info("loaded %d %s at %dx%d", len(pairs), desc, size, size)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.images[index], self.masks[index]
        if self.transform is None:
            return network_input(image.permute(1, 2, 0).numpy()), mask.float()
        image, mask = self.transform(image, mask)
        rgb, target = image.permute(1, 2, 0).numpy(), mask[0].numpy()
        if any(self.occluders.values()):
            rgb, target = paste_distractors(rgb, target, **self.occluders)
        return network_input(rgb), torch.from_numpy(np.ascontiguousarray(target))[None].float()
