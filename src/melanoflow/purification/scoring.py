"""Occlusion masks scored against known truth: the demo's drawn hairs and rulers.

The demo generator writes ``<image_id>_{hair,ruler,patch}.png`` (0/255, all zero when absent) beside its
archives. Recall is pooled over all true pixels of a kind; precision counts a found pixel as right when
it lies on any drawn hair or ruler (the method finds both; patches are not its job).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from melanoflow.fileio import read_mask, write_json
from melanoflow.tables import OCCLUSIONS_SCHEMA, read_table

log = logging.getLogger(__name__)

KINDS = ("hair", "ruler")
HAIR_RECALL_TARGET = 0.9


def pixel_share(hits: int, pixels: int) -> float | None:
    """Recall (true pixels found / true pixels) or precision (found pixels on the truth / found pixels);
    None when there are no pixels to divide by."""
    return hits / pixels if pixels else None


def score_demo_occlusions(occlusions_path: str | os.PathLike, truth_dir: str | os.PathLike,
                          out_path: str | os.PathLike, method: str) -> dict:
    occlusions = read_table(occlusions_path, OCCLUSIONS_SCHEMA)
    truth_dir = Path(truth_dir)
    true_pixels = dict.fromkeys(KINDS, 0)
    found_pixels = dict.fromkeys(KINDS, 0)
    images_with = dict.fromkeys(KINDS, 0)
    predicted = predicted_on_truth = 0
    for row in occlusions.itertuples():
        found = read_mask(row.occlusion_mask_path)
        any_truth = None
        for kind in KINDS:
            truth = read_mask(truth_dir / f"{row.image_id}_{kind}.png")
            if truth.shape != found.shape:
                raise ValueError(f"{truth_dir / f'{row.image_id}_{kind}.png'}: shape {truth.shape} differs from "
                                 f"the occlusion mask's {found.shape}")
            true_pixels[kind] += int(truth.sum())
            found_pixels[kind] += int((found & truth).sum())
            images_with[kind] += int(truth.any())
            any_truth = truth if any_truth is None else any_truth | truth
        predicted += int(found.sum())
        predicted_on_truth += int((found & any_truth).sum())
    scores = {
        "method": method,
        "images": len(occlusions),
        "precision": pixel_share(predicted_on_truth, predicted),
        **{kind: {"images": images_with[kind], "true_pixels": true_pixels[kind],
                  "recall": pixel_share(found_pixels[kind], true_pixels[kind])}
           for kind in KINDS},
    }
    scores["hair_recall_target"] = HAIR_RECALL_TARGET
    scores["hair_recall_met"] = scores["hair"]["recall"] is not None and scores["hair"]["recall"] >= HAIR_RECALL_TARGET
    log.info("demo occlusion scores: %s", scores)
    write_json(out_path, scores)
    return scores
