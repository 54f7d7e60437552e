"""Post-processing and mask writing."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import torch

from melanoflow.fileio import read_image, read_mask
from melanoflow.runtime import save_checkpoint
from melanoflow.segmentation.model import DilatedUNet, SegmenterSpec
from melanoflow.segmentation.predict import postprocess, predict_probabilities, predict_shard
from melanoflow.segmentation.settings import PREDICTION_KEYS, PredictSettings
from melanoflow.tables import MASKS_SCHEMA, read_table, select_shard, write_images_manifest

from .conftest import TINY


def test_holes_are_filled():
    y, x = np.mgrid[:40, :40]
    radius = np.hypot(y - 20, x - 20)
    ring = ((radius < 12) & (radius > 5)).astype(float)  # a lesion whose centre the network missed
    mask = postprocess(ring, threshold=0.5, largest_component=False)
    assert mask.sum() == (radius < 12).sum()
    assert mask[20, 20]


def test_largest_component_is_kept_only_when_asked():
    probability = np.zeros((30, 30))
    probability[2:12, 2:12] = 0.9  # the lesion
    probability[20:23, 20:23] = 0.8  # a speck of hair
    assert postprocess(probability, 0.5, largest_component=False).sum() == 100 + 9
    kept = postprocess(probability, 0.5, largest_component=True)
    assert kept.sum() == 100 and kept[5, 5]
    assert not postprocess(np.zeros((5, 5)), 0.5, largest_component=True).any()


def test_masks_are_written_for_every_image_of_the_shard_at_its_size(lesion_manifest, tiny_params, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    model = DilatedUNet(SegmenterSpec(**TINY))
    torch.nn.init.constant_(model.head.bias, 0.3)  # a lesion everywhere, whatever the random weights say
    save_checkpoint("segmenter.pt", {"spec": asdict(model.spec), "model": model.state_dict()})
    unlabelled = lesion_manifest.assign(mask_path=None)  # masks are made whether or not ground truth exists
    write_images_manifest(unlabelled, "images.parquet")

    settings = PredictSettings.from_config({key: tiny_params[key] for key in PREDICTION_KEYS})
    tables = [predict_shard("images.parquet", "segmenter.pt", shard, 2, settings, "cpu", "results/masks",
                            f"{shard}.parquet") for shard in range(2)]  # fmt: skip

    for shard, table in enumerate(tables):
        assert sorted(table["image_id"]) == sorted(select_shard(unlabelled, shard, 2)["image_id"])
        pd.testing.assert_frame_equal(read_table(f"{shard}.parquet", MASKS_SCHEMA), table)
    masks = pd.concat(tables).merge(unlabelled, on=["dataset", "image_id"], suffixes=("", "_image"))
    assert len(masks) == len(unlabelled)
    for row in masks.itertuples():
        assert row.mask_path == f"results/masks/toy/{row.image_id}_segmentation.png"
        pixels = read_image(row.mask_path, grayscale=True)
        assert pixels.shape == (row.height, row.width)
        assert set(np.unique(pixels)) <= {0, 255}
        assert row.lesion_fraction == read_mask(row.mask_path).mean() > 0


def test_test_time_flips_average_the_maps_of_the_flipped_images_flipped_back():
    torch.manual_seed(0)
    model = DilatedUNet(SegmenterSpec(**TINY)).eval()
    side = TINY["input_size"]
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    views = [image, image[:, ::-1], image[::-1, :], image[::-1, ::-1]]
    single = [predict_probabilities(model, [np.ascontiguousarray(view)], torch.device("cpu"), False)[0]
              for view in views]  # fmt: skip
    unflipped = [single[0], single[1][:, ::-1], single[2][::-1, :], single[3][::-1, ::-1]]
    averaged = predict_probabilities(model, [image], torch.device("cpu"), False, tta=True)[0]
    np.testing.assert_allclose(averaged, np.mean(unflipped, axis=0), atol=1e-6)
    assert not np.allclose(averaged, single[0], atol=1e-4)  # the random network is not flip-invariant


def test_prediction_settings_name_a_missing_or_unknown_key(tiny_params):
    section = {key: tiny_params[key] for key in PREDICTION_KEYS}
    assert PredictSettings.from_config(section).predict_batch_size == 4
    without_threshold = {key: value for key, value in section.items() if key != "threshold"}
    with pytest.raises(ValueError, match=r"^missing key\(s\) segmentation\.threshold$"):
        PredictSettings.from_config(without_threshold)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) segmentation\.device$"):
        PredictSettings.from_config({**section, "device": "cpu"})
