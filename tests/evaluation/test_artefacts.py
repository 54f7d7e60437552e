"""Artefact-stratified AUCs, the shortcut floor, and flag files (hand-made tables; the real flags when
../shared is there)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from melanoflow.evaluation.artefacts import (
    ALL_IMAGES,
    SHORTCUT_FLOOR,
    shortcut_floor,
    stratified_aucs,
    write_artefact_strata,
)
from melanoflow.evaluation.settings import AucSettings
from melanoflow.fileio import BadInputError
from melanoflow.ingest.flags import read_flags
from melanoflow.tables import write_images_manifest

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
SETTINGS = AucSettings.from_config({"melanoma_class": "melanoma", "keratosis_class": "seborrheic_keratosis",
                                    "bootstrap": {"resamples": 50, "level": 0.95}}, seed=3, classes=CLASSES)


def predictions(labels: np.ndarray, seed: int = 0, dataset: str = "d") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), len(labels))
    frame = pd.DataFrame(probabilities, columns=[f"prob_{name}" for name in CLASSES])
    return frame.assign(dataset=dataset, image_id=[f"img{i:04d}" for i in range(len(labels))], label=labels)


def test_stratified_aucs_match_sklearn_on_each_subset():
    rng = np.random.default_rng(1)
    labels = rng.choice(CLASSES, 120)
    frame = predictions(labels)
    flags = frame[["dataset", "image_id"]].assign(ruler=rng.integers(0, 2, 120))
    table = stratified_aucs({"v": frame}, flags, ["ruler"], SETTINGS).set_index(["artefact", "present"])
    for present in (True, False):
        subset = frame[flags["ruler"] == int(present)]
        row = table.loc[("ruler", present)]
        assert row["n_images"] == len(subset)
        assert row["melanoma_auc"] == pytest.approx(roc_auc_score(subset["label"] == "melanoma", subset["prob_melanoma"]))
        keratosis = roc_auc_score(subset["label"] == "seborrheic_keratosis", subset["prob_seborrheic_keratosis"])
        assert row["mean_auc"] == pytest.approx((row["melanoma_auc"] + keratosis) / 2)
        assert row["melanoma_auc_low"] <= row["melanoma_auc"] <= row["melanoma_auc_high"]
    assert table.loc[(ALL_IMAGES, True), "n_images"] == 120


def test_subset_without_melanoma_is_reported_not_raised():
    labels = np.array(["melanoma", "nevus", "seborrheic_keratosis"] * 10)
    frame = predictions(labels)
    flags = frame[["dataset", "image_id"]].assign(patches=(labels == "nevus").astype(int))
    table = stratified_aucs({"v": frame}, flags, ["patches"], SETTINGS).set_index(["artefact", "present"])
    row = table.loc[("patches", True)]
    assert np.isnan(row["melanoma_auc"]) and np.isnan(row["mean_auc"])
    assert "melanoma AUC undefined" in row["missing_reason"]
    assert not np.isnan(table.loc[("patches", False), "melanoma_auc"])


def flag_table(labels: np.ndarray, flag: np.ndarray, split: str) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "d", "image_id": [f"{split}{i}" for i in range(len(labels))], "split": split,
                         "label": labels, "ruler": flag})


@pytest.mark.parametrize(("informative", "expected", "tolerance"), [(True, 1.0, 1e-9), (False, 0.5, 0.08)])
def test_shortcut_floor(informative, expected, tolerance):
    rng = np.random.default_rng(7)
    frames = []
    for split in ("train", "test"):
        labels = rng.choice(CLASSES, 600)
        flag = (labels == "melanoma").astype(int) if informative else rng.integers(0, 2, 600)
        frames.append(flag_table(labels, flag, split))
    flags = pd.concat(frames, ignore_index=True)
    floor = shortcut_floor(flags, ["ruler"], CLASSES, seed=0)
    assert list(floor.columns[-3:]) == [f"prob_{name}" for name in CLASSES]
    auc = roc_auc_score(floor["label"] == "melanoma", floor["prob_melanoma"])
    assert auc == pytest.approx(expected, abs=tolerance)


def test_bad_flag_files_name_the_file(tmp_path):
    images = pd.DataFrame({"dataset": "d", "image_id": ["a", "b"]})
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("name,ruler\na,1\nb,0\n")
    with pytest.raises(BadInputError, match="no_id.csv.*image_id"):
        read_flags({"d": no_id}, images)
    short = tmp_path / "short.csv"
    short.write_text("image_id,ruler\na,1\n")
    with pytest.raises(BadInputError, match="short.csv.*1 image.*b"):
        read_flags({"d": short}, images)
    other = tmp_path / "other.csv"
    other.write_text("image_id,ink\na,1\nb,0\n")
    complete = tmp_path / "complete.csv"
    complete.write_text("image_id,ruler\na,1\nb,0\n")
    with pytest.raises(BadInputError, match="other.csv.*differ"):
        read_flags({"d": complete, "e": other}, images)


def test_detected_occlusion_stands_in_without_flags(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.choice(CLASSES, 80)
    images = pd.concat([flag_table(labels, 0, "train"), flag_table(labels, 0, "test")], ignore_index=True)
    fraction = rng.uniform(0, 0.05, len(images))
    frame = predictions(labels).assign(image_id=[f"test{i}" for i in range(80)], split="test", predicted="nevus")
    manifest = tmp_path / "images.parquet"
    occlusions = tmp_path / "occlusions.parquet"
    predictions_path = tmp_path / "v.parquet"
    full = images.drop(columns="ruler").assign(image_path="x", mask_path=None, lesion_id=None, width=1, height=1,
                                               sha256="0", source="s")
    write_images_manifest(full, manifest)
    images[["dataset", "image_id"]].assign(occluded_fraction=fraction).to_parquet(occlusions)
    frame.to_parquet(predictions_path)
    table = write_artefact_strata({"v": predictions_path}, manifest, tmp_path / "t.csv", tmp_path / "f.png",
                                  SETTINGS, occlusions=occlusions, select_threshold=0.01)
    assert set(table["prediction_set"]) == {"v", SHORTCUT_FLOOR}
    present = table[(table["prediction_set"] == "v") & (table["artefact"] == "detected_occlusion") & table["present"]]
    assert int(present["n_images"].iloc[0]) == int((fraction[80:] > 0.01).sum())
    assert (tmp_path / "f.png").stat().st_size > 0


def test_real_flags_stratify_the_validation_images(shared_data):
    folder = shared_data / "isic2017-crops"
    labels = pd.read_csv(folder / "ISIC-2017_Validation_Part3_GroundTruth.csv")
    label = np.where(labels["melanoma"] == 1, "melanoma",
                     np.where(labels["seborrheic_keratosis"] == 1, "seborrheic_keratosis", "nevus"))
    images = pd.DataFrame({"dataset": "isic2017", "image_id": labels["image_id"]})
    flags = read_flags({"isic2017": folder / "artefacts.csv"}, images)
    assert len(flags) == 1820
    frame = predictions(label, dataset="isic2017").assign(image_id=labels["image_id"])
    artefacts = [column for column in flags.columns if column not in ("dataset", "image_id")]
    table = stratified_aucs({"v": frame}, flags, artefacts, SETTINGS).set_index(["artefact", "present"])
    raw = pd.read_csv(folder / "artefacts.csv").set_index("image_id").loc[labels["image_id"]]
    for artefact in ("ruler", "hair", "patches"):
        assert table.loc[(artefact, True), "n_images"] == raw[artefact].sum()
        assert table.loc[(artefact, False), "n_images"] == 73 - raw[artefact].sum()
