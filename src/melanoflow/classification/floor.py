"""The classical floor every deep variant must beat: logistic regression on lesion colour and shape.

Each image is described by a few hand-made features of its *segmented* lesion (the segmentation stage's
predicted mask, as the deep pipeline sees it; never the ground-truth mask), computed at a fixed working
resolution: the image and its mask are resized so that their short side is :data:`WORK_SIDE` pixels,
because the archives mix pixel sizes and a feature must not depend on them. The features
(:data:`FEATURE_NAMES`):

Colour, in CIELAB (L* 0..100, a* green-red, b* blue-yellow), lesion = the mask, skin = a ring around it
(the mask dilated by :data:`RING_OUTER` pixels minus the mask dilated by :data:`RING_GAP` pixels, so the
blurred lesion edge is left out):

- ``lesion_{L,a,b}_mean``, ``lesion_{L,a,b}_std``: mean and spread of each channel inside the lesion;
- ``skin_{L,a,b}_mean``: the surrounding skin's mean;
- ``delta_{L,a,b}``: lesion mean minus skin mean (a dark lesion has a negative ``delta_L``);
- ``delta_E``: CIE76 colour difference between the two means;
- ``hue_spread``: circular standard deviation (radians) of the CIELCh hue of the lesion's chromatic
  pixels (chroma above :data:`MIN_CHROMA`): colour variegation;
- ``colour_count``: how many CIELAB bins (:data:`COLOUR_BIN` units a side) each hold at least
  :data:`COLOUR_SHARE` of the lesion's pixels: the ABCD rule's "number of colours".

Shape, of the largest connected region of the mask (``skimage.measure.regionprops``):

- ``area_fraction``: the whole mask's share of the image;
- ``eccentricity`` (0 for a disc), ``solidity`` (area / convex area), ``extent`` (area / bounding box);
- ``compactness``: perimeter^2 / (4 pi area), 1 for a disc and larger for ragged borders (Crofton perimeter);
- ``asymmetry_major``, ``asymmetry_minor``: the share of the region whose mirror image about its
  major / minor principal axis (through the centroid) falls outside it, 0 for a shape symmetric about
  that axis (the ABCD rule's asymmetry, one value per axis);
- ``border_sharpness``: mean Sobel gradient magnitude of L* on the mask's boundary pixels (edges where
  the mask meets the image frame are not boundary).

An empty mask, or one that leaves no skin ring (it fills the frame), is replaced by a centred ellipse
spanning half of each side, with a warning naming the image.

The classifier is a standardised multinomial logistic regression with balanced class weights. Its
inverse regularisation strength C is chosen from a configured grid by the mean one-vs-rest AUC on the
validation rows (the test rows are never looked at), using the model fitted on the training rows only;
that model predicts the validation and test rows into the same predictions table as a deep classifier's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pandas as pd
from scipy import stats
from skimage import color, filters, measure, segmentation
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from melanoflow.classification.settings import FloorSettings
from melanoflow.fileio import BadInputError, read_image, read_mask, write_json
from melanoflow.tables import (
    PREDICTED_SPLITS,
    predictions_schema,
    read_columns,
    read_images_manifest,
    write_table,
)

log = logging.getLogger(__name__)

# Short side, in pixels, at which every feature is computed.
WORK_SIDE = 256
# Skin ring around the lesion: from RING_GAP to RING_OUTER pixels outside the mask (at WORK_SIDE).
RING_GAP = 5
RING_OUTER = 20
# Fewer lesion (or skin-ring) pixels than this: the mask is unusable and the centre ellipse replaces it.
MIN_PIXELS = 64
# Hue is only meaningful for coloured pixels: CIELCh chroma above this.
MIN_CHROMA = 5.0
# Colour count: CIELAB bins of COLOUR_BIN units a side holding at least COLOUR_SHARE of the lesion.
COLOUR_BIN = 20.0
COLOUR_SHARE = 0.05

CHANNELS = ("L", "a", "b")
FEATURE_NAMES = (
    [f"lesion_{c}_mean" for c in CHANNELS]
    + [f"lesion_{c}_std" for c in CHANNELS]
    + [f"skin_{c}_mean" for c in CHANNELS]
    + [f"delta_{c}" for c in CHANNELS]
    + ["delta_E", "hue_spread", "colour_count"]
    + ["area_fraction", "eccentricity", "solidity", "extent", "compactness"]
    + ["asymmetry_major", "asymmetry_minor", "border_sharpness"]
)


def to_working_size(rgb: np.ndarray, mask: np.ndarray,
                    side: int = WORK_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Resize an image and its mask so that the short side is ``side`` pixels (aspect ratio kept)."""
    height, width = mask.shape
    scale = side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    rgb = cv2.resize(rgb, size, interpolation=interpolation)
    # the mask's area is kept by resizing its coverage and cutting at one half
    mask = cv2.resize(mask.astype(np.float32), size, interpolation=interpolation) > 0.5
    return rgb, mask


def centre_ellipse(shape: tuple[int, int]) -> np.ndarray:
    """A centred ellipse spanning half of each side: the stand-in for an unusable lesion mask."""
    mask = np.zeros(shape, np.uint8)
    height, width = shape
    cv2.ellipse(mask, (width // 2, height // 2), (max(1, width // 4), max(1, height // 4)), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def skin_ring(mask: np.ndarray) -> np.ndarray:
    """The skin around the lesion: pixels between RING_GAP and RING_OUTER pixels outside the mask."""
    def dilate(radius: int) -> np.ndarray:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(mask.astype(np.uint8), disk).astype(bool)

    return dilate(RING_OUTER) & ~dilate(RING_GAP)


def _colour_features(lab: np.ndarray, lesion: np.ndarray, skin: np.ndarray) -> dict[str, float]:
    lesion_lab, skin_lab = lab[lesion], lab[skin]
    lesion_mean, skin_mean = lesion_lab.mean(axis=0), skin_lab.mean(axis=0)
    features = {}
    for index, channel in enumerate(CHANNELS):
        features[f"lesion_{channel}_mean"] = lesion_mean[index]
        features[f"lesion_{channel}_std"] = lesion_lab[:, index].std()
        features[f"skin_{channel}_mean"] = skin_mean[index]
        features[f"delta_{channel}"] = lesion_mean[index] - skin_mean[index]
    features["delta_E"] = color.deltaE_cie76(lesion_mean, skin_mean)
    lch = color.lab2lch(lesion_lab[None])[0]
    hues = lch[lch[:, 1] > MIN_CHROMA, 2]
    features["hue_spread"] = stats.circstd(hues) if len(hues) > 1 else 0.0
    bins = np.floor(lesion_lab / COLOUR_BIN).astype(np.int64)
    bins -= bins.min(axis=0)
    sides = bins.max(axis=0) + 1
    counts = np.bincount((bins[:, 0] * sides[1] + bins[:, 1]) * sides[2] + bins[:, 2])
    features["colour_count"] = np.count_nonzero(counts >= COLOUR_SHARE * len(lesion_lab))
    return features


def _asymmetry(region: np.ndarray, props) -> tuple[float, float]:
    """Share of ``region`` whose mirror image about the major / minor principal axis falls outside it."""
    coords = props.coords.astype(np.float64)
    centre = np.asarray(props.centroid)
    theta = props.orientation  # angle between the row axis and the major axis
    major = np.array([np.cos(theta), np.sin(theta)])
    minor = np.array([-np.sin(theta), np.cos(theta)])
    height, width = region.shape
    values = []
    for axis in (major, minor):
        offset = coords - centre
        mirrored = np.rint(centre + 2 * (offset @ axis)[:, None] * axis - offset).astype(np.int64)
        inside = ((mirrored[:, 0] >= 0) & (mirrored[:, 0] < height)
                  & (mirrored[:, 1] >= 0) & (mirrored[:, 1] < width))
        hits = region[mirrored[inside, 0], mirrored[inside, 1]].sum()
        values.append(1.0 - hits / len(coords))
    return values[0], values[1]


def _shape_features(mask: np.ndarray, lightness: np.ndarray) -> dict[str, float]:
    labels = measure.label(mask, connectivity=2)
    regions = measure.regionprops(labels)
    props = max(regions, key=lambda region: region.area)
    region = labels == props.label
    asymmetry_major, asymmetry_minor = _asymmetry(region, props)
    boundary = segmentation.find_boundaries(mask, mode="inner")
    gradient = filters.sobel(lightness)
    return {
        "area_fraction": mask.mean(),
        "eccentricity": props.eccentricity,
        "solidity": props.solidity,
        "extent": props.extent,
        "compactness": props.perimeter_crofton**2 / (4 * np.pi * props.area),
        "asymmetry_major": asymmetry_major,
        "asymmetry_minor": asymmetry_minor,
        "border_sharpness": gradient[boundary].mean() if boundary.any() else 0.0,
    }


def lesion_features(rgb: np.ndarray, mask: np.ndarray, name: str = "image") -> dict[str, float]:
    """The colour and shape features (:data:`FEATURE_NAMES`) of the lesion ``mask`` marks in ``rgb``.

    ``rgb`` is uint8 (H, W, 3) and ``mask`` boolean (H, W); ``name`` only names the image in warnings.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != mask.shape:
        raise ValueError(f"{name}: image {rgb.shape} and mask {mask.shape} do not match")
    rgb, mask = to_working_size(rgb, mask)
    skin = skin_ring(mask)
    if mask.sum() < MIN_PIXELS or skin.sum() < MIN_PIXELS:
        problem = "is empty" if mask.sum() < MIN_PIXELS else "leaves no skin around it"
        log.warning("%s: the lesion mask %s (%.1f%% of the image); the centre ellipse stands in for it",
                    name, problem, 100 * mask.mean())
        mask = centre_ellipse(mask.shape)
        skin = skin_ring(mask)
    # OpenCV's float conversion: D65 CIELAB as skimage.color.rgb2lab's (within 0.5 units), ten times faster
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB).astype(np.float64)
    features = _colour_features(lab, mask, skin) | _shape_features(mask, lab[..., 0])
    return {key: float(features[key]) for key in FEATURE_NAMES}


def image_features(image_path: str, mask_path: str) -> dict[str, float]:
    """:func:`lesion_features` of an image file and its lesion-mask file."""
    rgb, mask = read_image(image_path), read_mask(mask_path)
    if mask.shape != rgb.shape[:2]:
        raise BadInputError(f"{mask_path}: lesion mask is {mask.shape[1]}x{mask.shape[0]}, "
                            f"its image {image_path} is {rgb.shape[1]}x{rgb.shape[0]}")
    return lesion_features(rgb, mask, name=str(image_path))


def feature_table(rows: pd.DataFrame, threads: int = 1) -> pd.DataFrame:
    """The features of every row (columns ``image_path`` and ``lesion_mask_path``), indexed like ``rows``."""
    paths = list(zip(rows["image_path"], rows["lesion_mask_path"], strict=True))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        records = list(tqdm(pool.map(lambda pair: image_features(*pair), paths), total=len(paths),
                            desc="lesion features", mininterval=5))
    return pd.DataFrame(records, index=rows.index, columns=FEATURE_NAMES)


def class_probabilities(model: Pipeline, features: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """Probabilities (N, len(classes)) in ``classes`` order; a class absent from training gets 0."""
    probabilities = np.zeros((len(features), len(classes)))
    fitted = model.predict_proba(features.to_numpy(np.float64))
    for column, label in enumerate(model.classes_):
        probabilities[:, list(classes).index(label)] = fitted[:, column]
    return probabilities


def one_vs_rest_aucs(labels: Sequence[str], probabilities: np.ndarray,
                     classes: Sequence[str]) -> dict[str, float]:
    """Each class's one-vs-rest AUC, for the classes both present and absent among ``labels``."""
    labels = np.asarray(labels)
    aucs = {}
    for index, label in enumerate(classes):
        positive = labels == label
        if positive.any() and not positive.all():
            aucs[label] = float(roc_auc_score(positive, probabilities[:, index]))
    return aucs


def make_floor_model(C: float, seed: int) -> Pipeline:
    """Standardisation, then multinomial logistic regression with balanced class weights."""
    return Pipeline([
        ("scale", StandardScaler()),
        ("logistic", LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)),
    ])  # fmt: skip


def fit_floor(features: pd.DataFrame, labels: Sequence[str], splits: Sequence[str], classes: Sequence[str],
              Cs: Sequence[float], seed: int) -> tuple[Pipeline, dict]:
    """Fit the floor on the ``train`` rows with the C of ``Cs`` that scores best on the ``val`` rows.

    The score is the mean of the one-vs-rest AUCs (of the classes present in validation); ties go to the
    smaller C (stronger regularisation). Rows of any other split (``test``) are never looked at. Returns
    the model fitted on the training rows with the chosen C, and a summary of the choice.
    """
    labels, splits = np.asarray(labels), np.asarray(splits)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the configured classes {list(classes)}")
    train, val = splits == "train", splits == "val"
    if len(set(labels[train])) < 2:
        raise ValueError("the classical floor needs training rows of two classes or more, got "
                         f"{sorted(set(labels[train]))}")
    if len(set(labels[val])) < 2:
        raise ValueError("the classical floor chooses C on the validation split, which needs rows of two "
                         f"classes or more; it has {int(val.sum())} rows of {sorted(set(labels[val]))}")
    if not Cs:
        raise ValueError("classical_floor.C: no regularisation strength to try")
    X_train, X_val = features.loc[train].to_numpy(np.float64), features.loc[val]
    best_model, best_score, tried = None, -np.inf, []
    for C in sorted(float(c) for c in Cs):
        model = make_floor_model(C, seed).fit(X_train, labels[train])
        aucs = one_vs_rest_aucs(labels[val], class_probabilities(model, X_val, classes), classes)
        score = float(np.mean(list(aucs.values())))
        tried.append({"C": C, "mean_auc": score, "class_auc": aucs})
        log.info("C=%g: validation mean one-vs-rest AUC %.4f (%s)", C, score,
                 ", ".join(f"{label} {auc:.4f}" for label, auc in aucs.items()))
        if score > best_score:
            best_model, best_score = model, score
    chosen = best_model.named_steps["logistic"].C
    log.info("chosen C=%g (validation mean AUC %.4f; %d train, %d validation images)", chosen, best_score,
             int(train.sum()), int(val.sum()))
    logistic, scaler = best_model.named_steps["logistic"], best_model.named_steps["scale"]
    summary = {
        "chosen_C": chosen, "validation": tried, "selection": "mean one-vs-rest AUC on the val split",
        "feature_names": list(features.columns), "classes": [str(label) for label in logistic.classes_],
        "coefficients": logistic.coef_.tolist(), "intercepts": logistic.intercept_.tolist(),
        "feature_mean": scaler.mean_.tolist(), "feature_scale": scaler.scale_.tolist(),
        "coefficients_note": "on standardised features; one row per class, or one row for the second class "
                             "when training saw two classes",
        "train_images": int(train.sum()), "val_images": int(val.sum()), "work_side": WORK_SIDE,
    }  # fmt: skip
    return best_model, summary


def with_lesion_masks(images: pd.DataFrame, masks: pd.DataFrame, masks_name: str) -> pd.DataFrame:
    """Manifest rows with their predicted lesion mask as ``lesion_mask_path``; every image must have one."""
    masks = masks[["dataset", "image_id", "mask_path"]].rename(columns={"mask_path": "lesion_mask_path"})
    joined = images.merge(masks, on=["dataset", "image_id"], how="left", validate="one_to_one")
    absent = joined.loc[joined["lesion_mask_path"].isna(), "image_id"]
    if len(absent):
        raise BadInputError(f"{masks_name}: no predicted lesion mask for {len(absent)} images, "
                            f"e.g. {list(absent[:5])}")
    return joined


def predictions_table(rows: pd.DataFrame, probabilities: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """The predictions table of ``rows``, in :func:`predictions_schema`'s columns (with ``split`` when the
    schema has it)."""
    table = pd.DataFrame({"image_id": rows["image_id"].to_numpy(), "dataset": rows["dataset"].to_numpy(),
                          "split": rows["split"].to_numpy(), "label": rows["label"].to_numpy(),
                          "predicted": np.asarray(classes)[probabilities.argmax(axis=1)]})
    for index, label in enumerate(classes):
        table[f"prob_{label}"] = probabilities[:, index]
    return table[predictions_schema(list(classes)).names]


def predict_floor(images_manifest_path: str | os.PathLike, masks_table_path: str | os.PathLike,
                  predictions_path: str | os.PathLike, model_path: str | os.PathLike, settings: FloorSettings,
                  threads: int = 1) -> pd.DataFrame:
    """Workflow entry point: fit the classical floor and write its predictions for the val and test rows.

    The model file (JSON) holds the chosen C, the validation AUCs of every C tried, the feature names and
    the coefficients.
    """
    cv2.setNumThreads(1)  # the thread pool parallelises over images
    classes = list(settings.classes)
    images = read_images_manifest(images_manifest_path)
    rows = with_lesion_masks(images, read_columns(masks_table_path, ["image_id", "dataset", "mask_path"]),
                             str(masks_table_path))
    if not (rows["split"] == "test").any():
        raise ValueError(f"{images_manifest_path}: no test rows to predict")
    log.info("classical floor: %d images (%s)", len(rows), rows["split"].value_counts().to_dict())
    features = feature_table(rows, threads)
    model, summary = fit_floor(features, rows["label"], rows["split"], classes, settings.C, settings.seed)
    predicted = rows["split"].isin(PREDICTED_SPLITS).to_numpy()
    probabilities = class_probabilities(model, features.loc[predicted], classes)
    table = predictions_table(rows.loc[predicted], probabilities, classes)
    write_table(table, predictions_path, predictions_schema(classes))
    test = table.loc[rows.loc[predicted, "split"].to_numpy() == "test"]
    summary["test_images"] = len(test)
    write_json(model_path, summary)
    log.info("wrote %d predictions (%d test) to %s", len(table), len(test), predictions_path)
    return table
