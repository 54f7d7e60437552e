"""Hairs and ruler marks of known mask drawn over clean images, to measure purification (bench_purification).

Each occlusion is drawn as an anti-aliased coverage layer (0..1) and blended over the image, so the
truth is exact: ``touched`` marks every pixel the drawing changed (PSNR over hair pixels is measured
there, every other pixel must come back unchanged), ``core`` the pixels at least half covered (what a
detector must find: the recall target).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# RGB colours of hairs: black, dark brown, brown, grey, auburn, light brown.
HAIR_COLOURS = ((20, 18, 16), (55, 38, 28), (90, 62, 40), (110, 105, 100), (120, 60, 35), (140, 110, 80))
# Anti-aliased drawing at this sub-pixel precision (cv2 shift bits).
SUBPIXEL_BITS = 4


@dataclass(frozen=True)
class Occluded:
    image: np.ndarray  # RGB uint8 with the occlusions drawn
    touched: np.ndarray  # bool: pixels whose value the drawing changed at all
    core: np.ndarray  # bool: pixels at least half covered


def curve(rng: np.random.Generator, width: int, height: int, bend: float, points: int = 64) -> np.ndarray:
    """A quadratic Bezier crossing the image; ``bend`` is the control point's offset relative to the length."""
    start = rng.uniform([-0.1, -0.1], [1.1, 1.1]) * [width, height]
    end = rng.uniform([-0.1, -0.1], [1.1, 1.1]) * [width, height]
    chord = end - start
    normal = np.array([-chord[1], chord[0]])
    control = (start + end) / 2 + bend * rng.uniform(-1, 1) * normal
    t = np.linspace(0, 1, points)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def draw_polyline(coverage: np.ndarray, points: np.ndarray, thickness: int) -> None:
    fixed = np.round(points * (1 << SUBPIXEL_BITS)).astype(np.int32)
    cv2.polylines(coverage, [fixed], False, 255, thickness, cv2.LINE_AA, shift=SUBPIXEL_BITS)


def hair_layer(rng: np.random.Generator, shape: tuple[int, int], count: int, scale: float):
    """Coverage (float 0..1) and per-pixel colour of ``count`` hairs of varied width, colour and bend."""
    height, width = shape
    coverage = np.zeros(shape, np.float32)
    colour = np.zeros((*shape, 3), np.float32)
    for _ in range(count):
        layer = np.zeros(shape, np.uint8)
        thickness = max(1, round(rng.uniform(1.0, 4.0) * scale))
        draw_polyline(layer, curve(rng, width, height, bend=rng.uniform(0.0, 0.5)), thickness)
        alpha = layer.astype(np.float32) / 255
        hue = np.array(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], np.float32)
        colour = colour * (1 - alpha[..., None]) + hue * alpha[..., None]
        coverage = np.maximum(coverage, alpha)
    return coverage, colour


def ruler_layer(rng: np.random.Generator, shape: tuple[int, int], scale: float):
    """Coverage of a ruler's tick marks: a line along one side with a tick every few pixels."""
    height, width = shape
    layer = np.zeros(shape, np.uint8)
    step = rng.uniform(10, 16) * scale
    long_tick, short_tick = 24 * scale, 12 * scale
    thickness = max(1, round(2 * scale))
    base = rng.uniform(0.05, 0.15) * height
    if rng.random() < 0.5:
        base = height - base
    direction = 1 if base < height / 2 else -1
    draw_polyline(layer, np.array([[0.0, base], [width - 1.0, base]]), thickness)
    for index, x in enumerate(np.arange(rng.uniform(0, step), width, step)):
        length = long_tick if index % 5 == 0 else short_tick
        draw_polyline(layer, np.array([[x, base], [x, base + direction * length]]), thickness)
    coverage = layer.astype(np.float32) / 255
    colour = np.broadcast_to(np.float32(rng.uniform(10, 50)), (*shape, 3))
    return coverage, colour


def draw_occlusions(rng: np.random.Generator, clean: np.ndarray, hairs: int, ruler: bool,
                    reference_size: float = 836.0) -> Occluded:
    """Blend ``hairs`` random hairs (and a ruler when asked) over the clean RGB image."""
    shape = clean.shape[:2]
    scale = np.sqrt(shape[0] * shape[1]) / reference_size
    coverage, colour = hair_layer(rng, shape, hairs, scale)
    if ruler:
        ruler_coverage, ruler_colour = ruler_layer(rng, shape, scale)
        colour = np.where((ruler_coverage > coverage)[..., None], ruler_colour, colour)
        coverage = np.maximum(coverage, ruler_coverage)
    blended = clean.astype(np.float32) * (1 - coverage[..., None]) + colour * coverage[..., None]
    image = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return Occluded(image=image, touched=(image != clean).any(axis=2), core=coverage >= 0.5)
