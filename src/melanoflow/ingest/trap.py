"""Trap splits (Bissoto et al. 2020): a dataset split so that an artefact goes with a class in training and
the other way round in the test split.

With ``strength`` s, a chosen artefact (a column of the dataset's human flags) and a chosen class, the
training and validation images are drawn so that the class carries the artefact with probability s and
every other class with probability 1 - s; the ``test`` split is drawn with the two reversed (1 - s and s).
A third held-out split, ``untrapped``, keeps the association the data has. A classifier that learned the
artefact instead of the lesion scores well on ``untrapped`` and badly on ``test``; the drop between the two
is the evaluation's measure of shortcut learning (evaluation.trap).

Images are drawn per class from two cells, lesions with the artefact and lesions without, so the shares
hold exactly up to rounding; the images a cell cannot spare for the requested shares are left out of the
run (the ingest log and the split summary count them). All images of a lesion stay in one split; a lesion
counts as carrying the artefact when any of its images does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from melanoflow.config_checks import check_section_keys
from melanoflow.fileio import BadInputError
from melanoflow.ingest.flags import read_flags
from melanoflow.tables import SPLITS, UNTRAPPED

log = logging.getLogger(__name__)

# Splits in the order their images are drawn from a class's two cells.
DRAW_ORDER = (UNTRAPPED, "test", "val", "train")


@dataclass(frozen=True)
class TrapSettings:
    """``datasets.<name>.trap`` of the config (its schema describes each key)."""

    flags: str
    artefact: str
    target_class: str
    strength: float
    test_fraction: float
    untrapped_fraction: float
    val_fraction: float

    @classmethod
    def from_config(cls, trap: Mapping, where: str = "trap") -> TrapSettings:
        """The settings of a config mapping whose ``class`` key names the target class; a missing or
        unknown key is an error naming it."""
        check_section_keys(trap, ("class" if field.name == "target_class" else field.name for field in fields(cls)), where)
        values = {key: value for key, value in trap.items() if key != "class"}
        return cls(target_class=trap["class"], **values)


def capacity(count: int, share: float) -> float:
    """How many lesions a split can have when ``share`` of them must come from a cell of ``count``."""
    return math.inf if share <= 0 else math.floor(count / share + 1e-9)


def class_plan(aligned: int, misaligned: int, settings: TrapSettings) -> dict[str, tuple[int, int]]:
    """For one class with ``aligned`` lesions in the cell the trap favours (the target class with the
    artefact, any other class without it) and ``misaligned`` in the other cell: split -> (lesions drawn
    from the aligned cell, lesions drawn from the misaligned cell)."""
    strength = settings.strength
    untrapped = (round(settings.untrapped_fraction * aligned), round(settings.untrapped_fraction * misaligned))
    left_aligned, left_misaligned = aligned - untrapped[0], misaligned - untrapped[1]
    wanted = round(settings.test_fraction * (aligned + misaligned))
    size = min(wanted, capacity(left_aligned, 1 - strength), capacity(left_misaligned, strength))
    from_misaligned = min(round(strength * size), left_misaligned)
    test = (min(size - from_misaligned, left_aligned), from_misaligned)
    left_aligned, left_misaligned = left_aligned - test[0], left_misaligned - test[1]
    size = min(capacity(left_aligned, strength), capacity(left_misaligned, 1 - strength))
    from_aligned = min(round(strength * size), left_aligned)
    trapped = (from_aligned, min(size - from_aligned, left_misaligned))
    val = (round(settings.val_fraction * trapped[0]), round(settings.val_fraction * trapped[1]))
    train = (trapped[0] - val[0], trapped[1] - val[1])
    return {UNTRAPPED: untrapped, "test": test, "val": val, "train": train}


def trap_split(rows: pd.DataFrame, has_artefact: np.ndarray, settings: TrapSettings, seed: int) -> np.ndarray:
    """The split of each row (``image_id``, ``label``, ``lesion_id``), None for rows left out.

    ``has_artefact`` holds each row's 0/1 flag of ``settings.artefact``.
    """
    lesions = pd.DataFrame({"lesion": rows["lesion_id"].fillna(rows["image_id"]).to_numpy(),
                            "label": rows["label"].to_numpy(), "artefact": np.asarray(has_artefact, dtype=int)})
    mixed = lesions.groupby("lesion")["label"].nunique()
    if (mixed > 1).any():
        raise BadInputError(f"trap split: lesion {mixed.index[mixed > 1][0]!r} has images of two classes")
    per_lesion = lesions.groupby("lesion", sort=True).agg(label=("label", "first"), artefact=("artefact", "max"))
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for label, members in per_lesion.groupby("label", sort=True):
        favoured = int(label == settings.target_class)
        cells = [rng.permutation(members.index[members["artefact"] == favoured].to_numpy()),
                 rng.permutation(members.index[members["artefact"] != favoured].to_numpy())]
        plan = class_plan(len(cells[0]), len(cells[1]), settings)
        drawn = [0, 0]
        for split in DRAW_ORDER:
            for cell, count in enumerate(plan[split]):
                assigned.update(dict.fromkeys(cells[cell][drawn[cell]:drawn[cell] + count], split))
                drawn[cell] += count
    split = lesions["lesion"].map(assigned).to_numpy(dtype=object)
    split[pd.isna(split)] = None
    return split


def association(frame: pd.DataFrame, target_class: str) -> pd.DataFrame:
    """Per split of ``frame`` (``split``, ``label``, 0/1 ``artefact``): images, and the share carrying the
    artefact among the target class and among the other classes."""
    rows = []
    order = {name: position for position, name in enumerate(SPLITS)}
    for split, group in sorted(frame.groupby("split"), key=lambda item: order.get(item[0], len(order))):
        is_target = group["label"] == target_class
        rows.append({"split": split, "images": len(group),
                     "class_images": int(is_target.sum()), "class_with_artefact": int(group.loc[is_target, "artefact"].sum()),
                     "other_images": int((~is_target).sum()),
                     "other_with_artefact": int(group.loc[~is_target, "artefact"].sum())})
    table = pd.DataFrame(rows)
    table["class_share"] = table["class_with_artefact"] / table["class_images"].where(table["class_images"] > 0)
    table["other_share"] = table["other_with_artefact"] / table["other_images"].where(table["other_images"] > 0)
    return table


def apply_trap_split(manifest: pd.DataFrame, rows: pd.Series, trap: Mapping, seed: int, name: str) -> dict:
    """Give the dataset's ``rows`` of ``manifest`` their trap split in place (None for images left out);
    returns each split's origin, with the association it holds."""
    settings = TrapSettings.from_config(trap, f"datasets.{name}.trap")
    images = manifest.loc[rows]
    flags = read_flags({name: Path(settings.flags)}, images)
    if settings.artefact not in flags.columns:
        raise BadInputError(f"{settings.flags}: no column {settings.artefact!r} (datasets.{name}.trap.artefact); "
                            f"it has {', '.join(c for c in flags.columns if c not in ('image_id', 'dataset'))}")
    if settings.target_class not in set(images["label"]):
        raise BadInputError(f"datasets.{name}.trap.class: dataset {name!r} has no image of {settings.target_class!r}")
    has_artefact = images[["image_id"]].merge(flags, on="image_id", how="left")[settings.artefact].to_numpy()
    split = trap_split(images, has_artefact, settings, seed)
    manifest.loc[rows, "split"] = split
    table = association(pd.DataFrame({"split": split, "label": images["label"].to_numpy(),
                                      "artefact": has_artefact}).dropna(subset=["split"]), settings.target_class)
    left_out = int(pd.isna(split).sum())
    what = {"train": "trapped", "val": "trapped", "test": "trap test, association reversed",
            UNTRAPPED: "untrapped test, the data's own association"}
    sources = {}
    for row in table.itertuples():
        sources[row.split] = (f"{what[row.split]}: {settings.artefact} on {row.class_share:.0%} of "
                              f"{settings.target_class} and {row.other_share:.0%} of other images (trap strength "
                              f"{settings.strength}, seed {seed})")
        log.info("%s %s: %d images, %s", name, row.split, row.images, sources[row.split])
    log.info("%s: %d of %d images left out to hold the trap's association", name, left_out, len(images))
    sources["train"] += f"; {left_out} of the dataset's {len(images)} images left out to hold the association"
    return sources
