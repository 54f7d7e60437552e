"""Counterfactual insertion: paste a ruler, a coloured patch or an ink mark onto clean test images and
measure how far each classifier's melanoma probability moves, and how many decisions flip.

The artefacts are drawn by the demo's occlusion generator (melanoflow.demo.generate), at positions,
sizes and colours from a seeded generator, away from the predicted lesion where the drawer allows; only
the pasted pixels change. Every image, original and inserted, goes through the run's own inference
(melanoflow.predict.pipeline.Predictor: segmentation, purification, lesion crop, test-time views), once
without and once with test-time purification.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are written to files by workflow jobs; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.demo.generate import draw_ink, draw_patch, draw_ruler
from melanoflow.evaluation.bootstrap import percentile_interval
from melanoflow.evaluation.decision import argmax_labels
from melanoflow.evaluation.settings import AucSettings, InsertionSettings
from melanoflow.ingest.flags import read_flags
from melanoflow.predict.pipeline import Predictor
from melanoflow.tables import read_columns, read_images_manifest

log = logging.getLogger(__name__)

# Each inserted kind's drawer: (rng, RGB uint8 image drawn on in place, bool lesion mask) -> uint8 mask.
DRAWERS: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray], np.ndarray]] = {
    "ruler": lambda rng, image, lesion: draw_ruler(rng, image),
    "patch": draw_patch,
    "ink": draw_ink,
}
# The flag columns (ISIC 2017 crops' artefacts.csv) that mark an image as already holding each kind.
KIND_FLAGS = {"ruler": "ruler", "patch": "patches", "ink": "ink"}
TABLE_COLUMNS = ("variant", "artefact", "test_time_purification", "n_images", "mean_shift", "shift_low",
                 "shift_high", "flip_share")


def insert_artefact(rng: np.random.Generator, image: np.ndarray, lesion: np.ndarray, kind: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``image`` with one artefact of ``kind`` pasted, and the bool mask of the pasted pixels."""
    inserted = image.copy()
    coverage = DRAWERS[kind](rng, inserted, lesion) > 0
    return inserted, coverage


def clean_test_images(images: pd.DataFrame, count: int, seed: int,
                      flag_files: Mapping[str, str | os.PathLike] | None = None,
                      occlusions: str | os.PathLike | None = None,
                      select_threshold: float | None = None) -> pd.DataFrame:
    """Up to ``count`` test images (seeded choice) without any artefact to be inserted: by the flags
    where flag files are given (images of unflagged datasets are not chosen), else with a detected
    occluded fraction in ``occlusions`` not above ``select_threshold`` (purification.select_threshold)."""
    test = images[images["split"] == "test"]
    if flag_files:
        flags = read_flags(flag_files, images)
        columns = [column for column in KIND_FLAGS.values() if column in flags.columns]
        clean = flags.loc[(flags[columns] == 0).all(axis=1), ["dataset", "image_id"]]
    else:
        table = read_columns(occlusions, ["image_id", "dataset", "occluded_fraction"])
        clean = table.loc[table["occluded_fraction"] <= select_threshold, ["dataset", "image_id"]]
    candidates = test.merge(clean, on=["dataset", "image_id"]).sort_values(["dataset", "image_id"], ignore_index=True)
    if candidates.empty:
        raise fileio.BadInputError("counterfactual insertion: no test image is free of rulers, patches and ink")
    chosen = np.sort(np.random.default_rng(seed).choice(len(candidates), min(count, len(candidates)), replace=False))
    log.info("counterfactual insertion: %d of %d clean test images", len(chosen), len(candidates))
    return candidates.iloc[chosen].reset_index(drop=True)


def shift_summary(original: np.ndarray, inserted: np.ndarray, melanoma: int, classes: list[str],
                  resamples: int, level: float, seed: int) -> dict:
    """Mean melanoma-probability shift (inserted minus original) with a bootstrap interval over images,
    and the share of images whose decision (argmax class) changes."""
    shifts = inserted[:, melanoma] - original[:, melanoma]
    draws = np.random.default_rng(seed).integers(0, len(shifts), (resamples, len(shifts)))
    low, high = percentile_interval(shifts[draws].mean(axis=1), level)
    flips = argmax_labels(original, classes) != argmax_labels(inserted, classes)
    return {"n_images": len(shifts), "mean_shift": float(shifts.mean()), "shift_low": low, "shift_high": high,
            "flip_share": float(flips.mean())}


def variant_probabilities(predictor: Predictor, images: list[np.ndarray], masks: list[np.ndarray],
                          test_time: bool) -> np.ndarray:
    """The predictor's probabilities for ``images`` with test-time purification switched as given."""
    predictor.purification = replace(predictor.purification, test_time=test_time)
    probabilities = []
    for start in range(0, len(images), predictor.batch_size):
        _, _, _, inputs = predictor.prepare(images[start : start + predictor.batch_size],
                                            masks[start : start + predictor.batch_size])
        probabilities.append(predictor.classify(inputs))
    return np.concatenate(probabilities)


def plot_shifts(table: pd.DataFrame):
    """Per inserted kind, each variant's mean melanoma-probability shift with its interval, without and
    with test-time purification."""
    kinds = list(table["artefact"].unique())
    variants = list(table["variant"].unique())
    figure, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.2), squeeze=False, sharey=True)
    for axis, kind in zip(axes[0], kinds, strict=True):
        for test_time, colour, offset in ((False, "tab:red", -0.12), (True, "tab:green", 0.12)):
            rows = table[(table["artefact"] == kind) & (table["test_time_purification"] == test_time)]
            rows = rows.set_index("variant").reindex(variants)
            errors = np.abs(rows[["shift_low", "shift_high"]].to_numpy().T - rows["mean_shift"].to_numpy())
            axis.errorbar(np.arange(len(variants)) + offset, rows["mean_shift"], yerr=errors, fmt="o", color=colour,
                          capsize=2, label="test-time purification" if test_time else "no test-time purification")
        axis.axhline(0, color="black", linewidth=0.5)
        axis.set_title(f"{kind} inserted")
        axis.set_xticks(np.arange(len(variants)), variants, rotation=45, ha="right", fontsize=8)
    axes[0, 0].set_ylabel("melanoma probability shift")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    return figure


def write_counterfactual_insertion(
    run_settings: str | os.PathLike,
    images_manifest: str | os.PathLike,
    table_path: str | os.PathLike,
    figure_path: str | os.PathLike,
    settings: AucSettings,
    insertion: InsertionSettings,
    flag_files: Mapping[str, str | os.PathLike] | None = None,
    occlusions: str | os.PathLike | None = None,
    select_threshold: float | None = None,
) -> pd.DataFrame:
    """Insert each artefact kind into clean test images (clean_test_images) and predict them with every
    variant of ``insertion`` of the run whose ``results/models/predict.json`` is ``run_settings``."""
    results = Path(run_settings).parent.parent
    classes, seed = list(settings.classes), settings.seed
    chosen = clean_test_images(read_images_manifest(images_manifest), insertion.images, seed, flag_files, occlusions,
                               select_threshold)
    originals = [fileio.read_image(path) for path in tqdm(chosen["image_path"], desc="read", unit="image")]
    predictors = {variant: Predictor(results, variant, insertion.device) for variant in insertion.variants}
    # one segmenter per run: the lesion masks of the originals place the artefacts away from the lesion
    segmenter = next(iter(predictors.values()))
    lesions = segmenter.segment(originals)
    rng = np.random.default_rng(seed)
    inserted = {kind: [insert_artefact(rng, image, lesion, kind)[0] for image, lesion in zip(originals, lesions,
                                                                                           strict=True)]
                for kind in DRAWERS}
    # the inserted images are segmented anew, as the run would segment them
    inserted_lesions = {kind: segmenter.segment(images) for kind, images in inserted.items()}
    melanoma = classes.index(settings.melanoma_class)
    rows = []
    for variant, predictor in tqdm(predictors.items(), desc="variants", unit="variant"):
        for test_time in (False, True):
            before = variant_probabilities(predictor, originals, lesions, test_time)
            for kind, images in inserted.items():
                after = variant_probabilities(predictor, images, inserted_lesions[kind], test_time)
                summary = shift_summary(before, after, melanoma, classes, settings.bootstrap.resamples,
                                        settings.bootstrap.level, seed)
                rows.append({"variant": variant, "artefact": kind, "test_time_purification": test_time, **summary})
                log.info("%s, %s inserted, test-time purification %s: melanoma probability %+.3f [%+.3f, %+.3f], "
                         "%.0f%% decisions flip", variant, kind, "on" if test_time else "off", summary["mean_shift"],
                         summary["shift_low"], summary["shift_high"], 100 * summary["flip_share"])
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    with fileio.atomic_path(table_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    fileio.write_figure(figure_path, plot_shifts(table))
    return table
