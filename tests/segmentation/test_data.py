"""The 7-channel input encoding and joint image/mask augmentation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from melanoflow.segmentation.data import (
    CLOTH_AREA,
    CLOTH_WEAVE,
    INK_RING_COLOUR,
    STICKER_COLOURS,
    STICKER_RADIUS,
    LesionDataset,
    network_input,
    paste_distractors,
)

SKIN = (200, 150, 130)


def test_seven_channels_are_rgb_hsv_and_luminance_normalised_to_mean_half_std_half():
    pixels = np.array([[[255, 0, 0], [255, 255, 255], [0, 0, 0]]], np.uint8)  # red, white, black
    channels = network_input(pixels)
    assert channels.shape == (7, 1, 3)
    # (value in [0, 1] - 0.5) / 0.5; red: H = 0, S = 1, V = 1, CIE L* = 53.24
    red = [1, -1, -1, -1, 1, 1, 0.5324 * 2 - 1]
    white = [1, 1, 1, -1, -1, 1, 1]
    black = [-1, -1, -1, -1, -1, -1, -1]
    expected = torch.tensor([red, white, black]).T[:, None, :]
    assert torch.allclose(channels, expected, atol=2e-3)


def test_hue_covers_its_range():
    green, blue = network_input(np.array([[[0, 255, 0], [0, 0, 255]]], np.uint8))[3, 0]
    assert green == pytest.approx(120 / 360 * 2 - 1, abs=1e-3)
    assert blue == pytest.approx(240 / 360 * 2 - 1, abs=1e-3)


def test_augmentation_moves_image_and_mask_together(lesion_manifest, tiny_params):
    rows = lesion_manifest.loc[lesion_manifest["mask_path"].notna()].head(4)
    augment = {"flip": True, "rotation_degrees": 90, "scale": [0.5, 1.0], "cloth": 0.0, "stickers": 0.0, "ink_rings": 0.0}
    dataset = LesionDataset(rows, 228, augment)
    torch.manual_seed(3)
    for index in range(len(dataset)):
        inputs, target = dataset[index]
        assert inputs.shape == (7, 228, 228) and target.shape == (1, 228, 228)
        # lesion pixels have V ~ 0.35 (-0.3 normalised); skin ~ 0.8, rotation fill 0
        dark = (inputs[5] > -0.6) & (inputs[5] < 0.1)
        lesion = target[0] > 0.5
        assert lesion.any()
        assert (dark == lesion).float().mean() > 0.97


def test_rows_without_ground_truth_are_refused(lesion_manifest):
    with pytest.raises(ValueError, match="no ground-truth mask"):
        LesionDataset(lesion_manifest.head(2), 228)


def skin_with_lesion(side: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.full((side, side, 3), SKIN, np.uint8)
    mask = np.zeros((side, side), np.uint8)
    mask[16:48, 16:48] = 1
    return rgb, mask


def distracted(seed: int, **probabilities: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """skin_with_lesion's image and mask after paste_distractors under ``seed`` with the given occluder
    probabilities (the others 0), and the pixels it changed; the arrays passed in are checked to be left as they
    were."""
    rgb, mask = skin_with_lesion()
    torch.manual_seed(seed)
    drawn, target = paste_distractors(rgb, mask, **({"cloth": 0.0, "stickers": 0.0, "ink_rings": 0.0} | probabilities))
    assert np.array_equal(rgb, skin_with_lesion()[0]) and np.array_equal(mask, skin_with_lesion()[1])
    return drawn, target, (drawn != rgb).any(axis=2)


@pytest.mark.parametrize("seed", range(8))
def test_a_pasted_sticker_is_one_colour_and_never_lesion(seed):
    pasted, target, changed = distracted(seed, stickers=1.0)
    rgb, mask = skin_with_lesion()
    colours = {tuple(pixel) for pixel in pasted[changed]}
    assert len(colours) == 1 and colours <= set(STICKER_COLOURS)
    # the centre lies in the image, so at least a quarter of the smallest disc shows; at most the largest disc
    side = rgb.shape[0]
    assert np.pi * (STICKER_RADIUS[0] * side - 1) ** 2 / 4 <= changed.sum() <= np.pi * (STICKER_RADIUS[1] * side + 1) ** 2
    assert not target[changed].any()  # never lesion under the sticker
    assert np.array_equal(target[~changed], mask[~changed])  # the rest of the mask is kept


@pytest.mark.parametrize("seed", range(8))
def test_cloth_covers_a_share_of_the_image_beyond_a_straight_edge_and_is_never_lesion(seed):
    covered, target, changed = distracted(seed, cloth=1.0)
    rgb, mask = skin_with_lesion()
    side = rgb.shape[0]
    # its share of the image, give or take the pixels on the edge
    assert CLOTH_AREA[0] * side**2 - side <= changed.sum() <= CLOTH_AREA[1] * side**2
    # one sticker colour with a weave: the mean within a few levels of it, the spread about CLOTH_WEAVE
    pixels = covered[changed].astype(float)
    assert min(np.abs(pixels.mean(axis=0) - colour).max() for colour in STICKER_COLOURS) < 4
    assert CLOTH_WEAVE / 2 < pixels.std(axis=0).max() < CLOTH_WEAVE * 1.5
    # a straight edge: the cloth's pixels that touch bare skin lie on one line
    bare_neighbour = cv2.dilate((~changed).astype(np.uint8), np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8))
    edge = np.argwhere(changed & (bare_neighbour > 0))[:, ::-1].astype(np.float32)
    vx, vy, x0, y0 = cv2.fitLine(edge, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    assert np.abs((edge[:, 0] - x0) * vy - (edge[:, 1] - y0) * vx).max() < 1.5
    assert not target[changed].any()  # never lesion under the cloth
    assert np.array_equal(target[~changed], mask[~changed])


@pytest.mark.parametrize("seed", range(8))
def test_an_ink_ring_is_a_thin_violet_outline_round_the_lesion_that_leaves_the_mask(seed):
    drawn, target, changed = distracted(seed, ink_rings=1.0)
    mask = skin_with_lesion()[1]
    assert {tuple(pixel) for pixel in drawn[changed]} == {INK_RING_COLOUR}
    assert np.array_equal(target, mask)
    # an outline a few pixels wide: nothing of it survives erosion by an 11 x 11 square (a filled disc would)
    assert not cv2.erode(changed.astype(np.uint8), np.ones((11, 11), np.uint8), borderType=cv2.BORDER_CONSTANT,
                         borderValue=0).any()
    # round the lesion (rows and columns 16-47): clear of the lesion's middle, and beyond it on every side
    assert not changed[20:44, 20:44].any()
    rows, columns = np.nonzero(changed)
    assert rows.min() < 16 and rows.max() > 47 and columns.min() < 16 and columns.max() > 47


def test_with_no_lesion_in_view_the_ink_ring_circles_the_centre():
    rgb, mask = skin_with_lesion()
    torch.manual_seed(0)
    drawn, _ = paste_distractors(rgb, np.zeros_like(mask), cloth=0.0, stickers=0.0, ink_rings=1.0)
    rows, columns = np.nonzero((drawn != rgb).any(axis=2))
    assert rows.min() < 32 < rows.max() and columns.min() < 32 < columns.max()
    assert not (drawn[28:36, 28:36] != rgb[28:36, 28:36]).any()


def test_zero_probabilities_change_nothing_and_draw_nothing():
    rgb, mask = skin_with_lesion()
    torch.manual_seed(0)
    state = torch.get_rng_state()
    kept = paste_distractors(rgb, mask, cloth=0.0, stickers=0.0, ink_rings=0.0)
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(kept[0], rgb) and np.array_equal(kept[1], mask)


def test_distractors_follow_the_seed():
    rgb, mask = skin_with_lesion()
    draws = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        draws.append(paste_distractors(rgb, mask, cloth=0.5, stickers=0.5, ink_rings=0.5)[0])
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])


def test_training_pairs_carry_the_stickers_as_background(lesion_manifest):
    rows = lesion_manifest.loc[lesion_manifest["mask_path"].notna()].head(4)
    augment = {"flip": True, "rotation_degrees": 0, "scale": [1.0, 1.0], "cloth": 0.0, "stickers": 1.0, "ink_rings": 0.0}
    dataset = LesionDataset(rows, 228, augment)
    torch.manual_seed(1)
    for index in range(len(dataset)):
        inputs, target = dataset[index]
        rgb = torch.round((inputs[:3] * 0.5 + 0.5) * 255).to(torch.uint8).permute(1, 2, 0).numpy()
        sticker = np.isin(rgb.view([("", np.uint8)] * 3)[..., 0], np.array(STICKER_COLOURS, np.uint8).view([("", np.uint8)] * 3)[:, 0])
        assert sticker.sum() > 100
        assert not target[0][torch.from_numpy(sticker)].any()
