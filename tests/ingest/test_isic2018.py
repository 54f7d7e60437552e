"""Ingest of the ISIC 2018 Task 3 / HAM10000 release: every part, lesion ids, masks, and its bad inputs."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from melanoflow.fileio import BadInputError, read_mask
from melanoflow.ingest.build import ingest
from melanoflow.ingest.settings import IngestSettings

from ..conftest import REPO
from .archives import ISIC2018_CODES, png_mask, write_isic2018_part, zip_bytes

CLASSES = ["melanoma", "nevus", "basal_cell_carcinoma", "actinic_keratosis", "benign_keratosis",
           "dermatofibroma", "vascular_lesion"]
LABELS = dict(zip(ISIC2018_CODES, CLASSES, strict=True))


def settings(test_fraction=0.0, on_bad_image="fail"):
    return IngestSettings.from_config({
        "on_bad_image": on_bad_image, "max_pixels": 10_000_000, "max_uncompressed_bytes": 1_000_000_000,
        "max_compression_ratio": 200, "split": {"val_fraction": 0.2, "test_fraction": test_fraction}})


def run(tmp_path, folder, **kwargs):
    out = tmp_path / "out"
    manifest = ingest({"isic2018": {"format": "isic2018_task3", "path": str(folder), "labels": LABELS}}, CLASSES,
                      settings(**kwargs), 5, out / "images", out / "images.parquet", out / "quarantine.parquet",
                      splits_path=out / "splits.json")
    return manifest, json.loads((out / "splits.json").read_text())["isic2018"]


def ids(prefix, count):
    return {f"ISIC_{prefix}{index:03d}": ISIC2018_CODES[index % 7] for index in range(count)}


def test_official_parts_lesion_groupings_and_ham10000_masks(tmp_path):
    folder = tmp_path / "isic2018"
    training, validation, test = ids(1, 28), ids(2, 7), ids(3, 14)
    write_isic2018_part(folder, "Training", training)
    write_isic2018_part(folder, "Validation", validation, zipped=False, seed=100)
    write_isic2018_part(folder, "Test", test, seed=200)
    everything = training | validation | test
    (folder / "ISIC2018_Task3_Training_LesionGroupings.csv").write_text(
        "image,lesion_id,diagnosis_confirm_type\n"
        + "".join(f"{image_id},HAM_{index // 2},histopathology\n" for index, image_id in enumerate(everything)))
    (folder / "HAM10000_segmentations_lesion_tschandl.zip").write_bytes(zip_bytes(
        {f"HAM10000_segmentations_lesion_tschandl/{image_id}_segmentation.png": png_mask() for image_id in training}))
    manifest, splits = run(tmp_path, folder)
    by_split = {split: set(group.image_id) for split, group in manifest.groupby("split")}
    assert by_split == {"train": set(training), "val": set(validation), "test": set(test)}
    assert {split: parts["origin"] for split, parts in splits.items()} == {
        "train": "official", "val": "official", "test": "official"}
    by_id = manifest.set_index("image_id")
    assert all(by_id.loc[image_id, "label"] == LABELS[code] for image_id, code in everything.items())
    assert by_id.loc["ISIC_1003", "lesion_id"] == "HAM_1"
    assert by_id.loc[list(training), "mask_path"].notna().all() and by_id.loc[list(test), "mask_path"].isna().all()
    assert read_mask(by_id.loc["ISIC_1000", "mask_path"]).sum() == 20 * 15


def test_missing_test_part_is_carved_by_lesion_and_class(tmp_path):
    folder = tmp_path / "isic2018"
    training = ids(1, 70)
    write_isic2018_part(folder, "Training", training)
    (folder / "HAM10000_metadata.csv").write_text(
        "lesion_id,image_id,dx\n" + "".join(f"HAM_{index // 2},{image_id},x\n" for index, image_id in enumerate(training)))
    manifest, splits = run(tmp_path, folder, test_fraction=0.2)
    assert splits["test"]["origin"].startswith("carved from the official training part")
    assert manifest.groupby("lesion_id")["split"].nunique().max() == 1
    assert set(manifest.loc[manifest.split == "test", "label"]) == set(CLASSES)


def test_labels_mapped_to_null_are_left_out_and_counted(tmp_path, caplog):
    # HAM10000 as extra training data of an ISIC 2017 run: melanomas and nevi only.
    folder = tmp_path / "ham10000"
    training = ids(1, 21)
    write_isic2018_part(folder, "Training", training)
    labels = {code: None for code in ISIC2018_CODES} | {"MEL": "melanoma", "NV": "nevus"}
    dataset = {"format": "isic2018_task3", "path": str(folder), "labels": labels, "split": "train"}
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="melanoflow"):
        manifest = ingest({"ham10000": dataset}, ["melanoma", "nevus", "seborrheic_keratosis"], settings(), 5,
                          out / "images", out / "images.parquet", out / "quarantine.parquet")
    kept = {image_id for image_id, code in training.items() if code in ("MEL", "NV")}
    assert set(manifest.image_id) == kept and set(manifest.split) == {"train"}
    assert len(pd.read_parquet(out / "quarantine.parquet")) == 0
    assert {path.stem for path in (out / "images" / "ham10000").iterdir()} == kept  # nothing decoded for the rest
    assert "ham10000: 15 images left out, as datasets.ham10000.labels maps their labels to null: " \
           "AKIEC 3, BCC 3, BKL 3, DF 3, VASC 3" in caplog.text


def test_a_part_without_ground_truth_is_listed_as_unscored(tmp_path, caplog):
    folder = tmp_path / "isic2018"
    write_isic2018_part(folder, "Training", ids(1, 14))
    write_isic2018_part(folder, "Test", ids(3, 5), truth=False)
    with caplog.at_level(logging.WARNING):
        manifest, splits = run(tmp_path, folder)
    assert not manifest.image_id.str.startswith("ISIC_3").any()
    assert splits["unscored"]["images"] == 5 and "ISIC2018_Task3_Test_Input" in splits["unscored"]["origin"]
    # beside the images folder, in the run's results folder
    target = (tmp_path / "out" / "predict" / "unscored" / "isic2018" / "ISIC2018_Task3_Test_Input").as_posix()
    assert "ISIC2018_Task3_Test_Input.zip has no ground truth" in caplog.text and target in caplog.text
    assert target in splits["unscored"]["origin"]


@pytest.mark.parametrize("case", ["truth without input", "training without truth", "image not in metadata",
                                  "two labels in a row", "no label in a row"])
def test_bad_release_stops_naming_the_file(tmp_path, case):
    folder = tmp_path / "isic2018"
    training = ids(1, 7)
    write_isic2018_part(folder, "Training", training, truth=case != "training without truth")
    expected = {"training without truth": "ISIC2018_Task3_Training_GroundTruth.csv"}
    if case == "truth without input":
        write_isic2018_part(folder, "Validation", ids(2, 3))
        (folder / "ISIC2018_Task3_Validation_Input.zip").unlink()
        expected[case] = "ISIC2018_Task3_Validation_Input"
    if case == "image not in metadata":
        listed = list(training)[:-1]
        (folder / "HAM10000_metadata.csv").write_text(
            "lesion_id,image_id\n" + "".join(f"HAM_{index},{image_id}\n" for index, image_id in enumerate(listed)))
        expected[case] = f"HAM10000_metadata.csv: 1 images of ISIC2018_Task3_Training_Input have no lesion id, e.g. ['{list(training)[-1]}']"
    if case in ("two labels in a row", "no label in a row"):
        truth = pd.DataFrame([[image_id, *[float(code == label) for code in ISIC2018_CODES]]
                              for image_id, label in training.items()], columns=["image", *ISIC2018_CODES])
        truth.loc[3, "NV"] = 1.0 if case == "two labels in a row" else truth.loc[3, "NV"]
        truth.loc[3, "AKIEC"] = 0.0 if case == "no label in a row" else truth.loc[3, "AKIEC"]
        (folder / "ISIC2018_Task3_Training_GroundTruth.zip").write_bytes(zip_bytes(
            {"ISIC2018_Task3_Training_GroundTruth/ISIC2018_Task3_Training_GroundTruth.csv": truth.to_csv(index=False).encode()}))
        expected[case] = "ISIC2018_Task3_Training_GroundTruth.csv: image ISIC_1003: conflicting labels " + (
            "['NV', 'AKIEC']" if case == "two labels in a row" else "none")
    with pytest.raises(BadInputError) as error:
        run(tmp_path, folder)
    assert expected[case] in str(error.value)
    assert not (tmp_path / "out" / "images.parquet").exists()


def test_real_ham10000_release(tmp_path, shared_data):
    """The shared HAM10000 crops as released: labels as the ground truth says, the README's class counts,
    every mask, and no lesion in two of the carved splits."""
    folder = shared_data / "ham10000-crops"
    out = tmp_path / "out"
    manifest = ingest({"ham10000": {"format": "isic2018_task3", "path": str(folder), "labels": LABELS}}, CLASSES,
                      settings(test_fraction=0.2), 200, out / "images", out / "images.parquet",
                      out / "quarantine.parquet", threads=2)
    counts = manifest.label.value_counts().to_dict()
    assert counts == dict(zip(CLASSES, [491, 4323, 264, 183, 583, 60, 80], strict=True))
    metadata = pd.read_csv(folder / "HAM10000_metadata.csv")
    assert dict(zip(manifest.image_id, manifest.lesion_id, strict=True)) == dict(
        zip(metadata.image_id, metadata.lesion_id, strict=True))
    assert manifest.mask_path.notna().all() and (manifest.width == 224).all()
    assert manifest.groupby("lesion_id")["split"].nunique().max() == 1
    shares = manifest.groupby("split").label.value_counts(normalize=True).unstack()
    assert (shares.sub(manifest.label.value_counts(normalize=True)).abs() < 0.03).all().all()
    assert 0.18 <= (manifest.split == "test").mean() <= 0.22 and 0.18 <= (manifest.split == "val").mean() <= 0.22


def test_the_workflow_predicts_a_part_without_ground_truth(tmp_path):
    """The DAG finds the unlabelled test input before ingest runs and plans its prediction, not its scoring."""
    folder = tmp_path / "isic2018"
    write_isic2018_part(folder, "Training", ids(1, 14))
    write_isic2018_part(folder, "Test", ids(3, 5), truth=False)
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": {"ham10000": {
        "format": "isic2018_task3", "path": str(folder), "labels": LABELS, "split": "official"}}}))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "run"),
         "--configfile", str(REPO / "config" / "isic2018-cpu.yaml"), str(overlay), "--cores", "1", "-n"],
        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results/predict/unscored/ham10000/ISIC2018_Task3_Test_Input" in result.stdout
    assert str(folder / "ISIC2018_Task3_Test_Input.zip") in result.stdout
