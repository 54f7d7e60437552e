"""`melanoflow compare`: two runs' results folders compared variant by variant, paired on the same images."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melanoflow import cli, fileio
from melanoflow.evaluation import metrics
from melanoflow.evaluation.run_comparison import compare_runs, compare_segmentation, markdown
from melanoflow.fileio import BadInputError
from melanoflow.predict.settings import run_settings
from melanoflow.tables import PER_IMAGE_SCHEMA, predictions_schema, write_table
from tests.conftest import default_config

from .prediction_tables import CLASSES, ISIC2018_CLASSES, predictions_frame, random_predictions

LABELS = ["melanoma", "melanoma", "nevus", "nevus", "seborrheic_keratosis", "seborrheic_keratosis"]
# Melanoma AUC 6/8: the melanoma at 0.9 outranks all four others, the one at 0.4 two of them (0.3, 0.2).
# Keratosis AUC 7/8: the keratosis at 0.5 outranks all four others, the one at 0.3 all but 0.4.
REFERENCE = [[0.9, 0.05, 0.05], [0.4, 0.2, 0.4], [0.5, 0.4, 0.1], [0.3, 0.6, 0.1], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]
# Both melanomas (0.9, 0.8) above every other image, both keratoses (0.5, 0.3) above every other: AUCs 1.
CANDIDATE = [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.5, 0.4, 0.1], [0.3, 0.6, 0.1], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]
BOOTSTRAP = {"resamples": 300, "seed": 1, "level": 0.95}


def write_run(results: Path, predictions: dict[str, pd.DataFrame], **settings) -> Path:
    """A finished run's results folder as compare reads it: the saved settings (``settings`` replacing
    keys of the default config's) and each variant's predictions table."""
    classes = settings.get("classes", CLASSES)
    fileio.write_json(results / "models/predict.json", run_settings(default_config()) | settings)
    for variant, frame in predictions.items():
        path = results / f"predictions/{variant}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(frame, path, predictions_schema(classes))
    return results


def hand_built_runs(tmp_path: Path) -> tuple[Path, Path]:
    reference = write_run(tmp_path / "reference", {"baseline": predictions_frame(LABELS, REFERENCE)})
    candidate = write_run(tmp_path / "candidate", {"baseline": predictions_frame(LABELS, CANDIDATE)})
    return reference, candidate


def test_identical_runs_differ_by_exactly_zero(tmp_path):
    frame = random_predictions(90, seed=2)
    variants = {"baseline": frame, "proposed": random_predictions(90, seed=2)}
    reference = write_run(tmp_path / "reference", variants)
    candidate = write_run(tmp_path / "candidate", variants)
    table = compare_runs(reference, candidate, **BOOTSTRAP)
    assert list(table["variant"]) == ["baseline", "proposed"]
    for metric in ("melanoma_auc", "mean_auc"):
        assert (table[f"{metric}_diff"] == 0).all()
        assert (table[f"{metric}_diff_low"] == 0).all() and (table[f"{metric}_diff_high"] == 0).all()
        assert (table[f"{metric}_reference"] == table[f"{metric}_candidate"]).all()
    text = markdown(table, reference, candidate, "test", **BOOTSTRAP)
    assert text.count("+0.000 [+0.000, +0.000]") == 4


def test_hand_computed_aucs_and_their_difference(tmp_path):
    reference, candidate = hand_built_runs(tmp_path)
    row = compare_runs(reference, candidate, **BOOTSTRAP).iloc[0]
    assert row["n_images"] == 6
    assert row["melanoma_auc_reference"] == pytest.approx(6 / 8)
    assert row["melanoma_auc_candidate"] == pytest.approx(1.0)
    assert row["mean_auc_reference"] == pytest.approx((6 / 8 + 7 / 8) / 2)
    assert row["mean_auc_candidate"] == pytest.approx(1.0)
    assert row["melanoma_auc_diff"] == pytest.approx(1 / 4)
    assert row["mean_auc_diff"] == pytest.approx(1 - 13 / 16)
    # the candidate is perfect on every resample, so it is never worse than the reference
    assert row["melanoma_auc_diff_low"] >= 0 and row["melanoma_auc_diff_high"] <= 1


def test_the_interval_contains_the_observed_difference(tmp_path):
    labels = random_predictions(200, seed=3)["label"]
    probabilities = [random_predictions(200, seed=seed)[metrics.probability_columns(CLASSES)] for seed in (4, 5)]
    reference, candidate = (
        write_run(tmp_path / name, {"baseline": predictions_frame(labels, table.to_numpy())})
        for name, table in zip(("reference", "candidate"), probabilities, strict=True)
    )
    row = compare_runs(reference, candidate, **BOOTSTRAP).iloc[0]
    for metric in ("melanoma_auc", "mean_auc"):
        assert row[f"{metric}_diff"] == pytest.approx(row[f"{metric}_candidate"] - row[f"{metric}_reference"])
        assert row[f"{metric}_diff_low"] < row[f"{metric}_diff"] < row[f"{metric}_diff_high"]


def test_without_a_keratosis_class_the_mean_auc_is_the_macro_auc(tmp_path):
    runs = []
    for seed, name in ((6, "reference"), (7, "candidate")):
        frame = random_predictions(140, ISIC2018_CLASSES, seed=6)
        frame[metrics.probability_columns(ISIC2018_CLASSES)] = random_predictions(140, ISIC2018_CLASSES, seed=seed)[
            metrics.probability_columns(ISIC2018_CLASSES)].to_numpy()
        runs.append((frame, write_run(tmp_path / name, {"baseline": frame}, classes=ISIC2018_CLASSES,
                                      melanoma_class="MEL", keratosis_class=None)))
    row = compare_runs(runs[0][1], runs[1][1], **BOOTSTRAP).iloc[0]
    scores = [metrics.score_predictions(metrics.read_predictions(path / "predictions/baseline.parquet",
                                                                 ISIC2018_CLASSES), ISIC2018_CLASSES, "MEL", None)
              for _, path in runs]
    assert row["mean_auc_reference"] == scores[0]["macro_auc"] and row["mean_auc_candidate"] == scores[1]["macro_auc"]
    assert row["mean_auc_diff"] == pytest.approx(scores[1]["macro_auc"] - scores[0]["macro_auc"])


def test_by_default_every_variant_and_the_floor_that_both_runs_predicted(tmp_path):
    frame = predictions_frame(LABELS, REFERENCE)
    reference = write_run(tmp_path / "reference",
                          {"proposed": frame, "purified": frame, "baseline": frame, "classical_floor": frame})
    candidate = write_run(tmp_path / "candidate", {"baseline": frame, "proposed": frame, "classical_floor": frame,
                                                   "synthetic": frame})
    assert list(compare_runs(reference, candidate, **BOOTSTRAP)["variant"]) == [
        "baseline", "proposed", "classical_floor"]
    assert list(compare_runs(reference, candidate, ["proposed"], **BOOTSTRAP)["variant"]) == ["proposed"]
    with pytest.raises(BadInputError, match=re.escape(f"{candidate}/predictions/purified.parquet: missing")):
        compare_runs(reference, candidate, ["baseline", "purified"], **BOOTSTRAP)


def test_runs_whose_split_holds_other_images_or_labels_are_refused(tmp_path):
    reference = write_run(tmp_path / "reference", {"baseline": predictions_frame(LABELS, REFERENCE)})
    other_images = predictions_frame(LABELS, CANDIDATE)
    other_images.loc[[1, 2], "image_id"] = ["ISIC_0000011", "ISIC_0000012"]
    candidate = write_run(tmp_path / "candidate", {"baseline": other_images})
    paths = [results / "predictions/baseline.parquet" for results in (reference, candidate)]
    with pytest.raises(BadInputError, match=re.escape(
            f"{paths[0]} and {paths[1]}: the test split holds different images: 2 only in {paths[0]} (first: "
            f"demo/ISIC_0000001), 2 only in {paths[1]} (first: demo/ISIC_0000011)")):
        compare_runs(reference, candidate, **BOOTSTRAP)
    relabelled = predictions_frame(LABELS[::-1], CANDIDATE)
    write_run(candidate, {"baseline": relabelled})
    with pytest.raises(BadInputError, match=re.escape(
            "4 test image(s) labelled differently (first: demo/ISIC_0000000, 'melanoma' against 'seborrheic_keratosis')")):
        compare_runs(reference, candidate, **BOOTSTRAP)


def test_runs_that_score_other_classes_are_refused(tmp_path):
    reference, _ = hand_built_runs(tmp_path)
    candidate = write_run(tmp_path / "candidate", {}, keratosis_class=None)
    with pytest.raises(BadInputError, match=re.escape(
            f"{reference}/models/predict.json and {candidate}/models/predict.json differ in keratosis_class "
            "('seborrheic_keratosis' against None)")):
        compare_runs(reference, candidate, **BOOTSTRAP)


def test_the_command_prints_the_table_and_writes_its_csv(tmp_path, capsys):
    reference, candidate = hand_built_runs(tmp_path)
    out = tmp_path / "comparison.csv"
    arguments = ["compare", str(reference), str(candidate), "--resamples", "300", "--seed", "1"]
    assert cli.main([*arguments, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (f"Candidate {candidate} minus reference {reference}, test split: paired bootstrap of 300 "
                          "resamples stratified by true class, seed 1, 95% intervals.")
    header, _, row = (re.split(r"\s*\|\s*", line.strip("| ")) for line in printed[2:5])
    assert header == ["variant", "reference melanoma AUC", "candidate melanoma AUC", "Δ melanoma AUC",
                      "reference mean AUC", "candidate mean AUC", "Δ mean AUC", "images"]
    table = pd.read_csv(out)
    low, high = table.loc[0, ["melanoma_auc_diff_low", "melanoma_auc_diff_high"]]
    assert row == ["baseline", "0.750", "1.000", f"+0.250 [{low:+.3f}, {high:+.3f}]", "0.812", "1.000",
                   row[6], "6"]
    assert row[6].startswith("+0.188 [")
    assert np.allclose(table.loc[0, ["melanoma_auc_reference", "mean_auc_reference"]], [0.75, 0.8125])


def test_the_command_fails_in_one_line_and_writes_nothing(tmp_path, capsys):
    reference, candidate = hand_built_runs(tmp_path)
    out = tmp_path / "comparison.csv"
    assert cli.main(["compare", str(reference), str(candidate), "--variants", "proposed", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and not out.exists()
    assert captured.err == (f"melanoflow compare: {reference}/predictions/proposed.parquet: missing; the run in "
                            f"{reference} has no predictions of variant 'proposed'\n")
    (candidate / "predictions/baseline.parquet").write_text("not parquet")
    assert cli.main(["compare", str(reference), str(candidate), "--out", str(out)]) == 1
    assert f"{candidate}/predictions/baseline.parquet: not a readable Parquet table" in capsys.readouterr().err
    assert not out.exists()


def write_segmentation_scores(results: Path, jaccards: dict[str, list[float]]) -> None:
    """results/segmentation/per_image.parquet with images t0, t1, ... of each split scoring ``jaccards[split]``."""
    rows = [{"image_id": f"{split[0]}{index}", "dataset": "isic2017", "split": split, "jaccard": jaccard,
             "thresholded_jaccard": 0.0, "dice": 2 * jaccard / (1 + jaccard)}
            for split, values in jaccards.items() for index, jaccard in enumerate(values)]
    write_table(pd.DataFrame(rows), results / "segmentation/per_image.parquet", PER_IMAGE_SCHEMA)


def test_segmentation_jaccard_is_compared_image_by_image(tmp_path):
    reference, candidate = hand_built_runs(tmp_path)
    write_segmentation_scores(reference, {"test": [0.5, 0.6, 0.7, 0.8], "val": [0.1, 0.1]})
    write_segmentation_scores(candidate, {"test": [0.6, 0.6, 0.9, 0.8], "val": [0.9, 0.9]})
    row = compare_segmentation(reference, candidate, "test", resamples=4000, seed=3, level=0.95)
    # per-image differences 0.1, 0, 0.2, 0: mean 0.075; resampled means lie in [0, 0.2]; the candidate is not
    # better only when all four draws are zeros, which happens with probability (2/4)^4 = 1/16
    assert row["n_images"] == 4
    assert (row["jaccard_reference"], row["jaccard_candidate"]) == pytest.approx((0.65, 0.725))
    assert row["jaccard_diff"] == pytest.approx(0.075)
    assert 0 <= row["jaccard_diff_low"] < 0.075 < row["jaccard_diff_high"] <= 0.2
    assert row["jaccard_share_not_better"] == pytest.approx(1 / 16, abs=0.015)
    val = compare_segmentation(reference, candidate, "val", resamples=100, seed=3, level=0.95)
    assert val["jaccard_diff"] == pytest.approx(0.8) and val["jaccard_diff_low"] == pytest.approx(0.8)
    text = markdown(compare_runs(reference, candidate, **BOOTSTRAP), reference, candidate, "test", **BOOTSTRAP,
                    segmentation=row)
    assert text.endswith(f"Segmentation, mean per-image Jaccard of the predicted masks (4 test images): reference "
                         f"0.650, candidate 0.725, Δ +0.075 [{row['jaccard_diff_low']:+.3f}, "
                         f"{row['jaccard_diff_high']:+.3f}] (bootstrap of the per-image differences).\n")


def test_segmentation_is_left_out_where_a_run_has_no_scores_and_refused_on_other_images(tmp_path, capsys):
    reference, candidate = hand_built_runs(tmp_path)
    write_segmentation_scores(reference, {"test": [0.5, 0.6]})
    assert compare_segmentation(reference, candidate) is None
    assert cli.main(["compare", str(reference), str(candidate), "--resamples", "50"]) == 0
    assert "Segmentation" not in capsys.readouterr().out
    write_segmentation_scores(candidate, {"test": [0.5, 0.6, 0.7]})
    assert cli.main(["compare", str(reference), str(candidate), "--resamples", "50"]) == 1
    assert capsys.readouterr().err == (
        f"melanoflow compare: {reference}/segmentation/per_image.parquet and {candidate}/segmentation/per_image.parquet"
        f": the test split holds different images: 1 only in {candidate}/segmentation/per_image.parquet (first: "
        "isic2017/t2); a paired comparison needs the same images\n")
    write_segmentation_scores(candidate, {"test": [0.7, 0.6]})
    assert cli.main(["compare", str(reference), str(candidate), "--resamples", "50"]) == 0
    assert "Segmentation, mean per-image Jaccard of the predicted masks (2 test images): reference 0.550, candidate " \
           "0.650, Δ +0.100 [" in capsys.readouterr().out
