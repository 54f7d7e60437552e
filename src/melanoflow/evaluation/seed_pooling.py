"""Runs that repeat the classifiers with other seeds, pooled (``melanoflow pool``).

One run's interval says how far its test images leave a variant's AUC open, not how far another draw of the
classifiers' seed (``classification.seed``) would move it. Runs that differ only in that seed share their
splits, masks and classical floor, so each variant's AUC is averaged over the runs: the pooled AUC, and the
pooled paired differences to the baseline and to the classical floor. Their intervals come from a two-level
bootstrap: every resample draws the images (stratified by true class) and the runs, both with replacement and
the same for every variant, so they carry the variation of the seeds as well as that of the images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from melanoflow.evaluation.bootstrap import (
    percentile_interval,
    resampled_aucs,
    stratified_resamples,
    summarise_difference,
)
from melanoflow.evaluation.metrics import probability_columns, read_predictions
from melanoflow.evaluation.report import CLASSICAL_FLOOR, difference_columns, difference_text
from melanoflow.evaluation.run_comparison import (
    COMPARED,
    check_predicted,
    check_same_images,
    predictions_path,
    scoring_settings,
    shared_variants,
)
from melanoflow.fileio import BadInputError
from melanoflow.predict.artefacts import read_run_settings

BASELINE = "baseline"
# (variant each row is compared with, its name in the columns)
REFERENCES = ((BASELINE, "baseline"), (CLASSICAL_FLOOR, "floor"))


def over_drawn_runs(per_run: list[np.ndarray], drawn_runs: np.ndarray) -> np.ndarray:
    """Per resample, the mean of the drawn runs' values: ``per_run`` holds one array of resampled values per
    run, ``drawn_runs`` (resamples, runs) the runs each resample draws."""
    values = np.stack(per_run)  # (runs, resamples)
    return values[drawn_runs, np.arange(len(drawn_runs))[:, None]].mean(axis=1)


def pool_runs(
    runs: Sequence[str | os.PathLike],
    variants: Sequence[str] | None = None,
    split: str = "test",
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per variant: its melanoma and mean AUC averaged over ``runs`` (results folders) on ``split``,
    with the percentile interval of the two-level bootstrap (images stratified by true class, and runs), the
    lowest and highest single run, and the pooled paired differences to the baseline and to the classical
    floor where the runs predicted them. ``variants`` None: every variant of the first run, and the classical
    floor, that every run predicted."""
    if not runs:
        raise BadInputError("no results folders to pool")
    settings = read_run_settings(runs[0])
    for other in runs[1:]:
        scoring_settings(runs[0], other)
    if variants is None:
        variants = shared_variants(runs, settings.variants)
    else:
        for variant in variants:
            check_predicted(variant, runs)
    classes, scoring = list(settings.classes), {"melanoma": settings.melanoma_class, "keratosis": settings.keratosis_class}
    first_path = predictions_path(runs[0], variants[0])
    first = read_predictions(first_path, classes, split)
    labels = first["label"].to_numpy(dtype=object)
    views = {"observed": np.arange(len(labels))[None, :], "resampled": stratified_resamples(labels, resamples, seed)}
    # each resample's runs, drawn with replacement from a generator of its own so the images' draws stay those
    # of a single run's comparison
    drawn_runs = np.random.default_rng([seed, len(runs)]).integers(0, len(runs), size=(resamples, len(runs)))
    aucs = {}  # variant -> metric -> {"observed": mean over runs, "resampled": per-resample mean, "runs": per run}
    for variant in variants:
        per_run = []
        for results in runs:
            path = predictions_path(results, variant)
            frame = read_predictions(path, classes, split)
            check_same_images(first, frame, [first_path, path], split)
            probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
            per_run.append({view: resampled_aucs(labels, probabilities, classes, indices, **scoring)
                            for view, indices in views.items()})
        aucs[variant] = {metric: {"observed": np.mean([run["observed"][metric][0] for run in per_run]),
                                  "resampled": over_drawn_runs([run["resampled"][metric] for run in per_run],
                                                               drawn_runs),
                                  "runs": [float(run["observed"][metric][0]) for run in per_run]}
                         for metric, _ in COMPARED}
    rows = []
    for variant in variants:
        row = {"variant": variant, "runs": len(runs), "n_images": len(labels)}
        for metric, _ in COMPARED:
            pooled = aucs[variant][metric]
            low, high = percentile_interval(pooled["resampled"], level)
            row |= {metric: float(pooled["observed"]), f"{metric}_low": low, f"{metric}_high": high,
                    f"{metric}_run_min": min(pooled["runs"]), f"{metric}_run_max": max(pooled["runs"])}
            for reference, name in REFERENCES:
                if reference in aucs and reference != variant:
                    other = aucs[reference][metric]
                    row |= difference_columns(f"{metric}_vs_{name}", summarise_difference(
                        pooled["observed"] - other["observed"], pooled["resampled"] - other["resampled"], level))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, runs: Sequence[str | os.PathLike], split: str, resamples: int, seed: int,
             level: float) -> str:
    """pool_runs' table as Markdown under a line saying what was pooled."""
    rows = []
    for _, row in table.iterrows():
        cells = {"variant": row["variant"]}
        for metric, name in COMPARED:
            cells |= {name: f"{row[metric]:.3f} [{row[f'{metric}_low']:.3f}, {row[f'{metric}_high']:.3f}]",
                      f"{name}, single runs": f"{row[f'{metric}_run_min']:.3f}-{row[f'{metric}_run_max']:.3f}"}
            for _, reference in REFERENCES:
                column = f"{metric}_vs_{reference}"
                present = f"{column}_diff" in row and pd.notna(row[f"{column}_diff"])
                cells[f"Δ {name} vs {reference}"] = difference_text(row, column) if present else ""
        rows.append(cells)
    caption = (f"{len(runs)} runs pooled ({', '.join(map(str, runs))}), {split} split ({table['n_images'].iloc[0]} "
               f"images): each AUC is the mean over the runs; {100 * level:g}% intervals from {resamples} resamples "
               f"of the images (stratified by true class) and of the runs, the same for every variant (seed {seed}); "
               "single runs: the lowest and highest run.")
    return caption + "\n\n" + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n"
