"""Counterfactual insertion: only the pasted pixels change, clean images are chosen, shifts are summarised."""

import numpy as np
import pandas as pd
import pytest

from melanoflow.evaluation.counterfactual import DRAWERS, clean_test_images, insert_artefact, shift_summary

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]


@pytest.mark.parametrize("kind", sorted(DRAWERS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_insertion_changes_only_the_pasted_pixels(kind, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    lesion = np.zeros((160, 200), bool)
    lesion[60:100, 80:130] = True
    inserted, coverage = insert_artefact(np.random.default_rng(seed), image, lesion, kind)
    changed = (inserted != image).any(axis=2)
    assert coverage.any()
    np.testing.assert_array_equal(changed, coverage)
    if kind != "ruler":  # a ruler spans the image; patches and ink keep off the lesion
        assert not (coverage & lesion).any()


def test_insertion_is_seeded():
    image = np.full((96, 96, 3), 180, np.uint8)
    lesion = np.zeros((96, 96), bool)
    first = insert_artefact(np.random.default_rng(5), image, lesion, "ink")[0]
    second = insert_artefact(np.random.default_rng(5), image, lesion, "ink")[0]
    np.testing.assert_array_equal(first, second)


def test_clean_images_exclude_flagged_ones(tmp_path):
    images = pd.DataFrame({"dataset": "d", "image_id": [f"i{n}" for n in range(8)],
                           "split": ["test"] * 6 + ["train"] * 2})
    flags = tmp_path / "flags.csv"
    pd.DataFrame({"image_id": images["image_id"], "ruler": [1, 0, 0, 0, 0, 0, 0, 0],
                  "patches": [0, 1, 0, 0, 0, 0, 0, 0], "ink": [0, 0, 1, 0, 0, 0, 0, 0],
                  "hair": [1, 1, 1, 1, 1, 1, 1, 1]}).to_csv(flags, index=False)
    chosen = clean_test_images(images, 10, 0, flag_files={"d": flags})
    assert list(chosen["image_id"]) == ["i3", "i4", "i5"]
    assert len(clean_test_images(images, 2, 0, flag_files={"d": flags})) == 2


def test_shift_summary():
    original = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    inserted = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    summary = shift_summary(original, inserted, 0, CLASSES, resamples=200, level=0.95, seed=0)
    assert summary["n_images"] == 3
    assert summary["mean_shift"] == pytest.approx(0.4 / 3)
    assert summary["shift_low"] <= summary["mean_shift"] <= summary["shift_high"]
    assert summary["flip_share"] == pytest.approx(1 / 3)
