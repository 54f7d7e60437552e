"""The paper's training-set arithmetic (Section 3.3.2, Figure 7)."""

import numpy as np
import pandas as pd
import pytest

from melanoflow.classification.manifests import build_training_manifest
from melanoflow.classification.recipe import Recipe, copy_transforms, flips_needed, stage_counts

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
REAL = {"melanoma": 919, "nevus": 2518, "seborrheic_keratosis": 545}
PURIFIED = {"melanoma": 147, "nevus": 470, "seborrheic_keratosis": 182}
SYNTHETIC = {"melanoma": 350, "nevus": 0, "seborrheic_keratosis": 750}
PAPER = Recipe(purified=True, synthetic=True, flip_targets={"melanoma": 2685, "seborrheic_keratosis": 2772}, factor=6)
PAPER_FINAL = {"melanoma": 16110, "nevus": 17928, "seborrheic_keratosis": 16632}


def test_paper_counts_give_paper_totals():
    counts = stage_counts(REAL, PURIFIED, SYNTHETIC, PAPER, CLASSES)
    assert counts["pool"].to_dict() == {"melanoma": 1416, "nevus": 2988, "seborrheic_keratosis": 1477}
    assert counts["hflips"].to_dict() == {"melanoma": 1269, "nevus": 0, "seborrheic_keratosis": 1295}
    assert counts["final"].to_dict() == PAPER_FINAL


def test_manifest_built_from_paper_counts_has_paper_totals():
    images = pd.DataFrame([{"image_id": f"{label}_{k}", "dataset": "isic", "split": "train", "label": label,
                            "image_path": f"{label}_{k}.jpg"} for label in CLASSES for k in range(REAL[label])])
    occlusions = pd.DataFrame([{"image_id": f"{label}_{k}", "dataset": "isic", "split": "train", "label": label,
                                "purified_path": f"p/{label}_{k}.png", "selected": True}
                               for label in CLASSES for k in range(PURIFIED[label])])
    synthetic = {label: pd.DataFrame({"synthetic_id": [f"g{k}" for k in range(n + 7)],
                                      "synthetic_path": [f"g/{label}/{k}.png" for k in range(n + 7)],
                                      "kept": [True] * n + [False] * 7})
                 for label, n in SYNTHETIC.items() if n}
    manifest, _ = build_training_manifest(images, PAPER, CLASSES, 200, occlusions, synthetic)
    assert manifest["label"].value_counts().to_dict() == PAPER_FINAL
    melanoma = manifest.loc[manifest["label"] == "melanoma"]
    assert melanoma["origin"].value_counts().to_dict().keys() == {"real", "purified", "synthetic"}
    assert int(melanoma["hflip"].sum()) == 1269 * 6
    # every example appears in exactly `factor` copies: 0 = as is, 1 = vertical flip, 2.. = crops
    assert melanoma.groupby(["origin", "image_id", "hflip"]).size().eq(6).all()
    assert melanoma.loc[melanoma["copy"] == 1, "vflip"].all()
    assert not melanoma.loc[melanoma["copy"] == 0, ["vflip", "crop_x0", "crop_y0"]].any().any()


def test_flip_targets_below_pool_add_nothing_and_above_double_are_capped(caplog):
    assert flips_needed(100, None) == 0
    assert flips_needed(100, 80) == 0
    assert flips_needed(100, 150) == 50
    assert flips_needed(100, 500, "nevus") == 100
    assert "capped" in caplog.text


def test_crop_boxes_are_square_within_image_and_scale():
    rng = np.random.default_rng(0)
    transforms = copy_transforms(50, rng, (0.7, 0.9))
    boxes = np.array([box for _, box in transforms[2:]])
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(sides, boxes[:, 3] - boxes[:, 1])
    assert (sides >= 0.7).all() and (sides <= 0.9).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 1).all()
    assert [vflip for vflip, _ in transforms[:4]] == [False, True, False, True]


def test_bad_recipe_values_are_refused():
    with pytest.raises(ValueError, match="factor"):
        Recipe(factor=0)
    with pytest.raises(ValueError, match="crop_scale"):
        Recipe(crop_scale=(0.5, 1.2))
