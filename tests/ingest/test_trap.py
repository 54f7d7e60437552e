"""Trap splits: the association asked for holds on training and validation, reversed on the test split, and
the data's own on the untrapped split, all counted from the result (generated flags; the team's real ISIC
2017 flags when ../shared is there)."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from melanoflow.config_files import load_config
from melanoflow.fileio import BadInputError
from melanoflow.ingest.trap import TrapSettings, apply_trap_split, association, class_plan, trap_split
from melanoflow.tables import UNTRAPPED

from ..conftest import REPO
from ..e2e.conftest import SNAKEMAKE

SETTINGS = TrapSettings(flags="flags.csv", artefact="ruler", target_class="melanoma", strength=0.9,
                        test_fraction=0.2, untrapped_fraction=0.15, val_fraction=0.15)


def dataset(n: int, seed: int, lesions_of_two: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` images of three classes, rulers on 60 % of melanomas and 50 % of the rest (as in the ISIC 2017
    crops); the first ``lesions_of_two`` lesions have two images each."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["melanoma", "nevus", "seborrheic_keratosis"], size=n, p=[0.2, 0.72, 0.08])
    ruler = (rng.random(n) < np.where(labels == "melanoma", 0.6, 0.5)).astype(int)
    lesion = [f"L{index // 2}" if index < 2 * lesions_of_two else None for index in range(n)]
    if lesions_of_two:  # both images of a lesion have its label and its flag
        labels[1:2 * lesions_of_two:2] = labels[0:2 * lesions_of_two:2]
        ruler[1:2 * lesions_of_two:2] = ruler[0:2 * lesions_of_two:2]
    rows = pd.DataFrame({"image_id": [f"ISIC_{index:07d}" for index in range(n)], "label": labels,
                         "lesion_id": lesion})
    return rows, ruler


def shares(rows: pd.DataFrame, ruler: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"split": split, "label": rows["label"], "artefact": ruler}).dropna(subset=["split"])
    return association(frame, "melanoma").set_index("split")


def test_the_association_holds_on_train_and_val_and_is_reversed_on_test():
    rows, ruler = dataset(3000, seed=1)
    split = trap_split(rows, ruler, SETTINGS, seed=7)
    table = shares(rows, ruler, split)

    for name in ("train", "val"):
        assert table.loc[name, "class_share"] == pytest.approx(0.9, abs=1.5 / table.loc[name, "class_images"])
        assert table.loc[name, "other_share"] == pytest.approx(0.1, abs=1.5 / table.loc[name, "other_images"])
    assert table.loc["test", "class_share"] == pytest.approx(0.1, abs=1.5 / table.loc["test", "class_images"])
    assert table.loc["test", "other_share"] == pytest.approx(0.9, abs=1.5 / table.loc["test", "other_images"])
    # the untrapped split keeps the data's own shares (0.6 and 0.5, up to sampling)
    natural = shares(rows, ruler, np.full(len(rows), "all", dtype=object)).loc["all"]
    assert table.loc[UNTRAPPED, "class_share"] == pytest.approx(natural["class_share"], abs=0.02)
    assert table.loc[UNTRAPPED, "other_share"] == pytest.approx(natural["other_share"], abs=0.02)
    # the requested sizes: a fifth of each class on the reversed test (while the cells last), 15 % untrapped
    for _, group in rows.groupby("label"):
        in_class = split[group.index]
        assert (in_class == UNTRAPPED).sum() == pytest.approx(0.15 * len(group), abs=2)
    assert table.loc["test", "images"] == pytest.approx(0.2 * len(rows), rel=0.05)
    assert table.loc["val", "images"] / (table.loc["val", "images"] + table.loc["train", "images"]) == pytest.approx(
        0.15, abs=0.01)


def test_strength_one_half_holds_no_association_and_a_seed_fixes_the_draw():
    rows, ruler = dataset(2000, seed=2)
    half = TrapSettings(**{**SETTINGS.__dict__, "strength": 0.5})
    split = trap_split(rows, ruler, half, seed=3)
    table = shares(rows, ruler, split)
    for name in ("train", "test"):
        assert table.loc[name, "class_share"] == pytest.approx(0.5, abs=0.01)
        assert table.loc[name, "other_share"] == pytest.approx(0.5, abs=0.01)
    assert (trap_split(rows, ruler, half, seed=3) == split).all()
    assert (trap_split(rows, ruler, half, seed=4) != split).any()


def test_the_images_of_a_lesion_stay_together():
    rows, ruler = dataset(600, seed=3, lesions_of_two=150)
    split = trap_split(rows, ruler, SETTINGS, seed=0)
    per_lesion = pd.DataFrame({"lesion": rows["lesion_id"], "split": split}).dropna(subset=["lesion"])
    assert (per_lesion.fillna("left out").groupby("lesion")["split"].nunique() == 1).all()


def test_the_plan_by_hand():
    # 221 melanomas with a ruler and 138 without (the ISIC 2017 crops), strength 0.9:
    # untrapped 33 + 21; test aims at 72: 7 with a ruler, 65 without; training and validation take
    # min(181 / 0.9, 52 / 0.1) = 201 lesions: 181 with and 20 without, 15 % of each to validation.
    plan = class_plan(221, 138, SETTINGS)
    assert plan == {UNTRAPPED: (33, 21), "test": (7, 65), "val": (27, 3), "train": (154, 17)}


def test_a_lesion_of_two_classes_and_bad_settings_are_named():
    rows, ruler = dataset(10, seed=0, lesions_of_two=1)
    rows.loc[1, "label"] = "nevus" if rows.loc[0, "label"] != "nevus" else "melanoma"
    with pytest.raises(BadInputError, match="lesion 'L0' has images of two classes"):
        trap_split(rows, ruler, SETTINGS, seed=0)
    with pytest.raises(ValueError, match=r"unknown key\(s\) datasets.x.trap.strenght"):
        TrapSettings.from_config({"flags": "f", "artefact": "ruler", "class": "melanoma", "strenght": 0.9,
                                  "strength": 0.9, "test_fraction": 0.2, "untrapped_fraction": 0.1,
                                  "val_fraction": 0.1}, "datasets.x.trap")
    with pytest.raises(ValueError, match=r"missing key\(s\) trap.val_fraction"):
        TrapSettings.from_config({"flags": "f", "artefact": "ruler", "class": "melanoma", "strength": 0.9,
                                  "test_fraction": 0.2, "untrapped_fraction": 0.1})


def test_the_real_isic_2017_crops_trapped(tmp_path, shared_data):
    """config/isic2017-trap.yaml's trap on the team's crops and flags (labels from the official ground truth,
    so no image is decoded); the workflow plans it, into its own results folder, as a user runs it."""
    crops = shared_data / "isic2017-crops"
    truth = pd.concat(pd.read_csv(path, dtype={"image_id": str})
                      for path in sorted(crops.glob("ISIC-2017_*_Part3_GroundTruth.csv")))
    labels = np.select([truth["melanoma"] == 1, truth["seborrheic_keratosis"] == 1],
                       ["melanoma", "seborrheic_keratosis"], "nevus")
    manifest = pd.DataFrame({"image_id": truth["image_id"], "dataset": "isic2017", "split": "train",
                             "label": labels, "lesion_id": None})
    config = load_config([REPO / "config" / "isic2017-cpu.yaml", REPO / "config" / "isic2017-trap.yaml"],
                         REPO / "config" / "config.yaml")
    trap = {**config["datasets"]["isic2017"]["trap"], "flags": str(crops / "artefacts.csv")}

    sources = apply_trap_split(manifest, manifest["dataset"] == "isic2017", trap, config["seed"], "isic2017")

    flags = pd.read_csv(crops / "artefacts.csv", dtype={"image_id": str})
    frame = manifest.dropna(subset=["split"]).merge(flags, on="image_id").rename(columns={"ruler": "artefact"})
    table = association(frame, "melanoma").set_index("split")
    assert table.loc["train", "class_share"] == pytest.approx(0.9, abs=0.01)
    assert table.loc["train", "other_share"] == pytest.approx(0.1, abs=0.01)
    assert table.loc["test", "class_share"] == pytest.approx(0.1, abs=0.02)
    assert table.loc["test", "other_share"] == pytest.approx(0.9, abs=0.01)
    # the crops' own association: rulers on 62 % of melanomas and 51 % of the rest
    assert table.loc[UNTRAPPED, "class_share"] == pytest.approx(0.62, abs=0.03)
    assert table.loc[UNTRAPPED, "other_share"] == pytest.approx(0.51, abs=0.03)
    assert table.loc["test", "images"] > 300 and table.loc[UNTRAPPED, "images"] > 250
    assert sources["test"].startswith("trap test, association reversed: ruler on 10% of melanoma")
    assert "left out to hold the association" in sources["train"]

    raw = tmp_path / "resources" / "raw"
    raw.mkdir(parents=True)
    (raw / "isic2017").symlink_to(crops)
    (raw / "ph2").symlink_to(shared_data / "ph2-real")
    planned = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "--cores", "2",
                              "--configfile", str(REPO / "config" / "isic2017-cpu.yaml"),
                              str(REPO / "config" / "isic2017-trap.yaml")], capture_output=True, text=True, timeout=300)
    assert planned.returncode == 0, planned.stderr[-4000:]
    assert "rule trap_drops" in planned.stdout and "ph2" not in planned.stdout
    assert "results/trap/reports/artefacts/trap.csv" in planned.stdout
