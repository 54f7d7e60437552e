"""Figures of the synthesis stage: MSE histograms (paper Figure 5B), galleries of generated images over
their nearest real images (Figure 6) and the GAN's training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from melanoflow import fileio
from melanoflow.runtime import load_checkpoint
from melanoflow.synthesis.data import load_image
from melanoflow.synthesis.settings import FigureSettings
from melanoflow.tables import NEAREST_SCHEMA, read_table


def mse_histogram(nearest: pd.DataFrame, class_name: str, threshold: float):
    mse = nearest["mse"].to_numpy()
    figure, axis = plt.subplots(figsize=(5, 3.5), layout="constrained")
    axis.hist(mse, bins=min(40, max(5, len(mse) // 5)), color="tab:blue", alpha=0.8)
    axis.axvline(threshold, color="tab:red", linestyle="--", label=f"near-copy threshold {threshold:g}")
    axis.set_xlabel("MSE to the nearest real image ([0, 1] pixels)")
    axis.set_ylabel("generated images")
    axis.set_title(f"{class_name}: MSE {mse.mean():.3f} ± {mse.std():.3f} (n={len(mse)})")
    axis.legend()
    return figure


def gallery_rows(nearest: pd.DataFrame, quantiles: list[float], smallest: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows at the MSE quantiles (nearest rank) and the rows with the smallest MSE."""
    ordered = nearest.sort_values("mse", kind="stable").reset_index(drop=True)
    ranks = sorted({int(round(q * (len(ordered) - 1))) for q in quantiles})
    return ordered.iloc[ranks], ordered.head(smallest)


def gallery(nearest: pd.DataFrame, class_name: str, resolution: int, quantiles: list[float], smallest: int):
    """Two panels, each a row of generated images above a row of their nearest real images."""
    at_quantiles, lowest = gallery_rows(nearest, quantiles, smallest)
    panels = [("at MSE quantiles", at_quantiles), ("smallest MSE", lowest)]
    columns = max(len(at_quantiles), len(lowest), 1)
    figure, axes = plt.subplots(4, columns, figsize=(1.6 * columns, 7), squeeze=False, layout="constrained")
    for panel, (title, rows) in enumerate(panels):
        for column in range(columns):
            top, bottom = axes[2 * panel, column], axes[2 * panel + 1, column]
            top.axis("off")
            bottom.axis("off")
            if column >= len(rows):
                continue
            row = rows.iloc[column]
            top.imshow(load_image(row["synthetic_path"], resolution))
            top.set_title(f"{row['mse']:.3f}", fontsize=8)
            bottom.imshow(load_image(row["nearest_path"], resolution))
            bottom.set_title(f"{row['nearest_split']}", fontsize=7)
        axes[2 * panel, 0].text(-0.1, 0.5, f"generated\n({title})", transform=axes[2 * panel, 0].transAxes,
                                ha="right", va="center", fontsize=8)
        axes[2 * panel + 1, 0].text(-0.1, 0.5, "nearest real", transform=axes[2 * panel + 1, 0].transAxes,
                                    ha="right", va="center", fontsize=8)
    figure.suptitle(f"{class_name}: generated images (top) and nearest real images (bottom), MSE above")
    return figure


def training_curves(history: list[dict], class_name: str, best_epoch: int):
    frame = pd.DataFrame(history)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for key in ("d_loss", "g_loss"):
        axes[0].plot(frame["epoch"], frame[key], label=key)
    for key in ("d_real", "d_fake"):
        axes[1].plot(frame["epoch"], frame[key], label=key)
    axes[2].plot(frame["epoch"], frame["diversity_ratio"], label="fixed-batch / real diversity")
    for axis, title in zip(axes, ("losses", "mean discriminator output", "diversity (mode collapse)"), strict=True):
        axis.axvline(best_epoch, color="grey", linestyle=":", label=f"kept epoch {best_epoch}")
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.legend(fontsize=7)
    figure.suptitle(f"GAN training for {class_name}")
    return figure


def draw_figures(nearest: str, checkpoint: str, class_name: str, figures: FigureSettings, mse_threshold: float,
                 resolution: int, histogram: str, gallery_path: str, curves: str) -> None:
    """Workflow entry: the class's MSE histogram (with the near-copy ``mse_threshold``), gallery (images at
    the GANs' ``resolution``) and training curves."""
    table = read_table(nearest, NEAREST_SCHEMA)
    fileio.write_figure(histogram, mse_histogram(table, class_name, mse_threshold))
    fileio.write_figure(gallery_path, gallery(table, class_name, resolution, figures.quantiles, figures.smallest))
    state = load_checkpoint(checkpoint, weights_only=False)
    fileio.write_figure(curves, training_curves(state["history"], class_name, state["best_epoch"]))
