"""Training manifests: schema, ingredients per variant, untouched val/test rows, bad input."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melanoflow.classification.figures import draw_counts
from melanoflow.classification.manifests import (
    CROP_COLUMNS,
    build_training_manifest,
    build_variant_manifest,
)
from melanoflow.classification.recipe import Recipe
from melanoflow.classification.settings import ManifestSettings
from melanoflow.tables import (
    IMAGES_SCHEMA,
    TRAIN_MANIFEST_SCHEMA,
    SchemaError,
    read_training_manifest,
    write_table,
)

from .conftest import CLASSES

PROPOSED = {"purified": True, "synthetic": True, "flip_targets": {"melanoma": 9, "seborrheic_keratosis": 8},
            "factor": 3}
VARIANTS = {"baseline": {"purified": False, "synthetic": False, "flip_targets": {}, "factor": 1},
            "proposed": PROPOSED}
# The classification section's keys a manifest job reads besides its variant's recipe.
MANIFEST_SECTION = {"crop_scale": [0.8, 1.0], "materialise": False, "resize": 32}


def manifest_settings(variant: str, **changes) -> ManifestSettings:
    """The settings of ``variant``'s manifest job as its rule passes them, with ``changes`` to the section."""
    section = {**MANIFEST_SECTION, "variants": {variant: VARIANTS[variant]}, **changes}
    return ManifestSettings.from_config(section, variant=variant, seed=200, classes=CLASSES)


def write_inputs(project):
    root = project["root"]
    write_table(project["images"], root / "images.parquet", IMAGES_SCHEMA)
    project["occlusions"].to_parquet(root / "occlusions.parquet")
    synthetic_paths = []
    for label, table in project["synthetic"].items():
        (root / "synthetic" / label).mkdir(parents=True)
        table.to_parquet(root / "synthetic" / label / "nearest.parquet")
        synthetic_paths.append(str(root / "synthetic" / label / "nearest.parquet"))
    return str(root / "images.parquet"), str(root / "occlusions.parquet"), synthetic_paths


def test_proposed_manifest_file_has_schema_and_recipe_counts(tiny_project):
    images_path, occlusions_path, synthetic_paths = write_inputs(tiny_project)
    out = tiny_project["root"] / "train.proposed.parquet"
    build_variant_manifest(images_path, str(out), str(tiny_project["root"] / "counts.csv"),
                           str(tiny_project["root"] / "examples"), manifest_settings("proposed"), "proposed",
                           occlusions_path, synthetic_paths)
    manifest = read_training_manifest(out)  # raises unless the schema matches exactly
    assert manifest.columns.tolist() == TRAIN_MANIFEST_SCHEMA.names
    assert manifest["example_id"].is_unique
    train = manifest.loc[manifest["split"] == "train"]
    # pools: melanoma 4 real + 1 purified + 2 kept synthetic = 7 -> flipped up to 9; nevus 4 + 1 = 5;
    # SK 4 + 1 + 2 = 7 -> 8; then x3
    assert train["label"].value_counts().to_dict() == {"melanoma": 27, "nevus": 15, "seborrheic_keratosis": 24}
    assert set(train.loc[train["origin"] == "synthetic", "image_id"]) == {
        "gan_melanoma_0", "gan_melanoma_1", "gan_seborrheic_keratosis_0", "gan_seborrheic_keratosis_1"}
    purified = train.loc[train["origin"] == "purified"]
    assert set(purified["image_id"]) == {f"train_{label}_0" for label in CLASSES}
    assert purified["source_path"].str.contains("/purified/").all()
    counts = pd.read_csv(tiny_project["root"] / "counts.csv", index_col="class")
    assert counts.loc["melanoma", ["real", "purified", "synthetic"]].tolist() == [4, 1, 2]
    assert counts["final"].to_dict() == {"melanoma": 27, "nevus": 15, "seborrheic_keratosis": 24}
    draw_counts(str(tiny_project["root"] / "counts.csv"), str(tiny_project["root"] / "counts.png"), "proposed")
    assert (tiny_project["root"] / "counts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_val_and_test_rows_are_never_augmented(tiny_project):
    manifest, _ = build_training_manifest(tiny_project["images"], Recipe.from_config(PROPOSED, (0.5, 0.9)), CLASSES,
                                          200, tiny_project["occlusions"], tiny_project["synthetic"])
    held_out = manifest.loc[manifest["split"] != "train"]
    expected = tiny_project["images"].loc[tiny_project["images"]["split"] != "train"]
    assert sorted(held_out["image_id"]) == sorted(expected["image_id"])  # one row each, no purified copies
    assert (held_out["origin"] == "real").all() and (held_out["copy"] == 0).all()
    assert not held_out[["hflip", "vflip"]].any().any()
    np.testing.assert_array_equal(held_out[CROP_COLUMNS].to_numpy(), np.tile([0.0, 0.0, 1.0, 1.0], (len(held_out), 1)))
    assert set(held_out["source_path"]) == set(expected["image_path"])


def test_baseline_is_the_raw_training_images(tiny_project):
    recipe = Recipe.from_config(VARIANTS["baseline"], (0.8, 1.0))
    manifest, counts = build_training_manifest(tiny_project["images"], recipe, CLASSES, 200)
    train = manifest.loc[manifest["split"] == "train"]
    assert len(train) == 12 and (train["origin"] == "real").all()
    assert not train[["hflip", "vflip"]].any().any()
    assert counts["final"].tolist() == [4, 4, 4]


def test_same_seed_same_manifest_other_seed_other_augmentation(tiny_project):
    recipe = Recipe.from_config(PROPOSED, (0.5, 0.9))
    args = (tiny_project["images"], recipe, CLASSES)
    inputs = (tiny_project["occlusions"], tiny_project["synthetic"])
    first, _ = build_training_manifest(*args, 200, *inputs)
    pd.testing.assert_frame_equal(first, build_training_manifest(*args, 200, *inputs)[0])
    other, _ = build_training_manifest(*args, 201, *inputs)
    assert not np.array_equal(first[CROP_COLUMNS].to_numpy(), other[CROP_COLUMNS].to_numpy())


def test_bad_inputs_are_named(tiny_project):
    images_path, occlusions_path, synthetic_paths = write_inputs(tiny_project)
    root = tiny_project["root"]
    tiny_project["occlusions"].drop(columns="purified_path").to_parquet(root / "broken.parquet")
    with pytest.raises(SchemaError, match=r"broken\.parquet.*purified_path"):
        build_variant_manifest(images_path, str(root / "m.parquet"), str(root / "c.csv"), str(root / "examples"),
                               manifest_settings("proposed"), "proposed", str(root / "broken.parquet"),
                               synthetic_paths)
    images = tiny_project["images"].copy()
    images.loc[0, "label"] = "basal_cell_carcinoma"
    with pytest.raises(SchemaError, match="basal_cell_carcinoma"):
        build_training_manifest(images, Recipe(), CLASSES, 200)
    with pytest.raises(SchemaError, match="missing columns"):
        write_table(pd.DataFrame({"example_id": ["x"]}), root / "x.parquet", TRAIN_MANIFEST_SCHEMA)


def test_materialised_manifest_points_at_transformed_files(tiny_project):
    images_path, occlusions_path, synthetic_paths = write_inputs(tiny_project)
    out = tiny_project["root"] / "train.proposed.parquet"
    examples = tiny_project["root"] / "train.proposed.images"
    build_variant_manifest(images_path, str(out), str(tiny_project["root"] / "counts.csv"), str(examples),
                           manifest_settings("proposed", materialise=True), "proposed", occlusions_path,
                           synthetic_paths)
    train = read_training_manifest(out).query("split == 'train'")
    assert train["source_path"].map(lambda path: Path(path).parent == examples).all()
    assert len(list(examples.iterdir())) == len(train)
    assert not train[["hflip", "vflip"]].any().any()
    assert all(Path(path).exists() for path in train["source_path"])
