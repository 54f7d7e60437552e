"""A picture of what was ingested: images per class, split and dataset."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from melanoflow.fileio import write_figure  # noqa: E402
from melanoflow.tables import SPLITS, read_images_manifest  # noqa: E402


def plot_manifest_summary(manifest_path: str, figure_path: str, classes: list[str]) -> None:
    """Bar chart of image counts per class, one panel per dataset, bars grouped by split."""
    manifest = read_images_manifest(manifest_path)
    datasets = sorted(manifest["dataset"].unique())
    figure, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.4), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        counts = (manifest[manifest["dataset"] == dataset].groupby(["label", "split"]).size().unstack(fill_value=0)
                  .reindex(index=classes, columns=[s for s in SPLITS if s in set(manifest["split"])], fill_value=0))
        counts.plot.bar(ax=axis, rot=20)
        axis.set_title(f"{dataset}: {int(counts.to_numpy().sum())} images")
        axis.set_xlabel("")
        axis.set_ylabel("images")
    write_figure(figure_path, figure)
