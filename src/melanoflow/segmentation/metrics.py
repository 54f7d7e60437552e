"""Segmentation scores by the ISIC challenge's rules, per image and averaged, with a figure of examples.

Masks are binarised at > 128 and an image where truth and prediction are both empty scores 1, exactly as
``isic_challenge_scoring.SegmentationScore`` does; the thresholded Jaccard counts an image with J < 0.65
as 0 (the ISIC 2018 rule).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from melanoflow.fileio import BadInputError, read_image, read_mask, write_figure, write_json
from melanoflow.tables import (
    MASKS_SCHEMA,
    PER_IMAGE_SCHEMA,
    SEGMENTATION_SCORES,
    read_images_manifest,
    read_table,
    write_table,
)

log = logging.getLogger(__name__)

JACCARD_THRESHOLD = 0.65
SCORES = SEGMENTATION_SCORES



def scores_from_counts(tp, fp, fn) -> dict[str, np.ndarray]:
    """Jaccard, thresholded Jaccard and Dice from per-image true/false positive and false negative counts."""
    tp, fp, fn = (np.asarray(count, dtype=np.float64) for count in (tp, fp, fn))
    errors = fp + fn
    empty = tp + errors == 0  # both masks empty: a perfect answer, as the ISIC scorer has it
    jaccard = np.where(empty, 1.0, tp / np.maximum(tp + errors, 1))
    dice = np.where(empty, 1.0, 2 * tp / np.maximum(2 * tp + errors, 1))
    return {
        "jaccard": jaccard,
        "thresholded_jaccard": np.where(jaccard >= JACCARD_THRESHOLD, jaccard, 0.0),
        "dice": dice,
    }


def mask_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Scores of one predicted boolean mask against its boolean ground truth."""
    if truth.shape != predicted.shape:
        raise ValueError(f"mask shapes differ: truth {truth.shape}, prediction {predicted.shape}")
    counts = (truth & predicted).sum(), (~truth & predicted).sum(), (truth & ~predicted).sum()
    return {name: float(value) for name, value in scores_from_counts(*counts).items()}


def batch_jaccard(truth: torch.Tensor, predicted: torch.Tensor) -> np.ndarray:
    """Per-image Jaccard of a batch of boolean (N, 1, H, W) masks, for validation during training."""
    dims = (1, 2, 3)
    tp = (truth & predicted).sum(dims)
    fp = (~truth & predicted).sum(dims)
    fn = (truth & ~predicted).sum(dims)
    return scores_from_counts(tp.cpu().numpy(), fp.cpu().numpy(), fn.cpu().numpy())["jaccard"]


def score_predictions(manifest: pd.DataFrame, masks: pd.DataFrame) -> pd.DataFrame:
    """Per-image scores for every manifest image that has a ground-truth mask (PER_IMAGE_SCHEMA columns)."""
    truth = manifest.loc[manifest["mask_path"].notna(), ["image_id", "dataset", "split", "mask_path"]]
    pairs = truth.merge(
        masks[["image_id", "dataset", "mask_path"]], on=["dataset", "image_id"], how="left", suffixes=("", "_pred")
    )
    unpredicted = pairs.loc[pairs["mask_path_pred"].isna(), "image_id"].tolist()
    if unpredicted:
        raise ValueError(f"{len(unpredicted)} images with ground truth have no predicted mask, e.g. {unpredicted[:3]}")
    rows = []
    for pair in tqdm(pairs.itertuples(), total=len(pairs), desc="scoring masks"):
        truth_mask, predicted_mask = read_mask(pair.mask_path), read_mask(pair.mask_path_pred)
        if truth_mask.shape != predicted_mask.shape:
            raise BadInputError(
                f"{pair.mask_path_pred}: predicted mask is {predicted_mask.shape[::-1]}, "
                f"ground truth {pair.mask_path} is {truth_mask.shape[::-1]}"
            )
        rows.append({"image_id": pair.image_id, "dataset": pair.dataset, "split": pair.split,
                     **mask_scores(truth_mask, predicted_mask)})  # fmt: skip
    return pd.DataFrame(rows, columns=PER_IMAGE_SCHEMA.names)


def summarise(per_image: pd.DataFrame) -> dict:
    """Mean scores and image counts per split, and per dataset within each split."""

    def means(frame: pd.DataFrame) -> dict:
        return {"images": len(frame), **{score: float(frame[score].mean()) for score in SCORES}}

    return {
        "splits": {split: means(frame) for split, frame in per_image.groupby("split")},
        "datasets": {
            dataset: {split: means(part) for split, part in frame.groupby("split")}
            for dataset, frame in per_image.groupby("dataset")
        },
    }


def example_rows(per_image: pd.DataFrame) -> pd.DataFrame:
    """Best, median and worst images by Jaccard, from the test split when there is one."""
    split = "test" if (per_image["split"] == "test").any() else per_image["split"].iloc[0]
    ranked = per_image.loc[per_image["split"] == split].sort_values("jaccard", ascending=False, kind="stable")
    picks = ranked.iloc[[0, len(ranked) // 2, len(ranked) - 1]]
    return picks.assign(case=["best", "median", "worst"])


def overlay_figure(examples: pd.DataFrame, manifest: pd.DataFrame, masks: pd.DataFrame):
    """Figure 4 (B) of the paper: original, ground truth and predicted outline for each example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = examples.merge(manifest, on=["dataset", "image_id"]).merge(
        masks[["dataset", "image_id", "mask_path"]], on=["dataset", "image_id"], suffixes=("", "_pred")
    )
    figure, axes = plt.subplots(3, len(paths), figsize=(3.2 * len(paths), 7.5), squeeze=False)
    for column, row in enumerate(paths.itertuples()):
        image = read_image(row.image_path)
        panels = [("original", None, None), ("ground truth", row.mask_path, "lime"), ("prediction", row.mask_path_pred, "red")]
        for line, (title, mask_path, colour) in enumerate(panels):
            axis = axes[line, column]
            axis.imshow(image)
            if mask_path is not None:
                axis.contour(read_mask(mask_path), levels=[0.5], colors=colour, linewidths=1.5)
            axis.set_title(f"{row.case}: {row.image_id}\nJ = {row.jaccard:.3f}" if line == 0 else title, fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    return figure


def evaluate_segmentation(
    manifest_path: str | os.PathLike,
    masks_path: str | os.PathLike,
    metrics_path: str | os.PathLike,
    per_image_path: str | os.PathLike,
    figure_path: str | os.PathLike,
) -> dict:
    """Score every predicted mask that has ground truth; write the JSON summary, per-image table and figure."""
    manifest = read_images_manifest(manifest_path)
    masks = read_table(masks_path, MASKS_SCHEMA)
    per_image = score_predictions(manifest, masks)
    if per_image.empty:
        raise ValueError(f"{manifest_path}: no image has a ground-truth mask, nothing to evaluate")
    summary = summarise(per_image)
    for split, scores in summary["splits"].items():
        log.info("%s: %d images, Jaccard %.4f, thresholded %.4f, Dice %.4f", split, scores["images"],
                 scores["jaccard"], scores["thresholded_jaccard"], scores["dice"])  # fmt: skip
    write_table(per_image, per_image_path, PER_IMAGE_SCHEMA)
    write_json(metrics_path, summary)
    write_figure(figure_path, overlay_figure(example_rows(per_image), manifest, masks))
    return summary
