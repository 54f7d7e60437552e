"""Atomic file output and checked image input shared by every stage.

Every output goes through :func:`atomic_path`: the writer fills a temporary file in the destination
folder and it is renamed into place only when writing succeeded, so an interrupted job never leaves a
half-written file that a later run could mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

# Write failures that mean "no room": a full disk, a quota, a file-size limit (also as libraries word them).
OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
OUT_OF_SPACE_TEXT = ("No space left", "Disk quota exceeded", "File too large")
# Decompression-bomb guard: images with more pixels than this are refused (ISIC originals reach ~30 MP).
DEFAULT_MAX_PIXELS = 100_000_000


class BadInputError(ValueError):
    """An input file is unusable; the message names the file and the problem."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    ``suffix`` defaults to the destination's own suffix so that writers that infer the format from the
    file name (OpenCV, matplotlib, pyarrow) keep working.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix
        )
    except OSError as error:
        raise OSError(error.errno, f"{path}: cannot be written ({error.strerror or error})") from error
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as error:
            if error.errno not in OUT_OF_SPACE and not any(code in str(error) for code in OUT_OF_SPACE_TEXT):
                raise
            raise OSError(error.errno, f"{path}: cannot be written, the disk or quota is full ({error}); "
                                       "the file there before, if any, is unchanged") from error
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def write_image(path: str | os.PathLike, image: np.ndarray, rgb: bool = True) -> None:
    """Write an RGB (H, W, 3) or single-channel uint8 image; the format follows the file suffix."""
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 pixels, got {image.dtype}")
    if rgb and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"{path}: OpenCV could not encode the image")


def write_figure(path: str | os.PathLike, figure) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(figure)


def decode_image(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS, grayscale: bool = False,
                 exif_orientation: bool = False) -> np.ndarray:
    """Decode encoded image bytes into RGB uint8 (or a single channel), with size and integrity checks.

    ``name`` is used in error messages only. The header is inspected before the pixels are decoded so
    that a decompression bomb is refused without allocating it. 16-bit images are scaled to 8 bits and
    transparent ones laid over black (the dermoscope's dark surround). With ``exif_orientation`` the
    image is turned upright as its EXIF tag says (a phone or camera photo); archives whose masks are
    drawn on the stored pixels keep them as stored.
    """
    import io as _io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(_io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise BadInputError(
                    f"{name}: image is {width}x{height} = {width * height} pixels, over the cap of {max_pixels}"
                )
            probe.verify()
    except BadInputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise BadInputError(f"{name}: not a readable image ({error})") from error
    try:
        with Image.open(_io.BytesIO(data)) as image:
            image.load()  # a truncated file fails here, not in verify()
            upright = ImageOps.exif_transpose(image) if exif_orientation else image
            array = eight_bit_pixels(upright, grayscale)
    except (OSError, SyntaxError, ValueError) as error:
        raise BadInputError(f"{name}: corrupt or truncated image ({error})") from error
    return np.ascontiguousarray(array)


def eight_bit_pixels(image, grayscale: bool) -> np.ndarray:
    """A decoded PIL image as uint8 RGB (H, W, 3) or, with ``grayscale``, (H, W)."""
    from PIL import Image

    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # 16-bit (PNG, TIFF) grey levels
        levels = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(levels / 257.0), 0, 255).astype(np.uint8)
        return grey if grayscale else np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, image.convert("RGBA"))
    return np.asarray(image.convert("L" if grayscale else "RGB"))


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, grayscale: bool = False) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), or (H, W) when ``grayscale``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"{path}: cannot read ({error.strerror})") from error
    return decode_image(data, str(path), max_pixels=max_pixels, grayscale=grayscale)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a lesion mask as a boolean array (pixels > 128 are lesion, the ISIC scorer's rule)."""
    return read_image(path, grayscale=True) > 128
