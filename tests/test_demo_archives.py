"""The demo generator: official layout, class imbalance, occlusion masks, the planted shortcut."""

import zipfile

import numpy as np
import pandas as pd
import pytest

from melanoflow.demo.generate import archive_file_names, class_counts, generate_demo

DEMO = {"enabled": True, "path": "x", "image_size": [96, 72], "counts": {"train": 150, "val": 30, "test": 150},
        "class_shares": {"melanoma": 803, "nevus": 2107, "seborrheic_keratosis": 288},
        "occlusions": {"hair": 0.3, "ruler": 0.2, "patch": 0.2},
        "shortcut": {"enabled": True, "class": "nevus", "strength": 0.9}}
CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate_demo(DEMO, CLASSES, 3, out, out / "occlusions")
    return out


def test_class_counts_follow_isic2017_imbalance():
    assert class_counts(3198, DEMO["class_shares"]) == {"melanoma": 803, "nevus": 2107, "seborrheic_keratosis": 288}
    assert sum(class_counts(7, DEMO["class_shares"]).values()) == 7


def test_official_file_names_and_members(demo):
    assert sorted(p.name for p in demo.iterdir() if p.is_file()) == sorted(archive_file_names(DEMO))
    truth = pd.read_csv(demo / "ISIC-2017_Training_Part3_GroundTruth.csv")
    assert list(truth.columns) == ["image_id", "melanoma", "seborrheic_keratosis"] and len(truth) == 150
    with zipfile.ZipFile(demo / "ISIC-2017_Training_Data.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"ISIC-2017_Training_Data/{i}.jpg" for i in truth.image_id)


def test_occlusion_masks_match_the_plan(demo):
    table = pd.read_csv(demo / "occlusions" / "occlusions.csv")
    from melanoflow.fileio import read_mask

    for row in table.head(40).itertuples():
        for kind in ("hair", "ruler", "patch"):
            assert read_mask(demo / "occlusions" / f"{row.image_id}_{kind}.png").any() == bool(getattr(row, kind))


def test_shortcut_is_planted_in_training_only(demo):
    table = pd.read_csv(demo / "occlusions" / "occlusions.csv")
    table["artefact"] = table.ruler | table.patch
    rate = table.groupby(["split", table.label == "nevus"]).artefact.mean()
    assert rate[("train", True)] > 0.75 and rate[("train", False)] < 0.15
    assert abs(rate[("test", True)] - rate[("test", False)]) < 0.25


def test_same_seed_same_archives(tmp_path, demo):
    generate_demo(DEMO, CLASSES, 3, tmp_path, tmp_path / "occlusions")
    for name in archive_file_names(DEMO):
        with open(demo / name, "rb") as first, open(tmp_path / name, "rb") as second:
            if name.endswith(".csv"):
                assert first.read() == second.read()
            else:
                with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
                    assert [a.read(n) for n in a.namelist()] == [b.read(n) for n in b.namelist()]


def test_classes_look_different(demo):
    """Melanoma borders are more irregular than nevus borders (solidity of the ground-truth mask)."""
    from skimage.measure import regionprops

    from melanoflow.fileio import decode_image

    truth = pd.read_csv(demo / "ISIC-2017_Training_Part3_GroundTruth.csv")
    solidity = {}
    with zipfile.ZipFile(demo / "ISIC-2017_Training_Part1_GroundTruth.zip") as archive:
        for row in truth.itertuples():
            mask = decode_image(archive.read(f"ISIC-2017_Training_Part1_GroundTruth/{row.image_id}_segmentation.png"),
                                row.image_id, grayscale=True) > 128
            label = "melanoma" if row.melanoma else "sk" if row.seborrheic_keratosis else "nevus"
            solidity.setdefault(label, []).append(regionprops(mask.astype(np.uint8))[0].solidity)
    assert np.mean(solidity["melanoma"]) < np.mean(solidity["nevus"]) - 0.02
