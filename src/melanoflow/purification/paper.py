"""Method ``paper``: hair and ruler removal as Bisla et al. 2019 describe it (Section 3.2.2).

The black-hat of the luminance (L, the same channel in LUV and Lab) under a disc element marks the pixels
deeper than a threshold as occlusions; pieces smaller than a noise area are dropped and the enclosed holes
of the mask outside the lesion are closed; the segmented lesion is laid back over the result, so no
lesion pixel changes; the occluded pixels take the value of the per-channel closing. The paper's code
worked on 400x400 images with a radius-3 element and a threshold of 0.1 on L in [0, 1]; lengths here are
given at that reference size and scale with the image, like the improved method's.

It runs the improved method's code (classic.py) with everything that method adds switched off (following
fainter stretches, faint lines on their own, fringe growth and trimming, margin, soft edge, hairs inside
the lesion, the normalized-convolution fill), so the steps the two share have one implementation.
"""

from __future__ import annotations

import numpy as np

from melanoflow.purification.base import Purification
from melanoflow.purification.classic import purify_classic
from melanoflow.purification.settings import PaperSettings


def purify_paper(rgb: np.ndarray, lesion: np.ndarray | None, settings: PaperSettings) -> Purification:
    return purify_classic(rgb, lesion, settings.as_classic())
