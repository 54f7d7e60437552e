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

from dataclasses import dataclass

import numpy as np

from melanoflow.purification.base import Purification, settings_from_section
from melanoflow.purification.classic import ClassicSettings, purify_classic

# Black-hat depth (L in [0, 1]) that no pixel exceeds: a depth test at it finds nothing.
NEVER = 1.0


@dataclass(frozen=True)
class PaperSettings:
    """Parameters of the paper's method; lengths in pixels and areas in pixels^2 at the reference size."""

    reference_size: float = 400.0  # sqrt(height * width) at which the lengths below are given (paper: 400)
    element_radius: float = 3.0  # closing element (disc) radius; the paper's 3 at 400x400
    threshold: float = 0.1  # black-hat depth on L in [0, 1] that marks an occlusion; the paper's 0.1
    min_area: float = 12.0  # connected occlusion pieces smaller than this are noise (skin pores, specks)
    background_hole_area: float = 20.0  # holes of the background occlusion mask up to this area are closed

    @classmethod
    def from_config(cls, section: dict) -> PaperSettings:
        return settings_from_section(cls, section, "purification.paper")

    def as_classic(self) -> ClassicSettings:
        """The improved method's settings that run exactly this method."""
        return ClassicSettings(
            reference_size=self.reference_size,
            element_radius=self.element_radius,
            threshold=self.threshold,
            min_area=self.min_area,
            background_hole_area=self.background_hole_area,
            hysteresis_threshold=self.threshold,  # no following of fainter stretches of a found hair
            faint_threshold=NEVER,  # no faint line counts as a hair on its own
            margin=0,
            fringe_reach=0,  # no fringe growth, no trimming to the visible edge
            soft_edge=0.0,
            fill="closing",
            lesion_overlay=True,
            remove_inside_lesion=False,
        )


def purify_paper(rgb: np.ndarray, lesion: np.ndarray | None, settings: PaperSettings) -> Purification:
    return purify_classic(rgb, lesion, settings.as_classic())
