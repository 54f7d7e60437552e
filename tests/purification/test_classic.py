"""Method improved (classic.py): removal, lesion protection, resolution independence, its additions."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from bench.purification_metrics import psnr
from melanoflow.demo.generate import visibly_changed
from melanoflow.purification.classic import (
    detect_occlusions,
    disc,
    grow,
    luminance,
    normalized_convolution_fill,
    purify_classic,
)
from melanoflow.purification.dullrazor import purify_dullrazor
from melanoflow.purification.settings import ClassicSettings, DullRazorSettings
from tests.purification.conftest import HAIR, SKIN, configured_purification

# the improved method with the paper's lesion overlay alone protecting the lesion
OVERLAY_ONLY = ClassicSettings(remove_inside_lesion=False)


@pytest.mark.parametrize("fill", ["normalized", "closing", "telea"])
def test_dark_line_over_lesion_free_skin_is_removed(make_scene, fill):
    image, clean, _, hair = make_scene(300, 400, with_lesion=False, hair=True)
    result = purify_classic(image, None, replace(ClassicSettings(), fill=fill))
    assert result.occlusion[hair].mean() > 0.98
    assert psnr(image, clean, hair) < 15  # the hair is really there...
    assert psnr(result.image, clean, hair) > 32  # ...and gone afterwards
    beside = grow(result.occlusion, 1)
    np.testing.assert_array_equal(result.image[~beside], image[~beside])  # nothing beyond its edge moved
    # what the mask leaves of the hair is its faintest fringe, shallower than fringe_depth
    assert psnr(result.image, clean, ~result.occlusion) > 50


def test_hair_free_skin_is_left_alone(make_scene):
    image, _, _, _ = make_scene(300, 400, with_lesion=False, hair=False)
    result = purify_classic(image, None, ClassicSettings())
    assert result.occluded_fraction == 0
    np.testing.assert_array_equal(result.image, image)


def test_paper_overlay_leaves_every_lesion_pixel_unchanged(make_scene):
    image, _, lesion, hair = make_scene(300, 400, with_lesion=True, hair=True)
    result = purify_classic(image, lesion, OVERLAY_ONLY)
    np.testing.assert_array_equal(result.image[lesion], image[lesion])
    assert not (result.occlusion & lesion).any()
    assert result.occlusion[hair & ~lesion].mean() > 0.98


def test_without_overlay_dark_lesion_texture_would_be_removed(make_scene):
    """Why the paper lays the lesion back: the black-hat also fires on the lesion's dark globules."""
    image, _, lesion, _ = make_scene(300, 400, with_lesion=True, hair=False)
    unprotected = detect_occlusions(image, None, ClassicSettings())
    assert (unprotected & lesion).sum() > 20
    assert not (detect_occlusions(image, lesion, OVERLAY_ONLY) & lesion).any()


def test_hair_crossing_the_lesion_is_removed_without_touching_lesion_texture(make_scene):
    image, clean, lesion, hair = make_scene(300, 400, with_lesion=True, hair=True)
    result = purify_classic(image, lesion, ClassicSettings())
    inside_hair = hair & lesion
    assert result.occlusion[inside_hair].mean() > 0.95
    assert psnr(result.image, clean, inside_hair) > psnr(image, clean, inside_hair) + 10
    # the globules (texture) stay exactly as they were more than 7 px (element + fringe) from the hair
    away_from_hair = lesion & ~cv2.dilate(hair.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    np.testing.assert_array_equal(result.image[away_from_hair], image[away_from_hair])


def agreement(first: np.ndarray, second: np.ndarray, tolerance: int = 1) -> float:
    """Share of each mask's pixels within ``tolerance`` pixels of the other mask (the smaller of the two)."""
    element = np.ones((2 * tolerance + 1,) * 2, np.uint8)
    near_first = cv2.dilate(first.astype(np.uint8), element).astype(bool)
    near_second = cv2.dilate(second.astype(np.uint8), element).astype(bool)
    if not first.any() or not second.any():
        return 0.0
    return min((first & near_second).sum() / first.sum(), (second & near_first).sum() / second.sum())


def test_masks_match_across_resolutions(make_scene):
    """The same scene at 800x600 and 400x300: element and areas scale, so the masks agree."""
    large_image, _, large_lesion, _ = make_scene(600, 800, with_lesion=True, hair=True, hair_width=0.01)
    small_image, _, small_lesion, small_hair = make_scene(300, 400, with_lesion=True, hair=True, hair_width=0.01)
    small = detect_occlusions(small_image, small_lesion, ClassicSettings())
    assert small[small_hair].mean() > 0.98
    large = detect_occlusions(large_image, large_lesion, ClassicSettings())
    large_at_small = cv2.resize(large.astype(np.float32), (400, 300), interpolation=cv2.INTER_AREA) > 0.5
    assert agreement(large_at_small, small) > 0.97
    assert large.sum() / 4 == pytest.approx(small.sum(), rel=0.25)
    # Control: with the paper's element fixed at 3 px (no scaling), the 8-px hair at 800x600 is missed.
    unscaled = replace(ClassicSettings(), reference_size=(600 * 800) ** 0.5)
    fixed = cv2.resize(detect_occlusions(large_image, large_lesion, unscaled).astype(np.float32), (400, 300),
                       interpolation=cv2.INTER_AREA) > 0.5
    assert agreement(fixed, small) < 0.9


def test_unknown_or_invalid_settings_are_named():
    improved = configured_purification()["improved"]
    with pytest.raises(ValueError, match="radius_px"):
        ClassicSettings.from_config({**improved, "radius_px": 3})
    with pytest.raises(ValueError, match="blur"):
        ClassicSettings.from_config({**improved, "fill": "blur"})


def test_dullrazor_removes_a_dark_line_and_ignores_the_lesion(make_scene):
    image, clean, lesion, hair = make_scene(300, 400, with_lesion=True, hair=True)
    result = purify_dullrazor(image, lesion, DullRazorSettings())
    assert result.occlusion[hair & ~lesion].mean() > 0.95
    assert psnr(result.image, clean, hair & ~lesion) > 28
    assert (result.occlusion & lesion & ~hair).any()  # no lesion overlay: it eats lesion texture too


def test_normalized_fill_by_hand():
    """A hole in a two-level image: each side is filled from its own neighbourhood; a wide hole gets filled."""
    image = np.full((40, 60, 3), 100, np.uint8)
    image[:, 30:] = 200
    hole = np.zeros((40, 60), bool)
    hole[18:22, 5:15] = True  # inside the 100 half
    hole[18:22, 45:55] = True  # inside the 200 half
    hole[0:40, 20:25] = True  # a full-height band, 5 px wide, also inside the 100 half
    filled = normalized_convolution_fill(image, hole, sigma=1.0)
    np.testing.assert_array_equal(filled, image)  # every hole pixel gets its side's value, nothing else moves
    everything = normalized_convolution_fill(image, np.ones((40, 60), bool), sigma=1.0)
    assert everything.shape == image.shape  # no valid pixel at all: terminates (with zeros)


def blurred_line_on_flat_skin() -> tuple[np.ndarray, np.ndarray]:
    """A dark line whose edge is smeared by a blur over 2-3 px, on flat skin: (image, darkening in L units)."""
    clean = np.full((300, 400, 3), SKIN, np.uint8)
    coverage = np.zeros((300, 400), np.float32)
    cv2.line(coverage, (20, 150), (380, 150), 1.0, 2)
    coverage = cv2.GaussianBlur(coverage, (0, 0), 1.2)
    image = np.round(clean * (1 - coverage[..., None]) + np.array(HAIR) * coverage[..., None]).astype(np.uint8)
    darkening = luminance(clean).astype(np.int16) - luminance(image)
    return image, darkening


def test_fringe_growth_takes_the_visible_edge_and_only_it():
    image, darkening = blurred_line_on_flat_skin()
    settings = ClassicSettings()
    with_fringe = detect_occlusions(image, None, settings)
    core_only = detect_occlusions(image, None, replace(settings, fringe_reach=0))
    visible_edge = darkening > round(settings.fringe_depth * 255)
    assert (visible_edge & ~core_only).sum() > 100  # the threshold alone leaves the smeared edge behind...
    assert with_fringe[visible_edge].all()  # ...the fringe growth takes all of it...
    assert not with_fringe[darkening == 0].any()  # ...and not one pixel the line left unchanged


def test_fringe_never_grows_from_the_background_into_the_lesion():
    image, _ = blurred_line_on_flat_skin()
    lesion = np.zeros(image.shape[:2], bool)
    lesion[:, 200:] = True
    # the part of the line inside the "lesion" is too short and faint to count as a hair there
    settings = replace(ClassicSettings(), remove_inside_lesion=False)
    found = detect_occlusions(image, lesion, settings)
    assert found[:, :200].any()
    assert not (found & lesion).any()


def test_grey_hair_is_followed_across_a_soft_lesion_rim(make_scene):
    """A grey hair is darker than skin but lighter than the lesion: on the rim it matches both and vanishes.

    It must still be found inside the lesion as the continuation of the hair found outside.
    """
    image, clean, lesion, hair = make_scene(300, 400, with_lesion=True, hair=False)
    rim = cv2.GaussianBlur(lesion.astype(np.float32), (0, 0), 2)[..., None]
    clean = np.round(np.array(SKIN) * (1 - rim) + np.array((95, 60, 40)) * rim).astype(np.uint8)
    image = clean.copy()
    cv2.line(image, (20, 40), (380, 260), (120, 115, 110), 3, cv2.LINE_AA)
    hair = visibly_changed(clean, image)
    found = detect_occlusions(image, lesion, ClassicSettings())
    inside = hair & lesion
    assert found[hair & ~lesion].mean() > 0.9
    assert found[inside].mean() > 0.8


def test_thin_oblique_hair_inside_the_lesion_needs_the_finer_orientations(make_scene):
    """A 1-px hair at 7.5 degrees lies between the 15-degree steps of 12 line elements and slips through."""
    image, clean, lesion, _ = make_scene(600, 800, with_lesion=True, hair=False)
    angle = np.deg2rad(7.5)
    start, end = np.array([0.0, 200.0]), np.array([800.0, 200.0 + 800 * np.tan(angle)])
    cv2.line(image, tuple(start.round().astype(int)), tuple(end.round().astype(int)), HAIR, 1, cv2.LINE_AA)
    hair = visibly_changed(clean, image)
    inside = hair & lesion
    finer = detect_occlusions(image, lesion, ClassicSettings(line_orientations=24))
    coarser = detect_occlusions(image, lesion, ClassicSettings(line_orientations=12))
    assert finer[inside].mean() > 0.8
    assert coarser[inside].mean() < 0.5


def broken_light_brown_hair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A light-brown hair on tanned skin, a little darker in short stretches: (image, clean, hair mask).

    Most of it differs from the skin more in colour than in lightness (black-hat ~0.08, under the 0.1
    threshold); every 120 px a 30-px stretch is darker and found by the threshold.
    """
    clean = np.full((300, 600, 3), (160, 132, 110), np.uint8)
    image = clean.copy()
    cv2.line(image, (20, 150), (580, 150), (136, 106, 78), 4, cv2.LINE_AA)
    for start in range(20, 580, 120):
        cv2.line(image, (start, 150), (start + 30, 150), (110, 84, 62), 4, cv2.LINE_AA)
    return image, clean, visibly_changed(clean, image)


def test_faint_stretches_of_a_found_hair_are_followed():
    image, _, hair = broken_light_brown_hair()
    no_faint_lines = replace(ClassicSettings(), faint_threshold=0.1)  # they would find this hair too
    followed = detect_occlusions(image, None, no_faint_lines)
    paper_threshold_only = detect_occlusions(image, None, replace(no_faint_lines, hysteresis_threshold=0.1))
    assert paper_threshold_only[hair].mean() < 0.5  # the threshold alone finds the dark stretches only...
    assert followed[hair].mean() > 0.9  # ...following them takes the whole hair


def test_faint_texture_merged_with_a_hair_is_not_followed():
    """Skin texture at the hysteresis depth touching a hair would widen it into a blotch: nothing is added."""
    clean = np.full((300, 400, 3), (160, 132, 110), np.uint8)
    image = clean.copy()
    cv2.line(image, (100, 150), (300, 150), (136, 106, 78), 4, cv2.LINE_AA)
    for start in (100, 270):  # dark stretches at both ends, found by the threshold
        cv2.line(image, (start, 150), (start + 30, 150), (110, 84, 62), 4, cv2.LINE_AA)
    hair = visibly_changed(clean, image)
    assert detect_occlusions(image, None, ClassicSettings())[hair].mean() > 0.9  # followed when alone
    texture = np.zeros(hair.shape, bool)
    texture[150:250, 150:250] = (np.indices((100, 100)).sum(axis=0) % 2) == 0  # 8-connected dark specks
    image[texture & ~hair] = (136, 106, 78)
    blackhat = cv2.morphologyEx(luminance(image), cv2.MORPH_BLACKHAT, disc(3))
    deep_enough = blackhat > round(ClassicSettings().hysteresis_threshold * 255)
    assert deep_enough[texture & ~grow(hair, 3)].mean() > 0.9  # the texture would pass the hysteresis...
    found = detect_occlusions(image, None, ClassicSettings())
    assert not found[texture & ~grow(hair, 3)].any()  # ...but the hair with it is no line: nothing added
    assert found[hair].mean() > 0.2  # the dark stretches are still found


def test_skin_beside_a_hair_that_only_the_closing_calls_dark_leaves_the_mask():
    """Bright specks beside a hair lift the closing there, so the skin between them passes the black-hat
    threshold; it is no darker than the skin around it and is trimmed from the mask."""
    clean = np.full((300, 400, 3), SKIN, np.uint8)
    band = np.zeros(clean.shape[:2], bool)
    band[154:163, 20:380] = True
    specks = np.zeros_like(band)
    specks[154:163:4, 20:380:4] = True
    clean[specks] = np.minimum(np.array(SKIN) + 45, 255)
    image = clean.copy()
    cv2.line(image, (20, 150), (380, 150), HAIR, 3, cv2.LINE_AA)
    skin_between = band & ~specks & ~visibly_changed(clean, image)
    core_only = detect_occlusions(image, None, replace(ClassicSettings(), fringe_reach=0))
    fitted = detect_occlusions(image, None, ClassicSettings())
    assert core_only[skin_between].mean() > 0.3  # the black-hat calls it dark...
    assert fitted[skin_between].mean() < 0.02  # ...the fit to the visible edge drops it
    assert fitted[visibly_changed(clean, image) & core_only].all()  # the hair itself stays


def test_soft_edge_moves_only_the_darker_pixels_beside_the_mask_part_of_the_way():
    image, darkening = blurred_line_on_flat_skin()
    settings = ClassicSettings()
    softened = purify_classic(image, None, settings)
    hard = purify_classic(image, None, replace(settings, soft_edge=0))
    np.testing.assert_array_equal(softened.occlusion, hard.occlusion)
    edge = grow(softened.occlusion, 1) & ~softened.occlusion
    moved = (softened.image != hard.image).any(axis=2)
    assert moved.any()
    assert not (moved & ~edge).any()
    assert (darkening[moved] > 0).all()  # only pixels the line darkened
    before, after = luminance(image)[moved].astype(int), luminance(softened.image)[moved].astype(int)
    assert (after > before).all()  # lifted towards the skin...
    assert (after - before <= darkening[moved]).all()  # ...but not past it


def test_long_faint_line_is_a_hair_on_its_own_and_short_faint_strokes_are_not():
    """A thin light hair that nowhere reaches the threshold is found by its length; skin furrows are short."""
    clean = np.full((300, 600, 3), (160, 132, 110), np.uint8)
    image = clean.copy()
    cv2.line(image, (50, 100), (550, 160), (143, 117, 97), 2, cv2.LINE_AA)
    furrows = np.zeros(clean.shape[:2], np.uint8)
    for x in range(60, 540, 40):
        cv2.line(furrows, (x, 230), (x + 25, 240), 1, 2, cv2.LINE_AA)
    image[furrows > 0] = (143, 117, 97)
    hair = visibly_changed(clean, image) & ~(furrows > 0)
    blackhat = cv2.morphologyEx(luminance(image), cv2.MORPH_BLACKHAT, disc(4))
    assert np.percentile(blackhat[hair], 90) < round(0.07 * 255)  # under the hysteresis depth, let alone 0.1
    found = detect_occlusions(image, None, ClassicSettings())
    assert found[hair].mean() > 0.8
    assert not found[furrows > 0].any()
    assert not detect_occlusions(image, None, replace(ClassicSettings(), faint_threshold=0.1))[hair].any()


def test_ruler_ticks_across_the_lesion_go_with_its_edge_and_lesion_texture_stays(make_scene):
    """Ticks are too short to be lines of their own; they hang off the ruler's edge, which is one."""
    image, clean, lesion, _ = make_scene(300, 400, with_lesion=True, hair=False)
    ticks = np.zeros(lesion.shape, np.uint8)
    cv2.line(image, (0, 150), (399, 150), (25, 25, 25), 2)
    for x in range(4, 400, 14):
        cv2.line(ticks, (x, 150), (x, 156), 1, 2)
    image[ticks > 0] = (25, 25, 25)
    ruler = visibly_changed(clean, image)
    inside_ticks = (ticks > 0) & lesion & (np.indices(lesion.shape)[0] > 152)  # below the edge
    result = purify_classic(image, lesion, ClassicSettings())
    assert result.occlusion[ruler & lesion].mean() > 0.9
    assert result.occlusion[inside_ticks].mean() > 0.9
    # control, without the fringe (which reaches a few pixels down the ticks): they are not lines themselves
    core = replace(ClassicSettings(), fringe_reach=0)
    assert detect_occlusions(image, lesion, core)[inside_ticks].mean() > 0.9
    assert detect_occlusions(image, lesion, replace(core, attached_threshold=1.0))[inside_ticks].mean() < 0.5
    away_from_ruler = lesion & ~grow(ruler, 7)
    np.testing.assert_array_equal(result.image[away_from_ruler], image[away_from_ruler])
