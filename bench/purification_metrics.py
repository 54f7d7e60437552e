"""Purification quality on drawn occlusions (bench/occlusions.py): PSNR over a pixel subset and
occlusion-mask recall/precision (computed as the workflow's demo scoring does)."""

from __future__ import annotations

import numpy as np

from melanoflow.purification.scoring import pixel_share


def psnr(restored: np.ndarray, clean: np.ndarray, where: np.ndarray) -> float:
    """PSNR (dB, 8-bit peak) of ``restored`` against ``clean`` over the pixels where ``where`` is true."""
    return pooled_psnr(*squared_error(restored, clean, where))


def pooled_psnr(squared_errors: float, count: int) -> float:
    """PSNR of a squared-error sum pooled over several images (more robust than averaging PSNRs)."""
    if count == 0:
        return float("nan")
    mse = squared_errors / count
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def squared_error(restored: np.ndarray, clean: np.ndarray, where: np.ndarray) -> tuple[float, int]:
    """Sum of squared channel errors over ``where`` and the number of channel values summed."""
    error = restored.astype(np.float64)[where] - clean.astype(np.float64)[where]
    return float(np.sum(error**2)), int(error.size)


def mask_counts(predicted: np.ndarray, truth_core: np.ndarray, truth_touched: np.ndarray) -> dict[str, int]:
    """Pixel counts for recall (of the truth's core) and precision (against every touched pixel)."""
    return {
        "true_core": int(truth_core.sum()),
        "found_core": int((predicted & truth_core).sum()),
        "predicted": int(predicted.sum()),
        "predicted_on_truth": int((predicted & truth_touched).sum()),
    }


def recall_precision(counts: dict[str, int]) -> tuple[float, float]:
    """Recall of the truth's core and precision of the predicted mask; NaN without pixels."""
    recall = pixel_share(counts["found_core"], counts["true_core"])
    precision = pixel_share(counts["predicted_on_truth"], counts["predicted"])
    return tuple(float("nan") if value is None else value for value in (recall, precision))
