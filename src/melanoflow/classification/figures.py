"""Figures of the classification stage, drawn by their own rules from the tables the stage writes, so that
editing a figure redraws it without rebuilding a training set or retraining a classifier."""

from __future__ import annotations

import pandas as pd

from melanoflow import fileio


def plot_stage_counts(counts: pd.DataFrame, title: str):
    """Stacked bars per class: real, purified, synthetic, horizontal flips, then the final multiplied set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    counts[["real", "purified", "synthetic", "hflips"]].plot.bar(stacked=True, ax=left, rot=0)
    left.set_title("before vertical flips / crops")
    left.set_ylabel("training examples")
    counts[["final"]].plot.bar(ax=right, rot=0, legend=False, color="tab:gray")
    right.set_title("final (x factor)")
    for container in right.containers:
        right.bar_label(container)
    figure.suptitle(title)
    return figure


def plot_history(history: pd.DataFrame, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss, accuracy) = plt.subplots(1, 2, figsize=(10, 4))
    history.plot(x="epoch", y=["train_loss", "val_loss"], ax=loss, marker="o", title="cross-entropy loss")
    history.plot(x="epoch", y=["train_accuracy", "val_accuracy", "val_mean_auc"], ax=accuracy, marker="o",
                 title="accuracy and validation mean AUC")
    figure.suptitle(title)
    return figure


def draw_counts(counts_path: str, figure_path: str, variant: str) -> None:
    """Workflow entry point: a variant's training-set counts (``examples.<variant>.counts.csv``) as bars."""
    counts = pd.read_csv(counts_path, index_col="class")
    fileio.write_figure(figure_path, plot_stage_counts(counts, f"training set of variant {variant!r}"))


def draw_history(history_path: str, figure_path: str, variant: str, arch: str, weights: str | None) -> None:
    """Workflow entry point: a classifier's per-epoch losses, accuracies and validation AUC."""
    start = "ImageNet weights" if weights else "random initialisation, no pretrained weights"
    fileio.write_figure(figure_path, plot_history(pd.read_csv(history_path), f"classifier.{variant}: {arch}, {start}"))
