"""Bootstrap confidence intervals for the metrics of metrics.score_predictions that summarise a whole
test set (AUCs, balanced multiclass accuracy, the ISIC 2018 Table 6 measures), and for the paired
difference between two classifiers.

Resampling is stratified by the true class, so every resample keeps the test set's class counts and
every AUC stays defined. Two classifiers are compared on the same resamples of the same images (a
paired bootstrap), so the interval of their difference excludes the variation they share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from melanoflow.evaluation.decision import argmax_labels
from melanoflow.evaluation.metrics import (
    ISIC2018_MEASURES,
    class_indicators,
    decision_measures,
    probability_columns,
)


def stratified_resamples(labels: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) row indices; each resample draws, with replacement, as many rows of each class as
    the data has, and lists the classes in the order of their first appearance in ``labels``."""
    rng = np.random.default_rng(seed)
    strata = [np.flatnonzero(labels == name) for name in pd.unique(labels)]
    return np.concatenate([rng.choice(rows, size=(resamples, rows.size)) for rows in strata], axis=1)


def resampled_aucs(
    labels: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    indices: np.ndarray,
    melanoma: str,
    keratosis: str | None,
) -> dict[str, np.ndarray]:
    """The AUCs of metrics.score_predictions on every resample: ``auc.<class>``, ``melanoma_auc``,
    ``mean_auc`` and ``macro_auc``, each an array with one value per resample."""
    resampled_labels = labels[indices]
    aucs = {}
    for column, name in enumerate(classes):
        is_positive = resampled_labels == name
        positives = is_positive.sum(axis=1)
        if not 0 < positives[0] < indices.shape[1]:
            continue  # stratified resamples keep class counts: the class has no positives or no negatives
        # stratification fixes each class's count and column block, so every row splits the same way
        scores = probabilities[indices, column]
        positive_scores = scores[is_positive].reshape(len(indices), positives[0])
        negative_scores = scores[~is_positive].reshape(len(indices), -1)
        # Mann-Whitney U / (n+ n-) is the ROC AUC, ties counting half, for all resamples at once
        u_statistic = mannwhitneyu(positive_scores, negative_scores, axis=1, method="asymptotic").statistic
        aucs[f"auc.{name}"] = u_statistic / (positive_scores.shape[1] * negative_scores.shape[1])
    per_class = list(aucs.values())
    aucs["melanoma_auc"] = aucs[f"auc.{melanoma}"]
    aucs["mean_auc"] = (
        np.mean(per_class, axis=0)
        if keratosis is None
        else (aucs["melanoma_auc"] + aucs[f"auc.{keratosis}"]) / 2
    )
    aucs["macro_auc"] = np.mean(per_class, axis=0)
    return aucs


def resampled_decision_measures(
    labels: np.ndarray, probabilities: np.ndarray, classes: list[str], indices: np.ndarray
) -> dict[str, np.ndarray]:
    """The decision-based metrics of metrics.score_predictions on every resample: ``balanced_accuracy``
    and ``isic2018.<accuracy|sensitivity|specificity>``, each an array with one value per resample."""
    is_positive = class_indicators(labels, classes)[indices]
    # a tied maximum decides no class
    is_predicted = class_indicators(argmax_labels(probabilities, classes), classes)[indices]
    measures = decision_measures(is_positive, is_predicted)
    # the balanced accuracy is the sensitivity averaged over the classes present (metrics.isic2018_measures)
    return {"balanced_accuracy": measures["sensitivity"],
            **{f"isic2018.{name}": measures[name] for name in ISIC2018_MEASURES}}


def resampled_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    indices: np.ndarray,
    melanoma: str,
    keratosis: str | None,
) -> dict[str, np.ndarray]:
    """resampled_aucs and resampled_decision_measures together."""
    return resampled_aucs(labels, probabilities, classes, indices, melanoma, keratosis) | (
        resampled_decision_measures(labels, probabilities, classes, indices)
    )


def percentile_interval(values: np.ndarray, level: float) -> list[float]:
    """The central ``level`` percentile interval of bootstrap ``values``."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def metric_intervals(
    frame: pd.DataFrame,
    classes: list[str],
    melanoma: str,
    keratosis: str | None,
    resamples: int,
    seed: int,
    level: float,
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals of every metric of resampled_metrics, for one predictions table."""
    labels = frame["label"].to_numpy(dtype=object)
    indices = stratified_resamples(labels, resamples, seed)
    probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
    samples = resampled_metrics(labels, probabilities, classes, indices, melanoma, keratosis)
    return {name: percentile_interval(values, level) for name, values in samples.items()}


def paired_differences(
    reference: pd.DataFrame,
    candidate: pd.DataFrame,
    classes: list[str],
    melanoma: str,
    keratosis: str | None,
    resamples: int,
    seed: int,
    level: float,
) -> dict[str, dict[str, float | list[float]]]:
    """Candidate minus reference for every metric of resampled_metrics, on the same resampled images.

    Per metric: the observed ``difference``, its percentile ``interval`` and ``share_not_better``, the
    share of resamples in which the candidate's value is not higher than the reference's.
    """
    keys = ["dataset", "image_id", "label"]
    if not reference[keys].reset_index(drop=True).equals(candidate[keys].reset_index(drop=True)):
        raise ValueError(
            "the two predictions tables must cover the same images with the same labels, in order"
        )
    labels = reference["label"].to_numpy(dtype=object)
    everything = np.arange(len(labels))[None, :]
    indices = stratified_resamples(labels, resamples, seed)
    columns = probability_columns(classes)
    observed, samples = {}, {}
    for name, frame in (("reference", reference), ("candidate", candidate)):
        probabilities = frame[columns].to_numpy(dtype=float)
        observed[name] = resampled_metrics(labels, probabilities, classes, everything, melanoma, keratosis)
        samples[name] = resampled_metrics(labels, probabilities, classes, indices, melanoma, keratosis)
    return {metric: summarise_difference(observed["candidate"][metric][0] - observed["reference"][metric][0],
                                         samples["candidate"][metric] - samples["reference"][metric], level)
            for metric in samples["reference"]}


def summarise_difference(observed: float, resampled: np.ndarray, level: float) -> dict[str, float | list[float]]:
    """A candidate-minus-reference difference: the ``observed`` one, the percentile ``interval`` of its
    ``resampled`` values, and the share of resamples in which the candidate is not better."""
    return {"difference": float(observed), "interval": percentile_interval(resampled, level),
            "share_not_better": float(np.mean(resampled <= 0))}
