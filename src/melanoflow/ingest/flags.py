"""Human artefact flags: one CSV per dataset, ``image_id`` plus one 0/1 column per artefact (e.g. the
ISIC 2017 crops' ``artefacts.csv``: dark_corner, hair, gel_border, gel_bubble, ruler, ink, patches).

They split test sets for the shortcut checks (evaluation.artefacts) and build trap splits (ingest.trap);
they are never a classifier input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

from melanoflow import fileio


def read_flags(flag_files: Mapping[str, str | os.PathLike], images: pd.DataFrame) -> pd.DataFrame:
    """dataset, image_id and one 0/1 column per artefact for every image of the flagged datasets.

    Every file needs an ``image_id`` column, the same artefact columns as the others, 0/1 values, and a
    row for each of its dataset's images in the manifest; BadInputError names the file otherwise.
    """
    frames, artefacts = [], None
    for dataset, path in flag_files.items():
        flags = pd.read_csv(path, dtype={"image_id": str})
        if "image_id" not in flags.columns:
            raise fileio.BadInputError(f"{path}: flags need an image_id column (found {', '.join(flags.columns)})")
        columns = [column for column in flags.columns if column != "image_id"]
        if not columns:
            raise fileio.BadInputError(f"{path}: no artefact columns beside image_id")
        if artefacts is not None and set(columns) != set(artefacts):
            raise fileio.BadInputError(f"{path}: artefact columns {sorted(columns)} differ from the other flag files' "
                                   f"{sorted(artefacts)}")
        artefacts = artefacts or columns
        if not flags[artefacts].isin([0, 1]).all().all():
            raise fileio.BadInputError(f"{path}: artefact flags must be 0 or 1")
        absent = sorted(set(images.loc[images["dataset"] == dataset, "image_id"]) - set(flags["image_id"]))
        if absent:
            raise fileio.BadInputError(f"{path}: no flags for {len(absent)} image(s) of dataset {dataset!r}, "
                                   f"e.g. {', '.join(absent[:3])}")
        frames.append(flags[["image_id", *artefacts]].assign(dataset=dataset))
    return pd.concat(frames, ignore_index=True)
