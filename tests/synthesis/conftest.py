"""Tiny manifests with real image files and tiny GAN settings for the synthesis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from melanoflow import fileio
from melanoflow.synthesis.settings import GanSettings
from melanoflow.tables import write_images_manifest

SPLIT_COUNTS = {"train": 6, "val": 2, "test": 2}


@pytest.fixture
def tiny_manifest(tmp_path):
    """Images of two classes in every split (48x64 PNGs, a colour per class plus noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for label, colour in (("melanoma", (120, 60, 40)), ("nevus", (180, 140, 120))):
        for split, count in SPLIT_COUNTS.items():
            for index in range(count):
                image_id = f"{label}_{split}_{index}"
                image = np.clip(np.array(colour) + rng.normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
                path = tmp_path / "images" / f"{image_id}.png"
                fileio.write_image(path, image)
                rows.append({"image_id": image_id, "dataset": "demo", "split": split, "label": label,
                             "image_path": str(path), "mask_path": None, "lesion_id": None, "width": 64,
                             "height": 48, "sha256": "0" * 64, "source": "test"})
    manifest = tmp_path / "images.parquet"
    write_images_manifest(pd.DataFrame(rows), manifest)
    return manifest


def gan_settings(**changes) -> dict:
    """A 64x64 GAN at an eighth of Table 2's widths: a few hundred milliseconds per epoch."""
    settings = {
        "resolution": 64, "width": 0.125, "latent_dim": {"decoupled": 10, "coupled": 100}, "batch_size": 4,
        "epochs": 2, "learning_rate": 2e-4, "betas": [0.5, 0.999], "real_label": 0.9, "feature_matching": 1.0,
        "extra_generator_every": 10, "extra_generator_rounds": 2, "min_diversity_ratio": 0.05, "patience": 3,
        "warmup_epochs": 5, "diversity_batch": 8, "checkpoint_every": 1, "amp": False,
    }
    settings.update(changes)
    return settings


def synthesis_params(**gan_changes) -> dict:
    """A whole ``synthesis`` config section with the run's seed and classes: each job reads its part."""
    return {
        "seed": 7, "classes": ["melanoma", "nevus"], "device": "cpu", "mode": "decoupled",
        "samples": {"melanoma": 6}, "use_purified": False, "gan": gan_settings(**gan_changes),
        "dedup": {"mse_threshold": 0.01, "chunk_size": 5},
        "figures": {"quantiles": [0.0, 0.5, 1.0], "smallest": 2},
    }


def job_settings(params: dict) -> GanSettings:
    """The settings the training job builds from what the workflow passes it: seed, device, mode and gan."""
    return GanSettings.from_config(**{key: params[key] for key in ("seed", "device", "mode", "gan")})
