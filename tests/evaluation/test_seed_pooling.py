"""`melanoflow pool`: runs that differ only in the classifier seed, pooled variant by variant."""

import numpy as np
import pandas as pd
import pytest

from melanoflow import cli
from melanoflow.evaluation import metrics
from melanoflow.evaluation.bootstrap import paired_differences
from melanoflow.evaluation.seed_pooling import over_drawn_runs, pool_runs
from melanoflow.fileio import BadInputError

from .prediction_tables import CLASSES, predictions_frame, random_predictions
from .test_run_comparison import CANDIDATE, LABELS, REFERENCE, write_run

BOOTSTRAP = {"resamples": 400, "seed": 3, "level": 0.9}


def test_one_run_pooled_is_that_runs_own_paired_comparison(tmp_path):
    baseline, floor = random_predictions(120, seed=1), random_predictions(120, seed=1)
    floor[metrics.probability_columns(CLASSES)] = random_predictions(120, seed=2)[
        metrics.probability_columns(CLASSES)].to_numpy()
    run = write_run(tmp_path / "run", {"baseline": baseline, "classical_floor": floor})
    table = pool_runs([run], **BOOTSTRAP).set_index("variant")
    frames = {name: metrics.read_predictions(run / f"predictions/{name}.parquet", CLASSES)
              for name in ("baseline", "classical_floor")}
    expected = paired_differences(frames["classical_floor"], frames["baseline"], CLASSES, "melanoma",
                                  "seborrheic_keratosis", **BOOTSTRAP)
    for metric in ("melanoma_auc", "mean_auc"):
        scores = metrics.score_predictions(frames["baseline"], CLASSES, "melanoma", "seborrheic_keratosis")
        assert table.loc["baseline", metric] == pytest.approx(scores[metric])
        assert table.loc["baseline", f"{metric}_run_min"] == table.loc["baseline", f"{metric}_run_max"]
        row = table.loc["baseline"]
        assert row[f"{metric}_vs_floor_diff"] == pytest.approx(expected[metric]["difference"])
        assert [row[f"{metric}_vs_floor_diff_low"], row[f"{metric}_vs_floor_diff_high"]] == pytest.approx(
            expected[metric]["interval"])
        assert row[f"{metric}_vs_floor_share_not_better"] == pytest.approx(expected[metric]["share_not_better"])


def test_hand_computed_pooled_aucs(tmp_path):
    # the baseline's melanoma AUC is 6/8 in one run and 1 in the other; the floor's 6/8 in both
    floor = predictions_frame(LABELS, REFERENCE)
    runs = [write_run(tmp_path / name, {"baseline": predictions_frame(LABELS, table), "classical_floor": floor})
            for name, table in (("seed200", REFERENCE), ("seed201", CANDIDATE))]
    table = pool_runs(runs, **BOOTSTRAP).set_index("variant")
    assert list(table.index) == ["baseline", "classical_floor"]
    baseline = table.loc["baseline"]
    assert baseline["melanoma_auc"] == pytest.approx(7 / 8)
    assert (baseline["melanoma_auc_run_min"], baseline["melanoma_auc_run_max"]) == pytest.approx((6 / 8, 1.0))
    assert baseline["melanoma_auc_vs_floor_diff"] == pytest.approx(1 / 8)
    assert baseline["mean_auc"] == pytest.approx(((6 / 8 + 7 / 8) / 2 + 1) / 2)
    assert table.loc["classical_floor", "melanoma_auc_vs_baseline_diff"] == pytest.approx(-1 / 8)
    assert baseline["runs"] == 2 and baseline["n_images"] == 6


def test_the_runs_are_resampled_too():
    per_run = [np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0])]
    drawn = np.array([[0, 0], [0, 1], [1, 1]])
    assert over_drawn_runs(per_run, drawn) == pytest.approx([1.0, 0.5, 0.0])


def test_identical_runs_pool_to_one(tmp_path):
    variants = {"baseline": random_predictions(90, seed=4), "proposed": random_predictions(90, seed=5)}
    variants["proposed"]["label"] = variants["baseline"]["label"]
    one = pool_runs([write_run(tmp_path / "one", variants)], **BOOTSTRAP)
    three = pool_runs([write_run(tmp_path / name, variants) for name in ("a", "b", "c")], **BOOTSTRAP)
    pd.testing.assert_frame_equal(three.drop(columns="runs"), one.drop(columns="runs"), rtol=1e-12)


def test_runs_on_other_images_or_without_a_variant_are_refused(tmp_path, capsys):
    frame = predictions_frame(LABELS, REFERENCE)
    first = write_run(tmp_path / "first", {"baseline": frame, "proposed": frame})
    fewer = write_run(tmp_path / "fewer", {"baseline": frame.iloc[:5], "proposed": frame.iloc[:5]})
    with pytest.raises(BadInputError, match="the test split holds different images: 1 only in"):
        pool_runs([first, fewer], **BOOTSTRAP)
    only_synthetic = write_run(tmp_path / "only_synthetic", {"synthetic": frame})
    with pytest.raises(BadInputError, match=f"{first}, {only_synthetic}: no variant has predictions/<variant>.parquet "
                                            "in every run"):
        pool_runs([first, only_synthetic], **BOOTSTRAP)
    unproposed = write_run(tmp_path / "unproposed", {"baseline": frame})
    assert list(pool_runs([first, unproposed], **BOOTSTRAP)["variant"]) == ["baseline"]
    assert cli.main(["pool", str(first), str(unproposed), "--variants", "proposed", "--resamples", "50"]) == 1
    assert capsys.readouterr().err == (f"melanoflow pool: {unproposed}/predictions/proposed.parquet: missing; the run "
                                       f"in {unproposed} has no predictions of variant 'proposed'\n")


def test_the_command_prints_the_pooled_table_and_writes_it(tmp_path, capsys):
    floor = predictions_frame(LABELS, REFERENCE)
    runs = [str(write_run(tmp_path / name, {"baseline": predictions_frame(LABELS, table), "classical_floor": floor}))
            for name, table in (("seed200", REFERENCE), ("seed201", CANDIDATE))]
    out = tmp_path / "pooled.csv"
    assert cli.main(["pool", *runs, "--resamples", "50", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"2 runs pooled ({runs[0]}, {runs[1]}), test split (6 images): each AUC is the mean over")
    assert "| baseline        | 0.875 [" in text and "| 0.750-1.000 " in text
    assert out.is_file() and len(out.read_text().splitlines()) == 3
