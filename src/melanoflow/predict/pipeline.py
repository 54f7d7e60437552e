"""The paper's Figure 1 system applied to new images with a finished run's models: segment the lesion,
purify hairs and rulers, classify (optionally averaging test-time views) and explain with VisualBackProp.

Every step does what the run's own jobs did to its test images: the segmenter's post-processing, the
configured purification method, the classifier's colour constancy, its lesion-centred crop from the
predicted mask, the resize and centre crop of its metadata, and the purified copy as the classifier's
input only where the run used test-time purification and the image's occluded fraction is over the
selection threshold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from melanoflow.classification.cache import classifier_input, lesion_box
from melanoflow.classification.colour import classifier_color_constancy
from melanoflow.classification.model import for_inference, load_classifier
from melanoflow.classification.predict import MAX_TTA_VIEWS, view_probabilities
from melanoflow.evaluation.decision import argmax_labels
from melanoflow.evaluation.vbp import saliency_maps
from melanoflow.predict.artefacts import locate_run
from melanoflow.purification.base import Purification
from melanoflow.purification.run import make_purifier
from melanoflow.runtime import TTA_FLIPS, select_device
from melanoflow.segmentation.predict import lesion_masks, load_segmenter

log = logging.getLogger(__name__)

# The steps whose time is measured (decoding and writing are the caller's).
STEPS = ("segment", "purify", "classify", "explain")


@dataclass
class ImagePrediction:
    probabilities: np.ndarray  # (classes,), in the run's class order
    predicted: str  # the most probable class ("" when the top two tie)
    mask: np.ndarray  # bool (H, W): the predicted lesion
    purification: Purification
    purified_input: bool  # whether the classifier saw the purified copy
    view: np.ndarray  # RGB uint8 (S, S): the image as the classifier saw it (centre view)
    saliency: np.ndarray  # float (S, S) in [0, 1]: VisualBackProp over ``view``


class Predictor:
    """One run's segmenter, purifier and classifier variant, ready to predict batches of RGB images."""

    def __init__(self, results: str | os.PathLike, variant: str = "proposed", device: str = "auto",
                 views: int | None = None):
        self.run = locate_run(results, variant)
        settings = self.run.settings
        self.classes = list(settings.classes)
        self.segmentation = settings.segmentation
        self.purification = settings.purification
        self.batch_size = settings.classification.batch_size
        self.views = views if views is not None else (len(TTA_FLIPS) if settings.classification.tta else 1)
        if not 1 <= self.views <= MAX_TTA_VIEWS:
            raise ValueError(f"test-time views must be 1 to {MAX_TTA_VIEWS}, got {self.views}")
        self.device = select_device(device)
        self.segmenter = load_segmenter(self.run.segmenter, self.device).to(memory_format=torch.channels_last)
        self.purify = make_purifier(self.purification.purifier, self.run.purifier_network, self.device.type)
        self.model, self.meta = load_classifier(self.run.classifier, self.device)
        self.fast_model, self.dtype = for_inference(self.model, self.device)
        self.seconds: dict[str, float] = defaultdict(float)
        log.info("%s: %s classifier (%s, %d px), %s purification, %d test-time view(s), on %s",
                 self.run.results, variant, self.meta["arch"], self.meta["input_size"],
                 self.purification.purifier.method, self.views, self.device)

    @contextlib.contextmanager
    def timed(self, step: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.seconds[step] += time.perf_counter() - start

    def segment(self, images: list[np.ndarray]) -> list[np.ndarray]:
        batch_size = self.segmentation.predict_batch_size
        masks = []
        for start in range(0, len(images), batch_size):
            masks += lesion_masks(self.segmenter, images[start : start + batch_size], self.device, self.segmentation)
        return masks

    def classifier_inputs(self, images: list[np.ndarray], masks: list[np.ndarray]) -> torch.Tensor:
        """uint8 (B, 3, resize, resize): each image colour-corrected and cropped around its lesion (as in
        training) and resized."""
        size = int(self.meta["resize"])
        margin = self.meta.get("lesion_crop")
        color_constancy = classifier_color_constancy(self.meta)
        resized = [
            classifier_input(image, size, None if margin is None else lesion_box(mask, margin), color_constancy)
            for image, mask in zip(images, masks, strict=True)
        ]
        return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2)

    def classify(self, inputs: torch.Tensor) -> np.ndarray:
        return np.concatenate([
            view_probabilities(self.fast_model, self.dtype, inputs[start : start + self.batch_size], self.device,
                               self.meta["mean"], self.meta["std"], int(self.meta["input_size"]), self.views)
            for start in range(0, len(inputs), self.batch_size)
        ])

    def centre_views(self, inputs: torch.Tensor) -> list[np.ndarray]:
        """The classifier's untransformed view of each input (RGB uint8, ``input_size`` square)."""
        size = int(self.meta["input_size"])
        return list(F.center_crop(inputs, [size, size]).permute(0, 2, 3, 1).numpy())

    def prepare(self, images: list[np.ndarray], masks: list[np.ndarray] | None = None,
                ) -> tuple[list[np.ndarray], list[Purification], list[bool], torch.Tensor]:
        """Masks (``masks`` when given, from ``segment``), purifications, whether the classifier sees each
        purified copy, and its uint8 inputs."""
        if masks is None:
            with self.timed("segment"):
                masks = self.segment(images)
        with self.timed("purify"):
            purified = [self.purify(image, mask) for image, mask in zip(images, masks, strict=True)]
        use_purified = [self.purification.test_time and result.occluded_fraction > self.purification.select_threshold
                        for result in purified]
        sources = [result.image if chosen else image
                   for image, result, chosen in zip(images, purified, use_purified, strict=True)]
        with self.timed("classify"):
            inputs = self.classifier_inputs(sources, masks)
        return masks, purified, use_purified, inputs

    def predict(self, images: list[np.ndarray], masks: list[np.ndarray] | None = None) -> list[ImagePrediction]:
        """Predictions for RGB uint8 images of any size, in order (with their ``segment`` masks when given)."""
        masks, purified, use_purified, inputs = self.prepare(images, masks)
        with self.timed("classify"):
            probabilities = self.classify(inputs)
        views = self.centre_views(inputs)
        with self.timed("explain"):
            saliencies = saliency_maps(self.model, self.meta, views, self.device, self.batch_size)
        predicted = argmax_labels(probabilities, self.classes)
        return [
            ImagePrediction(probability, str(label), mask, result, chosen, view, saliency)
            for probability, label, mask, result, chosen, view, saliency in zip(
                probabilities, predicted, masks, purified, use_purified, views, saliencies, strict=True)
        ]
