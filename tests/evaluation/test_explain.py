import numpy as np
import pandas as pd
import pytest
import torch

from melanoflow import fileio
from melanoflow.classification.colour import shades_of_gray
from melanoflow.classification.model import build_classifier, classifier_metadata
from melanoflow.evaluation import explain
from melanoflow.evaluation.settings import VbpSettings

from .prediction_tables import CLASSES, predictions_frame, write_evaluation_inputs

VBP = VbpSettings.from_config({"variants": ["baseline", "proposed"], "device": "cpu", "occlusion_images": 3})


def test_select_cases_ranks_confident_positives_and_sure_negatives():
    labels = ["melanoma", "melanoma", "nevus", "nevus", "melanoma", "seborrheic_keratosis"]
    probabilities = [
        [0.9, 0.1, 0.0],
        [0.6, 0.3, 0.1],
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],
        [0.45, 0.45, 0.1],
        [0.2, 0.2, 0.6],
    ]
    frame = predictions_frame(labels, probabilities)
    cases = explain.select_cases(frame, CLASSES)["melanoma"]
    assert cases["TP"].image_id == "ISIC_0000000"  # the most confident of the two true positives
    assert cases["FP"].image_id == "ISIC_0000002"
    assert cases["FN"].image_id == "ISIC_0000004"  # the tie predicts no class: a false negative
    assert cases["TN"].image_id == "ISIC_0000003"  # lowest melanoma probability among the negatives
    assert explain.select_cases(frame, CLASSES)["seborrheic_keratosis"]["FP"] is None


def test_classifier_view_resizes_then_centre_crops():
    mask = np.zeros((40, 80), dtype=np.uint8)
    mask[:, :40] = 1  # left half
    view = explain.classifier_view(mask, {"resize": 20, "input_size": 10})
    assert view.shape == (10, 10)
    assert (view[:, :5] == 1).all() and (view[:, 5:] == 0).all()
    assert explain.classifier_view(
        np.zeros((30, 50, 3), np.uint8), {"resize": 20, "input_size": 16}
    ).shape == (16, 16, 3)


def test_explained_images_are_colour_corrected_as_the_classifier_was_trained(tmp_path):
    rng = np.random.default_rng(2)
    image = (rng.integers(40, 230, (48, 60, 3)) * np.array([1.0, 0.8, 0.5])).astype(np.uint8)  # a warm cast
    fileio.write_image(tmp_path / "a.png", image)
    torch.manual_seed(0)
    model = build_classifier("resnet18", len(CLASSES)).eval()
    meta = classifier_metadata("resnet18", CLASSES, 32, 40, (0.5,) * 3, (0.25,) * 3, None) | {"lesion_crop": 0.1}
    box = (10, 4, 50, 44)
    for extra, seen in (({}, image), ({"color_constancy": "shades_of_gray"}, shades_of_gray(image))):
        images, _ = explain.explain_images(model, meta | extra, [str(tmp_path / "a.png")], torch.device("cpu"),
                                           boxes=[box])
        # corrected as a whole image (the cache's order), then cropped, resized and centre-cropped
        np.testing.assert_array_equal(images[0], explain.classifier_view(seen[4:44, 10:50], meta))


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tables hold paths relative to the run's working directory
    return write_evaluation_inputs(tmp_path, n_images=6)


def test_case_figure(run_folder):
    figure = run_folder / "vbp.png"
    explain.write_case_figure(
        "results/models/classifier.baseline.pt",
        "results/predictions/baseline.parquet",
        "results/manifests/images.parquet",
        str(figure),
        CLASSES,
        VBP,
        "baseline",
    )
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_occlusion_reliance_measures_the_largest_occlusions(run_folder):
    table_path = run_folder / "reliance.csv"
    checkpoints = {variant: f"results/models/classifier.{variant}.pt" for variant in ("baseline", "proposed")}
    explain.write_occlusion_reliance(
        checkpoints,
        "results/purified/occlusions.parquet",
        "results/manifests/images.parquet",
        "reliance.png",
        str(table_path),
        VBP,
    )
    table = pd.read_csv(table_path)
    assert list(table["variant"]) == ["baseline"] * 3 + ["proposed"] * 3
    assert list(table["image_id"][:3]) == ["ISIC_0000005", "ISIC_0000004", "ISIC_0000003"]
    # top bands of 30, 25, 20 of 60 rows, seen through resize 72 -> centre crop 64 (4 rows cut at the top)
    expected = [(round(rows * 72 / 60) - 4) / 64 for rows in (30, 25, 20)]
    assert table["occluded_area"][:3].tolist() == pytest.approx(expected, abs=1 / 64)
    assert table["saliency_on_occlusion"].between(0, 1).all()
