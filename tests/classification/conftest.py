"""Tiny on-disk images and the tables other stages would write, built by the tests themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from melanoflow import fileio

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def write_images(folder, names, size=(48, 36), seed=0):
    """Random RGB PNGs (lossless, so a decode is exact) plus their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        path = folder / f"{name}.png"
        fileio.write_image(path, rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
        paths.append(str(path))
    return paths


@pytest.fixture
def tiny_project(tmp_path):
    """A 3-class images manifest (train 12 / val 6 / test 6), an occlusions table and synthetic tables."""
    rows = []
    for split, per_class in (("train", 4), ("val", 2), ("test", 2)):
        for label in CLASSES:
            for k in range(per_class):
                rows.append({"image_id": f"{split}_{label}_{k}", "dataset": "demo", "split": split, "label": label})
    images = pd.DataFrame(rows)
    images["image_path"] = write_images(tmp_path / "raw", images["image_id"])
    images = images.assign(mask_path=None, lesion_id=None, width=48, height=36, sha256="0", source="test")

    # the purification table lists every image; those ending in _0 are occluded enough to be selected
    occlusions = pd.DataFrame({"image_id": images["image_id"], "dataset": "demo", "split": images["split"],
                               "label": images["label"],
                               "purified_path": write_images(tmp_path / "purified", images["image_id"], seed=1),
                               "occlusion_mask_path": "unused.png", "occluded_fraction": 0.2,
                               "selected": images["image_id"].str.endswith("_0")})
    synthetic = {}
    for label in ("melanoma", "seborrheic_keratosis"):
        ids = [f"gan_{label}_{k}" for k in range(3)]
        synthetic[label] = pd.DataFrame({"synthetic_id": ids,
                                         "synthetic_path": write_images(tmp_path / "gan" / label, ids, seed=2),
                                         "nearest_id": "x", "nearest_split": "train", "mse": 0.1,
                                         "kept": [True, True, False]})
    return {"root": tmp_path, "images": images, "occlusions": occlusions, "synthetic": synthetic}
