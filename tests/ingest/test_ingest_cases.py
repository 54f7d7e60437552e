"""Ingest on small generated archives: every layout, every bad-input case, nothing half-written."""

import json
import logging
import stat
import zipfile

import cv2
import numpy as np
import pandas as pd
import pytest

from melanoflow.fileio import BadInputError
from melanoflow.ingest.build import IngestError, ingest
from melanoflow.ingest.settings import IngestSettings
from melanoflow.tables import QUARANTINE_SCHEMA, read_images_manifest, read_table

from .archives import jpeg, png_mask, write_isic2017

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
ISIC_LABELS = {c: c for c in CLASSES}


def settings(on_bad_image="fail", **overrides):
    base = {"on_bad_image": on_bad_image, "max_pixels": 10_000_000, "max_uncompressed_bytes": 10_000_000,
            "max_compression_ratio": 200, "split": {"val_fraction": 0.25, "test_fraction": 0.0}}
    return IngestSettings.from_config(base | overrides)


def run(tmp_path, datasets, **kwargs):
    out = tmp_path / "out"
    manifest = ingest(datasets, CLASSES, settings(**kwargs), 7, out / "images", out / "images.parquet",
                      out / "quarantine.parquet", splits_path=out / "splits.json")
    return manifest, out


def isic(folder, **extra):
    return {"format": "isic2017", "path": str(folder), "labels": ISIC_LABELS} | extra


def test_isic2017_triple_labels_masks_and_files(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (1.0, 0.0), "ISIC_2": (0.0, 1.0), "ISIC_3": (0.0, 0.0)})
    manifest, out = run(tmp_path, {"isic": isic(folder)})
    assert dict(zip(manifest.image_id, manifest.label, strict=True)) == {
        "ISIC_1": "melanoma", "ISIC_2": "seborrheic_keratosis", "ISIC_3": "nevus"}
    assert set(manifest.split) == {"train"}
    assert (manifest.width == 40).all() and (manifest.height == 30).all()
    stored = read_images_manifest(out / "images.parquet")
    pd.testing.assert_frame_equal(stored, manifest)
    mask = cv2.imread(stored.mask_path[0], cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    # the JPEG is stored byte for byte: its checksum is the archive member's
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip") as archive:
        original = archive.read("ISIC-2017_Training_Data/ISIC_1.jpg")
    with open(stored.loc[stored.image_id == "ISIC_1", "image_path"].item(), "rb") as stored_file:
        assert stored_file.read() == original


def test_official_splits_are_kept(tmp_path):
    folder = tmp_path / "isic"
    write_isic2017(folder, {"ISIC_1": (1.0, 0.0)}, split="Training")
    write_isic2017(folder, {"ISIC_2": (0.0, 0.0)}, split="Validation", images={"ISIC_2": jpeg(seed=5)})
    write_isic2017(folder, {"ISIC_3": (0.0, 1.0)}, split="Test_v2", images={"ISIC_3": jpeg(seed=6)})
    manifest, _ = run(tmp_path, {"isic": isic(folder)})
    assert dict(zip(manifest.image_id, manifest.split, strict=True)) == {"ISIC_1": "train", "ISIC_2": "val", "ISIC_3": "test"}


def test_stratified_split_keeps_lesions_together_and_is_seeded(tmp_path):
    folder = tmp_path / "derm"
    rows = []
    for index in range(40):
        label = ["melanoma", "nevus"][index % 2]
        (folder / "imgs").mkdir(parents=True, exist_ok=True)
        (folder / "imgs" / f"img{index}.jpg").write_bytes(jpeg(seed=index))
        rows.append(f"img{index},{label},lesion{index // 2}")
    (folder / "labels.csv").write_text("image_id,label,lesion_id\n" + "\n".join(rows) + "\n")
    dataset = {"format": "folder", "path": str(folder), "labels_csv": "labels.csv", "split": "stratified"}
    first, _ = run(tmp_path, {"derm": dataset})
    second, _ = run(tmp_path / "again", {"derm": dataset})
    assert list(first.split) == list(second.split)
    assert first.groupby("lesion_id").split.nunique().max() == 1
    val = first[first.split == "val"]
    assert 6 <= len(val) <= 14 and set(val.label) == {"melanoma", "nevus"}


def test_dermofit_class_folders_with_masks(tmp_path):
    folder = tmp_path / "dermofit"
    for value, (label, image_id) in enumerate([("MEL", "A1"), ("MEL", "A2"), ("ML", "B1"), ("SK", "C1")]):
        (folder / label / image_id).mkdir(parents=True)
        (folder / label / image_id / f"{image_id}.png").write_bytes(
            cv2.imencode(".png", np.full((30, 40, 3), 100 + value, np.uint8))[1].tobytes())
        (folder / label / image_id / f"{image_id}mask.png").write_bytes(png_mask())
    dataset = {"format": "folder", "path": str(folder), "labels": {"MEL": "melanoma", "ML": "nevus", "SK": "seborrheic_keratosis"},
               "split": "official"}
    manifest, _ = run(tmp_path, {"dermofit": dataset})
    assert dict(zip(manifest.image_id, manifest.label, strict=True)) == {
        "A1": "melanoma", "A2": "melanoma", "B1": "nevus", "C1": "seborrheic_keratosis"}
    assert manifest.mask_path.notna().all()
    assert set(manifest.split) <= {"train", "val"}


# --- bad input: each gives a clear message naming the file, and nothing is written ---


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "out" / "images.parquet").exists()


def test_member_with_parent_path_is_refused(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip", "a") as archive:
        archive.writestr("../evil.jpg", jpeg())
    with pytest.raises(BadInputError, match=r"ISIC-2017_Training_Data\.zip.*'\.\./evil\.jpg'.*'\.\.'"):
        run(tmp_path, {"isic": isic(folder)})
    assert_nothing_written(tmp_path)


def test_member_with_absolute_path_is_refused(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip", "a") as archive:
        archive.writestr(zipfile.ZipInfo("/etc/evil.jpg"), jpeg())
    with pytest.raises(BadInputError, match="absolute path"):
        run(tmp_path, {"isic": isic(folder)})


def test_symlink_member_is_refused(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    link = zipfile.ZipInfo("ISIC-2017_Training_Data/link.jpg")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip", "a") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(BadInputError, match="symbolic link"):
        run(tmp_path, {"isic": isic(folder)})


def test_zip_bomb_ratio_and_total_size_are_capped(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    with zipfile.ZipFile(folder / "ISIC-2017_Training_Data.zip", "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ISIC-2017_Training_Data/zeros.bin", b"\0" * 5_000_000)
    with pytest.raises(BadInputError, match="zip bomb"):
        run(tmp_path, {"isic": isic(folder)})
    with pytest.raises(BadInputError, match="max_uncompressed_bytes"):
        run(tmp_path, {"isic": isic(folder)}, max_compression_ratio=1e9, max_uncompressed_bytes=1_000_000)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    with pytest.raises(BadInputError, match=r"ISIC_1\.jpg: image is 40x30 = 1200 pixels, over the cap of 1000"):
        run(tmp_path, {"isic": isic(folder)}, max_pixels=1000)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_corrupt_or_truncated_image_fails_or_is_quarantined(tmp_path, damage):
    good = jpeg(seed=1)
    bad = b"not an image at all" if damage == "corrupt" else jpeg(seed=2)[:300]
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0), "ISIC_2": (1.0, 0.0)},
                            images={"ISIC_1": good, "ISIC_2": bad})
    with pytest.raises(BadInputError, match=r"ISIC_2\.jpg: (not a readable|corrupt or truncated)"):
        run(tmp_path, {"isic": isic(folder)})
    assert_nothing_written(tmp_path)
    manifest, out = run(tmp_path, {"isic": isic(folder)}, on_bad_image="skip")
    assert list(manifest.image_id) == ["ISIC_1"]
    quarantine = read_table(out / "quarantine.parquet", QUARANTINE_SCHEMA)
    assert list(quarantine.image_id) == ["ISIC_2"] and "ISIC_2.jpg" in quarantine.problem[0]


def test_mask_of_wrong_size(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)}, masks={"ISIC_1": png_mask(20, 20)})
    with pytest.raises(BadInputError, match=r"ISIC_1_segmentation\.png: mask is 20x20, image is 40x30"):
        run(tmp_path, {"isic": isic(folder)})


def test_conflicting_labels(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (1.0, 1.0)})
    with pytest.raises(BadInputError, match=r"Part3_GroundTruth\.csv: image ISIC_1: conflicting labels"):
        run(tmp_path, {"isic": isic(folder)})


def test_duplicate_ids_in_label_csv(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0)})
    csv = folder / "ISIC-2017_Training_Part3_GroundTruth.csv"
    csv.write_text(csv.read_text() + "ISIC_1,1.0,0.0\n")
    with pytest.raises(BadInputError, match=r"Part3_GroundTruth\.csv: image ids listed more than once: \['ISIC_1'\]"):
        run(tmp_path, {"isic": isic(folder)})


def test_image_without_label_and_label_without_image(tmp_path, caplog):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 0.0), "ISIC_9": (0.0, 0.0)},
                            images={"ISIC_1": jpeg(seed=1), "ISIC_2": jpeg(seed=2)})
    with pytest.raises(BadInputError, match=r"ISIC_2\.jpg: image has no label in .*Part3_GroundTruth\.csv"):
        run(tmp_path, {"isic": isic(folder)})
    with caplog.at_level(logging.WARNING):
        manifest, _ = run(tmp_path, {"isic": isic(folder)}, on_bad_image="skip")
    assert list(manifest.image_id) == ["ISIC_1"]
    assert "label row ISIC_9 has no image" in caplog.text


def test_unmapped_label_names_the_dataset_key(tmp_path):
    folder = write_isic2017(tmp_path / "isic", {"ISIC_1": (0.0, 1.0)})
    with pytest.raises(BadInputError, match=r"'seborrheic_keratosis' is not mapped in datasets\.isic\.labels"):
        run(tmp_path, {"isic": isic(folder, labels={"melanoma": "melanoma", "nevus": "nevus"})})


def test_same_image_in_two_splits_names_both_rows(tmp_path):
    folder = tmp_path / "isic"
    write_isic2017(folder, {"ISIC_1": (0.0, 0.0)}, split="Training", images={"ISIC_1": jpeg(seed=3)})
    write_isic2017(folder, {"ISIC_7": (0.0, 0.0)}, split="Test_v2", images={"ISIC_7": jpeg(seed=3)})
    with pytest.raises(IngestError, match=r"two splits: .*isic/ISIC_7 \(test.*isic/ISIC_1 \(train"):
        run(tmp_path, {"isic": isic(folder)})
    assert_nothing_written(tmp_path)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        run(tmp_path, {"isic": isic(tmp_path / "nowhere")})


def carving_archive(folder, n_train=40):
    """An ISIC 2017 layout with Training and Validation parts but no test part; two images per lesion id
    are not expressible there, so lesions are single images and only the class strata matter."""
    truth = {f"ISIC_{index:03d}": ((1.0, 0.0) if index % 4 == 0 else (0.0, 0.0)) for index in range(n_train)}
    write_isic2017(folder, truth, split="Training", images={name: jpeg(seed=i) for i, name in enumerate(truth)})
    write_isic2017(folder, {"ISIC_900": (1.0, 0.0), "ISIC_901": (0.0, 0.0)}, split="Validation",
                   images={"ISIC_900": jpeg(seed=900), "ISIC_901": jpeg(seed=901)})
    return truth


def test_missing_test_part_is_carved_from_training_only(tmp_path, caplog):
    folder = tmp_path / "isic"
    carving_archive(folder)
    split = {"val_fraction": 0.1, "test_fraction": 0.25}
    with caplog.at_level(logging.INFO):
        manifest, out = run(tmp_path, {"isic": isic(folder)}, split=split)
    again, _ = run(tmp_path / "again", {"isic": isic(folder)}, split=split)
    splits = dict(zip(manifest.image_id, manifest.split, strict=True))
    assert splits["ISIC_900"] == splits["ISIC_901"] == "val"  # the official val part is kept, nothing added
    assert sum(split == "val" for split in splits.values()) == 2
    test = manifest[manifest.split == "test"]
    assert 8 <= len(test) <= 12 and set(test.image_id) < {f"ISIC_{i:03d}" for i in range(40)}
    assert set(test.label) == {"nevus", "melanoma"} and abs((test.label == "melanoma").mean() - 0.25) <= 0.06
    assert list(again.split) == list(manifest.split)  # seeded
    assert "no test part" in caplog.text and "carved out as test" in caplog.text
    summary = json.loads((out / "splits.json").read_text())["isic"]
    assert summary["test"]["origin"].startswith("carved from the official training part")
    assert summary["val"]["origin"] == "official" and summary["test"]["images"] == len(test)


def test_split_train_puts_every_image_in_training(tmp_path):
    folder = tmp_path / "isic"
    carving_archive(folder)
    manifest, out = run(tmp_path, {"isic": isic(folder, split="train")}, split={"val_fraction": 0.1, "test_fraction": 0.25})
    assert set(manifest.split) == {"train"} and len(manifest) == 42
    assert json.loads((out / "splits.json").read_text()) == {"isic": {"train": {
        "origin": "all images (split: train)", "images": 42, "classes": {"melanoma": 11, "nevus": 31}}}}
