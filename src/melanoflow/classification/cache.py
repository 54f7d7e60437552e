"""Decode-and-resize-once image cache: a memory-mapped uint8 array with one slot per source image.

Dermoscopy originals are large JPEGs (ISIC 2017 up to ~30 MP); decoding them every epoch would keep the
cores busy with JPEG work instead of the network. The cache decodes each distinct source image of a
manifest once, corrects its colours and crops it around the lesion where configured
(``color_constancy``, ``lesion_crop``), resizes it to a square ``size`` (the aspect ratio is not kept:
lesions are roughly centred and the crops that follow are square), and stores it as (N, size, size, 3)
uint8 in a ``.npy`` file that training and prediction memory-map. A JSON sidecar lists the source paths
in slot order, so a cache built from another manifest is refused instead of silently feeding the wrong
pixels.

The decoding runs in shards (one job each in the workflow): an image's shard comes from its source path
(:func:`melanoflow.tables.shard_of`), so every row using an image lands in the same piece. A cheap merge
copies the pieces into the variant's cache in the manifest's slot order, which therefore does not depend
on the number of shards.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.classification.colour import check_color_constancy, correct_colours
from melanoflow.tables import read_columns, read_training_manifest, select_shard

log = logging.getLogger(__name__)


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels


def lesion_box(mask: np.ndarray, margin: float) -> Box | None:
    """A square around the lesion: its bounding box's longer side grown by ``margin`` times that side on
    each side, centred on the lesion and moved (then shrunk) to fit the image; None for an empty mask.

    Cropping to it before resizing gives the classifier the lesion at the resolution the network can
    afford, however small the lesion is in the frame (ISIC 2017 lesions cover a median 18 % of it).
    """
    rows, columns = np.nonzero(mask)
    if rows.size == 0:
        return None
    height, width = mask.shape
    side = (max(rows.max() - rows.min(), columns.max() - columns.min()) + 1) * (1 + 2 * margin)
    side = int(round(min(side, height, width)))
    centre_y, centre_x = (rows.min() + rows.max() + 1) / 2, (columns.min() + columns.max() + 1) / 2
    y0 = int(np.clip(round(centre_y - side / 2), 0, height - side))
    x0 = int(np.clip(round(centre_x - side / 2), 0, width - side))
    return x0, y0, x0 + side, y0 + side


def crop_to(pixels: np.ndarray, box: Box | None) -> np.ndarray:
    return pixels if box is None else pixels[box[1] : box[3], box[0] : box[2]]


def classifier_input(image: np.ndarray, size: int, box: Box | None = None, color_constancy: str = "none"
                     ) -> np.ndarray:
    """A whole decoded RGB image as a classifier input: its colours corrected (``color_constancy``, see
    melanoflow.classification.colour), cropped to ``box`` if given and resized to (size, size, 3) uint8."""
    image = correct_colours(image, color_constancy)
    return cv2.resize(crop_to(image, box), (size, size), interpolation=cv2.INTER_AREA)


def load_resized(path: str | os.PathLike, size: int, box: Box | None = None, color_constancy: str = "none"
                 ) -> np.ndarray:
    """One image, decoded (with the shared checks), as a classifier input (:func:`classifier_input`)."""
    return classifier_input(fileio.read_image(path), size, box, color_constancy)


def lesion_boxes(rows: pd.DataFrame, masks_path: str | os.PathLike, margin: float) -> dict[str, Box | None]:
    """source path -> lesion box, for manifest rows (real and purified images share their image's mask;
    synthetic images, which have none, are used whole)."""
    masks = read_columns(masks_path, ["image_id", "dataset", "mask_path"])
    lookup = masks.set_index(["dataset", "image_id"])["mask_path"]
    boxes = {}
    for row in rows.drop_duplicates("source_path").itertuples():
        mask_file = lookup.get((row.dataset, row.image_id)) if getattr(row, "origin", "real") != "synthetic" else None
        boxes[row.source_path] = None if mask_file is None else lesion_box(fileio.read_mask(mask_file), margin)
    empty = [path for path, box in boxes.items() if box is None]
    if empty:
        log.info("%d of %d images are used whole (synthetic, or an empty predicted mask)", len(empty), len(boxes))
    return boxes


def cache_sources(manifest: pd.DataFrame) -> list[str]:
    """The distinct source images of a manifest, in order of first appearance (the cache's slot order)."""
    return list(pd.unique(manifest["source_path"]))


def shard_rows(manifest: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The rows of ``manifest`` whose source image belongs to ``shard`` of ``n_shards``."""
    return select_shard(manifest, shard, n_shards, key="source_path")


def shard_sources(manifest: pd.DataFrame, shard: int, n_shards: int) -> list[str]:
    """The distinct source images of ``manifest`` that belong to ``shard`` of ``n_shards``."""
    return cache_sources(shard_rows(manifest, shard, n_shards))


@dataclass
class ImageCache:
    """Cached pixels plus the slot of each source path."""

    pixels: np.ndarray  # (N, size, size, 3) uint8, usually a read-only memmap
    slots: dict[str, int]

    @property
    def size(self) -> int:
        return self.pixels.shape[1]

    def slots_of(self, source_paths: Sequence[str]) -> np.ndarray:
        missing = [path for path in source_paths if path not in self.slots]
        if missing:
            raise KeyError(f"image cache has no slot for {len(missing)} sources, e.g. {missing[0]!r}")
        return np.array([self.slots[path] for path in source_paths], dtype=np.int64)


def decode_all(paths: Sequence[str], size: int, out: np.ndarray, threads: int = 1,
               boxes: Mapping[str, Box | None] | None = None, color_constancy: str = "none") -> None:
    """Fill ``out[i]`` with ``paths[i]`` colour-corrected (``color_constancy``), cropped to its box in
    ``boxes`` and resized; decoding runs in ``threads`` threads (PIL, OpenCV and NumPy release the GIL
    while they work)."""
    boxes = boxes or {}
    check_color_constancy(color_constancy)  # before any decoding
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        images = pool.map(lambda path: load_resized(path, size, boxes.get(path), color_constancy), paths)
        for slot, image in enumerate(tqdm(images, total=len(paths), desc=f"caching {size}px", mininterval=5)):
            out[slot] = image


def build_cache(paths: Sequence[str], size: int, threads: int = 1, boxes: Mapping[str, Box | None] | None = None,
                color_constancy: str = "none") -> ImageCache:
    """An in-memory cache (for small sets such as the purified test images)."""
    pixels = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    decode_all(paths, size, pixels, threads, boxes, color_constancy)
    return ImageCache(pixels, {path: slot for slot, path in enumerate(paths)})


def write_slots(sources: Sequence[str], size: int, cache_path: str | os.PathLike, index_path: str | os.PathLike,
                fill: Callable[[np.ndarray], None]) -> None:
    """Write a cache of ``sources`` whose pixels ``fill`` puts into the (len(sources), size, size, 3) memmap."""
    with fileio.atomic_path(cache_path) as tmp:
        pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(sources), size, size, 3))
        fill(pixels)
        pixels.flush()
        del pixels
    fileio.write_json(index_path, {"size": size, "sources": list(sources)})


def write_cache(sources: Sequence[str], size: int, cache_path: str | os.PathLike, index_path: str | os.PathLike,
                threads: int = 1, boxes: Mapping[str, Box | None] | None = None, color_constancy: str = "none"
                ) -> None:
    """Decode each of ``sources`` once into the memory-mappable ``cache_path`` (.npy), in that slot order."""
    log.info("caching %d distinct images at %dpx%s%s", len(sources), size, ", lesion-centred" if boxes else "",
             "" if color_constancy == "none" else f", colour constancy {color_constancy}")
    write_slots(sources, size, cache_path, index_path,
                lambda pixels: decode_all(sources, size, pixels, threads, boxes, color_constancy))


def merge_caches(sources: Sequence[str], pieces: Sequence[tuple[str | os.PathLike, str | os.PathLike]], size: int,
                 cache_path: str | os.PathLike, index_path: str | os.PathLike) -> None:
    """One cache of ``sources`` (in that slot order), copied from the (cache, index) ``pieces`` holding them."""
    located = {}
    for cache_file, index_file in pieces:
        piece = open_cache(cache_file, index_file)
        if piece.size != size:
            raise fileio.BadInputError(f"{cache_file}: images cached at {piece.size}px, expected {size}px")
        located.update({source: (piece, slot) for source, slot in piece.slots.items()})
    missing = [source for source in sources if source not in located]
    if missing:
        raise fileio.BadInputError(f"cache pieces {[str(cache) for cache, _ in pieces]} lack {len(missing)} images, "
                               f"e.g. {missing[0]!r}")

    def copy_pieces(pixels: np.ndarray) -> None:
        for slot, source in enumerate(tqdm(sources, desc="merging cache pieces", mininterval=5)):
            piece, piece_slot = located[source]
            pixels[slot] = piece.pixels[piece_slot]

    log.info("merging %d cache pieces into %d images at %dpx", len(pieces), len(sources), size)
    write_slots(sources, size, cache_path, index_path, copy_pieces)


def write_manifest_cache_shard(manifest_path: str | os.PathLike, shard: int, n_shards: int, size: int,
                               cache_path: str | os.PathLike, index_path: str | os.PathLike, threads: int = 1,
                               masks_path: str | os.PathLike | None = None, lesion_crop: float | None = None,
                               color_constancy: str = "none") -> None:
    """Workflow entry point: the cache piece of one shard of a training manifest's images, each
    colour-corrected (``color_constancy``) and cropped around its predicted lesion (``masks_path``) when
    ``lesion_crop`` (the margin) is set."""
    check_color_constancy(color_constancy)
    rows = shard_rows(read_training_manifest(manifest_path), shard, n_shards)
    boxes = lesion_boxes(rows, masks_path, lesion_crop) if lesion_crop is not None else None
    write_cache(cache_sources(rows), size, cache_path, index_path, threads, boxes, color_constancy)


def merge_manifest_cache(manifest_path: str | os.PathLike, pieces: Sequence[tuple[str, str]], size: int,
                         cache_path: str | os.PathLike, index_path: str | os.PathLike) -> None:
    """Workflow entry point: a training manifest's image cache, from the pieces of its shards."""
    merge_caches(cache_sources(read_training_manifest(manifest_path)), pieces, size, cache_path, index_path)


def open_cache(cache_path: str | os.PathLike, index_path: str | os.PathLike) -> ImageCache:
    """Memory-map a cache written by :func:`write_cache`."""
    index = json.loads(Path(index_path).read_text())
    pixels = np.load(cache_path, mmap_mode="r")
    expected = (len(index["sources"]), index["size"], index["size"], 3)
    if pixels.shape != expected or pixels.dtype != np.uint8:
        raise fileio.BadInputError(f"{cache_path}: cache holds {pixels.dtype}{pixels.shape}, index "
                               f"{index_path} describes uint8{expected}")
    return ImageCache(pixels, {path: slot for slot, path in enumerate(index["sources"])})
