"""Saliency masks drawn over images in jet colours: the report's VisualBackProp figures and predict's
panels use the same drawing. Only matplotlib's colour maps are imported (not pyplot)."""

from __future__ import annotations

import matplotlib
import numpy as np


def overlay(image: np.ndarray, mask: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] saliency mask, coloured with the jet map, over an RGB uint8 image of the same size."""
    heat = matplotlib.colormaps["jet"](mask)[..., :3]
    return np.clip((1 - opacity) * image / 255.0 + opacity * heat, 0, 1)
