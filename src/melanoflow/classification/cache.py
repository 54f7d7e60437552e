"""Decode-and-resize-once image cache: a memory-mapped uint8 array with one slot per source image.

Dermoscopy originals are large JPEGs (ISIC 2017 up to ~30 MP); decoding them every epoch would keep the
cores busy with JPEG work instead of the network. The cache decodes each distinct source image of a
manifest once, resizes it to a square ``size`` (the aspect ratio is not kept: lesions are roughly
centred and the crops that follow are square), and stores it as (N, size, size, 3) uint8 in a ``.npy``
file that training and prediction memory-map. A JSON sidecar lists the source paths in slot order, so a
cache built from another manifest is refused instead of silently feeding the wrong pixels.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow import io

log = logging.getLogger(__name__)


def load_resized(path: str | os.PathLike, size: int) -> np.ndarray:
    """One image, decoded (with the shared checks) and resized to (size, size, 3) uint8 RGB."""
    return cv2.resize(io.read_image(path), (size, size), interpolation=cv2.INTER_AREA)


def cache_sources(manifest: pd.DataFrame) -> list[str]:
    """The distinct source images of a manifest, in order of first appearance (the cache's slot order)."""
    return list(pd.unique(manifest["source_path"]))


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


def decode_all(paths: Sequence[str], size: int, out: np.ndarray, threads: int = 1) -> None:
    """Fill ``out[i]`` with ``paths[i]`` resized; decoding runs in ``threads`` threads (PIL and OpenCV
    release the GIL while they work)."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        images = pool.map(lambda path: load_resized(path, size), paths)
        for slot, image in enumerate(tqdm(images, total=len(paths), desc=f"caching {size}px", mininterval=5)):
            out[slot] = image


def build_cache(paths: Sequence[str], size: int, threads: int = 1) -> ImageCache:
    """An in-memory cache (for small sets such as the purified test images)."""
    pixels = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    decode_all(paths, size, pixels, threads)
    return ImageCache(pixels, {path: slot for slot, path in enumerate(paths)})


def write_cache(manifest: pd.DataFrame, size: int, cache_path: str | os.PathLike, index_path: str | os.PathLike,
                threads: int = 1) -> None:
    """Decode every source image of ``manifest`` once into the memory-mappable ``cache_path`` (.npy)."""
    paths = cache_sources(manifest)
    log.info("caching %d distinct images of %d manifest rows at %dpx", len(paths), len(manifest), size)
    with io.atomic_path(cache_path) as tmp:
        pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        decode_all(paths, size, pixels, threads)
        pixels.flush()
        del pixels
    io.write_json(index_path, {"size": size, "sources": paths})


def write_manifest_cache(manifest_path: str | os.PathLike, size: int, cache_path: str | os.PathLike,
                         index_path: str | os.PathLike, threads: int = 1) -> None:
    """Workflow entry point: the cache of a training manifest's images."""
    from melanoflow.classification.manifests import read_training_manifest

    write_cache(read_training_manifest(manifest_path), size, cache_path, index_path, threads)


def open_cache(cache_path: str | os.PathLike, index_path: str | os.PathLike) -> ImageCache:
    """Memory-map a cache written by :func:`write_cache`."""
    index = json.loads(Path(index_path).read_text())
    pixels = np.load(cache_path, mmap_mode="r")
    expected = (len(index["sources"]), index["size"], index["size"], 3)
    if pixels.shape != expected or pixels.dtype != np.uint8:
        raise io.BadInputError(f"{cache_path}: cache holds {pixels.dtype}{pixels.shape}, index "
                               f"{index_path} describes uint8{expected}")
    return ImageCache(pixels, {path: slot for slot, path in enumerate(index["sources"])})
