"""The paper's training-set recipe (Section 3.3.2 and Figure 7) as arithmetic and transform choices.

The proposed training set is built in three steps, per class:

1. the pool: real training images + purified copies of the occluded ones + kept synthetic images
   (paper: melanoma 919 + 147 + 350 = 1416, nevus 2518 + 470 + 0 = 2988, SK 545 + 182 + 750 = 1477);
2. horizontal flips bring the scarce classes up to a target (paper: 2685 melanoma, 2772 SK; nevus none);
3. vertical flips and random crops multiply the whole set by a factor (paper: 6), giving
   16110 / 17928 / 16632.

Where the paper's text leaves a choice open, the choice made here is written next to the code that makes
it (search for "Paper leaves open").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FULL_FRAME = (0.0, 0.0, 1.0, 1.0)  # crop box (x0, y0, x1, y1) as fractions of the image: no crop
ORIGINS = ("real", "purified", "synthetic")


@dataclass(frozen=True)
class Recipe:
    """One training-set variant: which ingredients it uses and how it is augmented."""

    purified: bool = False
    synthetic: bool = False
    flip_targets: Mapping[str, int] = field(default_factory=dict)
    factor: int = 1
    crop_scale: tuple[float, float] = (0.8, 1.0)

    def __post_init__(self):
        if self.factor < 1:
            raise ValueError(f"augmentation factor must be >= 1, got {self.factor}")
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")

    @classmethod
    def from_config(cls, variant: Mapping, crop_scale) -> Recipe:
        return cls(
            purified=bool(variant["purified"]),
            synthetic=bool(variant["synthetic"]),
            flip_targets=dict(variant.get("flip_targets") or {}),
            factor=int(variant["factor"]),
            crop_scale=tuple(crop_scale),
        )


def flips_needed(pool: int, target: int | None, label: str = "") -> int:
    """Number of horizontally flipped copies that bring a class of ``pool`` examples up to ``target``.

    Paper leaves open: what happens when a target is below the pool or above twice the pool. Choice: a
    target below the pool adds nothing (nothing is dropped); every example is flipped at most once (a
    second flip would be a duplicate), so a target above twice the pool is capped there with a warning.
    """
    if target is None or target <= pool:
        return 0
    if target > 2 * pool:
        log.warning("flip target %d for %s exceeds twice its %d examples; capped at %d", target, label, pool,
                    2 * pool)
        return pool
    return target - pool


def stage_counts(real: Mapping[str, int], purified: Mapping[str, int], synthetic: Mapping[str, int],
                 recipe: Recipe, classes: list[str]) -> pd.DataFrame:
    """Per-class example counts after each step of the recipe (the numbers behind the paper's Figure 7)."""
    rows = []
    for label in classes:
        n_real = int(real.get(label, 0))
        n_purified = int(purified.get(label, 0)) if recipe.purified else 0
        n_synthetic = int(synthetic.get(label, 0)) if recipe.synthetic else 0
        pool = n_real + n_purified + n_synthetic
        flips = flips_needed(pool, recipe.flip_targets.get(label), label)
        rows.append({"label": label, "real": n_real, "purified": n_purified, "synthetic": n_synthetic,
                     "pool": pool, "hflips": flips, "after_hflip": pool + flips,
                     "final": (pool + flips) * recipe.factor})
    return pd.DataFrame(rows).set_index("label")


def choose_flipped(pool: int, flips: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of the pool examples that get a horizontally flipped copy.

    Paper leaves open: which images are flipped. Choice: a uniform sample without replacement over the
    whole class pool (real, purified and synthetic alike), so each origin keeps its share.
    """
    return np.sort(rng.choice(pool, size=flips, replace=False))


def copy_transforms(factor: int, rng: np.random.Generator, crop_scale: tuple[float, float]
                    ) -> list[tuple[bool, tuple[float, float, float, float]]]:
    """(vertical flip, crop box) for each of the ``factor`` copies of one example.

    Paper leaves open: how "vertical flipping and random cropping" make six copies. Choice: copy 0 is the
    example itself, copy 1 its vertical flip, and every further copy a random square-relative crop (side
    fractions drawn from ``crop_scale``, position uniform) that is vertically flipped on odd copies. The
    crop box is stored as fractions of the image, so it does not depend on the image's resolution.
    """
    low, high = crop_scale
    transforms = []
    for copy in range(factor):
        box = FULL_FRAME
        if copy >= 2:
            side = rng.uniform(low, high)
            x0, y0 = rng.uniform(0.0, 1.0 - side, size=2)
            box = (float(x0), float(y0), float(x0 + side), float(y0 + side))
        transforms.append((copy % 2 == 1, box))
    return transforms
