"""Ingest of the team's real ISIC 2017 and PH2 samples in ../shared/data, checked against their files."""

import zipfile

import numpy as np
import pandas as pd
from PIL import Image

from melanoflow.fileio import read_mask
from melanoflow.ingest.build import ingest
from melanoflow.ingest.settings import IngestSettings

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
SETTINGS = IngestSettings.from_config({
    "on_bad_image": "fail", "max_pixels": 100_000_000, "max_uncompressed_bytes": 5_000_000_000,
    "max_compression_ratio": 200, "split": {"val_fraction": 0.2, "test_fraction": 0.0}})


def run(tmp_path, name, dataset):
    return ingest({name: dataset}, CLASSES, SETTINGS, 200, tmp_path / "images", tmp_path / "m.parquet",
                  tmp_path / "q.parquet", threads=2)


def expected_labels(csv_path):
    truth = pd.read_csv(csv_path, dtype={"image_id": str})
    return {row.image_id: "melanoma" if row.melanoma == 1 else "seborrheic_keratosis" if row.seborrheic_keratosis == 1
            else "nevus" for row in truth.itertuples()}


def test_isic2017_official_layout(tmp_path, shared_data):
    folder = shared_data / "isic-real"
    manifest = run(tmp_path, "isic2017", {"format": "isic2017", "path": str(folder)})
    expected = expected_labels(folder / "ISIC-2017_Training_Part3_GroundTruth.csv")
    assert len(manifest) == len(expected) == 179
    assert dict(zip(manifest.image_id, manifest.label, strict=True)) == expected
    assert manifest.label.value_counts().to_dict() == {"nevus": 96, "seborrheic_keratosis": 49, "melanoma": 34}
    # only the Training triple is present: val is carved from it (test_fraction is 0 here), stratified by class
    carved = manifest[manifest.split == "val"]
    assert set(manifest.split) == {"train", "val"} and 30 <= len(carved) <= 42
    assert carved.label.value_counts(normalize=True).sub(manifest.label.value_counts(normalize=True)).abs().max() < 0.05
    assert manifest.mask_path.notna().all()
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Part1_GroundTruth.zip") as archive:
        for row in manifest.sample(5, random_state=0).itertuples():
            with archive.open(f"ISIC-2017_Training_Part1_GroundTruth/{row.image_id}_segmentation.png") as member:
                official = np.asarray(Image.open(member)) > 128
            assert official.shape == (row.height, row.width)
            np.testing.assert_array_equal(read_mask(row.mask_path), official)


def test_ph2_three_file_layout(tmp_path, shared_data):
    folder = shared_data / "ph2-real"
    manifest = run(tmp_path, "ph2", {"format": "isic2017", "path": str(folder), "split": "stratified"})
    expected = expected_labels(folder / "PH2_Training_Part3_GroundTruth.csv")
    assert dict(zip(manifest.image_id, manifest.label, strict=True)) == expected
    assert manifest.label.value_counts().to_dict() == {"nevus": 96, "melanoma": 24}
    assert set(manifest.split) == {"train", "val"}
    val = manifest[manifest.split == "val"]
    assert 20 <= len(val) <= 28 and set(val.label) == {"nevus", "melanoma"}


def test_ph2_native_layout_matches_three_file_layout(tmp_path, shared_data):
    labels = {"common_nevus": "nevus", "atypical_nevus": "nevus", "melanoma": "melanoma"}
    native = run(tmp_path / "native", "ph2", {"format": "ph2", "path": str(shared_data / "ph2-native"), "labels": labels})
    assert len(native) == 9  # the sheet lists 200 images; the 191 without an image are reported, not fatal
    assert native.label.value_counts().to_dict() == {"nevus": 6, "melanoma": 3}
    assert all(path.endswith(".png") for path in native.image_path)  # BMP stored losslessly as PNG
    converted = run(tmp_path / "converted", "ph2", {"format": "isic2017", "path": str(shared_data / "ph2-real")})
    converted = converted.set_index("image_id")
    for row in native.itertuples():
        assert converted.loc[row.image_id, "label"] == row.label
        assert (converted.loc[row.image_id, "width"], converted.loc[row.image_id, "height"]) == (row.width, row.height)
        # the 1-bit BMP mask and the 0/255 PNG made from it agree pixel for pixel
        np.testing.assert_array_equal(read_mask(row.mask_path), read_mask(converted.loc[row.image_id, "mask_path"]))


def test_unpacked_folder_reads_like_the_zip(tmp_path, shared_data):
    folder = shared_data / "isic-real"
    unpacked = tmp_path / "unpacked"
    for zip_name in ("ISIC-2017_Training_Data.zip", "ISIC-2017_Training_Part1_GroundTruth.zip"):
        with zipfile.ZipFile(folder / zip_name) as archive:
            members = [m for m in archive.namelist() if m.endswith(("0001852.jpg", "0001852_segmentation.png"))]
            archive.extractall(unpacked, members=members)
    (unpacked / "ISIC-2017_Training_Part3_GroundTruth.csv").write_text(
        "image_id,melanoma,seborrheic_keratosis\nISIC_0001852,0.0,0.0\n")
    manifest = run(tmp_path, "isic", {"format": "isic2017", "path": str(unpacked)})
    assert list(manifest.image_id) == ["ISIC_0001852"] and manifest.mask_path.notna().all()
    assert manifest.width[0] == 1024
