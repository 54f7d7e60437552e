"""DullRazor (Lee et al. 1997) as it is commonly re-implemented: the baseline and a selectable method.

Grey-level black-hat with a cross-shaped element, a small blur, a fixed threshold, then Telea inpainting.
The element and inpainting radius are given at a reference size and scaled like the morphological methods',
so the comparison is fair at every resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from melanoflow.purification.base import Purification
from melanoflow.purification.classic import scale_factor
from melanoflow.purification.settings import DullRazorSettings


def purify_dullrazor(rgb: np.ndarray, lesion: np.ndarray | None, settings: DullRazorSettings) -> Purification:
    """``lesion`` is ignored: DullRazor knows nothing of the lesion (that is part of what is measured)."""
    scale = scale_factor(rgb.shape, settings.reference_size)
    side = max(3, round(settings.kernel_size * scale) | 1)  # odd
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    element = cv2.getStructuringElement(cv2.MORPH_CROSS, (side, side))
    blackhat = cv2.GaussianBlur(cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, element), (3, 3), 0)
    occlusion = blackhat > settings.threshold
    radius = max(1, round(settings.inpaint_radius * scale))
    image = cv2.inpaint(rgb, occlusion.astype(np.uint8), radius, cv2.INPAINT_TELEA) if occlusion.any() else rgb.copy()
    return Purification(image=image, occlusion=occlusion)
