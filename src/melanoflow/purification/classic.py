"""Method ``improved``: hair and ruler removal by morphology after Bisla et al. 2019 (Section 3.2.2), refined.

The paper finds occlusions by thresholding the difference between a morphological closing of the
luminance channel (LUV) and the luminance itself, replaces them from the closed image, lays the segmented
lesion back over the result so that dark lesion structure is never removed, and closes holes in the
background mask. Its code worked on 400x400 images with a radius-3 element and a threshold of 0.1 on L.
Method ``paper`` (paper.py) is exactly that: this code with everything below that goes beyond it switched
off. The fill from the closed image is kept as an option; this method's default fill is a normalized
convolution, which measured better and faster (bench/bench_purification.py).

Here every length is given at that 400x400 reference and multiplied by ``sqrt(height * width) / 400``,
and every area by the square of that factor, so that the same scene photographed at two resolutions
gives the same mask. The exceptions are the fringe settings (``fringe_reach``, ``margin``), which are in
pixels: the soft fringe of a hair comes from anti-aliasing, demosaicing and JPEG, whose width is a pixel
or two at any resolution. The threshold is on L normalised to [0, 1]: the depth of the closing's
black-hat response to a dark line does not depend on the pixel count once the element covers the line.

The threshold finds a hair's core. Where a hair's colour nears the skin's lightness its response dips
below the threshold for a stretch; those stretches are followed down to ``hysteresis_threshold`` as long
as the hair with them stays thin (see :func:`faint_continuations`); a thin light hair that nowhere
reaches the threshold is found by its length (see :func:`faint_lines`). The mask is then fitted to what is
visibly there (see :func:`fit_to_visible_edge`) rather than grown by a fixed margin, because every pixel
put into the mask is replaced by an estimate of the skin, and a needlessly wide mask both blurs real skin
and pushes the estimate for the hair's own pixels farther from the skin it is made of. The faintest edge,
too shallow to be replaced, is feathered (see :func:`soften_edge`).

Beyond the paper, ``remove_inside_lesion`` also removes hairs where they cross the lesion (the paper's
overlay keeps them). Inside the lesion only long thin lines count: the black-hat response is opened with
line elements in several orientations, which erases dots, globules and the short segments of a pigment
network but keeps a hair; a line must also continue a hair found outside (or be twice as long, when it
may be as faint as ``faint_threshold``) and stay thin as a whole, so lesion texture is left untouched
(see :func:`hairs_inside_lesion`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from skimage.morphology import remove_small_holes

from melanoflow.purification.base import Purification
from melanoflow.purification.settings import ClassicSettings

# A hair (with whatever merged into it) is a line: its mean width is at most this many element diameters.
HAIR_WIDTH_LIMIT = 3
# A faint line found on its own (no stronger hair to continue) must be at most this wide to count.
FAINT_LINE_WIDTH_LIMIT = 1
# Normalized-convolution fill: a pixel is estimated at the first scale whose valid weight reaches this.
MIN_SUPPORT = 0.05


def scale_factor(shape: tuple[int, ...], reference_size: float) -> float:
    """How many pixels of this image correspond to one pixel of the reference-size image."""
    return math.sqrt(shape[0] * shape[1]) / reference_size


def disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def scaled_radius(length: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(length * scale))


def luminance(rgb: np.ndarray) -> np.ndarray:
    """CIE L* as uint8 (OpenCV stores L in [0, 100] as [0, 255]).

    L* is the same channel in LUV (the paper's choice) and Lab; OpenCV converts to Lab about 5x faster.
    """
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0]


def drop_small_components(mask: np.ndarray, min_area: float) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    return keep[labels]


def line_elements(length: int, orientations: int) -> list[np.ndarray]:
    """Binary line segments of ``length`` pixels through the centre of a square, evenly rotated."""
    half = length // 2
    elements = []
    for index in range(orientations):
        angle = math.pi * index / orientations
        dx, dy = half * math.cos(angle), half * math.sin(angle)
        element = np.zeros((2 * half + 1, 2 * half + 1), np.uint8)
        cv2.line(element, (round(half - dx), round(half - dy)), (round(half + dx), round(half + dy)), 1)
        elements.append(element)
    return elements


def linear_structures(response: np.ndarray, region: np.ndarray, length: int, orientations: int,
                      threshold: int) -> np.ndarray:
    """Pixels of ``region`` on a line at least ``length`` long: max over orientations of line openings."""
    opened = np.zeros_like(response)
    for element in line_elements(length, orientations):
        np.maximum(opened, cv2.morphologyEx(response, cv2.MORPH_OPEN, element), out=opened)
    return (opened > threshold) & region


def window_around(rows: np.ndarray, columns: np.ndarray, margin: int,
                  shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The bounding box of the given pixels grown by ``margin``, clipped to the image."""
    return (slice(max(0, rows.min() - margin), min(shape[0], rows.max() + margin + 1)),
            slice(max(0, columns.min() - margin), min(shape[1], columns.max() + margin + 1)))


def detect_occlusions(rgb: np.ndarray, lesion: np.ndarray | None, settings: ClassicSettings) -> np.ndarray:
    """Boolean mask of hair and ruler pixels to replace (never plain lesion pixels when overlaying)."""
    scale = scale_factor(rgb.shape, settings.reference_size)
    element = disc(scaled_radius(settings.element_radius, scale))
    lightness = luminance(rgb)
    blackhat = cv2.morphologyEx(lightness, cv2.MORPH_BLACKHAT, element)
    threshold = round(settings.threshold * 255)
    candidates = drop_small_components(blackhat > threshold, settings.min_area * scale**2)
    background = None if lesion is None or not settings.lesion_overlay else ~lesion
    candidates |= faint_continuations(blackhat, candidates, background, settings, element)
    candidates |= faint_lines(blackhat, background, settings, element, scale)
    margin = settings.margin
    sigma = fill_sigma(scale, settings)  # the skin estimate of the fringe uses the fill's own scale
    if background is None:
        return fit_to_visible_edge(lightness, grow(candidates, margin), None, None, settings, sigma)
    # Holes in the background mask (where the threshold flickered inside a wide hair or a ruler mark) are
    # closed. Only enclosed holes: a morphological closing would also bridge the skin between two hairs
    # or ruler ticks, and every pixel in the mask is replaced by an estimate (bench_purification.py).
    outside = candidates & background
    hole_area = settings.background_hole_area * scale**2
    if hole_area >= 1:
        outside = remove_small_holes(outside, max_size=int(hole_area))
    occlusion = grow(outside, margin) & background
    # The fringe may grow into the lesion only beside a hair found inside it, never from the background.
    fringe_allowed = background
    if settings.remove_inside_lesion:
        inside = grow(hairs_inside_lesion(lightness, blackhat, lesion, outside, element, settings, scale),
                      margin) & lesion
        occlusion |= inside
        fringe_allowed = fringe_allowed | grow(inside, settings.fringe_reach)
    # Inside the lesion a grey or blond hair can be lighter than its surroundings: only the background's
    # mask is trimmed to what is darker than the skin.
    return fit_to_visible_edge(lightness, occlusion, fringe_allowed, background, settings, sigma)


def faint_continuations(blackhat: np.ndarray, hairs: np.ndarray, where: np.ndarray | None,
                        settings: ClassicSettings, element: np.ndarray) -> np.ndarray:
    """Stretches of the found hairs too faint for the threshold: hysteresis down to ``hysteresis_threshold``.

    A light-brown hair on tanned skin differs from it more in colour than in lightness, so its black-hat
    response wanders around the threshold and the hair is found in pieces. Weaker pixels connected to a
    found hair are added, but only where the hair with them is still a thin line as a whole: skin texture
    beside a hair at that depth merges into a blotch, and then nothing is added.
    """
    weak = deeper_than(blackhat, settings.hysteresis_threshold, where)
    return thin_components(touching(weak, hairs), max_width=HAIR_WIDTH_LIMIT * element.shape[0])


def faint_lines(blackhat: np.ndarray, where: np.ndarray | None, settings: ClassicSettings,
                element: np.ndarray, scale: float) -> np.ndarray:
    """Long thin lines at ``faint_threshold``: a thin light hair that nowhere reaches the threshold.

    Skin texture at that depth comes in specks and short furrows; a line as long as ``faint_length`` and
    at most an element wide is a hair.
    """
    return thin_components(deeper_than(blackhat, settings.faint_threshold, where),
                           max_width=FAINT_LINE_WIDTH_LIMIT * element.shape[0],
                           min_length=settings.faint_length * scale)


def deeper_than(blackhat: np.ndarray, depth: float, where: np.ndarray | None) -> np.ndarray:
    """Pixels (of ``where``, if given) whose black-hat response exceeds ``depth`` on L in [0, 1]."""
    deep = blackhat > round(depth * 255)
    return deep if where is None else deep & where


def fit_to_visible_edge(lightness: np.ndarray, occlusion: np.ndarray, allowed: np.ndarray | None,
                        trimmable: np.ndarray | None, settings: ClassicSettings, sigma: float) -> np.ndarray:
    """Fit the mask to the pixels visibly darker than the skin around them: add the fringe, trim the rest.

    The skin is estimated by the same fill that later replaces the mask, over the mask grown by
    ``fringe_reach`` (so the estimate for the fringe does not lean on the fringe itself). Pixels darker
    than it by ``fringe_depth`` and connected to the mask within ``fringe_reach`` steps join it: the
    hair's anti-aliased, blurred or JPEG-smeared edge, however wide it happens to be along the hair.
    Mask pixels in ``trimmable`` (everywhere when None) that are not that much darker leave it: skin
    beside a hair that the closing's upper envelope made look dark.
    """
    reach = settings.fringe_reach
    if reach == 0 or not occlusion.any():
        return occlusion
    region = grow(occlusion, reach)
    if allowed is not None:
        region &= allowed | occlusion
    skin = normalized_convolution_fill(lightness, region, sigma)
    visible = skin.astype(np.int16) - lightness > round(settings.fringe_depth * 255)
    occlusion = occlusion & (visible if trimmable is None else visible | ~trimmable)
    fringe = region & visible
    for _ in range(reach):
        occlusion = occlusion | (grow(occlusion, 1) & fringe)
    return occlusion


def hairs_inside_lesion(lightness: np.ndarray, blackhat: np.ndarray, lesion: np.ndarray, outside: np.ndarray,
                        element: np.ndarray, settings: ClassicSettings, scale: float) -> np.ndarray:
    """Thin lines inside the lesion that are hairs: they continue a hair found outside, or are very long.

    Dark lesion texture (network, streaks, the crevices of a keratosis) also forms short dark lines, so a
    dark line of ``line_length`` counts only where it touches a hair found in the background; a straight
    one of twice that length counts anywhere, down to ``faint_threshold`` (a hair lying wholly inside the
    lesion). A grey or blond hair is darker than skin but lighter than a dark lesion, so where it crosses
    the lesion it is a *light* line; those too count only where they continue a background hair. Deep
    dark structure attached to a line found here joins it (a ruler's ticks).
    """
    length = scaled_radius(settings.line_length, scale, minimum=3)
    found = np.zeros(lesion.shape, bool)
    rows, columns = np.nonzero(lesion)
    if len(rows) == 0:
        return found
    # everything below happens within reach of the lesion, usually a fraction of the image
    window = window_around(rows, columns, 2 * length, lesion.shape)
    found[window] = lines_in_lesion(lightness[window], blackhat[window], lesion[window], outside[window],
                                    element, settings, scale, length)
    return found


def lines_in_lesion(lightness: np.ndarray, blackhat: np.ndarray, lesion: np.ndarray, outside: np.ndarray,
                    element: np.ndarray, settings: ClassicSettings, scale: float, length: int) -> np.ndarray:
    threshold = round(settings.inside_threshold * 255)
    # where a hair enters the lesion it can match the lesion's rim in lightness and vanish for a few pixels
    seeds = grow(outside, length // 2)
    dark = linear_structures(blackhat, lesion, length, settings.line_orientations, threshold)
    long_dark = linear_structures(blackhat, lesion, 2 * length, settings.line_orientations,
                                  round(settings.faint_threshold * 255))
    tophat = cv2.morphologyEx(lightness, cv2.MORPH_TOPHAT, element)
    light = linear_structures(tophat, lesion, length, settings.line_orientations, threshold)
    found = touching(dark | light, seeds) | drop_small_components(long_dark, settings.min_area * scale**2)
    max_width = HAIR_WIDTH_LIMIT * element.shape[0]
    found = thin_components(found, max_width)
    # A ruler's ticks, too short to be lines themselves, hang off its edge; deep dark structure attached
    # to a line found here joins it where the whole stays thin (a pigment network merges into a mesh).
    attached = deeper_than(blackhat, settings.attached_threshold, lesion)
    return found | thin_components(touching(attached | found, found), max_width)


def thin_components(mask: np.ndarray, max_width: float, min_length: float = 0) -> np.ndarray:
    """Connected components whose mean width (area / bounding-box diagonal) is at most ``max_width``
    and whose diagonal is at least ``min_length``.

    A hair is a long thin line whatever its path; lesion texture that merged with it (a keratosis's
    crevices, a pigment network) forms a mesh whose area is large for its extent.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    diagonal = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = (stats[:, cv2.CC_STAT_AREA] <= max_width * diagonal) & (diagonal >= min_length)
    keep[0] = False
    return keep[labels]


def touching(candidates: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Connected components of ``candidates`` that overlap ``seeds``."""
    count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[seeds & candidates])] = True
    keep[0] = False
    return keep[labels]


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return mask
    return cv2.dilate(mask.astype(np.uint8), disc(radius)).astype(bool)


def fill_occlusions(rgb: np.ndarray, occlusion: np.ndarray, settings: ClassicSettings) -> np.ndarray:
    """Replace the occluded pixels.

    ``closing``: from the per-channel closing (the paper); biased bright on textured skin, since a closing
    is an upper envelope. ``telea``: OpenCV's Telea inpainting; good but slow on large masks.
    ``normalized`` (default): normalized convolution, the Gaussian-weighted mean of the unoccluded pixels
    around each occluded one (Knutsson & Westin 1993): as good as Telea on hair-width gaps at a fraction
    of the cost (see bench/bench_purification.py).
    """
    if not occlusion.any():
        return rgb.copy()
    scale = scale_factor(rgb.shape, settings.reference_size)
    radius = fill_radius(scale, settings)
    if settings.fill == "telea":
        return cv2.inpaint(rgb, occlusion.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    if settings.fill == "closing":
        return np.where(occlusion[..., None], cv2.morphologyEx(rgb, cv2.MORPH_CLOSE, disc(radius)), rgb)
    return normalized_convolution_fill(rgb, occlusion, fill_sigma(scale, settings))


def fill_radius(scale: float, settings: ClassicSettings) -> int:
    """Reach of the fill: half a hair (the element radius) plus the margin grown around it."""
    return scaled_radius(settings.element_radius, scale) + settings.margin


def fill_sigma(scale: float, settings: ClassicSettings) -> float:
    """The normalized-convolution fill's finest Gaussian: its reach is three sigmas."""
    return fill_radius(scale, settings) / 3


def normalized_convolution_fill(rgb: np.ndarray, occlusion: np.ndarray, sigma: float) -> np.ndarray:
    """Occluded pixels become the Gaussian-weighted mean of the valid pixels around them.

    ``rgb`` may also be a single-channel image.

    Pixels with too little valid weight nearby (deep inside a wide gap) wait for a wider Gaussian, so each
    pixel is estimated at the finest scale that has support.
    """
    valid = ~occlusion
    filled = rgb.copy()
    rows, columns = np.nonzero(occlusion)
    while len(rows):
        estimate, weight = valid_mean_at(rgb, valid, sigma, rows, columns)
        # the widest pass (as wide as the image) takes whatever is left
        reached = weight > (MIN_SUPPORT if gaussian_side(sigma) < max(rgb.shape[:2]) else -1)
        filled[rows[reached], columns[reached]] = rounded(estimate[reached])
        rows, columns = rows[~reached], columns[~reached]
        sigma *= 2
    return filled


def gaussian_side(sigma: float) -> int:
    return 2 * round(3 * sigma) + 1


def valid_mean_at(image: np.ndarray, valid: np.ndarray, sigma: float, rows: np.ndarray,
                  columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted mean of the ``valid`` pixels of ``image`` around each (row, column), and its weight.

    Only the window those Gaussians reach is blurred: past the first scale the pixels still waiting are
    few. OpenCV's stack blur approximates the Gaussian at a cost independent of its width.
    """
    side = gaussian_side(sigma)
    window = window_around(rows, columns, side // 2, image.shape)
    weight_window = valid[window].astype(np.float32)
    channels = (...,) + (None,) * (image.ndim - 2)  # broadcast the weight over colour channels, if any
    value_window = image[window].astype(np.float32) * weight_window[channels]
    at = (rows - window[0].start, columns - window[1].start)
    weight = cv2.stackBlur(weight_window, (side, side))[at]
    total = cv2.stackBlur(value_window, (side, side))[at]
    return total / np.maximum(weight, 1e-6)[channels], weight


def soften_edge(rgb: np.ndarray, filled: np.ndarray, occlusion: np.ndarray, lesion: np.ndarray | None,
                settings: ClassicSettings) -> np.ndarray:
    """Move the pixels just beside the mask that are darker than the skin ``soft_edge`` of the way to it.

    They hold the last of a hair's anti-aliased edge, shallower than ``fringe_depth``: replacing them
    would throw away the skin they mostly show, keeping them leaves a faint dark trace along the filled
    line. Their skin is estimated (by normalized convolution) with them left out, at the fill's finest
    scale: the few without support there (in a tight cluster of hairs) stay. Inside an overlaid lesion
    only the pixels beside a hair removed there move.
    """
    if settings.soft_edge == 0 or not occlusion.any():
        return filled
    edge = grow(occlusion, 1) & ~occlusion
    if lesion is not None and settings.lesion_overlay:
        edge &= ~lesion | grow(occlusion & lesion, 1)
    rows, columns = np.nonzero(edge)
    sigma = fill_sigma(scale_factor(rgb.shape, settings.reference_size), settings)
    estimate, weight = valid_mean_at(rgb, ~(occlusion | edge), sigma, rows, columns)
    skin, observed = rounded(estimate), rgb[rows, columns]
    # luminance of the edge pixels only, as a one-pixel-wide image
    darker = (luminance(skin[:, None])[:, 0] > luminance(observed[:, None])[:, 0]) & (weight > MIN_SUPPORT)
    softened = filled.copy()
    moved = observed[darker] + settings.soft_edge * (skin[darker] - observed[darker].astype(np.float32))
    softened[rows[darker], columns[darker]] = rounded(moved)
    return softened


def rounded(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def purify_classic(rgb: np.ndarray, lesion: np.ndarray | None, settings: ClassicSettings) -> Purification:
    occlusion = detect_occlusions(rgb, lesion, settings)
    filled = soften_edge(rgb, fill_occlusions(rgb, occlusion, settings), occlusion, lesion, settings)
    return Purification(image=filled, occlusion=occlusion)
