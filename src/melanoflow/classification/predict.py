"""Inference on the validation and test splits: one probability per class, the predicted class and the
true label. Validation predictions are for model selection and for reporting beside the test split;
nothing downstream chooses anything on the test rows.

With test-time purification configured (the paper's Table 6) a second prediction set is written for the
same test images with every occluded one (``selected`` in the purification table) replaced by its
purified copy; unoccluded images stay as they are, exactly as in the training set's purified copies.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torchvision.transforms.v2 import functional as F

from melanoflow.classification.cache import ImageCache, build_cache, lesion_boxes, open_cache
from melanoflow.classification.colour import classifier_color_constancy
from melanoflow.classification.data import ManifestImages, make_loader, to_model_input
from melanoflow.classification.model import for_inference, load_classifier
from melanoflow.classification.settings import PredictSettings
from melanoflow.runtime import TTA_FLIPS, flipped, select_device
from melanoflow.tables import (
    PREDICTED_SPLITS,
    SchemaError,
    predictions_schema,
    read_columns,
    read_training_manifest,
    write_table,
)

log = logging.getLogger(__name__)


# Views beyond the flips: the four corner crops of the resized image (centre first, then corners).
MAX_TTA_VIEWS = len(TTA_FLIPS) + 4


def tta_views(images: torch.Tensor, input_size: int, count: int) -> list[torch.Tensor]:
    """The first ``count`` test-time views of (B, C, S, S) images: the centre ``input_size`` crop, its
    horizontal, vertical and double flips, then the top-left, top-right, bottom-left and bottom-right
    crops (which equal the centre crop when the images are already ``input_size``)."""
    if not 1 <= count <= MAX_TTA_VIEWS:
        raise ValueError(f"test-time views must be 1 to {MAX_TTA_VIEWS}, got {count}")
    centre = F.center_crop(images, [input_size, input_size])
    views = [flipped(centre, dims) for dims in TTA_FLIPS]
    if count > len(views):
        views += list(F.five_crop(images, [input_size, input_size])[:4])
    return views[:count]


@torch.inference_mode()
def view_probabilities(fast_model: torch.nn.Module, dtype: torch.dtype, images: torch.Tensor, device: torch.device,
                       mean, std, input_size: int, views: int = 1) -> np.ndarray:
    """Softmax probabilities (B, classes) of uint8 (B, 3, S, S) images, averaged over ``views`` test-time
    views (see tta_views), from a model prepared by ``for_inference``."""
    inputs = to_model_input(images, device, mean, std).to(dtype)
    probabilities = [torch.softmax(fast_model(view).float(), dim=1) for view in tta_views(inputs, input_size, views)]
    return torch.stack(probabilities).mean(0).cpu().numpy().astype(np.float64)


def class_probabilities(fast_model: torch.nn.Module, dtype: torch.dtype, dataset: ManifestImages, batch_size: int,
                        device: torch.device, mean, std, tta: bool = False) -> np.ndarray:
    """Softmax probabilities (N, classes) in dataset order, from a model prepared by ``for_inference``;
    with ``tta``, the mean over the four flips of each image."""
    views = len(TTA_FLIPS) if tta else 1
    batches = [view_probabilities(fast_model, dtype, images, device, mean, std, dataset.input_size, views)
               for images, _ in make_loader(dataset, batch_size)]
    return np.concatenate(batches)


def predict_rows(model: torch.nn.Module, meta: dict, rows: pd.DataFrame, cache: ImageCache, batch_size: int,
                 device: torch.device, tta: bool = False) -> pd.DataFrame:
    """The predictions table for ``rows`` (manifest rows of real, untransformed images)."""
    classes = meta["classes"]
    dataset = ManifestImages(rows, cache, classes, meta["input_size"], train=False)
    fast_model, dtype = for_inference(model, device)
    probabilities = class_probabilities(fast_model, dtype, dataset, batch_size, device, meta["mean"], meta["std"],
                                        tta)
    table = pd.DataFrame({"image_id": rows["image_id"].to_numpy(), "dataset": rows["dataset"].to_numpy(),
                          "split": rows["split"].to_numpy(), "label": rows["label"].to_numpy(),
                          "predicted": np.asarray(classes)[probabilities.argmax(axis=1)]})
    for index, label in enumerate(classes):
        table[f"prob_{label}"] = probabilities[:, index]
    return table


def with_purified_sources(rows: pd.DataFrame, occlusions: pd.DataFrame, name: str) -> pd.DataFrame:
    """``rows`` with each occluded image's source replaced by its purified copy."""
    purified = occlusions.loc[occlusions["selected"].astype(bool) & occlusions["purified_path"].notna()]
    keyed = rows.merge(occlusions[["dataset", "image_id"]], on=["dataset", "image_id"], how="left", indicator=True)
    absent = keyed.loc[keyed["_merge"] == "left_only", "image_id"]
    if len(absent):
        raise SchemaError(f"{name}: test-time purification needs every test image, but {len(absent)} are "
                          f"missing (e.g. {absent.iloc[0]!r})")
    lookup = purified.set_index(["dataset", "image_id"])["purified_path"]
    keys = pd.MultiIndex.from_frame(rows[["dataset", "image_id"]])
    replacement = lookup.reindex(keys).to_numpy()
    rows = rows.copy()
    rows["source_path"] = np.where(pd.isna(replacement), rows["source_path"].to_numpy(), replacement)
    log.info("test-time purification: %d of %d test images replaced by their purified copy",
             int((~pd.isna(replacement)).sum()), len(rows))
    return rows


def predict_variant(manifest_path: str, cache_path: str, index_path: str, model_path: str, out_path: str,
                    settings: PredictSettings, device_name: str, occlusions_path: str | None = None,
                    threads: int = 1, masks_path: str | None = None) -> None:
    """Workflow entry point: predictions for every split but training (manifest.PREDICTED_SPLITS), on the
    device ``device_name`` names; with ``occlusions_path``, on the test images only, each occluded one
    replaced by its purified copy (test-time purification)."""
    torch.set_num_threads(threads)
    device = select_device(device_name)
    model, meta = load_classifier(model_path, device)
    rows = read_training_manifest(manifest_path)
    rows = rows.loc[rows["split"].isin(["test"] if occlusions_path else PREDICTED_SPLITS)]
    if not (rows["split"] == "test").any():
        raise ValueError(f"{manifest_path}: no test rows to predict")
    if occlusions_path:
        occlusions = read_columns(occlusions_path, ["image_id", "dataset", "purified_path", "selected"])
        rows = with_purified_sources(rows, occlusions, occlusions_path)
        boxes = None
        if meta.get("lesion_crop") is not None:
            if masks_path is None:
                raise ValueError(f"{model_path} was trained on lesion-centred crops: predicting needs the masks")
            boxes = lesion_boxes(rows, masks_path, meta["lesion_crop"])
        cache = build_cache(list(pd.unique(rows["source_path"])), meta["resize"], threads, boxes,
                            classifier_color_constancy(meta))
    else:
        cache = open_cache(cache_path, index_path)
        if cache.size != meta["resize"]:
            raise ValueError(f"{cache_path}: images cached at {cache.size}px, but {model_path} was trained on "
                             f"{meta['resize']}px")
    predictions = predict_rows(model, meta, rows, cache, settings.batch_size, device, settings.tta)
    write_table(predictions, out_path, predictions_schema(meta["classes"]))
