import numpy as np
import pandas as pd
import pytest
import torchvision
from prediction_tables import CLASSES, predictions_frame

from melanoflow import io
from melanoflow.classification.model import classifier_metadata, save_classifier
from melanoflow.evaluation import explain

PARAMS = {"classes": CLASSES, "vbp": {"device": "cpu", "occlusion_images": 3}}


def test_select_cases_ranks_confident_positives_and_sure_negatives():
    labels = ["melanoma", "melanoma", "nevus", "nevus", "melanoma", "seborrheic_keratosis"]
    probabilities = [[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.45, 0.45, 0.1],
                     [0.2, 0.2, 0.6]]
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
    assert explain.classifier_view(np.zeros((30, 50, 3), np.uint8), {"resize": 20, "input_size": 16}).shape == (16, 16, 3)


@pytest.fixture
def tiny_run(tmp_path):
    """Test images with a ruler-like band, their occlusion masks, predictions and two classifiers."""
    rng = np.random.default_rng(0)
    rows, occlusions = [], []
    for index in range(6):
        image_id = f"ISIC_{index:07d}"
        image = rng.integers(0, 255, size=(60, 90, 3), dtype=np.uint8)
        mask = np.zeros((60, 90), dtype=np.uint8)
        mask[: 5 * (index + 1), :] = 255
        image_path, mask_path = tmp_path / f"{image_id}.png", tmp_path / f"{image_id}_occlusion.png"
        io.write_image(image_path, image)
        io.write_image(mask_path, mask)
        rows.append({"image_id": image_id, "dataset": "demo", "split": "test", "image_path": str(image_path)})
        occlusions.append({"image_id": image_id, "dataset": "demo", "split": "test",
                           "occlusion_mask_path": str(mask_path), "occluded_fraction": (index + 1) / 12})
    pd.DataFrame(rows).to_parquet(tmp_path / "images.parquet")
    pd.DataFrame(occlusions).to_parquet(tmp_path / "occlusions.parquet")
    labels = [CLASSES[index % 3] for index in range(6)]
    predictions_frame(labels, rng.dirichlet(np.ones(3), size=6)).to_parquet(tmp_path / "predictions.parquet")
    checkpoints = {}
    for variant in ("baseline", "proposed"):
        checkpoints[variant] = str(tmp_path / f"classifier.{variant}.pt")
        model = torchvision.models.resnet18(weights=None, num_classes=3)
        save_classifier(checkpoints[variant], model,
                        classifier_metadata("resnet18", CLASSES, 64, 72, (0.5,) * 3, (0.25,) * 3, None))
    return tmp_path, checkpoints


def test_case_figure(tiny_run):
    folder, checkpoints = tiny_run
    figure = folder / "vbp.png"
    explain.write_case_figure(checkpoints["baseline"], str(folder / "predictions.parquet"),
                              str(folder / "images.parquet"), str(figure), PARAMS, "baseline")
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_occlusion_reliance_measures_the_largest_occlusions(tiny_run):
    folder, checkpoints = tiny_run
    table_path = folder / "reliance.csv"
    explain.write_occlusion_reliance(checkpoints, str(folder / "occlusions.parquet"), str(folder / "images.parquet"),
                                     str(folder / "reliance.png"), str(table_path), PARAMS)
    table = pd.read_csv(table_path)
    assert list(table["variant"]) == ["baseline"] * 3 + ["proposed"] * 3
    assert list(table["image_id"][:3]) == ["ISIC_0000005", "ISIC_0000004", "ISIC_0000003"]
    # top bands of 30, 25, 20 of 60 rows, seen through resize 72 -> centre crop 64 (4 rows cut at the top)
    expected = [(round(rows * 72 / 60) - 4) / 64 for rows in (30, 25, 20)]
    assert table["occluded_area"][:3].tolist() == pytest.approx(expected, abs=1 / 64)
    assert table["saliency_on_occlusion"].between(0, 1).all()
