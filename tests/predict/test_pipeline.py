"""The predict command's classifier inputs are the training cache's: colours corrected on the whole image
as the classifier's metadata says, then the lesion crop and the resize."""

import cv2
import numpy as np

from melanoflow.classification.cache import load_resized
from melanoflow.classification.colour import shades_of_gray
from melanoflow.fileio import write_image
from melanoflow.predict.pipeline import Predictor


def test_classifier_inputs_are_corrected_as_the_classifier_was_trained_and_as_its_cache(tmp_path):
    rng = np.random.default_rng(4)
    image = rng.integers(40, 230, (40, 64, 3)).astype(np.float64)
    image[:, :32] *= (1.0, 0.6, 0.4)  # the lesion's half is warm, the rest bluish
    image[:, 32:] *= (0.4, 0.6, 1.0)
    image = image.astype(np.uint8)
    write_image(tmp_path / "a.png", image)
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 6:26] = True  # a 20-px lesion: with a 0.2 margin, the 28-px square (2, 6)-(30, 34)
    predictor = Predictor.__new__(Predictor)  # the inputs need the classifier's metadata alone
    inputs = {}
    for name, extra in (
        ("absent", {}),
        ("none", {"color_constancy": "none"}),
        ("shades_of_gray", {"color_constancy": "shades_of_gray"}),
    ):
        predictor.meta = {"resize": 20, "lesion_crop": 0.2} | extra
        inputs[name] = predictor.classifier_inputs([image], [mask])[0].permute(1, 2, 0).numpy()
        # what the training cache holds for the same image and settings
        cached = load_resized(tmp_path / "a.png", 20, (2, 6, 30, 34), extra.get("color_constancy", "none"))
        np.testing.assert_array_equal(inputs[name], cached)
    np.testing.assert_array_equal(inputs["absent"], inputs["none"])  # an older checkpoint: no correction
    np.testing.assert_array_equal(
        inputs["none"], cv2.resize(image[6:34, 2:30], (20, 20), interpolation=cv2.INTER_AREA)
    )
    # the whole image's illuminant, then the crop: not the crop's own
    whole_first = cv2.resize(shades_of_gray(image)[6:34, 2:30], (20, 20), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(inputs["shades_of_gray"], whole_first)
    crop_first = cv2.resize(shades_of_gray(image[6:34, 2:30]), (20, 20), interpolation=cv2.INTER_AREA)
    assert np.abs(whole_first.astype(int) - crop_first).max() > 20
