"""Figures of the evaluation: ROC curves and confusion matrices (the paper's Figure 9) and
VisualBackProp overlays (Figures 2 and 8). Plot functions take computed numbers and return a figure."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # figures are written to files by workflow jobs; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn.metrics

from melanoflow.evaluation.heatmap import overlay
from melanoflow.evaluation.metrics import probability_columns

# One-vs-rest cases shown per class in Figure 8, in the paper's order.
CASE_KINDS = ("TP", "FP", "FN", "TN")


def short_name(name: str) -> str:
    """'seborrheic_keratosis' -> 'SK', 'melanoma' -> 'M' (the paper's axis labels); short codes stay."""
    return name if len(name) <= 5 else "".join(part[0] for part in name.split("_")).upper()


def interval_text(value: float, interval: list[float] | None) -> str:
    return f"{value:.3f}" if interval is None else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def plot_roc_curves(frames: Mapping[str, pd.DataFrame], scores: Mapping[str, dict], classes: list[str]):
    """One panel per variant with each class's one-vs-rest ROC curve; the legend gives AUCs with 95 % CIs."""
    figure, axes = plt.subplots(1, len(frames), figsize=(4.6 * len(frames), 4.4), squeeze=False)
    for axis, (variant, frame) in zip(axes[0], frames.items(), strict=True):
        probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
        for column, name in enumerate(classes):
            if name not in scores[variant]["auc"]:
                continue
            false_positive_rate, true_positive_rate, _ = sklearn.metrics.roc_curve(
                frame["label"] == name, probabilities[:, column]
            )
            auc = interval_text(scores[variant]["auc"][name], scores[variant]["intervals"].get(f"auc.{name}"))
            axis.plot(false_positive_rate, true_positive_rate, label=f"{short_name(name)}: AUC {auc}")
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axis.set(
            title=variant,
            xlabel="false positive rate",
            ylabel="true positive rate",
            xlim=(0, 1),
            ylim=(0, 1.01),
        )
        axis.legend(loc="lower right", fontsize="small")
    figure.suptitle("ROC curves on the test images (one-vs-rest)")
    figure.tight_layout()
    return figure


def plot_confusion_matrices(scores: Mapping[str, dict], classes: list[str]):
    """One confusion matrix per variant (rows: truth, columns: prediction; tied maxima are left out)."""
    figure, axes = plt.subplots(1, len(scores), figsize=(3.8 * len(scores), 3.6), squeeze=False)
    for axis, (variant, variant_scores) in zip(axes[0], scores.items(), strict=True):
        display = sklearn.metrics.ConfusionMatrixDisplay(
            np.asarray(variant_scores["confusion_matrix"]),
            display_labels=[short_name(name) for name in classes],
        )
        display.plot(ax=axis, colorbar=False, cmap="Blues")
        axis.set_title(f"{variant}: accuracy {variant_scores['accuracy']:.3f}")
    figure.tight_layout()
    return figure


def plot_image_grid(cells: list[list[dict]], row_labels: list[str], title: str):
    """A grid of images; a cell with a ``mask`` shows the VisualBackProp overlay instead of the image.

    ``cells[row][column]``: ``{"image": RGB uint8, "mask": [0, 1] array or absent, "outline": boolean
    region drawn as a white contour or absent, "title": str}``, or ``{"text": str}`` for an empty cell
    (e.g. a class without false positives).
    """
    columns = max(len(row) for row in cells)
    figure, axes = plt.subplots(len(cells), columns, figsize=(2.3 * columns, 2.3 * len(cells)), squeeze=False)
    for axes_row, row, label in zip(axes, cells, row_labels, strict=True):
        for column, axis in enumerate(axes_row):
            axis.set_xticks([])
            axis.set_yticks([])
            cell = row[column] if column < len(row) else {"text": ""}
            if "image" not in cell:
                axis.text(
                    0.5, 0.5, cell["text"], transform=axis.transAxes, ha="center", va="center", color="grey"
                )
            else:
                axis.imshow(
                    cell["image"] if cell.get("mask") is None else overlay(cell["image"], cell["mask"])
                )
                axis.set_title(cell.get("title", ""), fontsize="small")
                if cell.get("outline") is not None:
                    axis.contour(cell["outline"], levels=[0.5], colors="white", linewidths=0.7)
        axes_row[0].set_ylabel(label)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
