"""Tiny lesion images with known masks, and a manifest over them, built by the tests themselves."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from melanoflow.fileio import write_image
from melanoflow.segmentation.settings import TRAINING_JOB_KEYS, TrainSettings

# A tiny spec keeps every training test to a second or two: the smallest valid input and ~1/32 width.
TINY = {"input_size": 228, "width": 0.03}


def lesion_case(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pinkish skin with one dark ellipse: (RGB image, boolean mask)."""
    mask = np.zeros((height, width), np.uint8)
    centre = (int(rng.integers(width // 3, 2 * width // 3)), int(rng.integers(height // 3, 2 * height // 3)))
    axes = (int(rng.integers(width // 8, width // 4)), int(rng.integers(height // 8, height // 4)))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (205, 160, 150)
    image[mask.astype(bool)] = (90, 55, 35)
    noise = rng.integers(-12, 13, size=image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8), mask.astype(bool)


@pytest.fixture
def lesion_manifest(tmp_path) -> pd.DataFrame:
    """Eight train, three val and three test images of varied sizes; one train image lacks a mask."""
    rng = np.random.default_rng(0)
    rows = []
    for split, count in (("train", 8), ("val", 3), ("test", 3)):
        for index in range(count):
            image_id = f"ISIC_{len(rows):07d}"
            width, height = int(rng.integers(60, 90)), int(rng.integers(45, 70))
            image, mask = lesion_case(rng, width, height)
            image_path, mask_path = tmp_path / "images" / f"{image_id}.jpg", tmp_path / "truth" / f"{image_id}_segmentation.png"
            write_image(image_path, image)
            write_image(mask_path, mask.astype(np.uint8) * 255)
            has_mask = not (split == "train" and index == 0)
            rows.append({
                "image_id": image_id, "dataset": "toy", "split": split, "label": "nevus",
                "image_path": str(image_path), "mask_path": str(mask_path) if has_mask else None, "lesion_id": None,
                "width": width, "height": height, "sha256": "0" * 64, "source": "test",
            })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def tiny_params() -> dict:
    return {
        "seed": 7, "device": "cpu", **TINY, "epochs": 2, "batch_size": 4, "learning_rate": 1e-3,
        "betas": [0.9, 0.999], "loss": "bce", "schedule": "constant", "augment": {"flip": True, "rotation_degrees": 30, "scale": [0.7, 1.0], "cloth": 0.0, "stickers": 0.0, "ink_rings": 0.0},
        "mixed_precision": False, "threshold": 0.5, "largest_component": True, "predict_batch_size": 4,
        "tta": False,
    }  # fmt: skip


@pytest.fixture
def tiny_settings(tiny_params) -> TrainSettings:
    """The training settings of ``tiny_params``, built as the training job builds them."""
    return TrainSettings.from_config({key: tiny_params[key] for key in TRAINING_JOB_KEYS}, seed=tiny_params["seed"])
