"""What to predict: image files, folders (searched recursively) and zips, as a list of images to decode
and a list of inputs skipped with the reason.

An image's id is its file stem, as in the ISIC archives (``ISIC_0012345.jpg`` -> ``ISIC_0012345``); the
masks and superpixel maps that ISIC archives ship beside the images are not images to classify. Anything
that cannot be classified is skipped with a line naming it and the reason, and the rest still runs.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from melanoflow.fileio import DEFAULT_MAX_PIXELS, BadInputError, decode_image
from melanoflow.ingest.archive import Archive, Limits
from melanoflow.ingest.readers import IMAGE_SUFFIXES

# Smaller than this on either side, an image holds too little of a lesion to segment or classify.
MIN_SIDE = 64
# Zip-bomb guards for input zips (as ingest's defaults).
INPUT_LIMITS = Limits(max_uncompressed_bytes=50_000_000_000, max_compression_ratio=200)
# Files that ISIC archives ship beside each image.
COMPANION_SUFFIXES = ("_segmentation", "_superpixels")


@dataclass(frozen=True)
class InputImage:
    """One image to predict: its id and where its bytes are (a file, or a member of an archive)."""

    image_id: str
    source: str
    archive: Archive | None
    member: str

    def read(self) -> bytes:
        if self.archive is None:
            return Path(self.member).read_bytes()
        return self.archive.read(self.member)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def is_companion(name: str) -> bool:
    return PurePosixPath(name).stem.endswith(COMPANION_SUFFIXES)


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES and not is_companion(name)


def collect_inputs(paths: list[str | os.PathLike]) -> tuple[list[InputImage], list[Skipped]]:
    """The images named by ``paths`` (files, folders, zips) in the order given, each folder's and zip's in
    name order; a second image with an id already taken is skipped (ids must be unique in a submission)."""
    images: list[InputImage] = []
    skipped: list[Skipped] = []
    for given in map(Path, paths):
        try:
            if given.is_dir() or (given.is_file() and zipfile.is_zipfile(given)):
                archive = Archive(given, INPUT_LIMITS)
                images += [InputImage(PurePosixPath(name).stem, archive.describe(name), archive, name)
                           for name in archive.members if is_image_name(name)]
            elif given.is_file():
                images.append(InputImage(given.stem, str(given), None, str(given)))
            else:
                skipped.append(Skipped(str(given), "no such file or folder"))
        except BadInputError as error:
            skipped.append(Skipped(str(given), str(error)))
    unique: dict[str, InputImage] = {}
    for image in images:
        if image.image_id in unique:
            skipped.append(Skipped(image.source, f"image id {image.image_id!r} already taken by "
                                                 f"{unique[image.image_id].source}"))
        else:
            unique[image.image_id] = image
    return list(unique.values()), skipped


def decode_input(image: InputImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image as upright RGB uint8; BadInputError (naming the input and the reason) if it cannot be used."""
    try:
        data = image.read()
    except OSError as error:
        raise BadInputError(f"{image.source}: cannot read ({error.strerror or error})") from error
    pixels = decode_image(data, image.source, max_pixels=max_pixels, exif_orientation=True)
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise BadInputError(f"{image.source}: image is {width}x{height}, smaller than {MIN_SIDE} px on a side")
    return pixels
