"""The purification settings as frozen dataclasses: each method's section, and the purifier's (the configured
method with the sections it reads).

from_config takes every key from the config (a missing or unknown one is an error naming it); the method
sections' defaults, the paper's and config/config.yaml's values, serve code that builds settings by hand.
Which sections each method reads is in purification.base. Kept free of the image libraries and of torch,
like the other stages' settings, so that the workflow and the predict command read them cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from melanoflow.config_checks import SectionSettings, check_section_keys
from melanoflow.purification.base import PURIFIER_SECTIONS, purifier_keys

FILLS = ("normalized", "closing", "telea")
# Black-hat depth (L in [0, 1]) that no pixel exceeds: a depth test at it finds nothing.
NEVER = 1.0


@dataclass(frozen=True)
class ClassicSettings(SectionSettings):
    """Parameters of the improved method (config ``purification.improved``).

    Lengths are in pixels and areas in pixels^2 at the reference size.
    """

    SECTION = "purification.improved"
    reference_size: float = 400.0  # sqrt(height * width) at which the lengths below are given
    element_radius: float = 3.0  # closing element (disc) radius; the paper's 3 at 400x400
    threshold: float = 0.1  # black-hat depth on L in [0, 1] that marks an occlusion; the paper's 0.1
    hysteresis_threshold: float = 0.07  # a found hair is followed through stretches down to this depth
    faint_threshold: float = 0.05  # at this depth a long thin line counts as a hair on its own...
    faint_length: float = 60.0  # ...when it is this long (bounding-box diagonal) outside the lesion
    min_area: float = 12.0  # connected occlusion pieces smaller than this are noise (skin pores, specks)
    background_hole_area: float = 20.0  # holes of the background occlusion mask up to this area are closed
    margin: int = 0  # pixels (not scaled): fixed growth of the mask, on top of the fringe growth
    fringe_depth: float = 0.025  # L in [0, 1]: a neighbour this much darker than the skin around is fringe
    fringe_reach: int = 3  # pixels (not scaled): how far the fringe growth may reach from the core
    soft_edge: float = 0.5  # the darker pixels just beside the mask move this far towards the skin (0: off)
    fill: str = "normalized"  # how occluded pixels are replaced: see classic.fill_occlusions
    lesion_overlay: bool = True  # lay the segmented lesion back over the result (paper)
    remove_inside_lesion: bool = True  # also remove long thin structures inside the lesion (beyond paper)
    inside_threshold: float = 0.07  # black-hat depth inside the lesion (a hair is fainter on dark lesion)
    attached_threshold: float = 0.15  # inside the lesion, structure this deep touching a found hair joins it
    line_length: float = 11.0  # inside the lesion, a structure must contain a straight run this long
    line_orientations: int = 24  # line-element orientations; 15-degree steps let a thin oblique hair slip

    def __post_init__(self):
        if self.fill not in FILLS:
            raise ValueError(f"purification.improved.fill must be one of {FILLS}, got {self.fill!r}")


@dataclass(frozen=True)
class PaperSettings(SectionSettings):
    """Parameters of the paper's method (config ``purification.paper``); lengths in pixels and areas in
    pixels^2 at the reference size. The defaults are the paper's."""

    SECTION = "purification.paper"
    reference_size: float = 400.0  # sqrt(height * width) at which the lengths below are given (paper: 400)
    element_radius: float = 3.0  # closing element (disc) radius; the paper's 3 at 400x400
    threshold: float = 0.1  # black-hat depth on L in [0, 1] that marks an occlusion; the paper's 0.1
    min_area: float = 12.0  # connected occlusion pieces smaller than this are noise (skin pores, specks)
    background_hole_area: float = 20.0  # holes of the background occlusion mask up to this area are closed

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


@dataclass(frozen=True)
class DullRazorSettings(SectionSettings):
    """Parameters of DullRazor (config ``purification.dullrazor``)."""

    SECTION = "purification.dullrazor"
    reference_size: float = 836.0  # sqrt(1024 * 683): the size the usual 17-px element was chosen for
    kernel_size: float = 17.0  # side of the cross-shaped black-hat element at the reference size
    threshold: int = 10  # on the blurred grey black-hat, 0..255
    inpaint_radius: float = 6.0  # Telea neighbourhood radius at the reference size


# Each section a purifier may read, and the dataclass of its settings.
SECTION_SETTINGS = {"paper": PaperSettings, "improved": ClassicSettings, "dullrazor": DullRazorSettings}


@dataclass(frozen=True)
class PurifierSettings:
    """``purification.method`` with the settings of the sections its purifier reads (PURIFIER_SECTIONS);
    the other sections are None."""

    method: str
    paper: PaperSettings | None = None
    improved: ClassicSettings | None = None
    dullrazor: DullRazorSettings | None = None

    @classmethod
    def from_config(cls, section: Mapping) -> PurifierSettings:
        """The settings of the purification section's method and the sections it reads (purifier_keys); an
        unknown method, or a missing or unknown key, is an error naming it."""
        method = section.get("method")
        if method not in PURIFIER_SECTIONS:
            raise ValueError(f"purification.method must be paper, improved, dullrazor or network, got {method!r}")
        check_section_keys(section, purifier_keys(method), "purification")
        sections = PURIFIER_SECTIONS[method]
        return cls(method, **{name: SECTION_SETTINGS[name].from_config(section[name]) for name in sections})
