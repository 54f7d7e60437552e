"""Two finished runs compared variant by variant (``melanoflow compare``): does the candidate run, e.g. one
trained with extra data, classify the same test images better than the reference run?

Each variant's predictions of the two runs are compared by the paired bootstrap (bootstrap.paired_differences):
both runs are scored on the same resampled images, so the interval of their difference leaves out what the
images do to both. Where both runs scored their masks, their mean per-image segmentation Jaccard is compared the
same way (a bootstrap of the per-image differences). The classes and the classes the AUCs single out are the reference run's saved settings
(``models/predict.json``, as ``melanoflow predict`` reads them); the candidate run's must be the same.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from melanoflow.evaluation.bootstrap import paired_differences
from melanoflow.evaluation.metrics import read_predictions, score_predictions
from melanoflow.evaluation.report import CLASSICAL_FLOOR, difference_columns, difference_text
from melanoflow.fileio import BadInputError
from melanoflow.predict.artefacts import SETTINGS_FILE, read_run_settings
from melanoflow.predict.settings import RunSettings
from melanoflow.tables import read_columns

# (metric of score_predictions and of paired_differences, its name in the table)
COMPARED = (("melanoma_auc", "melanoma AUC"), ("mean_auc", "mean AUC"))
# What scoring reads of a run's settings: two runs that differ here score different things.
SCORING_KEYS = ("classes", "melanoma_class", "keratosis_class")


def segmentation_scores_path(results: str | os.PathLike) -> Path:
    return Path(results) / "segmentation" / "per_image.parquet"


def predictions_path(results: str | os.PathLike, variant: str) -> Path:
    return Path(results) / "predictions" / f"{variant}.parquet"


def scoring_settings(reference: str | os.PathLike, candidate: str | os.PathLike) -> RunSettings:
    """The reference run's settings, once the candidate run's are known to score the same classes."""
    settings, other = read_run_settings(reference), read_run_settings(candidate)
    for key in SCORING_KEYS:
        if getattr(settings, key) != getattr(other, key):
            raise BadInputError(
                f"{Path(reference) / SETTINGS_FILE} and {Path(candidate) / SETTINGS_FILE} differ in {key} "
                f"({getattr(settings, key)!r} against {getattr(other, key)!r}): the runs score different classes"
            )
    return settings


def shared_variants(runs: Sequence[str | os.PathLike], variants: Sequence[str]) -> list[str]:
    """``variants`` and the classical floor, those that every run (results folder) has predictions of, in that
    order."""
    looked_for = [*variants, CLASSICAL_FLOOR]
    shared = [variant for variant in looked_for if all(predictions_path(results, variant).is_file() for results in runs)]
    if not shared:
        raise BadInputError(f"{', '.join(map(str, runs))}: no variant has predictions/<variant>.parquet in every run "
                            f"(looked for {', '.join(looked_for)})")
    return shared


def check_predicted(variant: str, runs: Sequence[str | os.PathLike]) -> None:
    """Every run (results folder) has predictions of ``variant``; else an error naming the missing file."""
    for results in runs:
        path = predictions_path(results, variant)
        if not path.is_file():
            raise BadInputError(f"{path}: missing; the run in {results} has no predictions of variant {variant!r}")


def check_same_images(reference: pd.DataFrame, candidate: pd.DataFrame, paths: Sequence[Path], split: str) -> None:
    """Both tables hold the same images, with the same labels where they have a label column; else an error
    saying how they differ."""
    keys = ["dataset", "image_id"]
    labelled = [*keys, "label"] if "label" in reference and "label" in candidate else keys
    both = reference[labelled].merge(candidate[labelled], on=keys, how="outer", indicator=True,
                                     suffixes=("_reference", "_candidate"))
    only = [(both.loc[both["_merge"] == side], path)
            for side, path in zip(("left_only", "right_only"), paths, strict=True)]
    if any(len(rows) for rows, _ in only):
        counts = ", ".join(f"{len(rows)} only in {path} (first: {rows['dataset'].iloc[0]}/{rows['image_id'].iloc[0]})"
                           for rows, path in only if len(rows))
        raise BadInputError(f"{paths[0]} and {paths[1]}: the {split} split holds different images: {counts}; "
                            "a paired comparison needs the same images")
    if labelled == keys:
        return
    relabelled = both.loc[both["label_reference"] != both["label_candidate"]]
    if len(relabelled):
        first = relabelled.iloc[0]
        raise BadInputError(
            f"{paths[0]} and {paths[1]}: {len(relabelled)} {split} image(s) labelled differently (first: "
            f"{first['dataset']}/{first['image_id']}, {first['label_reference']!r} against "
            f"{first['label_candidate']!r})"
        )


def variant_row(
    variant: str,
    reference: str | os.PathLike,
    candidate: str | os.PathLike,
    settings: RunSettings,
    split: str,
    resamples: int,
    seed: int,
    level: float,
) -> dict:
    """One variant's AUCs in both runs and the paired differences, candidate minus reference."""
    check_predicted(variant, (reference, candidate))
    paths = [predictions_path(results, variant) for results in (reference, candidate)]
    scoring = {"classes": list(settings.classes), "melanoma": settings.melanoma_class,
               "keratosis": settings.keratosis_class}
    frames = [read_predictions(path, scoring["classes"], split) for path in paths]
    check_same_images(*frames, paths, split)
    scores = []
    for path, frame in zip(paths, frames, strict=True):
        try:
            scores.append(score_predictions(frame, **scoring))
        except BadInputError as error:  # an AUC the split's labels leave undefined
            raise BadInputError(f"{path}: {error}") from None
    differences = paired_differences(*frames, **scoring, resamples=resamples, seed=seed, level=level)
    row = {"variant": variant, "n_images": len(frames[0])}
    for metric, _ in COMPARED:
        row |= {f"{metric}_reference": scores[0][metric], f"{metric}_candidate": scores[1][metric],
                **difference_columns(metric, differences[metric])}
    return row


def compare_runs(
    reference: str | os.PathLike,
    candidate: str | os.PathLike,
    variants: Sequence[str] | None = None,
    split: str = "test",
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per variant: the melanoma and mean AUC of the reference and the candidate run (results
    folders) on ``split``, and candidate minus reference with its paired bootstrap interval and the share of
    resamples in which the candidate is not better. ``variants`` None: every variant of the reference run,
    and the classical floor, that both runs have predictions of. The mean AUC is the one the runs' own
    evaluation reports (ISIC 2017's, or the macro AUC where the keratosis class is null)."""
    settings = scoring_settings(reference, candidate)
    if variants is None:
        variants = shared_variants((reference, candidate), settings.variants)
    return pd.DataFrame(
        [variant_row(variant, reference, candidate, settings, split, resamples, seed, level) for variant in variants]
    )


def compare_segmentation(
    reference: str | os.PathLike,
    candidate: str | os.PathLike,
    split: str = "test",
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict | None:
    """The two runs' mean per-image Jaccard of their predicted masks on ``split`` and candidate minus reference,
    with the percentile bootstrap interval of the mean per-image difference and the share of resamples in which
    the candidate is not better; None when either run has no segmentation scores (or none on ``split``)."""
    paths = [segmentation_scores_path(results) for results in (reference, candidate)]
    if not all(path.is_file() for path in paths):
        return None
    keys = ["dataset", "image_id"]
    frames = [read_columns(path, [*keys, "split", "jaccard"]) for path in paths]
    frames = [frame.loc[frame["split"] == split, [*keys, "jaccard"]] for frame in frames]
    if any(frame.empty for frame in frames):
        return None
    check_same_images(*frames, paths, split)
    both = frames[0].merge(frames[1], on=keys, suffixes=("_reference", "_candidate"))
    differences = (both["jaccard_candidate"] - both["jaccard_reference"]).to_numpy(dtype=float)
    result = stats.bootstrap((differences,), np.mean, n_resamples=resamples, confidence_level=level,
                             method="percentile", rng=np.random.default_rng(seed))
    difference = {"difference": differences.mean(),
                  "interval": (result.confidence_interval.low, result.confidence_interval.high),
                  "share_not_better": float(np.mean(result.bootstrap_distribution <= 0))}
    return {"n_images": len(differences), "jaccard_reference": both["jaccard_reference"].mean(),
            "jaccard_candidate": both["jaccard_candidate"].mean(), **difference_columns("jaccard", difference)}


def markdown(
    table: pd.DataFrame,
    reference: str | os.PathLike,
    candidate: str | os.PathLike,
    split: str,
    resamples: int,
    seed: int,
    level: float,
    segmentation: dict | None = None,
) -> str:
    """compare_runs' table as Markdown under a line saying what was compared, numbers as the run's own
    comparison table shows them; then compare_segmentation's line, if given."""
    rows = []
    for _, row in table.iterrows():
        cells = {"variant": row["variant"]}
        for metric, name in COMPARED:
            cells |= {
                f"reference {name}": f"{row[f'{metric}_reference']:.3f}",
                f"candidate {name}": f"{row[f'{metric}_candidate']:.3f}",
                f"Δ {name}": difference_text(row, metric),
            }
        rows.append(cells | {"images": str(row["n_images"])})
    caption = (f"Candidate {candidate} minus reference {reference}, {split} split: paired bootstrap of {resamples} "
               f"resamples stratified by true class, seed {seed}, {100 * level:g}% intervals.")
    text = caption + "\n\n" + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n"
    if segmentation is not None:
        text += (f"\nSegmentation, mean per-image Jaccard of the predicted masks ({segmentation['n_images']} {split} "
                 f"images): reference {segmentation['jaccard_reference']:.3f}, candidate "
                 f"{segmentation['jaccard_candidate']:.3f}, Δ {difference_text(segmentation, 'jaccard')} (bootstrap "
                 "of the per-image differences).\n")
    return text
