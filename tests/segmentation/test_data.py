"""The 7-channel input encoding and joint image/mask augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from melanoflow.segmentation.data import LesionDataset, network_input


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
    augment = {"flip": True, "rotation_degrees": 90, "scale": [0.5, 1.0]}
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
