"""VisualBackProp figures: one-vs-rest cases per class (the paper's Figure 8) and how much of the
classifiers' attention falls on hairs and rulers (Figure 2, made quantitative).

Images (and occlusion masks) go through the classifier's own test-time view: colour-corrected as it was
trained (images only), cropped around the lesion when it was trained so, resized to the square ``resize``
of its metadata, then centre-cropped to ``input_size``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import cv2
import numpy as np
import pandas as pd
import torch
from torchvision.transforms.v2 import functional as F

from melanoflow import fileio
from melanoflow.classification.cache import Box, crop_to, lesion_boxes
from melanoflow.classification.colour import classifier_color_constancy, correct_colours
from melanoflow.classification.model import load_classifier
from melanoflow.evaluation import figures, vbp
from melanoflow.evaluation.decision import argmax_labels
from melanoflow.evaluation.metrics import probability_columns, read_predictions
from melanoflow.evaluation.settings import VbpSettings
from melanoflow.runtime import select_device
from melanoflow.tables import read_columns

log = logging.getLogger(__name__)


def select_cases(frame: pd.DataFrame, classes: list[str]) -> dict[str, dict[str, pd.Series | None]]:
    """Per class, its most confident true and false positive and its surest true and false negative.

    Positives are ranked by the class's probability, highest first; negatives lowest first. A tied
    maximum (see decision.argmax_labels) predicts no class, so it is a negative for every class.
    """
    predicted = argmax_labels(frame[probability_columns(classes)].to_numpy(dtype=float), classes)
    cases = {}
    for name in classes:
        is_true, is_predicted = frame["label"].to_numpy() == name, predicted == name
        ranked = frame.assign(
            kind=np.select(
                [is_true & is_predicted, ~is_true & is_predicted, is_true & ~is_predicted],
                ["TP", "FP", "FN"],
                "TN",
            )
        ).sort_values(f"prob_{name}", ascending=False, kind="stable")
        cases[name] = {}
        for kind in figures.CASE_KINDS:
            rows = ranked[ranked["kind"] == kind]
            if rows.empty:
                cases[name][kind] = None
            else:
                cases[name][kind] = rows.iloc[0] if kind in ("TP", "FP") else rows.iloc[-1]
    return cases


def classifier_view(pixels: np.ndarray, meta: Mapping, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """An image (H, W, 3) or mask (H, W) as the classifier sees it at test time: resized, centre-cropped."""
    resized = cv2.resize(pixels, (int(meta["resize"]),) * 2, interpolation=interpolation)
    crop = F.center_crop(
        torch.from_numpy(resized[None] if resized.ndim == 2 else resized.transpose(2, 0, 1)),
        [int(meta["input_size"])] * 2,
    )
    return crop[0].numpy() if pixels.ndim == 2 else crop.permute(1, 2, 0).numpy()


def view_boxes(meta: Mapping, rows: pd.DataFrame, paths: list[str], masks: str | None) -> list[Box | None]:
    """The lesion box each image is cropped to before the classifier sees it (None: whole image)."""
    if meta.get("lesion_crop") is None:
        return [None] * len(paths)
    if masks is None:
        raise ValueError("this classifier was trained on lesion-centred crops: explaining it needs the masks")
    sources = pd.DataFrame({"source_path": paths, "dataset": rows["dataset"].to_numpy(),
                            "image_id": rows["image_id"].to_numpy()})
    boxes = lesion_boxes(sources, masks, meta["lesion_crop"])
    return [boxes[path] for path in paths]


def explain_images(
    model: torch.nn.Module, meta: Mapping, image_paths: list[str], device: torch.device, batch_size: int = 16,
    boxes: list[Box | None] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The images as the classifier sees them (RGB uint8, colour-corrected as the classifier was trained,
    cropped to ``boxes``) and their VisualBackProp masks."""
    boxes = boxes or [None] * len(image_paths)
    color_constancy = classifier_color_constancy(meta)

    def view(path: str, box: Box | None) -> np.ndarray:
        image = correct_colours(fileio.read_image(path), color_constancy)
        return np.ascontiguousarray(classifier_view(crop_to(image, box), meta))

    images = [view(path, box) for path, box in zip(image_paths, boxes, strict=True)]
    return images, vbp.saliency_maps(model, meta, images, device, batch_size)


def image_paths(images_manifest: str | os.PathLike, rows: pd.DataFrame) -> list[str]:
    """The image file of each (dataset, image_id) row, from the ingest manifest."""
    manifest = read_columns(images_manifest, ["image_id", "dataset", "image_path"])
    found = rows[["dataset", "image_id"]].merge(manifest, on=["dataset", "image_id"], how="left")
    if found["image_path"].isna().any():
        missing = found.loc[found["image_path"].isna(), "image_id"].iloc[0]
        raise fileio.BadInputError(f"{images_manifest}: no image {missing!r} (named by the predictions)")
    return found["image_path"].tolist()


def write_case_figure(
    checkpoint: str, predictions: str, images_manifest: str, figure_path: str, classes: list[str],
    vbp_settings: VbpSettings, variant: str, masks: str | None = None,
) -> None:
    """Figure 8 for one classifier: TP / FP / FN / TN examples per class, each above its VBP overlay."""
    device = select_device(vbp_settings.device)
    model, meta = load_classifier(checkpoint, device)
    frame = read_predictions(predictions, classes)
    cases = select_cases(frame, classes)
    chosen = pd.DataFrame(
        [row for per_class in cases.values() for row in per_class.values() if row is not None]
    )
    paths = image_paths(images_manifest, chosen)
    images, saliencies = explain_images(model, meta, paths, device, boxes=view_boxes(meta, chosen, paths, masks))
    explained = iter(zip(chosen.itertuples(), images, saliencies, strict=True))
    cells, labels = [], []
    for name, per_class in cases.items():
        image_row, mask_row = [], []
        for kind, row in per_class.items():
            if row is None:
                image_row.append({"text": f"no {kind}"})
                mask_row.append({"text": ""})
                continue
            case, image, mask = next(explained)
            title = (
                f"{kind} {case.image_id}\np({figures.short_name(name)}) = {getattr(case, f'prob_{name}'):.2f}"
            )
            image_row.append({"image": image, "title": title})
            mask_row.append({"image": image, "mask": mask, "title": f"{kind}: VisualBackProp"})
        cells += [image_row, mask_row]
        labels += [name, f"{name} (VBP)"]
    figure = figures.plot_image_grid(cells, labels, f"{variant}: where the classifier looks (VisualBackProp)")
    fileio.write_figure(figure_path, figure)


def occlusion_shares(
    model: torch.nn.Module, meta: Mapping, rows: pd.DataFrame, paths: list[str], device: torch.device,
    masks: str | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Per image: the occluded share of the network's input and the share of VBP saliency on occlusions,
    and its overlay panel (image, mask and occlusion outline, titled with both shares)."""
    boxes = view_boxes(meta, rows, paths, masks)
    images, saliencies = explain_images(model, meta, paths, device, boxes=boxes)
    area, attention, panels = [], [], []
    for mask_path, box, image, saliency in zip(rows["occlusion_mask_path"], boxes, images, saliencies, strict=True):
        occlusion = crop_to(fileio.read_mask(mask_path).astype(np.uint8), box)
        occluded = classifier_view(occlusion, meta, cv2.INTER_NEAREST) > 0
        area.append(float(occluded.mean()))
        attention.append(vbp.saliency_share(torch.from_numpy(saliency), torch.from_numpy(occluded)))
        title = f"{attention[-1]:.0%} on {area[-1]:.0%} occluded"
        panels.append({"image": image, "mask": saliency, "outline": occluded, "title": title})
    shares = rows[["image_id", "dataset"]].assign(occluded_area=area, saliency_on_occlusion=attention)
    return shares, panels


def write_occlusion_reliance(
    checkpoints: Mapping[str, str],
    occlusions: str,
    images_manifest: str,
    figure_path: str,
    table_path: str,
    vbp_settings: VbpSettings,
    masks: str | None = None,
) -> None:
    """Figure 2 made quantitative: saliency on hairs and rulers for each classifier, on the test images.

    The test images with the largest occluded fraction (as the purify stage measured it) are explained
    by every classifier; the table lists, per image and classifier, the occluded area and the share of
    VBP saliency on it (attention on occlusions beyond their area means the classifier relies on them).
    """
    device = select_device(vbp_settings.device)
    table = read_columns(
        occlusions, ["image_id", "dataset", "split", "occlusion_mask_path", "occluded_fraction"]
    )
    test = table[(table["split"] == "test") & (table["occluded_fraction"] > 0)]
    if test.empty:
        raise fileio.BadInputError(f"{occlusions}: no test image has an occlusion to explain")
    rows = test.sort_values(["occluded_fraction", "image_id"], ascending=[False, True]).head(
        vbp_settings.occlusion_images
    )
    paths = image_paths(images_manifest, rows)
    shares, cells = [], []
    for variant, checkpoint in checkpoints.items():
        model, meta = load_classifier(checkpoint, device)
        variant_shares, panels = occlusion_shares(model, meta, rows, paths, device, masks)
        shares.append(variant_shares.assign(variant=variant))
        cells.append(panels)
        log.info(
            "%s: mean saliency share on occlusions %.3f (mean occluded area %.3f) over %d test images",
            variant,
            variant_shares["saliency_on_occlusion"].mean(),
            variant_shares["occluded_area"].mean(),
            len(rows),
        )
    originals = [
        {"image": panel["image"], "title": image_id}
        for panel, image_id in zip(panels, rows["image_id"], strict=True)
    ]
    result = pd.concat(shares, ignore_index=True)
    means = result.groupby("variant", sort=False)["saliency_on_occlusion"].mean()
    summary = ", ".join(f"{variant} {share:.0%}" for variant, share in means.items())
    figure = figures.plot_image_grid(
        [originals, *cells],
        ["test image", *checkpoints],
        f"Saliency on hairs and rulers (mean share: {summary})",
    )
    fileio.write_figure(figure_path, figure)
    with fileio.atomic_path(table_path) as tmp:
        result.to_csv(tmp, index=False)
