"""The trap run's AUC drops: values equal sklearn's AUCs on each test split, drops and paired differences are
their differences, and a classifier that reads the artefact falls where one that reads the lesion does not."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from melanoflow.evaluation.artefacts import SHORTCUT_FLOOR
from melanoflow.evaluation.settings import TrapDropSettings
from melanoflow.evaluation.trap import trap_drops, write_trap_report
from melanoflow.fileio import BadInputError
from melanoflow.tables import UNTRAPPED, predictions_schema, write_images_manifest, write_table

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
SETTINGS = TrapDropSettings.from_config({"melanoma_class": "melanoma", "keratosis_class": "seborrheic_keratosis",
                                         "bootstrap": {"resamples": 400, "level": 0.95}, "baseline": "baseline"},
                                        seed=5, classes=CLASSES)


def trap_images(seed: int = 0) -> pd.DataFrame:
    """Train, untrapped and reversed test images: rulers on 90 % of training melanomas and 10 % of the rest,
    on 55 % of everything in the untrapped split, the training shares reversed in the test split."""
    rng = np.random.default_rng(seed)
    frames = []
    for split, count, on_melanoma, on_others in (("train", 400, 0.9, 0.1), (UNTRAPPED, 300, 0.55, 0.55),
                                                 ("test", 300, 0.1, 0.9)):
        labels = rng.choice(CLASSES, size=count, p=[0.25, 0.6, 0.15])
        ruler = (rng.random(count) < np.where(labels == "melanoma", on_melanoma, on_others)).astype(int)
        frames.append(pd.DataFrame({"dataset": "d", "image_id": [f"{split}_{index:04d}" for index in range(count)],
                                    "split": split, "label": labels, "ruler": ruler}))
    return pd.concat(frames, ignore_index=True)


def predictions(images: pd.DataFrame, reads_ruler: bool, seed: int) -> pd.DataFrame:
    """A classifier that sees the lesion (a noisy score of the true class) or, with ``reads_ruler``, adds
    the ruler to its melanoma score."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(len(images), len(CLASSES))) + 1.2 * (images["label"].to_numpy()[:, None] == CLASSES)
    if reads_ruler:
        scores[:, 0] += 2.5 * images["ruler"].to_numpy()
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    return pd.concat([images[["dataset", "image_id", "split", "label"]].reset_index(drop=True),
                      pd.DataFrame(probabilities, columns=[f"prob_{name}" for name in CLASSES])], axis=1)


def by_split(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    return frame[frame["split"] == split].sort_values(["dataset", "image_id"], ignore_index=True)


def test_drops_are_differences_of_the_aucs_and_a_shortcut_falls():
    images = trap_images()
    sets = {"baseline": predictions(images, reads_ruler=True, seed=1),
            "proposed": predictions(images, reads_ruler=False, seed=2)}
    table = trap_drops({name: by_split(frame, UNTRAPPED) for name, frame in sets.items()},
                       {name: by_split(frame, "test") for name, frame in sets.items()}, SETTINGS, "baseline")
    rows = table.set_index(["prediction_set", "metric"])

    for name, frame in sets.items():
        expected = {split: roc_auc_score(by_split(frame, split)["label"] == "melanoma",
                                         by_split(frame, split)["prob_melanoma"]) for split in (UNTRAPPED, "test")}
        row = rows.loc[(name, "melanoma_auc")]
        assert row["untrapped"] == pytest.approx(expected[UNTRAPPED])
        assert row["reversed"] == pytest.approx(expected["test"])
        assert row["drop"] == pytest.approx(expected[UNTRAPPED] - expected["test"])
        for column in ("untrapped", "reversed", "drop", "drop_minus_baseline"):
            assert row[f"{column}_low"] <= row[column] <= row[f"{column}_high"]
    baseline, proposed = rows.loc[("baseline", "melanoma_auc")], rows.loc[("proposed", "melanoma_auc")]
    assert baseline["drop_low"] > 0.15  # reading the ruler: a clear fall once the association is reversed
    assert proposed["drop_low"] < 0 < proposed["drop_high"]  # reading the lesion: no fall
    assert proposed["drop_minus_baseline"] == pytest.approx(proposed["drop"] - baseline["drop"])
    assert proposed["drop_minus_baseline_high"] < 0
    assert baseline["drop_minus_baseline"] == baseline["drop_minus_baseline_low"] == 0


def test_prediction_sets_of_other_images_are_refused():
    images = trap_images()
    frame = predictions(images, reads_ruler=False, seed=1)
    other = by_split(frame, "test").iloc[1:]
    with pytest.raises(BadInputError, match="test split: prediction sets 'baseline' and 'proposed' list other"):
        trap_drops({"baseline": by_split(frame, UNTRAPPED), "proposed": by_split(frame, UNTRAPPED)},
                   {"baseline": by_split(frame, "test"), "proposed": other}, SETTINGS, "baseline")


def test_the_trap_report_counts_the_association_and_adds_the_shortcut_floor(tmp_path):
    images = trap_images(seed=3)
    manifest = images.assign(image_path="x.jpg", mask_path=None, lesion_id=None, width=8, height=8, sha256=images["image_id"],
                             source="generated").drop(columns="ruler")
    write_images_manifest(manifest, tmp_path / "images.parquet")
    images[["image_id", "ruler"]].assign(ink=0).to_csv(tmp_path / "flags.csv", index=False)
    paths = {}
    for name, reads in (("baseline", True), ("proposed", False)):
        frame = predictions(images[images["split"] != "train"], reads, seed=len(name))
        frame["predicted"] = frame[[f"prob_{label}" for label in CLASSES]].to_numpy().argmax(axis=1).astype(str)
        paths[name] = tmp_path / f"{name}.parquet"
        write_table(frame, paths[name], predictions_schema(CLASSES))
    outputs = {name: tmp_path / f"trap.{suffix}" for name, suffix in
               (("drops", "csv"), ("association", "assoc.csv"), ("summary", "md"), ("figure", "png"))}

    table = write_trap_report(paths, tmp_path / "images.parquet", {"d": tmp_path / "flags.csv"},
                              {"d": {"artefact": "ruler", "class": "melanoma"}}, SETTINGS, outputs)

    association = pd.read_csv(outputs["association"]).set_index("split")
    for split, group in images.groupby("split"):
        melanoma = group["label"] == "melanoma"
        assert association.loc[split, "class_with_artefact"] == group.loc[melanoma, "ruler"].sum()
        assert association.loc[split, "other_with_artefact"] == group.loc[~melanoma, "ruler"].sum()
    assert list(association.index) == ["train", "test", UNTRAPPED]
    floor = table.set_index(["prediction_set", "metric"]).loc[(SHORTCUT_FLOOR, "melanoma_auc")]
    assert floor["untrapped"] < 0.6 and floor["reversed"] < 0.2  # the flags alone, learnt where rulers meant melanoma
    assert "proposed: melanoma AUC" in outputs["summary"].read_text()
    assert outputs["figure"].stat().st_size > 10_000
