"""Shades of Gray colour constancy against hand computation, and the setting's checks and default."""

import warnings

import numpy as np
import pytest

from melanoflow.classification.colour import (
    check_color_constancy,
    classifier_color_constancy,
    correct_colours,
    shades_of_gray,
)


def by_hand(pixels: list[tuple[int, int, int]], power: int = 6) -> list[list[int]]:
    """Shades of Gray in plain Python: e_c = mean(I_c ** p) ** (1 / p), each channel times mean(e) / e_c."""
    illuminant = [(sum(pixel[c] ** power for pixel in pixels) / len(pixels)) ** (1 / power) for c in range(3)]
    grey = sum(illuminant) / 3
    return [[min(255, round(pixel[c] * grey / illuminant[c])) for c in range(3)] for pixel in pixels]


def test_a_two_pixel_image_against_hand_computation():
    pixels = [(10, 20, 30), (200, 100, 50)]
    # e = (178.18, 89.09, 44.88), mean 104.05: gains 0.584, 1.168, 2.318
    assert by_hand(pixels) == [[6, 23, 70], [117, 117, 116]]
    corrected = shades_of_gray(np.array([pixels], np.uint8))
    assert corrected.tolist() == [by_hand(pixels)]


def test_values_over_255_are_clipped():
    # green's one bright pixel among four: e_G = 200 / 4 ** (1/6) = 158.7, gain 1.38, so 200 -> 277 -> 255
    pixels = [(250, 200, 250), (250, 0, 250), (250, 0, 250), (250, 0, 250)]
    assert by_hand(pixels)[0][1] == 255
    assert shades_of_gray(np.array([pixels], np.uint8)).tolist() == [by_hand(pixels)]


def test_a_colour_cast_grey_world_scene_gets_its_channels_evened():
    scene = np.random.default_rng(0).integers(20, 236, (40, 60), dtype=np.uint8)  # grey reflectances
    cast = np.clip(scene[..., None] * np.array([1.0, 0.8, 0.55]), 0, 255).astype(np.uint8)  # warm lamp
    means = cast.reshape(-1, 3).mean(axis=0)
    assert means.min() / means.max() < 0.6
    corrected = shades_of_gray(cast)
    assert corrected.dtype == np.uint8 and corrected.shape == cast.shape
    means = corrected.reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 0.01 * means.mean()
    # the brightness is kept: the gains average about one
    assert corrected.mean() == pytest.approx(cast.mean(), rel=0.1)


def test_a_black_image_is_returned_unchanged_and_none_changes_nothing():
    black = np.zeros((5, 7, 3), np.uint8)
    assert np.array_equal(shades_of_gray(black), black)
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 90  # black green and blue channels: no division by zero, they stay black
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corrected = shades_of_gray(red)
    assert np.array_equal(corrected[..., 1:], red[..., 1:])
    assert (corrected[..., 0] == 30).all()  # e = (90, 0, 0): red times 30 / 90
    image = np.random.default_rng(1).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    assert correct_colours(image, "none") is image
    assert np.array_equal(correct_colours(image, "shades_of_gray"), shades_of_gray(image))


def test_an_unknown_method_is_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"^classification\.color_constancy: 'grey_world' is not one of"):
        check_color_constancy("grey_world")
    with pytest.raises(ValueError, match=r"classification\.color_constancy: 'grey_world'"):
        correct_colours(np.zeros((2, 2, 3), np.uint8), "grey_world")


def test_a_classifier_without_the_setting_was_trained_without_colour_constancy():
    assert classifier_color_constancy({"arch": "resnet18", "lesion_crop": None}) == "none"
    assert classifier_color_constancy({"color_constancy": "shades_of_gray"}) == "shades_of_gray"
    with pytest.raises(ValueError, match=r"classification\.color_constancy"):
        classifier_color_constancy({"color_constancy": "retinex"})
