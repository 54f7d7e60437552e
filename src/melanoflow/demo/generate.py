"""Synthetic dermoscopy archives in the exact official ISIC 2017 three-file layout.

The demo must exercise every stage on 2 CPU cores without real data, so the images carry the properties
the paper's pipeline is about: lesions whose shape, border, colours and texture differ by class, the
ISIC 2017 class imbalance, skin tones and vignetting, and the artefacts purification removes (hairs,
rulers, coloured adhesive patches). The true occlusion masks are written beside the archive so that
purification can be scored. A switch plants a shortcut: rulers and patches that go with one class in the
training and validation splits but not in the test split.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from melanoflow.fileio import atomic_path, write_image, write_text

log = logging.getLogger(__name__)

# ISIC 2017 archive split names and the pipeline split each becomes.
ARCHIVE_SPLITS = {"train": "Training", "val": "Validation", "test": "Test_v2"}
PREFIX = "ISIC-2017"
OCCLUSION_KINDS = ("hair", "ruler", "patch")
# Id ranges per split so that ids never collide across splits.
ID_BASE = {"train": 1_000_000, "val": 2_000_000, "test": 3_000_000}
# Probability of a ruler/patch on images not of the shortcut class, in the shortcut's splits.
SHORTCUT_BACKGROUND_RATE = 0.03


@dataclass(frozen=True)
class ClassLook:
    """How a class is drawn: border irregularity, size, colours and texture."""

    harmonics: int  # number of Fourier terms of the border
    irregularity: float  # amplitude of the border terms, relative to the radius
    radius: tuple[float, float]  # lesion radius range, as a fraction of the short image side
    colours: tuple[tuple[int, int, int], ...]  # RGB palette the lesion's colour blobs are drawn from
    blobs: int  # number of colour regions
    texture: float  # amplitude of high-frequency texture
    dots: int  # bright milia-like cysts (seborrheic keratosis)


LOOKS = {
    "nevus": ClassLook(3, 0.06, (0.18, 0.28), ((120, 75, 45), (105, 65, 40)), 1, 6.0, 0),
    "melanoma": ClassLook(
        9, 0.2, (0.22, 0.34), ((60, 35, 25), (25, 20, 20), (95, 105, 135), (150, 70, 60), (110, 60, 35)), 4, 14.0, 0
    ),
    "seborrheic_keratosis": ClassLook(6, 0.12, (0.2, 0.3), ((170, 130, 90), (150, 110, 75)), 2, 22.0, 14),
}


def archive_file_names(demo: dict) -> list[str]:
    """The official ISIC 2017 file names written for each split."""
    names = []
    for split in ARCHIVE_SPLITS.values():
        names += [
            f"{PREFIX}_{split}_Data.zip",
            f"{PREFIX}_{split}_Part1_GroundTruth.zip",
            f"{PREFIX}_{split}_Part3_GroundTruth.csv",
        ]
    return names


def class_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` with largest remainders, so counts add up exactly."""
    names = list(shares)
    weights = np.array([shares[name] for name in names], dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts))[: total - counts.sum()]:
        counts[index] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std noise smoothed over ``scale`` pixels."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), scale)
    return noise / (noise.std() + 1e-6)


def draw_skin(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Skin of a random tone with mottling and either corner or circular (dermatoscope) vignetting."""
    tone = np.array([rng.uniform(185, 235), rng.uniform(140, 185), rng.uniform(120, 165)], dtype=np.float32)
    tone *= rng.uniform(0.75, 1.0)
    skin = np.broadcast_to(tone, (height, width, 3)).copy()
    skin += 6.0 * smooth_noise(rng, (height, width), 12)[..., None]
    skin += 2.0 * rng.standard_normal((height, width, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((xx - width / 2) / (width / 2), (yy - height / 2) / (height / 2))
    if rng.random() < 0.3:  # dark circular field of view, as in PH2
        fall = np.clip((radius - rng.uniform(0.95, 1.1)) * 8, 0, 1)
        skin *= (1 - 0.9 * fall)[..., None]
    else:
        skin *= (1 - rng.uniform(0.1, 0.35) * np.clip(radius - 0.6, 0, None) ** 1.5)[..., None]
    return skin


def lesion_mask(rng: np.random.Generator, look: ClassLook, width: int, height: int) -> np.ndarray:
    """Binary lesion of the class's border irregularity: a star-shaped region with a Fourier border."""
    base = rng.uniform(*look.radius) * min(width, height)
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.12, 0.12, 2) * np.array([width, height])
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    radius = np.ones_like(angles)
    for k in range(2, look.harmonics + 2):
        radius += look.irregularity / np.sqrt(k - 1) * rng.uniform(0.3, 1) * np.cos(k * angles + rng.uniform(0, 6.3))
    radius *= base
    stretch = rng.uniform(0.75, 1.0)
    points = np.stack([centre[0] + radius * np.cos(angles), centre[1] + stretch * radius * np.sin(angles)], axis=1)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def paint_lesion(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, look: ClassLook) -> None:
    """Colour the lesion in place: palette blobs, texture, soft border, and cysts for keratoses."""
    height, width = mask.shape
    colour = np.zeros((height, width, 3), np.float32)
    weight_sum = np.zeros((height, width, 1), np.float32)
    ys, xs = np.nonzero(mask)
    for _ in range(look.blobs):
        pick = rng.integers(len(xs))
        centre_x, centre_y = xs[pick], ys[pick]
        spread = rng.uniform(0.15, 0.4) * max(np.ptp(xs), np.ptp(ys), 1)
        weight = np.exp(-(((np.arange(width) - centre_x) ** 2)[None, :] + ((np.arange(height) - centre_y) ** 2)[:, None])
                        / (2 * spread**2)).astype(np.float32)[..., None] + 1e-3
        palette = np.array(look.colours[rng.integers(len(look.colours))], np.float32)
        colour += weight * (palette + rng.normal(0, 8, 3).astype(np.float32))
        weight_sum += weight
    colour /= weight_sum
    colour += look.texture * smooth_noise(rng, (height, width), 1.2)[..., None]
    colour += 0.6 * look.texture * smooth_noise(rng, (height, width), 4)[..., None]
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)[..., None]
    image[:] = image * (1 - alpha) + colour * alpha
    for _ in range(look.dots):
        pick = rng.integers(len(xs))
        cv2.circle(image, (int(xs[pick]), int(ys[pick])), int(rng.integers(1, 3)), (235.0, 225.0, 200.0), -1)


def bezier(rng: np.random.Generator, width: int, height: int, points: int = 40) -> np.ndarray:
    """A random quadratic Bezier curve crossing the image (a hair's path)."""
    start, control, end = (rng.uniform([-0.1, -0.1], [1.1, 1.1], (3, 2)) * [width, height])
    t = np.linspace(0, 1, points)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
    return np.round(curve).astype(np.int32)


# A pixel belongs to a hair's true mask when drawing the hair changed it by more than this (0-255 scale):
# anti-aliased fringes and hair over the dark vignette change nothing visible and are not counted.
HAIR_VISIBLE_CHANGE = 10.0


def visibly_changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels where ``after`` differs from ``before`` by more than HAIR_VISIBLE_CHANGE in some channel."""
    return np.abs(after.astype(np.float32) - before).max(axis=2) > HAIR_VISIBLE_CHANGE


def draw_hairs(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Thin dark curved hairs; returns the mask of the pixels they visibly changed."""
    height, width = image.shape[:2]
    before = image.copy()
    for _ in range(int(rng.integers(3, 12))):
        shade = float(rng.uniform(15, 70))
        thickness = int(rng.integers(1, 3))
        path = bezier(rng, width, height)
        cv2.polylines(image, [path], False, (shade, shade * 0.8, shade * 0.7), thickness, cv2.LINE_AA)
    return visibly_changed(before, image).astype(np.uint8) * 255


def draw_ruler(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A tick-marked ruler bar along one image edge; returns its mask."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    bar = max(6, height // 14)
    top = int(rng.choice([rng.integers(2, height // 8), rng.integers(height - height // 8 - bar, height - bar - 2)]))
    shade = float(rng.uniform(20, 60))
    cv2.rectangle(mask, (0, top), (width - 1, top + 1), 255, -1)
    step = max(4, width // 40)
    for index, x in enumerate(range(int(rng.integers(0, step)), width, step)):
        length = bar if index % 5 == 0 else bar // 2
        cv2.line(mask, (x, top), (x, top + length), 255, 1)
    image[mask > 0] = (shade, shade, shade)
    return mask


def draw_patch(rng: np.random.Generator, image: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """A brightly coloured round adhesive patch away from the lesion; returns its mask."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    radius = int(min(width, height) * rng.uniform(0.06, 0.1))
    for _ in range(20):  # try a few places that avoid the lesion
        centre = (int(rng.integers(radius, width - radius)), int(rng.integers(radius, height - radius)))
        candidate = np.zeros_like(mask)
        cv2.circle(candidate, centre, radius, 255, -1)
        if not (lesion & (candidate > 0)).any():
            mask = candidate
            break
    palette = ((40, 160, 220), (230, 200, 40), (60, 190, 90), (220, 80, 160))
    image[mask > 0] = palette[rng.integers(len(palette))]
    return mask


def draw_ink(rng: np.random.Generator, image: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """A purple or blue skin-marker mark (a stroke, a dot or a circle) away from the lesion; returns its mask."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    size = int(min(width, height) * rng.uniform(0.04, 0.1))
    thickness = max(2, size // 6)
    shape = rng.choice(["stroke", "dot", "circle"])
    for _ in range(20):  # try a few places that avoid the lesion
        centre = np.array([rng.integers(size, width - size), rng.integers(size, height - size)])
        candidate = np.zeros_like(mask)
        if shape == "stroke":
            end = centre + (rng.uniform(-1, 1, 2) * size).astype(int)
            cv2.line(candidate, tuple(int(v) for v in centre), tuple(int(v) for v in end), 255, thickness)
        else:
            cv2.circle(candidate, tuple(int(v) for v in centre), size // 3 if shape == "dot" else size, 255,
                       -1 if shape == "dot" else thickness)
        if not (lesion & (candidate > 0)).any():
            mask = candidate
            break
    palette = ((110, 50, 160), (70, 60, 170), (40, 70, 150), (130, 70, 180))
    image[mask > 0] = palette[rng.integers(len(palette))]
    return mask


def occlusion_plan(rng: np.random.Generator, split: str, label: str, demo: dict) -> dict[str, bool]:
    """Which occlusions an image gets; with the shortcut, rulers/patches follow the class outside the test split."""
    rates = demo["occlusions"]
    plan = {"hair": rng.random() < rates["hair"]}
    shortcut = demo["shortcut"]
    if shortcut["enabled"] and split != "test":
        planted = rng.random() < (shortcut["strength"] if label == shortcut["class"] else SHORTCUT_BACKGROUND_RATE)
        use_ruler = rng.random() < rates["ruler"] / max(rates["ruler"] + rates["patch"], 1e-9)
        plan["ruler"], plan["patch"] = planted and use_ruler, planted and not use_ruler
    else:
        plan["ruler"] = rng.random() < rates["ruler"]
        plan["patch"] = rng.random() < rates["patch"]
    return plan


def render_case(rng: np.random.Generator, label: str, plan: dict[str, bool], size: tuple[int, int]):
    """One image: returns (RGB uint8 image, lesion mask bool, {occlusion kind: uint8 mask})."""
    width, height = size
    image = draw_skin(rng, width, height)
    lesion = lesion_mask(rng, LOOKS[label], width, height)
    paint_lesion(rng, image, lesion, LOOKS[label])
    occlusions = {kind: np.zeros((height, width), np.uint8) for kind in OCCLUSION_KINDS}
    if plan["patch"]:
        occlusions["patch"] = draw_patch(rng, image, lesion)
    if plan["ruler"]:
        occlusions["ruler"] = draw_ruler(rng, image)
    if plan["hair"]:
        occlusions["hair"] = draw_hairs(rng, image)
    return np.clip(image, 0, 255).astype(np.uint8), lesion, occlusions


def encode(image: np.ndarray, extension: str) -> bytes:
    ok, data = cv2.imencode(extension, image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 92] if extension == ".jpg" else [])
    if not ok:
        raise OSError(f"OpenCV could not encode a {extension} image")
    return data.tobytes()


def generate_demo(demo: dict, classes: list[str], seed: int, out_dir: str | Path, occlusion_dir: str | Path) -> None:
    """Write the demo archives to ``out_dir`` and the true occlusion masks to ``occlusion_dir``."""
    out_dir, occlusion_dir = Path(out_dir), Path(occlusion_dir)
    unknown = set(demo["class_shares"]) - set(LOOKS)
    if unknown:
        raise ValueError(f"demo.class_shares: no demo look for classes {sorted(unknown)}; known: {sorted(LOOKS)}")
    missing = set(demo["class_shares"]) - set(classes)
    if missing:
        raise ValueError(f"demo.class_shares names {sorted(missing)}, which are not in `classes`")
    rng = np.random.default_rng(seed)
    occlusion_rows = []
    for split, archive_split in ARCHIVE_SPLITS.items():
        counts = class_counts(demo["counts"][split], demo["class_shares"])
        labels = [label for label, count in counts.items() for _ in range(count)]
        rng.shuffle(labels)
        stem = f"{PREFIX}_{archive_split}"
        with (
            atomic_path(out_dir / f"{stem}_Data.zip") as images_zip_path,
            atomic_path(out_dir / f"{stem}_Part1_GroundTruth.zip") as masks_zip_path,
            zipfile.ZipFile(images_zip_path, "w") as images_zip,
            zipfile.ZipFile(masks_zip_path, "w") as masks_zip,
        ):
            ground_truth = io.StringIO()
            writer = csv.writer(ground_truth, lineterminator="\n")
            writer.writerow(["image_id", "melanoma", "seborrheic_keratosis"])
            for index, label in enumerate(tqdm(labels, desc=f"demo {split}", mininterval=2)):
                image_id = f"ISIC_{ID_BASE[split] + index:07d}"
                plan = occlusion_plan(rng, split, label, demo)
                image, lesion, occlusions = render_case(rng, label, plan, tuple(demo["image_size"]))
                images_zip.writestr(f"{stem}_Data/{image_id}.jpg", encode(image, ".jpg"))
                masks_zip.writestr(f"{stem}_Part1_GroundTruth/{image_id}_segmentation.png",
                                   encode(lesion.astype(np.uint8) * 255, ".png"))
                writer.writerow([image_id, float(label == "melanoma"), float(label == "seborrheic_keratosis")])
                for kind, mask in occlusions.items():
                    write_image(occlusion_dir / f"{image_id}_{kind}.png", mask)
                occlusion_rows.append([image_id, split, label] + [int(plan[kind]) for kind in OCCLUSION_KINDS])
        write_text(out_dir / f"{stem}_Part3_GroundTruth.csv", ground_truth.getvalue())
        log.info("demo %s: %s", split, counts)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["image_id", "split", "label", *OCCLUSION_KINDS])
    writer.writerows(occlusion_rows)
    write_text(occlusion_dir / "occlusions.csv", table.getvalue())
