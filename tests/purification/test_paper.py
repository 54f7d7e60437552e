"""Method paper (paper.py): the paper's Section 3.2.2 as described, run by the improved method's code."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from melanoflow.purification.classic import luminance, purify_classic
from melanoflow.purification.paper import purify_paper
from melanoflow.purification.run import make_purifier
from melanoflow.purification.settings import ClassicSettings, PaperSettings, PurifierSettings
from tests.purification.conftest import HAIR, LESION, SKIN, configured_purification

# The improved method with every addition to the paper's steps switched off, spelled out by hand.
IMPROVED_AS_PAPER = replace(
    ClassicSettings(),
    reference_size=400, element_radius=3, threshold=0.1, min_area=12, background_hole_area=20,
    hysteresis_threshold=0.1, faint_threshold=1.0, margin=0, fringe_reach=0, soft_edge=0, fill="closing",
    lesion_overlay=True, remove_inside_lesion=False,
)


@pytest.mark.parametrize(("height", "width", "with_lesion", "give_lesion"), [
    (300, 400, True, True), (300, 400, True, False), (300, 400, False, True), (600, 800, True, True),
])
def test_paper_is_the_improved_code_with_its_additions_off(make_scene, height, width, with_lesion,
                                                           give_lesion):
    image, _, lesion, _ = make_scene(height, width, with_lesion=with_lesion, hair=True)
    lesion = lesion if give_lesion else None
    paper = purify_paper(image, lesion, PaperSettings())
    expected = purify_classic(image, lesion, IMPROVED_AS_PAPER)
    np.testing.assert_array_equal(paper.occlusion, expected.occlusion)
    np.testing.assert_array_equal(paper.image, expected.image)
    assert paper.occlusion.any()
    # control: the improved method's defaults do something else on the same image
    improved = purify_classic(image, lesion, ClassicSettings())
    assert not np.array_equal(improved.image, paper.image)


def test_configured_paper_method_is_the_papers_settings():
    """config.yaml's default method is paper, with the paper's element, threshold and reference size."""
    configured = configured_purification()
    assert configured["method"] == "paper"
    settings = PaperSettings.from_config(configured["paper"])
    assert settings == PaperSettings()
    assert (settings.reference_size, settings.element_radius, settings.threshold) == (400, 3, 0.1)
    image = np.full((400, 400, 3), SKIN, np.uint8)
    cv2.line(image, (20, 50), (380, 350), HAIR, 2)
    purifier = make_purifier(PurifierSettings.from_config({"method": "paper", "paper": configured["paper"]}))
    by_name = purifier(image, None)
    np.testing.assert_array_equal(by_name.image, purify_paper(image, None, settings).image)
    np.testing.assert_array_equal(by_name.image, np.full_like(image, SKIN))


def test_unknown_settings_and_the_old_method_name_are_refused():
    with pytest.raises(ValueError, match="fringe_reach"):
        PaperSettings.from_config({"fringe_reach": 3})
    with pytest.raises(ValueError, match="paper, improved, dullrazor or network.*'classic'"):
        PurifierSettings.from_config({"method": "classic", "classic": {}})


def hand_made_scene():
    """400x400 flat skin (the reference size, so the element is a radius-3 disc): (image, lesion, parts).

    A 3-px dark line crosses a flat lesion with dark dots; a 3x3 speck and a 5x5 spot lie on the skin; a
    5-px band has a 2x2 hole of skin inside it.
    """
    image = np.full((400, 400, 3), SKIN, np.uint8)
    lesion = np.zeros((400, 400), np.uint8)
    cv2.circle(lesion, (200, 200), 70, 1, -1)
    lesion = lesion.astype(bool)
    image[lesion] = LESION
    dots = np.zeros((400, 400), bool)
    for row, column in ((170, 170), (230, 230), (170, 230), (230, 170)):
        dots[row - 2:row + 3, column - 2:column + 3] = True
    image[dots] = (60, 35, 25)
    line = np.zeros((400, 400), bool)
    line[199:202, 20:380] = True
    image[line] = HAIR
    speck, spot, band, hole = (np.zeros((400, 400), bool) for _ in range(4))
    speck[50:53, 50:53] = True
    spot[50:55, 100:105] = True
    band[330:335, 40:140] = True
    hole[332:334, 80:82] = True
    image[speck | spot | (band & ~hole)] = HAIR
    parts = {"dots": dots, "line": line, "speck": speck, "spot": spot, "band": band, "hole": hole}
    return image, lesion, parts


def test_hand_made_scene():
    """Dark thin structure on the skin is found and takes the closing's value; the lesion is left as it is."""
    image, lesion, parts = hand_made_scene()
    result = purify_paper(image, lesion, PaperSettings())
    # found: the line outside the lesion, the spot, and the band with its enclosed hole; not the 9-px speck
    # (under min_area), nothing of the lesion (laid back over)
    expected = (parts["line"] & ~lesion) | parts["spot"] | parts["band"]
    np.testing.assert_array_equal(result.occlusion, expected)
    assert result.occlusion[parts["hole"]].all() and not result.occlusion[parts["speck"]].any()
    # replaced by the per-channel closing with the radius-3 disc; every other pixel as it was
    closing = cv2.morphologyEx(image, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    np.testing.assert_array_equal(result.image[expected], closing[expected])
    np.testing.assert_array_equal(result.image[~expected], image[~expected])
    # on flat skin the closing is the skin itself
    near_lesion = cv2.dilate(lesion.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    far_from_lesion = expected & ~near_lesion
    assert (result.image[far_from_lesion] == SKIN).all()
    assert (result.image[lesion] == image[lesion]).all()
    # control: without the lesion laid back over, its dark dots and the line across it would go too
    unprotected = purify_paper(image, None, PaperSettings())
    assert unprotected.occlusion[parts["dots"]].all()
    assert unprotected.occlusion[parts["line"]].all()


@pytest.mark.parametrize(("depth", "found"), [(0.08, False), (0.12, True)])
def test_threshold_is_the_black_hat_depth_on_luminance(depth, found):
    """A grey line on grey skin is found exactly when its darkening on L in [0, 1] exceeds 0.1."""
    skin = 170
    levels = luminance(np.arange(256, dtype=np.uint8).repeat(3).reshape(1, 256, 3))[0].astype(int)
    grey = int(np.argmin(np.abs(levels[skin] - levels - round(depth * 255))))  # darkening closest to depth
    image = np.full((400, 400, 3), skin, np.uint8)
    image[199:202, 20:380] = grey
    occlusion = purify_paper(image, None, PaperSettings()).occlusion
    assert occlusion[199:202, 20:380].all() == found
    assert occlusion.any() == found
