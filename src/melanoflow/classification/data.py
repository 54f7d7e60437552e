"""Manifest rows -> tensors: each row's transform and the online augmentation, applied on uint8 tensors.

Training examples get, in order: the manifest's crop box (resized back to the cache size), its
horizontal / vertical flips, then the reference code's online augmentation: a random ``input_size``
crop and a random vertical flip, then what ``classification.augment`` adds (right-angle rotations, a
random-scale crop instead of the fixed one, colour jitter). Every draw comes from a generator seeded by
the row's seed and the epoch (so an epoch's augmentation does not depend on batch order, worker count, or
whether the run was resumed). Validation and test rows get a centre crop only. Normalisation happens per
batch on the device.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as F

from melanoflow.classification.cache import ImageCache
from melanoflow.classification.settings import OnlineAugmentation

# The reference code's online augmentation alone: a fixed-size random crop and a random vertical flip.
REFERENCE_AUGMENTATION = OnlineAugmentation(right_angles=False, scale=None, colour_jitter=0.0, hue_jitter=0.0)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def apply_manifest_transform(image: torch.Tensor, row) -> torch.Tensor:
    """Crop box (fractions) resized back to the image's size, then the row's flips; ``image`` is (3, S, S)."""
    height, width = image.shape[-2:]
    x0, y0, x1, y1 = row.crop_x0, row.crop_y0, row.crop_x1, row.crop_y1
    if (x0, y0, x1, y1) != (0.0, 0.0, 1.0, 1.0):
        top, left = round(y0 * height), round(x0 * width)
        image = F.resized_crop(image, top, left, max(1, round((y1 - y0) * height)), max(1, round((x1 - x0) * width)),
                               [height, width], antialias=True)
    if row.hflip:
        image = F.horizontal_flip(image)
    if row.vflip:
        image = F.vertical_flip(image)
    return image


def random_crop(image: torch.Tensor, input_size: int, scale: tuple[float, float] | None,
                rng: np.random.Generator) -> torch.Tensor:
    """A random ``input_size`` square of ``image`` (3, S, S); with ``scale``, a random square of an area
    fraction drawn from that range, resized to ``input_size``."""
    size = image.shape[-1]
    side = input_size if scale is None else int(np.clip(round(size * np.sqrt(rng.uniform(*scale))), 1, size))
    top, left = rng.integers(0, size - side + 1, size=2)
    image = F.crop(image, int(top), int(left), side, side)
    return image if side == input_size else F.resize(image, [input_size, input_size], antialias=True)


def jitter_colours(image: torch.Tensor, augment: OnlineAugmentation, rng: np.random.Generator) -> torch.Tensor:
    """Brightness, contrast and saturation scaled by factors from [1 - j, 1 + j], then the hue shifted."""
    if augment.colour_jitter:
        low, high = 1 - augment.colour_jitter, 1 + augment.colour_jitter
        image = F.adjust_brightness(image, float(rng.uniform(low, high)))
        image = F.adjust_contrast(image, float(rng.uniform(low, high)))
        image = F.adjust_saturation(image, float(rng.uniform(low, high)))
    if augment.hue_jitter:
        image = F.adjust_hue(image, float(rng.uniform(-augment.hue_jitter, augment.hue_jitter)))
    return image


class ManifestImages(Dataset):
    """(uint8 image (3, input_size, input_size), class index) for each manifest row, from the cache."""

    def __init__(self, rows: pd.DataFrame, cache: ImageCache, classes: list[str], input_size: int, train: bool,
                 augment: OnlineAugmentation = REFERENCE_AUGMENTATION):
        if input_size > cache.size:
            raise ValueError(f"input size {input_size} is larger than the cached images ({cache.size})")
        self.rows = rows.reset_index(drop=True)
        self.cache = cache
        self.slots = cache.slots_of(self.rows["source_path"].tolist())
        self.targets = self.rows["label"].map({label: index for index, label in enumerate(classes)}).to_numpy()
        self.input_size = input_size
        self.train = train
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.rows.iloc[index]
        image = torch.from_numpy(np.array(self.cache.pixels[self.slots[index]])).permute(2, 0, 1)
        image = apply_manifest_transform(image, row)
        if self.train:
            rng = np.random.default_rng([int(row.seed), self.epoch])
            image = random_crop(image, self.input_size, self.augment.scale, rng)
            if rng.random() < 0.5:
                image = F.vertical_flip(image)
            if self.augment.right_angles:
                image = torch.rot90(image, int(rng.integers(4)), dims=(-2, -1))
            image = jitter_colours(image, self.augment, rng)
        else:
            image = F.center_crop(image, [self.input_size, self.input_size])
        return image.contiguous(), int(self.targets[index])


def epoch_order(n: int, seed: int, epoch: int, size: int | None = None, targets: np.ndarray | None = None
                ) -> list[int]:
    """The example order of one epoch: a function of the seed and the epoch only.

    By default every example once, shuffled. ``size`` examples instead: whole shuffled passes, the last
    one cut short. With ``targets``, classes are drawn equally often (examples drawn with replacement,
    each with weight 1 / its class's count).
    """
    rng = np.random.default_rng([seed, epoch, n])
    size = n if size is None else size
    if targets is not None:
        counts = np.bincount(targets)
        weights = 1.0 / counts[targets]
        return rng.choice(n, size=size, replace=True, p=weights / weights.sum()).tolist()
    passes = [rng.permutation(n) for _ in range(-(-size // n))]
    return np.concatenate(passes)[:size].tolist()


def make_loader(dataset: ManifestImages, batch_size: int, order: list[int] | None = None, workers: int = 0
                ) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=workers,
                      pin_memory=torch.cuda.is_available())


def to_model_input(images: torch.Tensor, device: torch.device, mean=IMAGENET_MEAN, std=IMAGENET_STD
                   ) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> normalised float on ``device``, channels_last."""
    images = images.to(device, non_blocking=True).float().div_(255)
    images = F.normalize(images, list(mean), list(std))
    return images.contiguous(memory_format=torch.channels_last)
