"""Our scores against hand-computed cases and the official ISIC challenge scorer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from isic_challenge_scoring import SegmentationScore

from melanoflow.fileio import write_image
from melanoflow.segmentation.metrics import evaluate_segmentation, mask_scores
from melanoflow.tables import MASKS_SCHEMA, PER_IMAGE_SCHEMA, read_table, write_images_manifest, write_table


def test_hand_computed_scores():
    truth = np.zeros((4, 4), bool)
    truth[0, :] = True  # 4 lesion pixels
    predicted = np.zeros((4, 4), bool)
    predicted[0, :2] = predicted[1, :2] = True  # 2 right, 2 wrong, 2 missed
    scores = mask_scores(truth, predicted)
    assert scores["jaccard"] == pytest.approx(2 / 6)
    assert scores["dice"] == pytest.approx(4 / 8)
    assert scores["thresholded_jaccard"] == 0  # 1/3 < 0.65
    assert mask_scores(truth, truth) == {"jaccard": 1, "thresholded_jaccard": 1, "dice": 1}
    empty = np.zeros((4, 4), bool)
    assert mask_scores(empty, empty)["jaccard"] == 1  # the ISIC scorer's convention
    assert mask_scores(truth, empty)["jaccard"] == 0


def grey_mask(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """8-bit masks including values near the > 128 cut, to check we binarise as the scorer does."""
    if kind == "empty":
        return np.zeros(shape, np.uint8)
    y, x = np.mgrid[: shape[0], : shape[1]]
    centre = rng.uniform(0.3, 0.7, 2) * shape
    radius = rng.uniform(0.15, 0.35) * min(shape)
    inside = (y - centre[0]) ** 2 + (x - centre[1]) ** 2 < radius**2
    values = np.where(inside, rng.choice([129, 200, 255], size=shape), rng.choice([0, 100, 128], size=shape))
    return values.astype(np.uint8)


def test_scores_equal_the_official_isic_scorer(tmp_path):
    rng = np.random.default_rng(1)
    kinds = [("lesion", "lesion")] * 7 + [("empty", "empty"), ("lesion", "empty"), ("empty", "lesion")]
    manifest_rows, mask_rows = [], []
    for index, (truth_kind, predicted_kind) in enumerate(kinds):
        image_id = f"ISIC_{index:07d}"
        shape = (int(rng.integers(30, 60)), int(rng.integers(30, 60)))
        truth_path = tmp_path / "truth" / f"{image_id}_segmentation.png"
        predicted_path = tmp_path / "predicted" / f"{image_id}_segmentation.png"
        write_image(truth_path, grey_mask(rng, shape, truth_kind))
        write_image(predicted_path, grey_mask(rng, shape, predicted_kind))
        write_image(tmp_path / "images" / f"{image_id}.png", np.full((*shape, 3), 128, np.uint8))
        manifest_rows.append({
            "image_id": image_id, "dataset": "toy", "split": "test", "label": "nevus",
            "image_path": str(tmp_path / "images" / f"{image_id}.png"), "mask_path": str(truth_path),
            "lesion_id": None, "width": shape[1], "height": shape[0], "sha256": "0" * 64, "source": "test",
        })  # fmt: skip
        mask_rows.append({"image_id": image_id, "dataset": "toy", "split": "test",
                          "mask_path": str(predicted_path), "lesion_fraction": 0.0})  # fmt: skip
    write_images_manifest(pd.DataFrame(manifest_rows), tmp_path / "images.parquet")
    write_table(pd.DataFrame(mask_rows), tmp_path / "masks.parquet", MASKS_SCHEMA)

    summary = evaluate_segmentation(tmp_path / "images.parquet", tmp_path / "masks.parquet",
                                    tmp_path / "metrics.json", tmp_path / "per_image.parquet",
                                    tmp_path / "overlay.png")  # fmt: skip

    official = SegmentationScore.from_dir(tmp_path / "truth", tmp_path / "predicted").macro_average
    ours = summary["splits"]["test"]
    assert ours["images"] == len(kinds)
    assert ours["jaccard"] == pytest.approx(official["jaccard"], abs=1e-12)
    assert ours["thresholded_jaccard"] == pytest.approx(official["threshold_jaccard"], abs=1e-12)
    assert ours["dice"] == pytest.approx(official["dice"], abs=1e-12)
    assert 0.05 < ours["thresholded_jaccard"] < ours["jaccard"] < 0.95  # the cases are neither trivial nor all equal
    assert json.loads((tmp_path / "metrics.json").read_text()) == summary
    per_image = read_table(tmp_path / "per_image.parquet", PER_IMAGE_SCHEMA)
    assert per_image["jaccard"].mean() == pytest.approx(official["jaccard"])
    assert (tmp_path / "overlay.png").stat().st_size > 0
