"""Predict a set of inputs into a folder, and summarise one or more such folders (the shards of a large
batch) into the submission tables and ``index.html``.

A folder holds, per image, the files of :func:`outputs.image_files`, and ``details.csv`` (one row per
image: probabilities, predicted class, lesion and occluded fractions, file paths), ``skipped.csv``
(``source,reason``) and ``run.json`` (the run, the settings, the seconds per step). The summary adds
``predictions.csv`` (ISIC 2017 submission format), ``submission.csv`` (the same under the header that
isic-challenge-scoring reads) and ``index.html``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.predict import outputs
from melanoflow.predict.inputs import InputImage, Skipped, collect_inputs, decode_input
from melanoflow.predict.pipeline import STEPS, Predictor
from melanoflow.tables import shard_of

log = logging.getLogger(__name__)

DETAILS = "details.csv"
SKIPPED = "skipped.csv"
ABOUT = "run.json"


@dataclass
class Predicted:
    details: pd.DataFrame  # written as DETAILS
    skipped: pd.DataFrame  # written as SKIPPED
    thumbnails: dict[str, str]  # image id -> its panel's thumbnail (a data URI), for the index page


def predict_to_folder(inputs: list[InputImage], skipped: list[Skipped], predictor: Predictor,
                      out_dir: str | os.PathLike, batch_size: int = 8) -> Predicted:
    """Predict ``inputs`` into ``out_dir``; inputs that cannot be decoded join ``skipped``."""
    out_dir = Path(out_dir)
    for path in outputs.image_files("image", "image.png").values():
        (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
    rejected = [asdict(item) for item in skipped]
    records: list[dict] = []
    thumbnails: dict[str, str] = {}

    def write(batch: list[tuple[InputImage, np.ndarray]], predictions: list) -> None:
        with predictor.timed("write"):
            for (item, pixels), prediction in zip(batch, predictions, strict=True):
                files, thumbnails[item.image_id] = outputs.write_image_files(
                    out_dir, item.image_id, item.source, pixels, prediction, predictor.classes)
                records.append(outputs.detail_row(item.image_id, item.source, prediction, predictor.classes, files))

    def decode(batch: list[InputImage]) -> list[tuple[InputImage, np.ndarray]]:
        decoded = []
        with predictor.timed("decode"):
            for item in batch:
                try:
                    decoded.append((item, decode_input(item)))
                except fileio.BadInputError as error:
                    rejected.append({"source": item.source, "reason": str(error).removeprefix(f"{item.source}: ")})
        return decoded

    # While a batch is purified and classified, a background thread writes the previous batch's files and
    # decodes the next batch (image coding releases the GIL); not while a batch is segmented, whose
    # convolutions keep every core busy.
    batches = [inputs[start : start + batch_size] for start in range(0, len(inputs), batch_size)]
    with ThreadPoolExecutor(max_workers=1) as background, tqdm(total=len(inputs), desc="predicting",
                                                                unit="image") as progress:
        decoded = decode(batches[0]) if batches else []
        finished = None
        for index, batch in enumerate(batches):
            images = [pixels for _, pixels in decoded]
            work = []
            if images:
                with predictor.timed("segment"):
                    masks = predictor.segment(images)
                if finished is not None:
                    work.append(background.submit(write, *finished))
            if index + 1 < len(batches):
                work.append(background.submit(decode, batches[index + 1]))
            if images:
                finished = decoded, predictor.predict(images, masks)
            done = [future.result() for future in work]  # raises what the background thread raised
            decoded = done[-1] if index + 1 < len(batches) else []
            progress.update(len(batch))
        if finished is not None:
            write(*finished)
    for item in rejected:
        log.warning("skipped %s: %s", item["source"], item["reason"])
    details = pd.DataFrame(records, columns=outputs.detail_columns(predictor.classes))
    skipped_table = pd.DataFrame(rejected, columns=outputs.SKIPPED_COLUMNS)
    outputs.write_csv(details, out_dir / DETAILS)
    outputs.write_csv(skipped_table, out_dir / SKIPPED)
    settings = predictor.run.settings
    fileio.write_json(out_dir / ABOUT, {
        "results": str(predictor.run.results), "variant": predictor.run.variant, "device": str(predictor.device),
        "test_time_views": predictor.views, "purification": settings.purification.purifier.method,
        "classes": predictor.classes, "melanoma_class": settings.melanoma_class,
        "keratosis_class": settings.keratosis_class, "images": len(details), "skipped": len(skipped_table),
        "seconds": {step: round(predictor.seconds[step], 3) for step in ("decode", *STEPS, "write")},
    })
    log.info("%d images predicted, %d skipped; seconds per step: %s", len(details), len(skipped_table),
             ", ".join(f"{step} {predictor.seconds[step]:.1f}" for step in ("decode", *STEPS, "write")))
    return Predicted(details, skipped_table, thumbnails)


def summarise(parts: list[str | os.PathLike], out_dir: str | os.PathLike,
              thumbnails: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Write the submission tables and ``index.html`` of the predicted folders ``parts`` into ``out_dir``
    (with their details and skipped tables merged, when the parts are other folders). Panels without a
    thumbnail in ``thumbnails`` (the merge of shards) are read back from their files."""
    out_dir, parts = Path(out_dir), [Path(part) for part in parts]
    abouts = [json.loads((part / ABOUT).read_text()) for part in parts]
    about = abouts[0]
    classes = about["classes"]
    frames, skipped = [], []
    for part in parts:
        details = read_csv(part / DETAILS)
        prefix = os.path.relpath(part, out_dir)
        for kind in outputs.IMAGE_FILES:
            details[f"{kind}_path"] = [os.path.normpath(os.path.join(prefix, path)) for path in details[f"{kind}_path"]]
        frames.append(details)
        skipped.append(read_csv(part / SKIPPED))
    details = pd.concat(frames, ignore_index=True)
    skipped_table = pd.concat(skipped, ignore_index=True)
    if parts != [out_dir]:
        outputs.write_csv(details, out_dir / DETAILS)
        outputs.write_csv(skipped_table, out_dir / SKIPPED)
        seconds = {step: round(sum(part["seconds"][step] for part in abouts), 3) for step in about["seconds"]}
        fileio.write_json(out_dir / ABOUT, {**about, "images": len(details), "skipped": len(skipped_table),
                                        "seconds": seconds})
    columns = outputs.submission_columns(classes, about["melanoma_class"], about["keratosis_class"])
    predictions, submission = outputs.submission_tables(details, columns)
    outputs.write_csv(predictions, out_dir / "predictions.csv")
    outputs.write_csv(submission, out_dir / "submission.csv")
    shown = {key: about[key] for key in ("results", "variant", "purification", "test_time_views", "device")}
    thumbnails = thumbnails or {}
    page = outputs.index_html(details, skipped_table, classes, about["melanoma_class"], [
        thumbnails.get(image_id) or outputs.thumbnail_uri(fileio.read_image(out_dir / path))
        for image_id, path in zip(details["image_id"], details["panel_path"], strict=True)
    ], shown)
    fileio.write_text(out_dir / "index.html", page)
    return details


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"image_id": str, "source": str, "reason": str, "predicted": str},
                       keep_default_na=False)


def predict_inputs(paths: list[str | os.PathLike], out_dir: str | os.PathLike, results: str | os.PathLike,
                   variant: str, device: str = "auto", views: int | None = None, shard: int = 0,
                   n_shards: int = 1) -> Predicted:
    """Predict the images named by ``paths`` (files, folders, zips) that belong to ``shard`` of
    ``n_shards`` into ``out_dir``; the inputs skipped before decoding are listed by shard 0 only."""
    inputs, skipped = collect_inputs(paths)
    if n_shards > 1:
        inputs = [item for item in inputs if shard_of(item.image_id, n_shards) == shard]
        skipped = skipped if shard == 0 else []
    log.info("%d images to predict (shard %d of %d), %d inputs skipped before decoding", len(inputs), shard,
             n_shards, len(skipped))
    predictor = Predictor(results, variant, device, views)
    return predict_to_folder(inputs, skipped, predictor, out_dir)
