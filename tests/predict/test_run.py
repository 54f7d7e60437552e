"""predict_to_folder over several batches with a stand-in predictor: decoding runs ahead and writing runs
behind in a background thread, yet every readable image is predicted once, in input order, with its files,
and every unreadable one is listed with its reason."""

import contextlib
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from melanoflow.predict.inputs import collect_inputs
from melanoflow.predict.pipeline import ImagePrediction
from melanoflow.predict.run import DETAILS, SKIPPED, predict_to_folder
from melanoflow.purification.base import Purification

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]


class StandInPredictor:
    """What predict_to_folder reads of a Predictor; each image's melanoma probability is its mean grey level
    / 255, so a prediction shows which image it was made from."""

    classes = CLASSES
    device = "cpu"
    views = 1

    def __init__(self):
        settings = SimpleNamespace(purification=SimpleNamespace(purifier=SimpleNamespace(method="improved")),
                                   melanoma_class="melanoma", keratosis_class="seborrheic_keratosis")
        self.run = SimpleNamespace(settings=settings, results="results", variant="proposed")
        self.seconds = defaultdict(float)
        self.batches: list[int] = []

    @contextlib.contextmanager
    def timed(self, step):
        yield

    def segment(self, images):
        self.batches.append(len(images))
        return [np.ones(image.shape[:2], bool) for image in images]

    def predict(self, images, masks):
        predictions = []
        for image, mask in zip(images, masks, strict=True):
            melanoma = float(image.mean()) / 255
            predictions.append(ImagePrediction(
                np.array([melanoma, 1 - melanoma, 0.0]), "melanoma", mask,
                Purification(image, np.zeros_like(mask)), False, image[:32, :32], np.zeros((32, 32))))
        return predictions


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_every_batch_is_predicted_once_in_order_with_its_files(tmp_path, batch_size):
    folder = tmp_path / "in"
    folder.mkdir()
    levels = {f"case_{index}": 20 * index + 10 for index in range(7)}
    for name, level in levels.items():
        cv2.imwrite(str(folder / f"{name}.png"), np.full((80, 96, 3), level, np.uint8))
    (folder / "case_3.png").write_bytes(b"not an image")  # unreadable, inside the second batch of two
    (folder / "case_4.png").write_bytes(b"")  # and the next one
    inputs, skipped = collect_inputs([folder])
    predictor = StandInPredictor()

    predicted = predict_to_folder(inputs, skipped, predictor, tmp_path / "out", batch_size=batch_size)

    readable = [name for name in levels if name not in ("case_3", "case_4")]
    details = pd.read_csv(tmp_path / "out" / DETAILS)
    assert details["image_id"].tolist() == readable
    assert details["prob_melanoma"].tolist() == pytest.approx([levels[name] / 255 for name in readable])
    assert sum(predictor.batches) == len(readable)
    for row in details.itertuples():
        for kind in ("mask", "purified", "saliency", "panel"):
            assert (tmp_path / "out" / getattr(row, f"{kind}_path")).is_file()
    assert set(predicted.thumbnails) == set(readable)
    listed = pd.read_csv(tmp_path / "out" / SKIPPED)
    assert [Path(source).stem for source in listed["source"]] == ["case_3", "case_4"]
    assert listed["reason"].str.len().min() > 0
