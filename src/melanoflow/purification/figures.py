"""The report figure (like the paper's Figure 3): originals, their occlusion masks, the purified copies."""

from __future__ import annotations

import os

import numpy as np

from melanoflow.fileio import read_image, read_mask, write_figure
from melanoflow.tables import OCCLUSIONS_SCHEMA, read_images_manifest, read_table

# Occlusion mask drawn over the original in this colour (RGB).
MASK_COLOUR = np.array([255, 0, 255], np.uint8)


def most_occluded(occlusions, count: int):
    """The ``count`` rows with the largest occluded fraction (ties broken by id, so the choice is stable)."""
    return occlusions.sort_values(["occluded_fraction", "image_id"], ascending=[False, True]).head(count)


def before_after_figure(manifest_path: str | os.PathLike, occlusions_path: str | os.PathLike,
                        out_path: str | os.PathLike, count: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    occlusions = read_table(occlusions_path, OCCLUSIONS_SCHEMA)
    manifest = read_images_manifest(manifest_path)[["dataset", "image_id", "image_path"]]
    chosen = most_occluded(occlusions, count).merge(manifest, on=["dataset", "image_id"], how="left")
    columns = max(len(chosen), 1)
    figure, axes = plt.subplots(3, columns, figsize=(2.6 * columns, 6.2), squeeze=False)
    for column, row in enumerate(chosen.itertuples()):
        original = read_image(row.image_path)
        overlay = original.copy()
        overlay[read_mask(row.occlusion_mask_path)] = MASK_COLOUR
        for line, (picture, title) in enumerate([(original, f"{row.image_id}\n{row.label}"),
                                                 (overlay, f"occluded {100 * row.occluded_fraction:.1f} %"),
                                                 (read_image(row.purified_path), "purified")]):
            axes[line, column].imshow(picture)
            axes[line, column].set_title(title, fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle("Top: originals. Middle: found hairs and rulers (magenta). Bottom: purified.", fontsize=9)
    write_figure(out_path, figure)
