"""Do classifiers lean on artefacts? Melanoma and mean AUC on the test images with and without each
artefact, and the "shortcut floor": what a classifier that sees only the artefact flags achieves.

Flags come from a per-dataset CSV of human 0/1 annotations (image_id plus one column per artefact, e.g.
the ISIC 2017 crops' ``artefacts.csv``); without any, the purify stage's detection stands in as one
pseudo-artefact (occluded fraction over ``purification.select_threshold``). Flags are never a classifier
input: they only split the test set, and train the shortcut floor, a logistic regression on the flags
alone whose AUC says how much the labels can be read off the artefacts.

The share of each classifier's VisualBackProp saliency on detected occlusions is in
``results/reports/occlusion_reliance.csv`` (evaluation.explain).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # figures are written to files by workflow jobs; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.evaluation.bootstrap import percentile_interval, resampled_aucs, stratified_resamples
from melanoflow.evaluation.metrics import (
    challenge_mean_auc,
    class_aucs,
    probability_columns,
    read_predictions,
)
from melanoflow.evaluation.settings import AucSettings
from melanoflow.ingest.flags import read_flags
from melanoflow.tables import read_columns, read_images_manifest

log = logging.getLogger(__name__)

# The pseudo-artefact of datasets without flags: the purify stage found hairs or rulers on the image.
DETECTED_OCCLUSION = "detected_occlusion"
# The prediction set of the logistic regression on the flags alone.
SHORTCUT_FLOOR = "shortcut_floor"
# The row of each prediction set over the whole test split (every image, whatever its flags).
ALL_IMAGES = "all"
TABLE_COLUMNS = (
    "prediction_set", "artefact", "present", "n_images", "n_melanoma",
    "melanoma_auc", "melanoma_auc_low", "melanoma_auc_high",
    "mean_auc", "mean_auc_low", "mean_auc_high", "missing_reason",
)


def detected_occlusion_flags(occlusions: str | os.PathLike, threshold: float) -> pd.DataFrame:
    """The purify stage's detection as flags: an image has occlusions when its occluded fraction is over
    ``threshold`` (the purification.select_threshold the classifiers' recipes use)."""
    table = read_columns(occlusions, ["image_id", "dataset", "occluded_fraction"])
    flags = (table["occluded_fraction"] > threshold).astype(int)
    return table[["dataset", "image_id"]].assign(**{DETECTED_OCCLUSION: flags})


def subset_aucs(frame: pd.DataFrame, settings: AucSettings) -> dict:
    """Melanoma and mean AUC of the predictions in ``frame`` with percentile bootstrap intervals, or NaN
    and the reason where the subset lacks positive or negative cases."""
    classes, melanoma, keratosis = list(settings.classes), settings.melanoma_class, settings.keratosis_class
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
    row = {"n_images": len(frame), "n_melanoma": int((labels == melanoma).sum()),
           **dict.fromkeys(TABLE_COLUMNS[5:11], np.nan), "missing_reason": ""}
    aucs = class_aucs(labels, probabilities, classes)
    if melanoma not in aucs:
        row["missing_reason"] = f"melanoma AUC undefined: {row['n_melanoma']} melanoma of {len(frame)} images"
        return row
    mean_defined = keratosis is None or keratosis in aucs
    bootstrap = settings.bootstrap
    indices = stratified_resamples(labels, bootstrap.resamples, settings.seed)
    samples = resampled_aucs(labels, probabilities, classes, indices, melanoma, keratosis if mean_defined else None)
    row["melanoma_auc"] = aucs[melanoma]
    row["melanoma_auc_low"], row["melanoma_auc_high"] = percentile_interval(samples["melanoma_auc"], bootstrap.level)
    if mean_defined:
        row["mean_auc"] = challenge_mean_auc(aucs, melanoma, keratosis)
        row["mean_auc_low"], row["mean_auc_high"] = percentile_interval(samples["mean_auc"], bootstrap.level)
    else:
        row["missing_reason"] = f"mean AUC undefined: {keratosis} has no positive or no negative case"
    return row


def shortcut_floor(flags: pd.DataFrame, artefacts: list[str], classes: list[str], seed: int,
                   splits: tuple[str, ...] = ("test",)) -> pd.DataFrame:
    """Predictions for the ``splits`` of a logistic regression fitted on the training split's flags and labels.

    ``flags`` has dataset, image_id, split, label and the ``artefacts`` columns; the result has the
    columns of a predictions table (a class absent from training gets probability 0).
    """
    train = flags[flags["split"] == "train"]
    predicted = flags[flags["split"].isin(splits)].reset_index(drop=True)
    if train["label"].nunique() < 2:
        raise fileio.BadInputError("shortcut floor: the flagged training images hold fewer than two classes")
    model = LogisticRegression(max_iter=1000, random_state=seed).fit(train[artefacts].to_numpy(float), train["label"])
    fitted = pd.DataFrame(model.predict_proba(predicted[artefacts].to_numpy(float)), columns=model.classes_)
    probabilities = fitted.reindex(columns=classes, fill_value=0.0)
    probabilities.columns = probability_columns(classes)
    log.info("shortcut floor: logistic regression on %d flag(s) of %d training images", len(artefacts), len(train))
    return pd.concat([predicted[["dataset", "image_id", "split", "label"]], probabilities], axis=1)


def stratified_aucs(
    prediction_sets: Mapping[str, pd.DataFrame], flags: pd.DataFrame, artefacts: list[str], settings: AucSettings
) -> pd.DataFrame:
    """The long table: per prediction set, its AUCs on the whole flagged test split (artefact ``all``) and
    on the images with and without each artefact."""
    rows = []
    for name, predictions in tqdm(prediction_sets.items(), desc="prediction sets", unit="set"):
        frame = predictions.merge(flags[["dataset", "image_id", *artefacts]], on=["dataset", "image_id"])
        strata = [(ALL_IMAGES, True, frame)] + [
            (artefact, present, frame[frame[artefact] == int(present)])
            for artefact in artefacts
            for present in (True, False)
        ]
        for artefact, present, subset in strata:
            scores = subset_aucs(subset, settings)
            rows.append({"prediction_set": name, "artefact": artefact, "present": present, **scores})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def plot_strata(table: pd.DataFrame):
    """Per artefact, each prediction set's melanoma AUC with and without it (points with CI bars); the
    shortcut floor's AUC on the whole test split as a dashed line."""
    artefacts = [name for name in table["artefact"].unique() if name != ALL_IMAGES]
    sets = list(table["prediction_set"].unique())
    floor = table[(table["prediction_set"] == SHORTCUT_FLOOR) & (table["artefact"] == ALL_IMAGES)]
    columns = min(len(artefacts), 4)
    rows = -(-len(artefacts) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False, sharey=True)
    for axis, artefact in zip(axes.flat, artefacts, strict=False):
        for present, colour, offset in ((True, "tab:red", -0.15), (False, "tab:blue", 0.15)):
            stratum = table[(table["artefact"] == artefact) & (table["present"] == present)].set_index("prediction_set")
            stratum = stratum.reindex(sets)
            x = np.arange(len(sets)) + offset
            errors = np.abs(stratum[["melanoma_auc_low", "melanoma_auc_high"]].to_numpy().T
                            - stratum["melanoma_auc"].to_numpy())
            axis.errorbar(x, stratum["melanoma_auc"], yerr=errors, fmt="o", color=colour, capsize=2,
                          label="with" if present else "without")
        if len(floor):
            axis.axhline(floor["melanoma_auc"].iloc[0], color="grey", linestyle="--", label="shortcut floor")
        axis.axhline(0.5, color="black", linewidth=0.5)
        axis.set_title(artefact)
        axis.set_xticks(np.arange(len(sets)), sets, rotation=45, ha="right", fontsize=7)
        axis.set_ylim(0, 1.02)
    for axis in axes.flat[len(artefacts):]:
        axis.set_visible(False)
    axes[0, 0].set_ylabel("melanoma AUC (test split)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def write_artefact_strata(
    predictions: Mapping[str, str | os.PathLike],
    images_manifest: str | os.PathLike,
    table_path: str | os.PathLike,
    figure_path: str | os.PathLike,
    settings: AucSettings,
    flag_files: Mapping[str, str | os.PathLike] | None = None,
    occlusions: str | os.PathLike | None = None,
    select_threshold: float | None = None,
) -> pd.DataFrame:
    """The stratified AUC table and figure of every prediction set (``predictions``: name -> table path)
    plus the shortcut floor, with flags from ``flag_files`` (dataset -> CSV) or, without any, from the
    detected ``occlusions`` (occluded fraction over ``select_threshold``, purification.select_threshold)."""
    images = read_images_manifest(images_manifest)[["dataset", "image_id", "split", "label"]]
    if flag_files:
        flags = read_flags(flag_files, images)
    elif occlusions is not None:
        flags = detected_occlusion_flags(occlusions, select_threshold)
    else:
        raise ValueError("artefact strata need flag files or the purify stage's occlusions table")
    artefacts = [column for column in flags.columns if column not in ("dataset", "image_id")]
    flags = images.merge(flags, on=["dataset", "image_id"])
    classes = list(settings.classes)
    test_sets = {name: read_predictions(path, classes, split="test") for name, path in predictions.items()}
    for name, frame in test_sets.items():
        unflagged = len(frame) - frame.merge(flags, on=["dataset", "image_id"]).shape[0]
        if unflagged:
            log.warning("%s: %d test image(s) have no flags (their dataset has no flag file) and are left out",
                        name, unflagged)
    test_sets[SHORTCUT_FLOOR] = shortcut_floor(flags, artefacts, classes, settings.seed)
    table = stratified_aucs(test_sets, flags, artefacts, settings)
    for row in table[table["missing_reason"] != ""].itertuples():
        log.info("%s, %s %s: %s", row.prediction_set, row.artefact, "present" if row.present else "absent",
                 row.missing_reason)
    with fileio.atomic_path(table_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    fileio.write_figure(figure_path, plot_strata(table))
    return table
