"""One shard end to end without Snakemake: manifest + lesion masks in, images + table out; scoring; figure."""

import numpy as np
import pandas as pd
import pytest

from melanoflow.demo.generate import visibly_changed
from melanoflow.fileio import BadInputError, read_image, read_mask, write_image
from melanoflow.purification.figures import before_after_figure
from melanoflow.purification.run import purify_shard
from melanoflow.purification.scoring import score_demo_occlusions
from melanoflow.purification.settings import PurifierSettings
from melanoflow.tables import (
    IMAGES_SCHEMA,
    OCCLUSIONS_SCHEMA,
    merge_shard_tables,
    read_table,
    select_shard,
    write_images_manifest,
    write_table,
)
from tests.purification.conftest import configured_purification, scene

IMPROVED = PurifierSettings.from_config({"method": "improved", "improved": configured_purification()["improved"]})
SELECT_THRESHOLD = 0.005
MASKS_COLUMNS = ["image_id", "dataset", "split", "mask_path", "lesion_fraction"]


@pytest.fixture
def tiny_inputs(tmp_path):
    """Four 160x120 images (two with a hair), their lesion masks, the manifest and the masks table."""
    rows, mask_rows = [], []
    for index in range(4):
        image_id = f"ISIC_{index:07d}"
        image, clean, lesion, _ = scene(120, 160, with_lesion=True, hair=index % 2 == 0, seed=index)
        # the demo's truth: every pixel the drawn hair visibly changed
        hair = visibly_changed(clean, image)
        image_path, mask_path = tmp_path / "img" / f"{image_id}.png", tmp_path / "seg" / f"{image_id}_segmentation.png"
        write_image(image_path, image)
        write_image(mask_path, lesion.astype(np.uint8) * 255)
        write_image(tmp_path / "truth" / f"{image_id}_hair.png", hair.astype(np.uint8) * 255)
        write_image(tmp_path / "truth" / f"{image_id}_ruler.png", np.zeros_like(hair, np.uint8))
        rows.append({"image_id": image_id, "dataset": "demo", "split": ["train", "test"][index // 2],
                     "label": "nevus", "image_path": str(image_path), "mask_path": None, "lesion_id": None,
                     "width": 160, "height": 120, "sha256": "0" * 64, "source": "test"})
        mask_rows.append({"image_id": image_id, "dataset": "demo", "split": rows[-1]["split"],
                          "mask_path": str(mask_path), "lesion_fraction": float(lesion.mean())})
    write_images_manifest(pd.DataFrame(rows, columns=IMAGES_SCHEMA.names), tmp_path / "images.parquet")
    pd.DataFrame(mask_rows, columns=MASKS_COLUMNS).to_parquet(tmp_path / "masks.parquet")
    return tmp_path


def test_shards_purify_every_image_and_merge(tiny_inputs):
    out = tiny_inputs / "purified"
    shard_paths = [out / "shards" / f"{shard}.parquet" for shard in range(2)]
    for shard, path in enumerate(shard_paths):
        purify_shard(tiny_inputs / "images.parquet", tiny_inputs / "masks.parquet", shard, 2, IMPROVED,
                     SELECT_THRESHOLD, out, path)
    merge_shard_tables(shard_paths, out / "occlusions.parquet", OCCLUSIONS_SCHEMA)
    table = read_table(out / "occlusions.parquet", OCCLUSIONS_SCHEMA).set_index("image_id").sort_index()
    assert list(table.index) == [f"ISIC_{index:07d}" for index in range(4)]
    # images 0 and 2 carry a hair: found, and they are the selected ones; the others are untouched
    assert table["selected"].tolist() == [True, False, True, False]
    for image_id, row in table.iterrows():
        occlusion, purified = read_mask(row.occlusion_mask_path), read_image(row.purified_path)
        assert occlusion.mean() == pytest.approx(row.occluded_fraction)
        assert purified.shape == (120, 160, 3)
        if not row.selected:
            np.testing.assert_array_equal(purified, read_image(tiny_inputs / "img" / f"{image_id}.png"))
    # every shard table holds only its own images
    shard_zero = read_table(shard_paths[0], OCCLUSIONS_SCHEMA)
    assert set(shard_zero["image_id"]) == set(select_shard(table.reset_index(), 0, 2)["image_id"])

    scores = score_demo_occlusions(out / "occlusions.parquet", tiny_inputs / "truth", out / "scores.json", "improved")
    assert scores["hair"]["images"] == 2
    assert scores["hair"]["recall"] > 0.95
    assert scores["ruler"]["recall"] is None  # no ruler drawn anywhere
    assert scores["precision"] > 0.8  # the fringe growth keeps the mask tight around the hair
    assert scores["hair_recall_met"]

    before_after_figure(tiny_inputs / "images.parquet", out / "occlusions.parquet", out / "figure.png", count=3)
    assert read_image(out / "figure.png").shape[1] > 300


def test_image_without_lesion_mask_is_named(tiny_inputs):
    masks = pd.read_parquet(tiny_inputs / "masks.parquet")
    masks.iloc[1:].to_parquet(tiny_inputs / "masks.parquet")
    with pytest.raises(BadInputError, match="ISIC_0000000"):
        for shard in range(2):
            purify_shard(tiny_inputs / "images.parquet", tiny_inputs / "masks.parquet", shard, 2, IMPROVED,
                         SELECT_THRESHOLD, tiny_inputs / "out", tiny_inputs / f"{shard}.parquet")


def test_lesion_mask_of_another_size_is_named(tiny_inputs):
    write_image(tiny_inputs / "seg" / "ISIC_0000001_segmentation.png", np.zeros((60, 80), np.uint8))
    with pytest.raises(BadInputError, match="ISIC_0000001_segmentation.png.*80x60"):
        for shard in range(2):
            purify_shard(tiny_inputs / "images.parquet", tiny_inputs / "masks.parquet", shard, 2, IMPROVED,
                         SELECT_THRESHOLD, tiny_inputs / "out", tiny_inputs / f"{shard}.parquet")


def test_hand_counted_scores(tmp_path):
    """Truth: 4 hair pixels and 2 ruler pixels; found: 3 of the hair, 1 of the ruler, 2 elsewhere."""
    truth_hair, truth_ruler, found = (np.zeros((4, 4), np.uint8) for _ in range(3))
    truth_hair[0, :] = 255
    truth_ruler[3, :2] = 255
    found[0, :3] = found[3, 0] = found[1, 1] = found[2, 2] = 255
    write_image(tmp_path / "ISIC_1_hair.png", truth_hair)
    write_image(tmp_path / "ISIC_1_ruler.png", truth_ruler)
    write_image(tmp_path / "ISIC_1_occlusion.png", found)
    table = pd.DataFrame([{"image_id": "ISIC_1", "dataset": "demo", "split": "test", "label": "nevus",
                           "purified_path": "unused.png", "occlusion_mask_path": str(tmp_path / "ISIC_1_occlusion.png"),
                           "occluded_fraction": 6 / 16, "selected": True}])
    write_table(table, tmp_path / "occlusions.parquet", OCCLUSIONS_SCHEMA)
    scores = score_demo_occlusions(tmp_path / "occlusions.parquet", tmp_path, tmp_path / "s.json", "improved")
    assert scores["hair"]["recall"] == 3 / 4
    assert scores["ruler"]["recall"] == 1 / 2
    assert scores["precision"] == 4 / 6
    assert not scores["hair_recall_met"]
