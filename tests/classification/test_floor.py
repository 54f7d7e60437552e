"""The classical floor: lesion features on hand-made scenes, C chosen on validation only, its predictions
table, and a better-than-chance melanoma AUC on real ISIC 2017 images."""

from __future__ import annotations

import json
import logging
import time
import zipfile

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from melanoflow import fileio
from melanoflow.classification.floor import (
    FEATURE_NAMES,
    class_probabilities,
    fit_floor,
    lesion_features,
    make_floor_model,
    predict_floor,
)
from melanoflow.classification.settings import FloorSettings
from melanoflow.tables import (
    IMAGES_SCHEMA,
    MASKS_SCHEMA,
    predictions_schema,
    write_images_manifest,
    write_table,
)

from .conftest import CLASSES

SKIN = (205, 160, 150)
DARK = (90, 55, 35)


def scene(width, height, axes=(0.2, 0.2), angle=0.0, lesion=DARK, skin=SKIN, shading=0.0):
    """Skin of one colour with an elliptic lesion at the centre; sizes are fractions of the short side, so
    the same scene can be drawn at any resolution. ``shading`` darkens the lesion from left to right."""
    side = min(width, height)
    mask = np.zeros((height, width), np.uint8)
    axes = (round(axes[0] * side), round(axes[1] * side))
    cv2.ellipse(mask, (width // 2, height // 2), axes, angle, 0, 360, 1, -1)
    mask = mask.astype(bool)
    image = np.empty((height, width, 3), np.float64)
    image[:] = skin
    ramp = 1 - shading * np.linspace(0, 1, width)[None, :, None]
    image[mask] = (np.asarray(lesion, np.float64) * ramp * np.ones((height, 1, 1)))[mask]
    return image.round().astype(np.uint8), mask


def test_features_are_finite_and_complete():
    features = lesion_features(*scene(200, 150, shading=0.5))
    assert list(features) == FEATURE_NAMES
    assert all(np.isfinite(value) for value in features.values())


def test_disc_is_compact_round_and_symmetric():
    features = lesion_features(*scene(400, 300))
    assert features["compactness"] == pytest.approx(1.0, abs=0.05)
    assert features["eccentricity"] < 0.2
    assert features["solidity"] > 0.97
    assert features["extent"] == pytest.approx(np.pi / 4, abs=0.03)
    assert features["asymmetry_major"] < 0.02 and features["asymmetry_minor"] < 0.02
    assert features["area_fraction"] == pytest.approx(np.pi * 60**2 / (400 * 300), rel=0.03)


@pytest.mark.parametrize("angle", [0.0, 35.0, 110.0])
def test_elongated_ellipse_is_eccentric_but_symmetric_at_any_angle(angle):
    features = lesion_features(*scene(400, 300, axes=(0.4, 0.1), angle=angle))
    assert features["eccentricity"] > 0.95
    assert features["compactness"] > 1.4  # an ellipse's perimeter is long for its area
    # symmetric about both principal axes, whichever way they point
    assert features["asymmetry_major"] < 0.03 and features["asymmetry_minor"] < 0.03


def test_lopsided_lesion_is_asymmetric():
    image, mask = scene(400, 300)
    bump = np.zeros(mask.shape, np.uint8)
    cv2.circle(bump, (260, 150), 40, 1, -1)
    mask |= bump.astype(bool)
    image[mask] = DARK
    features = lesion_features(image, mask)
    assert features["asymmetry_minor"] > 0.1  # folding across the minor axis brings the bump onto skin
    assert features["asymmetry_major"] < 0.03  # the bump lies on the major axis


def test_colour_differences_have_the_expected_sign_and_size():
    dark = lesion_features(*scene(300, 300, lesion=DARK))
    assert dark["delta_L"] < -30  # a dark brown lesion on light skin
    deltas = [dark["delta_L"], dark["delta_a"], dark["delta_b"]]
    assert dark["delta_E"] == pytest.approx(np.linalg.norm(deltas))
    assert dark["skin_L_mean"] > dark["lesion_L_mean"]
    blue = lesion_features(*scene(300, 300, lesion=(70, 90, 150)))
    assert blue["delta_b"] < -30  # blue-grey: b* well below the skin's
    same = lesion_features(*scene(300, 300, lesion=SKIN))
    assert same["delta_E"] < 1 and same["border_sharpness"] < 0.5
    assert dark["border_sharpness"] > 5
    assert dark["colour_count"] == 1 and dark["hue_spread"] < 0.05
    tan = (190, 120, 90)
    uniform, variegated = (lesion_features(*scene(300, 300, lesion=tan, shading=s)) for s in (0.0, 0.8))
    assert variegated["lesion_L_std"] > 5 * uniform["lesion_L_std"]
    assert (uniform["colour_count"], variegated["colour_count"]) == (1, 2)


def test_features_do_not_depend_on_the_resolution():
    small = lesion_features(*scene(330, 250, axes=(0.3, 0.2), angle=20, shading=0.6))
    large = lesion_features(*scene(1320, 1000, axes=(0.3, 0.2), angle=20, shading=0.6))
    for name in FEATURE_NAMES:
        assert small[name] == pytest.approx(large[name], rel=0.05, abs=0.02), name


@pytest.mark.parametrize("fill", [False, True])
def test_empty_or_full_mask_falls_back_to_the_centre_with_a_warning(fill, caplog):
    image, _ = scene(200, 160)
    with caplog.at_level(logging.WARNING):
        features = lesion_features(image, np.full((160, 200), fill), name="ISIC_0000042")
    assert "ISIC_0000042" in caplog.text and "centre ellipse" in caplog.text
    assert all(np.isfinite(value) for value in features.values())
    assert features["area_fraction"] == pytest.approx(np.pi / 16, rel=0.05)


# --- choosing C ---


def c_choice_data(test_weights, seed=0):
    """Two correlated features (z + d, z - d). Training labels follow z + d; validation labels follow z,
    which strong regularisation weights best; ``test_weights`` set what the test labels follow."""
    rng = np.random.default_rng(seed)
    frames = []
    for split, count, (wz, wd) in (("train", 200, (1, 1)), ("val", 300, (1, 0)), ("test", 300, test_weights)):
        z, d = rng.normal(size=count), rng.normal(scale=0.3, size=count)
        score = wz * z + wd * d + rng.normal(scale=0.3, size=count)
        frames.append(pd.DataFrame({"f1": z + d, "f2": z - d, "split": split,
                                    "label": np.where(score > np.median(score), "melanoma", "nevus")}))
    return pd.concat(frames, ignore_index=True)


def test_c_is_chosen_on_validation_only_and_the_model_fits_training_rows_only():
    classes, grid = ["melanoma", "nevus"], [0.001, 100.0]
    data = c_choice_data(test_weights=(0, 1))
    features = data[["f1", "f2"]]
    train, test = data.split == "train", data.split == "test"

    def test_auc(C):
        model = make_floor_model(C, 0).fit(features[train].to_numpy(), data.label[train])
        probabilities = class_probabilities(model, features[test], classes)
        return roc_auc_score(data.label[test] == "melanoma", probabilities[:, 0])

    assert test_auc(100.0) > test_auc(0.001) + 0.03  # the test rows would pick the weak regularisation

    model, summary = fit_floor(features, data.label, data.split, classes, grid, seed=0)
    assert summary["chosen_C"] == 0.001
    assert [entry["C"] for entry in summary["validation"]] == grid
    assert summary["validation"][0]["mean_auc"] > summary["validation"][1]["mean_auc"]
    # the final model is the training rows' fit with the chosen C (validation rows are not added)
    def coefficients(pipeline):
        return pipeline.named_steps["logistic"].coef_

    reference = make_floor_model(0.001, 0).fit(features[train].to_numpy(), data.label[train])
    np.testing.assert_array_equal(coefficients(model), coefficients(reference))

    # other test rows (features and labels), or shuffled test labels, change nothing
    other = c_choice_data(test_weights=(1, 0), seed=0)  # the same train and val rows
    other.loc[other.split == "test", ["f1", "f2"]] *= -3
    shuffled = data.copy()
    shuffled.loc[test, "label"] = np.random.default_rng(1).permutation(shuffled.loc[test, "label"].to_numpy())
    for variant in (other, shuffled):
        again, again_summary = fit_floor(variant[["f1", "f2"]], variant.label, variant.split, classes, grid,
                                         seed=0)
        assert again_summary == summary
        np.testing.assert_array_equal(coefficients(again), coefficients(model))


def test_fit_needs_two_validation_classes():
    data = c_choice_data(test_weights=(0, 1))
    data.loc[data.split == "val", "label"] = "nevus"
    with pytest.raises(ValueError, match="validation split"):
        fit_floor(data[["f1", "f2"]], data.label, data.split, ["melanoma", "nevus"], [1.0], seed=0)


# --- the workflow entry point ---


def toy_lesion(rng, label, width, height):
    """A lesion whose colour and size depend on its class, on noisy skin."""
    colour, axis = {"melanoma": ((70, 45, 40), 0.32), "nevus": ((150, 100, 80), 0.18),
                    "seborrheic_keratosis": ((120, 110, 70), 0.25)}[label]
    image, mask = scene(width, height, axes=(axis * rng.uniform(0.8, 1.2), axis * rng.uniform(0.6, 1.0)),
                        angle=float(rng.uniform(0, 180)), lesion=colour, shading=float(rng.uniform(0, 0.3)))
    noise = rng.normal(scale=12, size=image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8), mask


def write_project(root, rows, make_image):
    """Write each row's image (an RGB array, or JPEG bytes) and predicted mask; return (images manifest path,
    masks table path)."""
    records, masks = [], []
    for row in rows:
        image, mask = make_image(row)
        mask_path = root / "predicted" / f"{row['image_id']}_segmentation.png"
        if isinstance(image, bytes):
            image_path = root / "images" / f"{row['image_id']}.jpg"
            fileio.write_bytes(image_path, image)
        else:
            image_path = root / "images" / f"{row['image_id']}.png"
            fileio.write_image(image_path, image)
        fileio.write_image(mask_path, mask.astype(np.uint8) * 255)
        # the ground-truth mask named in the manifest does not exist: the floor must not read it
        records.append({**row, "dataset": "toy", "image_path": str(image_path),
                        "mask_path": str(root / "missing" / "truth.png"), "lesion_id": None,
                        "width": mask.shape[1], "height": mask.shape[0], "sha256": "0" * 64,
                        "source": "test"})
        masks.append({"image_id": row["image_id"], "dataset": "toy", "split": row["split"],
                      "mask_path": str(mask_path), "lesion_fraction": float(mask.mean())})
    manifest, masks_table = root / "images.parquet", root / "masks.parquet"
    write_images_manifest(pd.DataFrame(records, columns=IMAGES_SCHEMA.names), manifest)
    write_table(pd.DataFrame(masks, columns=MASKS_SCHEMA.names), masks_table, MASKS_SCHEMA)
    return manifest, masks_table


def test_predict_floor_writes_the_predictions_table_and_model(tmp_path, caplog):
    rng = np.random.default_rng(3)
    counts = {"train": 8, "val": 3, "test": 3}
    rows = [{"image_id": f"{split}_{label}_{k}", "split": split, "label": label}
            for split, count in counts.items() for label in CLASSES for k in range(count)]

    def make_image(row):
        image, mask = toy_lesion(rng, row["label"], int(rng.integers(90, 130)), int(rng.integers(70, 90)))
        if row["image_id"] == "test_nevus_0":
            mask[:] = False  # the segmenter found nothing
        return image, mask

    manifest, masks = write_project(tmp_path, rows, make_image)
    params = {"C": [0.01, 1.0, 100.0]}
    settings = FloorSettings.from_config(params, seed=1, classes=CLASSES)
    with caplog.at_level(logging.INFO):
        predict_floor(manifest, masks, tmp_path / "predictions.parquet", tmp_path / "floor.json", settings, 2)
    assert "test_nevus_0" in caplog.text and "chosen C=" in caplog.text

    table = pd.read_parquet(tmp_path / "predictions.parquet")
    schema = predictions_schema(CLASSES)
    assert list(table.columns) == schema.names
    val_test = [row["image_id"] for row in rows if row["split"] != "train"]
    assert sorted(table.image_id) == sorted(val_test)
    if "split" in schema.names:
        assert table.split.to_dict() == table.image_id.str.split("_").str[0].to_dict()
    probabilities = table[[f"prob_{label}" for label in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert (table.predicted == np.asarray(CLASSES)[probabilities.argmax(axis=1)]).all()
    assert (table.predicted == table.label).mean() > 0.6  # colour and size separate these toy classes

    model = json.loads((tmp_path / "floor.json").read_text())
    assert model["chosen_C"] in params["C"]
    assert [entry["C"] for entry in model["validation"]] == sorted(params["C"])
    assert model["feature_names"] == FEATURE_NAMES and model["classes"] == CLASSES
    assert np.asarray(model["coefficients"]).shape == (len(CLASSES), len(FEATURE_NAMES))
    assert (model["train_images"], model["val_images"], model["test_images"]) == (24, 9, 9)


# --- real images ---


def test_floor_beats_chance_on_real_isic_images(tmp_path, shared_data):
    """300 ISIC 2017 training images (their ground-truth masks stand in for predicted ones, in this test
    only): the floor fitted on 180 and tuned on 60 ranks the other 60's melanomas above chance."""
    folder = shared_data / "isic2017-crops"
    truth = pd.read_csv(folder / "ISIC-2017_Training_Part3_GroundTruth.csv", dtype={"image_id": str})
    truth["label"] = np.select([truth.melanoma == 1, truth.seborrheic_keratosis == 1],
                               ["melanoma", "seborrheic_keratosis"], "nevus")
    counts = {"melanoma": 100, "nevus": 150, "seborrheic_keratosis": 50}
    picked = pd.concat([truth[truth.label == label].sample(count, random_state=0)
                        for label, count in counts.items()])
    picked["split"] = "train"
    for _, group in picked.groupby("label"):
        order = group.sample(frac=1, random_state=1).index
        picked.loc[order[: len(order) // 5], "split"] = "val"
        picked.loc[order[len(order) // 5 : 2 * len(order) // 5], "split"] = "test"
    rows = picked[["image_id", "split", "label"]].to_dict("records")

    with (zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip") as images,
          zipfile.ZipFile(folder / "ISIC-2017_Training_Part1_GroundTruth.zip") as masks):
        def make_image(row):
            member = f"ISIC-2017_Training_Part1_GroundTruth/{row['image_id']}_segmentation.png"
            mask = fileio.decode_image(masks.read(member), member, grayscale=True) > 128
            return images.read(f"ISIC-2017_Training_Data/{row['image_id']}.jpg"), mask

        manifest, masks_table = write_project(tmp_path, rows, make_image)

    start = time.perf_counter()
    settings = FloorSettings.from_config({"C": [0.01, 0.1, 1.0, 10.0]}, seed=0, classes=CLASSES)
    table = predict_floor(manifest, masks_table, tmp_path / "p.parquet", tmp_path / "m.json", settings, 2)
    elapsed = time.perf_counter() - start
    test = table[table.image_id.isin(picked.image_id[picked.split == "test"])]
    auc = roc_auc_score(test.label == "melanoma", test.prob_melanoma)
    print(f"floor on {len(rows)} real images: {elapsed:.1f} s in all ({1000 * elapsed / len(rows):.0f} ms "
          f"per image, 2 threads); held-out melanoma AUC {auc:.3f}")
    assert len(test) == 60
    assert auc > 0.5
