"""ISIC challenge metrics on a predictions table (ISIC 2017 Part 3 and ISIC 2018 Task 3 rules).

ISIC 2017 ranks by the melanoma ROC AUC and the mean of the melanoma and seborrheic keratosis AUCs, and
reports specificity at fixed melanoma sensitivities; ISIC 2018 ranks seven classes by balanced multiclass
accuracy, where a prediction whose highest probability is shared by several classes counts as wrong; the
paper's Table 6 reports accuracy, sensitivity and specificity of those decisions (isic2018_measures).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import sklearn.metrics

from melanoflow.evaluation.decision import UNDECIDED, argmax_labels
from melanoflow.fileio import BadInputError
from melanoflow.tables import PREDICTION_ID_COLUMNS, read_columns

# The ISIC 2017 challenge reported specificity at these melanoma sensitivities (the paper's Table 4).
CHALLENGE_SENSITIVITIES = (0.82, 0.89, 0.95)


# The ISIC 2018 scorer calls a class present where its probability is above this (strictly), class by class.
ISIC2018_MEASURES = ("accuracy", "sensitivity", "specificity")


def probability_columns(classes: list[str]) -> list[str]:
    return [f"prob_{name}" for name in classes]


def read_predictions(path: str | os.PathLike, classes: list[str], split: str = "test") -> pd.DataFrame:
    """Read the ``split`` rows of a predictions table and check them against the contract in
    docs/contracts.md.

    Rows come back sorted by (dataset, image_id), so two variants' tables line up row by row.
    """
    frame = read_columns(path, [*PREDICTION_ID_COLUMNS, *probability_columns(classes)])
    frame = frame.loc[frame["split"] == split].reset_index(drop=True)
    if frame.empty:
        raise BadInputError(f"{path}: no predictions for the {split} split")
    unknown = sorted(set(frame["label"]) - set(classes))
    if unknown:
        raise BadInputError(f"{path}: labels {unknown} are not among the configured classes {classes}")
    duplicated = frame.duplicated(["dataset", "image_id"])
    if duplicated.any():
        raise BadInputError(f"{path}: image {frame.loc[duplicated, 'image_id'].iloc[0]!r} is predicted twice")
    probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
    if not np.isfinite(probabilities).all() or (probabilities < 0).any() or (probabilities > 1).any():
        raise BadInputError(f"{path}: probabilities must be finite and within [0, 1]")
    return frame.sort_values(["dataset", "image_id"], ignore_index=True)


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """One-vs-rest ROC AUC; tied scores count half, as in the ISIC scorer (sklearn's definition)."""
    return float(sklearn.metrics.roc_auc_score(is_positive, scores))


def specificity_at_sensitivity(is_positive: np.ndarray, scores: np.ndarray, sensitivity: float) -> float:
    """Specificity at the first ROC point whose sensitivity reaches ``sensitivity`` (ISIC 2017 rule).

    The ROC is walked from the strictest threshold down; tied scores form one point, and there is no
    interpolation between points. Where no point reaches the target (no positive cases) the answer is 0.
    """
    if not 0 < sensitivity <= 1:
        raise ValueError(f"sensitivity must be in (0, 1], got {sensitivity}")
    with warnings.catch_warnings():
        # without positives sklearn warns and returns NaN sensitivities: handled as "no point" below
        warnings.simplefilter("ignore", sklearn.exceptions.UndefinedMetricWarning)
        false_positive_rate, true_positive_rate, _ = sklearn.metrics.roc_curve(
            is_positive, scores, drop_intermediate=False
        )
    reaching = np.flatnonzero(true_positive_rate >= sensitivity)
    if reaching.size == 0:
        return 0.0
    return float(1.0 - false_positive_rate[reaching[0]])


def class_aucs(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict[str, float]:
    """One-vs-rest AUC of every class that has both positive and negative cases."""
    return {
        name: roc_auc(labels == name, probabilities[:, index])
        for index, name in enumerate(classes)
        if 0 < (labels == name).sum() < len(labels)
    }


def score_predictions(
    frame: pd.DataFrame,
    classes: list[str],
    melanoma: str,
    keratosis: str | None,
    sensitivities: tuple[float, ...] = CHALLENGE_SENSITIVITIES,
) -> dict:
    """Every ISIC metric of one predictions table (see read_predictions), as a JSON-ready dict.

    ``melanoma`` and ``keratosis`` name the classes whose AUCs ISIC 2017 averages; without a keratosis
    class (e.g. a 7-class ISIC 2018 run) ``mean_auc`` is the macro average over all classes.
    """
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
    predicted = argmax_labels(probabilities, classes)
    aucs = class_aucs(labels, probabilities, classes)
    if melanoma not in aucs:
        raise BadInputError(f"melanoma AUC undefined: class {melanoma!r} needs positive and negative cases")
    is_melanoma = labels == melanoma
    melanoma_scores = probabilities[:, classes.index(melanoma)]
    return {
        "n_images": len(frame),
        "class_counts": {name: int((labels == name).sum()) for name in classes},
        "auc": aucs,
        "melanoma_auc": aucs[melanoma],
        "mean_auc": challenge_mean_auc(aucs, melanoma, keratosis),
        "macro_auc": float(np.mean(list(aucs.values()))),
        "specificity_at_sensitivity": {
            f"{target:.2f}": specificity_at_sensitivity(is_melanoma, melanoma_scores, target)
            for target in sensitivities
        },
        "accuracy": float(np.mean(predicted == labels)),
        "balanced_accuracy": balanced_multiclass_accuracy(labels, predicted),
        "isic2018": isic2018_measures(labels, probabilities, classes),
        "undecided": int((predicted == UNDECIDED).sum()),
        "confusion_matrix": sklearn.metrics.confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def challenge_mean_auc(aucs: dict[str, float], melanoma: str, keratosis: str | None) -> float:
    """ISIC 2017's average of the melanoma and keratosis AUCs (the macro AUC without a keratosis class)."""
    if keratosis is None:
        return float(np.mean(list(aucs.values())))
    if keratosis not in aucs:
        raise BadInputError(f"keratosis AUC undefined: class {keratosis!r} needs positive and negative cases")
    return (aucs[melanoma] + aucs[keratosis]) / 2


def balanced_multiclass_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels``; UNDECIDED predictions are wrong for every class."""
    with warnings.catch_warnings():
        # UNDECIDED appears only among predictions; sklearn warns about that and ignores its empty row
        warnings.simplefilter("ignore", UserWarning)
        return float(sklearn.metrics.balanced_accuracy_score(labels, predicted))


def class_indicators(labels: np.ndarray, classes: list[str]) -> np.ndarray:
    """(..., classes) booleans: which class each label is (none for UNDECIDED)."""
    return np.asarray(labels, dtype=object)[..., None] == np.asarray(classes, dtype=object)


def one_vs_rest_rates(is_positive: np.ndarray, called_positive: np.ndarray) -> dict[str, np.ndarray]:
    """Each class's accuracy, sensitivity and specificity of yes/no calls, one class against the rest.

    Both arguments are booleans shaped (..., images, classes), leading axes e.g. bootstrap resamples;
    every rate comes back shaped (..., classes). Sensitivity without positive cases and specificity
    without negative ones are NaN.
    """
    images = is_positive.shape[-2]
    positives = is_positive.sum(axis=-2)
    true_positives = (is_positive & called_positive).sum(axis=-2)
    true_negatives = (~is_positive & ~called_positive).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": (true_positives + true_negatives) / images,
            "sensitivity": true_positives / positives,
            "specificity": true_negatives / (images - positives),
        }


def decision_measures(is_positive: np.ndarray, is_predicted: np.ndarray) -> dict[str, np.ndarray]:
    """The Table 6 measures of arg-max decisions (see isic2018_measures), over any leading axes.

    Both arguments are booleans shaped (..., images, classes): the true class, and the decided one (no
    class where the top probability is tied). Classes without positive (negative) cases have no say in the
    sensitivity (specificity).
    """
    rates = one_vs_rest_rates(is_positive, is_predicted)
    return {
        "accuracy": (is_positive & is_predicted).any(axis=-1).mean(axis=-1),
        "sensitivity": np.nanmean(rates["sensitivity"], axis=-1),
        "specificity": np.nanmean(rates["specificity"], axis=-1),
    }


def isic2018_measures(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """The accuracy, sensitivity and specificity of the paper's Table 6 (ISIC 2018 Task 3), and each
    class's sensitivity and specificity.

    The paper does not define them. They are taken here as measures of the arg-max decision (a tied top
    probability decides nothing and counts wrong): accuracy is the share of images decided right;
    sensitivity and specificity are each class's, one class against the rest, averaged over the classes
    (so the sensitivity equals the balanced multiclass accuracy, ISIC 2018's ranking metric). Why not the
    official scorer's per-class calls at probability > 0.5, averaged over the classes: with seven classes
    those accuracies average at least 1 - 1/7 = 0.857 even for a classifier that calls nothing, while the
    paper reports 0.675 and 0.717; its numbers can only be arg-max ones.
    """
    is_positive = class_indicators(labels, classes)
    is_predicted = class_indicators(argmax_labels(probabilities, classes), classes)
    rates = one_vs_rest_rates(is_positive, is_predicted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class without positives: NaN, left out
        measures = decision_measures(is_positive, is_predicted)
    return {
        **{name: float(measures[name]) for name in ISIC2018_MEASURES},
        "per_class": {
            name: {cls: (None if np.isnan(rate) else float(rate)) for cls, rate in zip(classes, rates[name], strict=True)}
            for name in ("sensitivity", "specificity")
        },
    }
