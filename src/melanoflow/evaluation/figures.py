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


def axis_names(classes: list[str]) -> list[str]:
    """short_name of every class, or the full names where two classes would share a short name."""
    short = [short_name(name) for name in classes]
    return short if len(set(short)) == len(short) else list(classes)


def readable(name: str) -> str:
    return name.replace("_", " ")


def interval_text(value: float, interval: list[float] | None) -> str:
    return f"{value:.3f}" if interval is None else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


# Panels per row: the report shows figures at page width, where a single row of five panels is unreadable.
PANELS_PER_ROW = 3


def panel_grid(panels: int, width: float, height: float):
    """A figure of ``panels`` axes, PANELS_PER_ROW to a row, each ``width`` x ``height`` inches; the
    axes in reading order, the unused ones of the last row removed."""
    columns = min(panels, PANELS_PER_ROW)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for axis in axes.flat[panels:]:
        axis.remove()
    return figure, axes.flat[:panels]


def plot_roc_curves(frames: Mapping[str, pd.DataFrame], scores: Mapping[str, dict], classes: list[str]):
    """One panel per variant with each class's one-vs-rest ROC curve; the legend gives AUCs with their
    bootstrap intervals. Every class keeps its colour across panels."""
    colours = plt.get_cmap("tab10").colors
    figure, axes = panel_grid(len(frames), 4.6, 4.4)
    for axis, (variant, frame) in zip(axes, frames.items(), strict=True):
        probabilities = frame[probability_columns(classes)].to_numpy(dtype=float)
        for column, name in enumerate(classes):
            if name not in scores[variant]["auc"]:
                continue
            false_positive_rate, true_positive_rate, _ = sklearn.metrics.roc_curve(
                frame["label"] == name, probabilities[:, column]
            )
            auc = interval_text(scores[variant]["auc"][name], scores[variant]["intervals"].get(f"auc.{name}"))
            axis.plot(
                false_positive_rate,
                true_positive_rate,
                color=colours[column % len(colours)],
                label=f"{readable(name)}: AUC {auc}",
            )
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axis.set(
            title=variant,
            xlabel="false positive rate",
            ylabel="true positive rate",
            xlim=(0, 1),
            ylim=(0, 1.01),
        )
        axis.legend(loc="lower right", fontsize="small" if len(classes) <= 4 else "x-small")
    figure.suptitle("ROC curves on the test images (one-vs-rest)")
    figure.tight_layout()
    return figure


def plot_confusion_matrices(scores: Mapping[str, dict], classes: list[str]):
    """One confusion matrix per variant (rows: truth, columns: prediction). Each cell shows its share of
    the true class's images and its count; tied maxima predict no class, so a row's shares can sum to less
    than 1 and the diagonal is each class's recall (the terms of balanced accuracy)."""
    names = axis_names(classes)
    side = max(3.8, 0.55 * len(classes) + 1.4)  # cells stay big enough for two lines of text
    figure, axes = panel_grid(len(scores), side, side)
    for axis, (variant, variant_scores) in zip(axes, scores.items(), strict=True):
        counts = np.asarray(variant_scores["confusion_matrix"])
        images = np.array([variant_scores["class_counts"][name] for name in classes])
        shares = counts / np.maximum(images, 1)[:, None]  # a class without images: a row of zeros
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (row, column), count in np.ndenumerate(counts):
            axis.text(
                column,
                row,
                f"{shares[row, column]:.2f}\n{count}",
                ha="center",
                va="center",
                fontsize="small" if len(classes) <= 4 else "x-small",
                color="white" if shares[row, column] > 0.5 else "black",
            )
        axis.set(
            xticks=range(len(classes)),
            yticks=range(len(classes)),
            xticklabels=names,
            yticklabels=names,
            xlabel="predicted class",
            ylabel="true class",
        )
        undecided = f", {variant_scores['undecided']} tied" if variant_scores["undecided"] else ""
        axis.set_title(
            f"{variant}\naccuracy {variant_scores['accuracy']:.3f}, "
            f"balanced {variant_scores['balanced_accuracy']:.3f}{undecided}",
            fontsize="medium",
        )
    key = [f"{short} = {readable(name)}" for short, name in zip(names, classes, strict=True) if short != name]
    figure.suptitle("Confusion matrices on the test images: share of the true class (count)")
    figure.tight_layout()
    if key:
        # the abbreviations, below the panels
        figure.subplots_adjust(bottom=figure.subplotpars.bottom + 0.3 / figure.get_figheight())
        figure.text(0.5, 0.01, ", ".join(key), ha="center", va="bottom", fontsize="small")
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
