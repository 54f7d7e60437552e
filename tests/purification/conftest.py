"""Small skin-like scenes drawn in continuous coordinates, so the same scene can be rendered at any size, and
the configured purification settings."""

import cv2
import numpy as np
import pytest

from tests.conftest import default_config

SKIN = (205, 150, 128)
LESION = (110, 70, 45)
HAIR = (30, 22, 18)


def skin(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Skin colour with smooth low-amplitude mottling (no thin dark structure of its own)."""
    noise = cv2.GaussianBlur(rng.normal(0, 6, (height, width)).astype(np.float32), (0, 0), max(1.0, width / 80))
    image = np.array(SKIN, np.float32) + noise[..., None] * 3
    return np.clip(image, 0, 255).astype(np.uint8)


def scene(height: int, width: int, with_lesion: bool, hair: bool, seed: int = 0, hair_width: float = 0.005):
    """(image, clean image, lesion mask, hair mask): an optional textured lesion and one dark hair.

    Lengths are fractions of the width, so two sizes give the same scene.
    """
    rng = np.random.default_rng(seed)
    clean = skin(rng, height, width)
    lesion = np.zeros((height, width), np.uint8)
    if with_lesion:
        centre = (round(0.5 * width), round(0.5 * height))
        axes = (round(0.22 * width), round(0.25 * height))
        cv2.ellipse(lesion, centre, axes, 0, 0, 360, 1, -1)
        clean[lesion > 0] = LESION
        # lesion texture: dark globules, well apart, that the lesion overlay must keep
        for angle in np.linspace(0, 2 * np.pi, 10, endpoint=False):
            dot = (round(centre[0] + 0.6 * axes[0] * np.cos(angle)), round(centre[1] + 0.6 * axes[1] * np.sin(angle)))
            cv2.circle(clean, dot, max(1, round(width / 150)), (60, 35, 25), -1)
    image = clean.copy()
    hair_mask = np.zeros((height, width), np.uint8)
    if hair:
        start, end = (round(0.05 * width), round(0.2 * height)), (round(0.95 * width), round(0.8 * height))
        thickness = max(1, round(width * hair_width))
        cv2.line(image, start, end, HAIR, thickness, cv2.LINE_AA)
        cv2.line(hair_mask, start, end, 1, thickness, cv2.LINE_8)
    return image, clean, lesion.astype(bool), hair_mask.astype(bool)


@pytest.fixture
def make_scene():
    return scene


def configured_purification() -> dict:
    """config/config.yaml's purification section: whole method sections for tests not about their values."""
    return default_config()["purification"]
