"""`melanoflow predict` and `snakemake predict` on the tiny run's test images: the official scorer gives
the run's own AUCs from the submission file, awkward files are handled or skipped with the reason, and
a run without its models says what is missing and how to make it."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from isic_challenge_scoring.classification import ClassificationMetric, ClassificationScore
from PIL import Image

from melanoflow.predict.outputs import IMAGE_FILES

from .conftest import TINY_CONFIGS, snakemake

MELANOFLOW = str(Path(sys.executable).parent / "melanoflow")
TEST_ZIP = "resources/demo/ISIC-2017_Test_v2_Data.zip"
TRUTH = "resources/demo/ISIC-2017_Test_v2_Part3_GroundTruth.csv"


def predict(*args: str, check_status: int | None = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([MELANOFLOW, "predict", *args], capture_output=True, text=True, timeout=600)
    if check_status is not None:
        assert result.returncode == check_status, result.stderr[-4000:]
    return result


def official_aucs(truth_csv: Path, submission: Path, tmp_path: Path) -> dict[str, float]:
    """Per-class AUCs from isic-challenge-scoring reading the submission file as a challenge would."""
    truth = tmp_path / "truth.csv"
    pd.read_csv(truth_csv).rename(columns={"image_id": "image"}).to_csv(truth, index=False)
    score = ClassificationScore.from_file(truth, submission, ClassificationMetric.AUC)
    return {category: float(score.per_category.loc[category, "auc"]) for category in score.per_category.index}


@pytest.fixture(scope="module")
def zip_prediction(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("predict_zip")
    predict(str(tiny_run / TEST_ZIP), "--out", str(out), "--results", str(tiny_run / "results"))
    return out


@pytest.mark.slow
def test_the_official_scorer_gives_the_runs_own_aucs(tiny_run, zip_prediction, tmp_path):
    own = json.loads((tiny_run / "results" / "reports" / "proposed" / "metrics.json").read_text())["auc"]
    official = official_aucs(tiny_run / TRUTH, zip_prediction / "submission.csv", tmp_path)
    assert set(official) == {"melanoma", "seborrheic_keratosis"}
    for category, auc in official.items():
        assert auc == pytest.approx(own[category], abs=1e-12)
    predictions = pd.read_csv(zip_prediction / "predictions.csv")
    assert list(predictions.columns) == ["image_id", "melanoma", "seborrheic_keratosis"]
    assert len(predictions) == len(pd.read_csv(tiny_run / TRUTH))


@pytest.mark.slow
def test_every_image_gets_its_files_and_a_row_in_the_index(zip_prediction):
    details = pd.read_csv(zip_prediction / "details.csv")
    for kind in IMAGE_FILES:
        assert all((zip_prediction / path).is_file() for path in details[f"{kind}_path"])
    page = (zip_prediction / "index.html").read_text()
    assert page.count("<tr data-image-id=") == len(details)
    assert page.count('src="data:image/jpeg;base64,') == len(details)
    assert pd.read_csv(zip_prediction / "skipped.csv").empty


@pytest.mark.slow
def test_a_folder_with_awkward_files_predicts_what_it_can_and_lists_the_rest(tiny_run, zip_prediction, tmp_path):
    folder = tmp_path / "clinic"
    with zipfile.ZipFile(tiny_run / TEST_ZIP) as archive:
        archive.extractall(folder)
    images = sorted(folder.rglob("ISIC_*.jpg"))
    upright = np.asarray(Image.open(images[0]))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned; the viewer turns it back 90 degrees counter-clockwise
    Image.fromarray(np.rot90(upright, k=-1)).save(folder / "phone_photo.png", exif=exif)
    data = images[1].read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    Image.fromarray(upright[:40, :40]).save(folder / "thumbnail.png")

    result = predict(str(folder), "--out", str(tmp_path / "out"), "--results", str(tiny_run / "results"),
                     check_status=3)

    assert "2 input(s) skipped" in result.stderr
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv").set_index("source")["reason"]
    assert skipped.index.map(lambda source: Path(source).name).tolist() == ["thumbnail.png", "truncated.jpg"]
    assert skipped.iloc[0] == "image is 40x40, smaller than 64 px on a side"
    assert skipped.iloc[1].startswith("corrupt or truncated image")
    details = pd.read_csv(tmp_path / "out" / "details.csv").set_index("image_id")
    from_zip = pd.read_csv(zip_prediction / "details.csv").set_index("image_id")
    columns = [column for column in details if column.startswith("prob_")]
    shared = from_zip.index
    assert np.array_equal(details.loc[shared, columns].to_numpy(float), from_zip.loc[shared, columns].to_numpy(float))
    # the EXIF-rotated copy, turned upright, is the first image again (in another batch: float rounding only)
    assert np.allclose(details.loc["phone_photo", columns].to_numpy(float),
                       from_zip.loc[images[0].stem, columns].to_numpy(float), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_a_run_without_its_models_names_what_is_missing_and_the_command(tiny_run, tmp_path):
    empty = predict(str(tiny_run / TEST_ZIP), "--out", str(tmp_path / "a"), "--results", str(tmp_path),
                    check_status=1)
    assert f"{tmp_path / 'models' / 'predict.json'} is missing" in empty.stderr
    assert "snakemake --configfile <the run's config> results/models/predict.json" in empty.stderr
    partial = tmp_path / "partial"
    shutil.copytree(tiny_run / "results" / "models", partial / "models", ignore=shutil.ignore_patterns("classifier.*"))
    result = predict(str(tiny_run / TEST_ZIP), "--out", str(tmp_path / "b"), "--results", str(partial),
                     "--variant", "baseline", check_status=1)
    assert "classifier.baseline.pt is missing (the baseline classifier)" in result.stderr
    assert "results/models/classifier.baseline.pt" in result.stderr


@pytest.mark.slow
def test_snakemake_predict_writes_the_same_as_the_command(copy_run, zip_prediction):
    run = copy_run()
    snakemake(run, "predict", "--config", f"predict_input={run / TEST_ZIP}")
    out = run / "results" / "predict"
    ours = pd.read_csv(out / "predictions.csv").sort_values("image_id", ignore_index=True)
    command = pd.read_csv(zip_prediction / "predictions.csv").sort_values("image_id", ignore_index=True)
    pd.testing.assert_frame_equal(ours, command, check_exact=False, rtol=0, atol=1e-12)
    details = pd.read_csv(out / "details.csv")
    assert all((out / path).is_file() for path in details["panel_path"])
    assert (out / "index.html").read_text().count("<tr data-image-id=") == len(ours)


@pytest.mark.slow
def test_with_test_time_purification_the_command_gives_the_runs_purified_predictions(copy_run, tmp_path):
    run = copy_run()
    overlay = tmp_path / "test_time.yaml"
    overlay.write_text("purification: {test_time: true}\n")
    snakemake(run, "--configfile", *TINY_CONFIGS, str(overlay), "--",
              "results/predictions/proposed.test_purified.parquet", "results/models/predict.json")
    predict(str(run / TEST_ZIP), "--out", str(tmp_path / "out"), "--results", str(run / "results"))
    details = pd.read_csv(tmp_path / "out" / "details.csv").set_index("image_id")
    own = pd.read_parquet(run / "results" / "predictions" / "proposed.test_purified.parquet").set_index("image_id")
    columns = [column for column in own if column.startswith("prob_")]
    assert details["purified_input"].any()
    assert np.allclose(details.loc[own.index, columns].to_numpy(float), own[columns].to_numpy(float), rtol=0,
                       atol=1e-12)
