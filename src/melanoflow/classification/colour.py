"""Colour constancy for the classifier's inputs (``classification.color_constancy``).

Dermoscopes light the skin with different lamps and cameras; Shades of Gray (Finlayson & Trezzi, 2004)
estimates each image's illuminant from the Minkowski p-norm of each channel and scales the channels so
that it becomes grey. The ISIC 2018 winners applied it with p = 6 to every image. It runs on each whole
decoded image (before the lesion crop and resize), wherever classifier inputs are built, and the setting
is recorded in the classifier's metadata, so that a model is always fed the colours it was trained on.

Free of torch, so that the workflow can validate the setting when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# none: the images as decoded (the paper); shades_of_gray: Shades of Gray with p = 6.
COLOR_CONSTANCY = ("none", "shades_of_gray")
SHADES_OF_GRAY_POWER = 6


def check_color_constancy(method: str) -> str:
    """``method`` if it is one of COLOR_CONSTANCY, else a ValueError naming the key and the value."""
    if method not in COLOR_CONSTANCY:
        raise ValueError(f"classification.color_constancy: {method!r} is not one of {COLOR_CONSTANCY}")
    return method


def shades_of_gray(rgb: np.ndarray, power: int = SHADES_OF_GRAY_POWER) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with its illuminant made grey: each channel's illuminant estimate
    e_c = mean(I_c ** power) ** (1 / power), computed in float32, and the channel scaled by mean(e) / e_c,
    rounded and clipped to 0..255. An all-black image (no illuminant to estimate) is returned as it is,
    and so is an all-black channel.

    Both steps go through the 256 levels of a uint8 channel (its histogram, then a lookup table), so a
    30 MP image costs no float copy of itself.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"shades of gray needs an (H, W, 3) uint8 image, got {rgb.dtype}{rgb.shape}")
    levels = np.arange(256, dtype=np.float32)
    counts = np.stack([np.bincount(rgb[..., channel].ravel(), minlength=256) for channel in range(3)])
    sums = (counts.astype(np.float32) * levels**power).sum(axis=1, dtype=np.float32)
    illuminant = (sums / np.float32(counts[0].sum())) ** np.float32(1 / power)
    if not illuminant.any():
        return rgb
    gains = np.divide(illuminant.mean(), illuminant, out=np.ones(3, np.float32), where=illuminant > 0)
    # (3, 256): each channel's level -> its corrected level
    tables = np.rint(np.clip(levels * gains[:, None], 0, 255)).astype(np.uint8)
    corrected = np.empty_like(rgb)
    for channel in range(3):
        corrected[..., channel] = tables[channel][rgb[..., channel]]
    return corrected


def correct_colours(rgb: np.ndarray, method: str) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with the colour constancy ``method`` (COLOR_CONSTANCY) applied."""
    return rgb if check_color_constancy(method) == "none" else shades_of_gray(rgb)


def classifier_color_constancy(meta: Mapping) -> str:
    """The colour constancy a classifier was trained with, from its metadata (none when it does not say:
    checkpoints from before the setting existed)."""
    return check_color_constancy(meta.get("color_constancy") or "none")
