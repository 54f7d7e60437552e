"""Trap splits' measure of shortcut learning (Bissoto et al. 2020): each classifier's AUC on the
``untrapped`` test split (the data's own artefact-class association) and on the ``test`` split (the
association of training reversed), the drop between the two, and each drop minus the baseline's.

Intervals are percentile bootstraps: each test split is resampled on its own, stratified by class, and
every prediction set is scored on the same resamples, so differences between classifiers are paired. The
association each split actually holds is recomputed from the manifest and the flags (ingest.trap).
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

from melanoflow import fileio
from melanoflow.evaluation.artefacts import SHORTCUT_FLOOR, shortcut_floor
from melanoflow.evaluation.bootstrap import percentile_interval, resampled_aucs, stratified_resamples
from melanoflow.evaluation.metrics import (
    challenge_mean_auc,
    class_aucs,
    probability_columns,
    read_predictions,
)
from melanoflow.evaluation.settings import AucSettings, TrapDropSettings
from melanoflow.ingest.flags import read_flags
from melanoflow.ingest.trap import association
from melanoflow.tables import UNTRAPPED, read_images_manifest

log = logging.getLogger(__name__)

METRICS = ("melanoma_auc", "mean_auc")
# The split of a trap run whose association is reversed.
REVERSED = "test"
DROP_COLUMNS = (
    "prediction_set", "metric",
    "untrapped", "untrapped_low", "untrapped_high",
    "reversed", "reversed_low", "reversed_high",
    "drop", "drop_low", "drop_high",
    "drop_minus_baseline", "drop_minus_baseline_low", "drop_minus_baseline_high",
)


def checked_alignment(frames: Mapping[str, pd.DataFrame], split: str) -> np.ndarray:
    """The labels every prediction set shares on ``split``; an error when two sets list other images."""
    names = list(frames)
    first = frames[names[0]]
    for name in names[1:]:
        frame = frames[name]
        if len(frame) != len(first) or not (frame[["dataset", "image_id", "label"]].to_numpy()
                                            == first[["dataset", "image_id", "label"]].to_numpy()).all():
            raise fileio.BadInputError(f"{split} split: prediction sets {names[0]!r} and {name!r} list other images")
    return first["label"].to_numpy(dtype=object)


def scores(frame: pd.DataFrame, indices: np.ndarray, settings: AucSettings) -> dict[str, tuple[float, np.ndarray]]:
    """metric -> (value on ``frame``, values on the resamples ``indices``)."""
    classes, melanoma, keratosis = list(settings.classes), settings.melanoma_class, settings.keratosis_class
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
    aucs = class_aucs(labels, probabilities, classes)
    resampled = resampled_aucs(labels, probabilities, classes, indices, melanoma, keratosis)
    return {"melanoma_auc": (aucs[melanoma], resampled["melanoma_auc"]),
            "mean_auc": (challenge_mean_auc(aucs, melanoma, keratosis), resampled["mean_auc"])}


def trap_drops(untrapped: Mapping[str, pd.DataFrame], reversed_: Mapping[str, pd.DataFrame],
               settings: AucSettings, baseline: str) -> pd.DataFrame:
    """Per prediction set and metric: its value on the untrapped and the reversed test split, the drop
    (untrapped minus reversed) and the drop minus ``baseline``'s, each with a percentile interval."""
    resamples, level = settings.bootstrap.resamples, settings.bootstrap.level
    indices = {UNTRAPPED: stratified_resamples(checked_alignment(untrapped, UNTRAPPED), resamples, settings.seed),
               REVERSED: stratified_resamples(checked_alignment(reversed_, REVERSED), resamples, settings.seed + 1)}
    if baseline not in untrapped:
        raise ValueError(f"trap drops: the baseline {baseline!r} is not among the prediction sets {list(untrapped)}")
    measured = {name: (scores(untrapped[name], indices[UNTRAPPED], settings),
                       scores(reversed_[name], indices[REVERSED], settings)) for name in untrapped}
    rows = []
    for name, (on_untrapped, on_reversed) in measured.items():
        for metric in METRICS:
            (before, before_samples), (after, after_samples) = on_untrapped[metric], on_reversed[metric]
            drop_samples = before_samples - after_samples
            base_before, base_after = measured[baseline][0][metric], measured[baseline][1][metric]
            relative = drop_samples - (base_before[1] - base_after[1])
            values = {"untrapped": (before, before_samples), "reversed": (after, after_samples),
                      "drop": (before - after, drop_samples),
                      "drop_minus_baseline": ((before - after) - (base_before[0] - base_after[0]), relative)}
            row = {"prediction_set": name, "metric": metric}
            for column, (value, samples) in values.items():
                low, high = percentile_interval(samples, level)
                row |= {column: value, f"{column}_low": low, f"{column}_high": high}
            rows.append(row)
    return pd.DataFrame(rows, columns=list(DROP_COLUMNS))


def drop_sentences(table: pd.DataFrame, baseline: str, level: float) -> list[str]:
    """One sentence per prediction set on its melanoma AUC drop, and on the difference to the baseline."""
    lines = []
    for row in table[table["metric"] == "melanoma_auc"].itertuples():
        line = (f"{row.prediction_set}: melanoma AUC {row.untrapped:.3f} on the untrapped test split, {row.reversed:.3f} "
                f"with the association reversed, a drop of {row.drop:+.3f} ({level:.0%} CI [{row.drop_low:+.3f}, "
                f"{row.drop_high:+.3f}])")
        if row.prediction_set != baseline:
            line += (f"; minus {baseline}'s drop: {row.drop_minus_baseline:+.3f} [{row.drop_minus_baseline_low:+.3f}, "
                     f"{row.drop_minus_baseline_high:+.3f}]")
        lines.append(line + ".")
    return lines


def plot_trap(associations: pd.DataFrame, table: pd.DataFrame, artefact: str, target_class: str):
    """Left: the share of the class and of the other images carrying the artefact in each split. Right:
    each prediction set's melanoma AUC on the untrapped and the reversed test split, with intervals."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.6]})
    x = np.arange(len(associations))
    left.bar(x - 0.2, associations["class_share"], 0.4, label=target_class, color="tab:red")
    left.bar(x + 0.2, associations["other_share"], 0.4, label="other classes", color="tab:blue")
    left.set_xticks(x, associations["split"])
    left.set_ylim(0, 1)
    left.set_ylabel(f"share of images with {artefact}")
    left.legend(fontsize=8)
    melanoma = table[table["metric"] == "melanoma_auc"].reset_index(drop=True)
    for position, row in melanoma.iterrows():
        values = [row["untrapped"], row["reversed"]]
        errors = [[row["untrapped"] - row["untrapped_low"], row["reversed"] - row["reversed_low"]],
                  [row["untrapped_high"] - row["untrapped"], row["reversed_high"] - row["reversed"]]]
        offset = (position - (len(melanoma) - 1) / 2) * 0.08
        right.errorbar(np.array([0, 1]) + offset, values, yerr=errors, fmt="o-", capsize=3, label=row["prediction_set"])
    right.axhline(0.5, color="black", linewidth=0.5)
    right.set_xticks([0, 1], ["untrapped test", "reversed test"])
    right.set_xlim(-0.5, 1.5)
    right.set_ylim(0, 1.02)
    right.set_ylabel("melanoma AUC")
    right.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def write_trap_report(predictions: Mapping[str, str | os.PathLike], images_manifest: str | os.PathLike,
                      trap_flags: Mapping[str, str | os.PathLike], traps: Mapping[str, Mapping],
                      settings: TrapDropSettings, outputs: Mapping[str, str | os.PathLike]) -> pd.DataFrame:
    """The trap run's tables and figure. ``predictions``: prediction set -> table; ``trap_flags`` and
    ``traps``: dataset -> its flag CSV and its trap settings (artefact, class); ``outputs``: ``drops``
    (CSV), ``association`` (CSV), ``summary`` (markdown) and ``figure``."""
    classes = list(settings.classes)
    images = read_images_manifest(images_manifest)[["dataset", "image_id", "split", "label"]]
    flags = images.merge(read_flags(trap_flags, images), on=["dataset", "image_id"])
    artefacts = [column for column in flags.columns if column not in ("dataset", "image_id", "split", "label")]
    untrapped = {name: read_predictions(path, classes, split=UNTRAPPED) for name, path in predictions.items()}
    reversed_ = {name: read_predictions(path, classes, split=REVERSED) for name, path in predictions.items()}
    floor = shortcut_floor(flags, artefacts, classes, settings.seed, splits=(UNTRAPPED, REVERSED))
    for split, sets in ((UNTRAPPED, untrapped), (REVERSED, reversed_)):
        sets[SHORTCUT_FLOOR] = (floor[floor["split"] == split].sort_values(["dataset", "image_id"], ignore_index=True))
    table = trap_drops(untrapped, reversed_, settings, settings.baseline)
    associations = pd.concat(
        [association(flags[flags["dataset"] == dataset].assign(artefact=lambda frame, a=trap["artefact"]: frame[a]),
                     trap["class"]).assign(dataset=dataset, artefact=trap["artefact"], target_class=trap["class"])
         for dataset, trap in traps.items()], ignore_index=True)
    sentences = drop_sentences(table, settings.baseline, settings.bootstrap.level)
    for sentence in sentences:
        log.info("%s", sentence)
    with fileio.atomic_path(outputs["drops"]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with fileio.atomic_path(outputs["association"]) as tmp:
        associations.to_csv(tmp, index=False, float_format="%.4f")
    first = next(iter(traps.values()))
    fileio.write_text(outputs["summary"], "\n".join(
        ["# Trap split: AUC drop from the untrapped to the reversed test split", "",
         *[f"- {sentence}" for sentence in sentences], "",
         associations.to_markdown(index=False, floatfmt=".3f"), ""]))
    fileio.write_figure(outputs["figure"], plot_trap(associations, table, first["artefact"], first["class"]))
    return table
