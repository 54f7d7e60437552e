"""Turn every configured dataset into rows of the image manifest.

Each image is decoded once here, checked (integrity, pixel cap, mask size), and written under
``results/images/<dataset>/``; later stages read those files and the manifest, never the archives. Each
dataset is read and split on its own (one workflow job each); the merge checks them against each other.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold
from tqdm import tqdm

from melanoflow.fileio import BadInputError, decode_image, write_bytes, write_image, write_json
from melanoflow.ingest.archive import Limits
from melanoflow.ingest.readers import READERS, Candidate
from melanoflow.ingest.settings import IngestSettings, SplitFractions
from melanoflow.ingest.trap import apply_trap_split
from melanoflow.tables import (
    IMAGES_SCHEMA,
    QUARANTINE_SCHEMA,
    SPLITS,
    UNSCORED,
    read_images_manifest,
    read_table,
    relative_to_workdir,
    write_images_manifest,
    write_table,
)

log = logging.getLogger(__name__)

# Encodings kept byte for byte; anything else (BMP, TIFF) is stored as lossless PNG.
KEPT_SUFFIXES = {".jpg": ".jpg", ".jpeg": ".jpg", ".png": ".png"}


class IngestError(BadInputError):
    """The datasets cannot be combined into a manifest (e.g. one image in two splits)."""


def ingest(datasets: dict, classes: list[str], settings: IngestSettings, seed: int, images_dir: str | Path,
           manifest_path: str | Path, quarantine_path: str | Path, threads: int = 1,
           splits_path: str | Path | None = None) -> pd.DataFrame:
    """Every dataset through :func:`ingest_dataset`, then :func:`merge_datasets` (the workflow runs these
    as one job per dataset and a merge, so adding a dataset does not decode the others again)."""
    parts = []
    for name, dataset in datasets.items():
        table, quarantined, sources = ingest_dataset(name, dataset, classes, settings, seed, images_dir, threads)
        parts.append((table, quarantined, {name: sources}))
    write_merged(parts, manifest_path, quarantine_path, splits_path)
    return read_images_manifest(manifest_path)


def ingest_dataset(name: str, dataset: dict, classes: list[str], settings: IngestSettings, seed: int,
                   images_dir: str | Path, threads: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read one dataset, write its images and masks under ``images_dir/<name>/`` and split it.

    Returns its manifest rows, its quarantined images and where each of its splits came from.
    """
    results = Path(images_dir).parent  # the run's results folder (config `results`) holds images/
    limits = Limits(settings.max_uncompressed_bytes, settings.max_compression_ratio)
    rows, quarantined = [], []
    scan = READERS[dataset["format"]](Path(dataset["path"]), limits, dataset)
    if scan.unmatched_labels:
        log.warning("%s: %d label rows have no image, e.g. %s", name, len(scan.unmatched_labels),
                    "; ".join(scan.unmatched_labels[:3]))
    for part, count in scan.unscored.items():
        log.warning("%s: %s has no ground truth: its %d images are not ingested and cannot be scored; the "
                    "workflow predicts them into %s", name, part, count, unscored_predictions_dir(results, name, part))
    mapping = dataset.get("labels") or {label: label for label in classes}
    candidates = [candidate for candidate in scan.candidates if not left_out(candidate, mapping)]
    if len(candidates) < len(scan.candidates):
        counts = Counter(candidate.label for candidate in scan.candidates if left_out(candidate, mapping))
        log.info("%s: %d images left out, as datasets.%s.labels maps their labels to null: %s", name,
                 sum(counts.values()), name, ", ".join(f"{label} {count}" for label, count in sorted(counts.items())))
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        jobs = [pool.submit(extract, name, candidate, mapping, classes, settings.max_pixels, Path(images_dir))
                for candidate in candidates]
        for job, candidate in tqdm(zip(jobs, candidates, strict=True), total=len(jobs), desc=f"ingest {name}",
                                   mininterval=5):
            try:
                rows.append(job.result())
            except BadInputError as error:
                if settings.on_bad_image == "fail":
                    pool.shutdown(cancel_futures=True)
                    raise
                log.warning("quarantined: %s", error)
                quarantined.append({"dataset": name, "image_id": candidate.image_id,
                                    "source": candidate.image.describe(), "problem": str(error)})
    log.info("%s: %d images ingested, %d quarantined", name, len(rows), len(quarantined))
    quarantined = pd.DataFrame(quarantined, columns=QUARANTINE_SCHEMA.names)
    if not rows:
        return pd.DataFrame(columns=IMAGES_SCHEMA.names), quarantined, {}
    table, sources = assign_splits(pd.DataFrame(rows), {name: dataset}, settings.split, seed)
    if scan.unscored:
        sources[name][UNSCORED] = {
            "origin": "no ground truth, so not ingested and not scored; predicted into "
                      + " and ".join(unscored_predictions_dir(results, name, part) for part in scan.unscored),
            "images": sum(scan.unscored.values())}
    return table, quarantined, sources[name]


def left_out(candidate: Candidate, mapping: dict) -> bool:
    """Whether the dataset's label mapping leaves this image out (its label maps to null)."""
    return candidate.problem is None and candidate.label in mapping and mapping[candidate.label] is None


def unscored_predictions_dir(results: Path, dataset: str, part: str | Path) -> str:
    """Where the workflow's predict_unscored rule writes its predictions of an unlabelled archive part."""
    return (results / "predict" / "unscored" / dataset / Path(part).name.removesuffix(".zip")).as_posix()


def merge_datasets(parts: list[tuple[pd.DataFrame, pd.DataFrame, dict]]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(rows, quarantined, {dataset: split origins}) of each dataset -> the manifest, the quarantine table
    and the split summary, after checking that no image is in two splits across datasets."""
    tables = [table for table, _, _ in parts if len(table)]
    if not tables:
        raise IngestError("no usable image in any configured dataset")
    manifest = pd.concat(tables, ignore_index=True)
    check_cross_split_duplicates(manifest)
    manifest = manifest.sort_values(["dataset", "split", "image_id"], ignore_index=True)
    quarantined = pd.concat([frame for _, frame, _ in parts], ignore_index=True)
    sources = {name: origins for _, _, named in parts for name, origins in named.items()}
    log.info("manifest: %d images\n%s", len(manifest), manifest.groupby(["dataset", "split", "label"]).size())
    return manifest, quarantined, split_summary(manifest, sources)


def write_dataset(name: str, dataset: dict, classes: list[str], settings: IngestSettings, seed: int,
                  images_dir: str | Path, table_path: str | Path, quarantine_path: str | Path,
                  sources_path: str | Path, threads: int = 1) -> None:  # fmt: skip
    """Workflow entry point of one dataset's job: :func:`ingest_dataset`, its three results written."""
    (Path(images_dir) / name).mkdir(parents=True, exist_ok=True)  # the declared folder, even if nothing lands there
    table, quarantined, sources = ingest_dataset(name, dataset, classes, settings, seed, images_dir, threads)
    write_table(table, table_path, IMAGES_SCHEMA)
    write_table(quarantined, quarantine_path, QUARANTINE_SCHEMA)
    write_json(sources_path, {name: sources})


def merge_dataset_files(table_paths: list[str], quarantine_paths: list[str], sources_paths: list[str],
                        manifest_path: str | Path, quarantine_path: str | Path, splits_path: str | Path) -> None:
    """Workflow entry point of the merge job: the datasets' tables -> manifest, quarantine, split summary."""
    parts = [(read_table(table, IMAGES_SCHEMA), read_table(quarantine, QUARANTINE_SCHEMA),
              json.loads(Path(sources).read_text()))
             for table, quarantine, sources in zip(table_paths, quarantine_paths, sources_paths, strict=True)]  # fmt: skip
    write_merged(parts, manifest_path, quarantine_path, splits_path)


def write_merged(parts: list[tuple[pd.DataFrame, pd.DataFrame, dict]], manifest_path: str | Path,
                 quarantine_path: str | Path, splits_path: str | Path | None) -> None:
    """:func:`merge_datasets`, written: the manifest, the quarantine table and (optionally) the split summary."""
    manifest, quarantined, summary = merge_datasets(parts)
    write_table(quarantined, quarantine_path, QUARANTINE_SCHEMA)
    write_images_manifest(manifest, manifest_path)
    if splits_path is not None:
        write_json(splits_path, summary)


def extract(dataset: str, candidate: Candidate, mapping: dict, classes: list[str], max_pixels: int,
            images_dir: Path) -> dict:
    """Check one candidate, write its image and mask, and return its manifest row."""
    if candidate.problem:
        raise BadInputError(candidate.problem)
    source = candidate.image.describe()
    if candidate.label not in mapping:
        raise BadInputError(f"{source}: label {candidate.label!r} is not mapped in datasets.{dataset}.labels")
    label = mapping[candidate.label]
    if label not in classes:
        raise BadInputError(f"{source}: label {candidate.label!r} maps to {label!r}, which is not in `classes`")
    data = candidate.image.read()
    image = decode_image(data, source, max_pixels=max_pixels)
    height, width = image.shape[:2]
    folder = images_dir / dataset
    suffix = KEPT_SUFFIXES.get(PurePosixPath(candidate.image.name).suffix.lower())
    if suffix:
        image_path = folder / f"{candidate.image_id}{suffix}"
        write_bytes(image_path, data)
    else:
        image_path = folder / f"{candidate.image_id}.png"
        write_image(image_path, image)
    mask_path = None
    if candidate.mask is not None:
        mask_source = candidate.mask.describe()
        mask = decode_image(candidate.mask.read(), mask_source, max_pixels=max_pixels, grayscale=True)
        if mask.shape != (height, width):
            raise BadInputError(f"{mask_source}: mask is {mask.shape[1]}x{mask.shape[0]}, image is {width}x{height}")
        binary = mask > (0 if mask.max() <= 1 else 128)  # 1-bit masks decode to 0/1 or 0/255
        mask_path = folder / f"{candidate.image_id}_segmentation.png"
        write_image(mask_path, binary.astype(np.uint8) * 255)
    return {
        "image_id": candidate.image_id, "dataset": dataset, "split": candidate.split, "label": label,
        "image_path": relative_to_workdir(image_path),
        "mask_path": relative_to_workdir(mask_path) if mask_path else None,
        "lesion_id": candidate.lesion_id, "width": width, "height": height,
        "sha256": hashlib.sha256(data).hexdigest(), "source": source,
    }


def assign_splits(manifest: pd.DataFrame, datasets: dict, fractions: SplitFractions,
                  seed: int) -> tuple[pd.DataFrame, dict]:
    """Each dataset's split, and how it was made (``split_sources``: dataset -> split -> origin).

    ``official`` keeps the archive's parts and carves any missing val or test part (``fractions``) from
    its training part, stratified by class and grouped by lesion; ``stratified`` splits the whole dataset
    that way; ``train`` puts every image in training (extra training data, as the paper used PH2);
    ``trap`` builds a trap split from the dataset's artefact flags (ingest.trap), leaving out the images
    it cannot use.
    """
    manifest = manifest.copy()
    sources = {}
    for name, dataset in datasets.items():
        rows = manifest["dataset"] == name
        mode = dataset.get("split", "official")
        if mode == "train":
            manifest.loc[rows, "split"] = "train"
            sources[name] = {"train": "all images (split: train)"}
        elif mode == "trap":
            sources[name] = apply_trap_split(manifest, rows, dataset["trap"], seed, name)
        elif mode == "official" and manifest.loc[rows, "split"].notna().all():
            sources[name] = carve_missing_splits(manifest, rows, fractions, seed, name)
        else:
            manifest.loc[rows, "split"] = stratified_group_split(manifest.loc[rows], fractions, seed)
            sources[name] = {split: "stratified by class, grouped by lesion" for split in SPLITS}
        sources[name] = {split: origin for split, origin in sources[name].items()
                         if (manifest.loc[rows, "split"] == split).any()}
    manifest = manifest.loc[manifest["split"].notna()].reset_index(drop=True)
    unknown = set(manifest["split"]) - set(SPLITS)
    if unknown:
        raise IngestError(f"unknown split names {sorted(unknown)}; use {SPLITS}")
    return manifest, sources


def carve_missing_splits(manifest: pd.DataFrame, rows: pd.Series, fractions: SplitFractions, seed: int,
                         name: str) -> dict:
    """Carve the val / test parts an official archive lacks from its training part, in place."""
    present = set(manifest.loc[rows, "split"])
    sources = {split: "official" for split in present}
    missing = {split: fractions.of(split) if split not in present else 0.0 for split in ("val", "test")}
    training = rows & (manifest["split"] == "train")
    if not any(missing.values()) or not training.any():
        return sources
    # The fractions are of the whole dataset, as for a stratified split; the training part gives them up.
    share = training.sum() / rows.sum()
    of_training = SplitFractions(val_fraction=min(missing["val"] / share, 0.9),
                                 test_fraction=min(missing["test"] / share, 0.9))
    carved = stratified_group_split(manifest.loc[training], of_training, seed)
    manifest.loc[training, "split"] = carved
    sources["train"] = "official training part, less the images carved out"
    for split in ("val", "test"):
        count = int((carved == split).sum())
        if count:
            sources[split] = f"carved from the official training part ({count} images)"
            log.info("%s: the archive has no %s part: %d training images carved out as %s (stratified by "
                     "class, grouped by lesion, seed %d)", name, split, count, split, seed)
    return sources


def stratified_group_split(rows: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
    """train/val/test labels for ``rows``: class proportions kept, images of one lesion kept together."""
    groups = rows["lesion_id"].fillna(rows["image_id"]).to_numpy()
    labels = rows["label"].to_numpy()
    split = np.array(["train"] * len(rows), dtype=object)
    remaining = np.arange(len(rows))
    share_left = 1.0
    for name in ("test", "val"):
        fraction = fractions.of(name) / share_left
        if fraction <= 0 or len(remaining) < 2:
            continue
        largest_class = np.unique(labels[remaining], return_counts=True)[1].max()
        n_splits = min(max(2, round(1 / fraction)), largest_class)
        if n_splits < 2:
            continue
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, held_out = next(folds.split(remaining, labels[remaining], groups[remaining]))
        split[remaining[held_out]] = name
        remaining = np.setdiff1d(remaining, remaining[held_out])
        share_left -= fractions.of(name)
    return split


def split_summary(manifest: pd.DataFrame, sources: dict) -> dict:
    """dataset -> split -> {origin, images, class counts}: what the log and the report say about splits."""
    summary = {}
    for (dataset, split), group in manifest.groupby(["dataset", "split"]):
        summary.setdefault(dataset, {})[split] = {
            "origin": sources[dataset][split], "images": len(group),
            "classes": {label: int(count) for label, count in group["label"].value_counts().sort_index().items()}}
    for dataset, origins in sources.items():
        if UNSCORED in origins:
            summary.setdefault(dataset, {})[UNSCORED] = dict(origins[UNSCORED], classes={})
    return summary


def check_cross_split_duplicates(manifest: pd.DataFrame) -> None:
    """The same image bytes in two splits would leak test data into training: name both rows."""
    for _, group in manifest.groupby("sha256"):
        if group["split"].nunique() > 1:
            first, second = group.iloc[0], group.loc[group["split"] != group.iloc[0]["split"]].iloc[0]
            raise IngestError(
                f"the same image (sha256 {first.sha256[:12]}...) is in two splits: {first.dataset}/{first.image_id} "
                f"({first.split}, {first.source}) and {second.dataset}/{second.image_id} ({second.split}, {second.source})"
            )
