"""GAN preprocessing and the real-image table (purified training images substituted)."""

import numpy as np
import pandas as pd

from melanoflow.synthesis.data import real_images, resize_center_crop, training_rows


def test_resize_center_crop_keeps_the_centre_square():
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    image[:, 16:112] = 255  # the central 96x96 square is white, the side strips black
    out = resize_center_crop(image, 64)
    assert out.shape == (64, 64, 3) and out[:, 1:-1].min() == 255  # edge columns blend on resampling


def test_purified_images_replace_training_originals_only(tiny_manifest, tmp_path):
    purified = tmp_path / "occlusions.parquet"
    pd.DataFrame({
        "image_id": ["melanoma_train_0", "melanoma_test_0"], "dataset": "demo", "split": ["train", "test"],
        "label": "melanoma", "purified_path": ["p/train0.png", "p/test0.png"],
        "occlusion_mask_path": "m.png", "occluded_fraction": 0.1, "selected": True,
    }).to_parquet(purified)
    rows = real_images(str(tiny_manifest), str(purified)).set_index("image_id")
    assert rows.loc["melanoma_train_0", "path"] == "p/train0.png"
    assert rows.loc["melanoma_test_0", "path"].endswith("images/melanoma_test_0.png")
    train = training_rows(rows.reset_index(), ["melanoma"])
    assert set(train["split"]) == {"train"} and len(train) == 6
