"""One reader per archive layout. A reader lists the images it finds with their labels and masks.

Readers do not decode pixels; they pair archive members with label rows and report what does not pair
up. :mod:`melanoflow.ingest.build` decodes, checks and writes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from melanoflow.fileio import BadInputError
from melanoflow.ingest.archive import Archive, Limits

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
ARCHIVE_SPLIT_NAMES = {"training": "train", "validation": "val", "test": "test", "test_v2": "test"}
ISIC2018_CODES = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")


@dataclass(frozen=True)
class Member:
    archive: Archive
    name: str

    def read(self) -> bytes:
        return self.archive.read(self.name)

    def describe(self) -> str:
        return self.archive.describe(self.name)


@dataclass
class Candidate:
    """An image found in an archive, with what its dataset says about it."""

    image_id: str
    image: Member
    label: str | None = None  # the dataset's own label name
    split: str | None = None  # official split, when the archive has one
    mask: Member | None = None
    lesion_id: str | None = None
    problem: str | None = None  # why this image cannot be used as it is (bad label row, ...)


@dataclass
class Scan:
    candidates: list[Candidate] = field(default_factory=list)
    unmatched_labels: list[str] = field(default_factory=list)  # messages: labels without an image
    unscored: dict[str, int] = field(default_factory=dict)  # path of a part without ground truth -> its images


def open_entries(folder: Path, limits: Limits) -> dict[str, Archive | Path]:
    """The dataset folder's top-level entries: zips and sub-folders opened as archives, other files as paths."""
    if not folder.is_dir():
        raise BadInputError(f"{folder}: dataset folder does not exist")
    entries: dict[str, Archive | Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            raise BadInputError(f"{entry}: is a symbolic link; refusing to read through it")
        if entry.is_dir() or entry.suffix.lower() == ".zip":
            entries[entry.name] = Archive(entry, limits)
        else:
            entries[entry.name] = entry
    return entries


def image_members(archive: Archive, exclude: Callable[[str], bool] = lambda stem: False) -> dict[str, Member]:
    """Image members of ``archive`` keyed by file stem; a stem found twice is an error."""
    found: dict[str, Member] = {}
    for name in archive.members:
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES or exclude(path.stem):
            continue
        if path.stem in found:
            raise BadInputError(
                f"{archive.path}: image id {path.stem!r} appears twice ({found[path.stem].name} and {name})"
            )
        found[path.stem] = Member(archive, name)
    return found


def read_csv(source: Archive | Path, member: str | None, required: list[str]) -> tuple[pd.DataFrame, str]:
    """A label CSV with ``image_id`` (or ISIC 2018's ``image``) as string; missing columns and duplicate ids
    are errors naming the file."""
    if isinstance(source, Archive):
        where, data = source.describe(member), source.read(member)
    else:
        where, data = str(source), source.read_bytes()
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={"image_id": str, "image": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise BadInputError(f"{where}: not a readable CSV ({error})") from error
    if "image_id" not in frame.columns and "image" in frame.columns:
        frame = frame.rename(columns={"image": "image_id"})  # the ISIC 2018 files' header
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise BadInputError(f"{where}: missing columns {missing} (has {list(frame.columns)})")
    duplicated = frame.loc[frame["image_id"].duplicated(), "image_id"].tolist()
    if duplicated:
        raise BadInputError(f"{where}: image ids listed more than once: {duplicated[:5]}")
    return frame, where


def one_hot_labels(frame: pd.DataFrame, columns: list[str], where: str, rest: str | None) -> dict[str, str]:
    """image_id -> label name from 0/1 columns. Several 1s conflict; no 1 means ``rest`` (or conflicts)."""
    values = frame[columns].to_numpy()
    labels: dict[str, str] = {}
    for image_id, row in zip(frame["image_id"], values, strict=True):
        if not set(row.tolist()) <= {0, 1}:
            labels[image_id] = f"!{where}: image {image_id}: label values {row.tolist()} are not 0/1"
            continue
        hot = [column for column, value in zip(columns, row, strict=True) if value == 1]
        if len(hot) == 1:
            labels[image_id] = hot[0]
        elif not hot and rest is not None:
            labels[image_id] = rest
        else:
            labels[image_id] = f"!{where}: image {image_id}: conflicting labels {hot or 'none'}"
    return labels


def attach_labels(scan: Scan, images: dict[str, Member], labels: dict[str, str], where: str, **extra) -> None:
    """Pair images with labels (a label starting with '!' is a problem message) into ``scan``."""
    for image_id, member in images.items():
        label = labels.get(image_id)
        candidate = Candidate(image_id, member, **extra)
        if label is None:
            candidate.problem = f"{member.describe()}: image has no label in {where}"
        elif label.startswith("!"):
            candidate.problem = label[1:]
        else:
            candidate.label = label
        scan.candidates.append(candidate)
    for image_id in sorted(set(labels) - set(images)):
        scan.unmatched_labels.append(f"{where}: label row {image_id} has no image")


TRIPLE = re.compile(
    r"^(?P<prefix>.+?)_(?P<split>Training|Validation|Test_v2|Test)_(?P<part>Data|Part1_GroundTruth|Part3_GroundTruth)"
    r"(?:\.zip|\.csv)?$"
)


def read_isic2017(folder: Path, limits: Limits, dataset: dict) -> Scan:
    """ISIC 2017 (and the same three-file layout of other sets): images zip, Part1 masks zip, Part3 CSV per split."""
    entries = open_entries(folder, limits)
    parts: dict[tuple[str, str], dict[str, Archive | Path]] = {}
    for name, entry in entries.items():
        match = TRIPLE.match(name)
        if match:
            parts.setdefault((match["prefix"], match["split"]), {})[match["part"]] = entry
    if not parts:
        raise BadInputError(f"{folder}: no <prefix>_<Training|Validation|Test_v2>_Data archive found (ISIC 2017 layout)")
    scan = Scan()
    for (prefix, split_name), split_parts in sorted(parts.items()):
        stem = f"{prefix}_{split_name}"
        for part in ("Data", "Part3_GroundTruth"):
            if part not in split_parts:
                raise BadInputError(f"{folder}: {stem}_Data has no matching {stem}_{part} file")
        labels_entry = split_parts["Part3_GroundTruth"]
        frame, where = read_csv(labels_entry, None, ["image_id", "melanoma", "seborrheic_keratosis"])
        labels = one_hot_labels(frame, ["melanoma", "seborrheic_keratosis"], where, rest="nevus")
        images = image_members(split_parts["Data"], exclude=lambda stem: stem.endswith("_superpixels"))
        masks = {}
        if "Part1_GroundTruth" in split_parts:
            masks = {stem.removesuffix("_segmentation"): member
                     for stem, member in image_members(split_parts["Part1_GroundTruth"]).items()}
        split = ARCHIVE_SPLIT_NAMES[split_name.lower()]
        before = len(scan.candidates)
        attach_labels(scan, images, labels, where, split=split)
        for candidate in scan.candidates[before:]:
            candidate.mask = masks.get(candidate.image_id)
    return scan


def find_member(entries: dict[str, Archive | Path], pattern: str) -> tuple[Archive | Path, str | None] | None:
    """The first top-level file or archive member whose path matches ``pattern`` (a regex)."""
    regex = re.compile(pattern, re.IGNORECASE)
    for name, entry in entries.items():
        if isinstance(entry, Path) and regex.search(name):
            return entry, None
        if isinstance(entry, Archive):
            for member in entry.members:
                if regex.search(member):
                    return entry, member
    return None


ISIC2018_PARTS = ("Training", "Validation", "Test")
# Lesion ids: the HAM10000 metadata, or the lesion groupings the ISIC 2018 challenge published.
ISIC2018_LESION_TABLES = (r"(^|/)HAM10000_metadata(\.csv)?$", r"(^|/)ISIC2018_Task3_Training_LesionGroupings\.csv$")
# Masks: the HAM10000 lesion segmentations (Tschandl et al. 2020) or the ISIC 2018 Task 1 ground truth.
ISIC2018_MASK_ARCHIVES = re.compile(r"^(HAM10000_segmentations_lesion|ISIC2018_Task1_.*GroundTruth)")


def read_isic2018_lesion_ids(entries: dict[str, Archive | Path]) -> tuple[dict[str, str], str | None]:
    """image_id -> lesion_id from every lesion table present, and the first table's name (None: no table)."""
    lesion_ids: dict[str, str] = {}
    where = None
    for pattern in ISIC2018_LESION_TABLES:
        table = find_member(entries, pattern)
        if table:
            frame, found = read_csv(table[0], table[1], ["image_id", "lesion_id"])
            lesion_ids.update(zip(frame["image_id"], frame["lesion_id"], strict=True))
            where = where or found
    return lesion_ids, where


def isic2018_parts(folder: Path, entries: dict[str, Archive | Path]) -> dict[str, tuple[Archive, tuple | None]]:
    """Part name -> (its input archive, its ground-truth CSV or None) for the parts present. Ground truth
    without its input is an error, and so is a Training part without ground truth."""
    parts = {}
    for part in ISIC2018_PARTS:
        inputs = entries.get(f"ISIC2018_Task3_{part}_Input") or entries.get(f"ISIC2018_Task3_{part}_Input.zip")
        truth = find_member(entries, rf"(^|/)ISIC2018_Task3_{part}_GroundTruth\.csv$")
        if inputs is None:
            if truth is not None:
                raise BadInputError(f"{folder}: ISIC2018_Task3_{part}_GroundTruth.csv is present but its images "
                                    f"(ISIC2018_Task3_{part}_Input, folder or zip) are missing")
            continue
        if truth is None and part == "Training":
            raise BadInputError(f"{folder}: ISIC2018_Task3_Training_Input has no "
                                "ISIC2018_Task3_Training_GroundTruth.csv (zipped or unpacked)")
        parts[part] = (inputs, truth)
    return parts


def isic2018_unscored_inputs(folder: Path, limits: Limits) -> list[Path]:
    """The input archives (zip or folder) of the parts without ground truth: predicted, never scored."""
    if not folder.is_dir():
        return []
    parts = isic2018_parts(folder, open_entries(folder, limits))
    return [inputs.path for inputs, truth in parts.values() if truth is None]


def read_isic2018_task3(folder: Path, limits: Limits, dataset: dict) -> Scan:
    """ISIC 2018 Task 3 as released: Training / Validation / Test inputs with their one-hot ground truth,
    zipped or unpacked, lesion ids and lesion masks when present.

    A part whose ground truth is absent (the challenge's test input) cannot be scored: it is listed in
    ``scan.unscored`` and left out of the manifest. Ground truth without its input part is an error, and
    so is a Training part without ground truth or, when lesion ids are given, an image they do not list.
    """
    entries = open_entries(folder, limits)
    lesion_ids, lesion_table = read_isic2018_lesion_ids(entries)
    masks: dict[str, Member] = {}
    for name, entry in entries.items():
        if ISIC2018_MASK_ARCHIVES.match(name) and isinstance(entry, Archive):
            masks.update({stem.removesuffix("_segmentation"): member
                          for stem, member in image_members(entry).items() if stem.endswith("_segmentation")})
    scan = Scan()
    for part, (inputs, truth) in isic2018_parts(folder, entries).items():
        images = image_members(inputs)
        if truth is None:
            scan.unscored[str(inputs.path)] = len(images)
            continue
        frame, where = read_csv(truth[0], truth[1], ["image_id", *ISIC2018_CODES])
        labels = one_hot_labels(frame.astype({code: float for code in ISIC2018_CODES}), list(ISIC2018_CODES), where, None)
        if lesion_table:
            unlisted = sorted(set(images) - set(lesion_ids))
            if unlisted:
                raise BadInputError(f"{lesion_table}: {len(unlisted)} images of ISIC2018_Task3_{part}_Input have "
                                    f"no lesion id, e.g. {unlisted[:5]}")
        before = len(scan.candidates)
        attach_labels(scan, images, labels, where, split=ARCHIVE_SPLIT_NAMES[part.lower()])
        for candidate in scan.candidates[before:]:
            candidate.mask = masks.get(candidate.image_id)
            candidate.lesion_id = lesion_ids.get(candidate.image_id)
    if not scan.candidates and not scan.unscored:
        raise BadInputError(f"{folder}: no ISIC2018_Task3_<Training|Validation|Test>_Input archive found")
    if not scan.candidates:
        raise BadInputError(f"{folder}: no ISIC2018_Task3 part has ground truth; nothing can be trained or scored")
    return scan


PH2_IMAGE = re.compile(r"(^|/)(IMD\d+)/\2_Dermoscopic_Image/\2\.bmp$", re.IGNORECASE)
PH2_MASK = re.compile(r"(^|/)(IMD\d+)/\2_lesion/\2_lesion\.bmp$", re.IGNORECASE)
PH2_CLASSES = {"Common Nevus": "common_nevus", "Atypical Nevus": "atypical_nevus", "Melanoma": "melanoma"}
PH2_TXT_CLASSES = {"0": "common_nevus", "1": "atypical_nevus", "2": "melanoma"}


def ph2_labels_from_xlsx(data: bytes, where: str) -> dict[str, str]:
    """PH2_dataset.xlsx: find the header row ('Image Name'), an X in a diagnosis column is the label."""
    sheet = pd.read_excel(io.BytesIO(data), header=None, dtype=str)
    header_rows = sheet.index[sheet.apply(lambda row: row.str.strip().eq("Image Name").any(), axis=1)]
    if not len(header_rows):
        raise BadInputError(f"{where}: no 'Image Name' header row")
    header = sheet.loc[header_rows[0]].str.strip()
    table = sheet.loc[header_rows[0] + 1 :]
    table.columns = header
    missing = [column for column in ("Image Name", *PH2_CLASSES) if column not in header.values]
    if missing:
        raise BadInputError(f"{where}: label sheet lacks columns {missing}")
    labels: dict[str, str] = {}
    for _, row in table.dropna(subset=["Image Name"]).iterrows():
        image_id = row["Image Name"].strip()
        marked = [PH2_CLASSES[column] for column in PH2_CLASSES if str(row[column]).strip().upper() == "X"]
        labels[image_id] = marked[0] if len(marked) == 1 else f"!{where}: image {image_id}: conflicting labels {marked}"
    return labels


def ph2_labels_from_txt(data: bytes, where: str) -> dict[str, str]:
    """PH2_dataset.txt: '||'-separated rows; the third field is the clinical diagnosis code 0/1/2."""
    labels: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        fields = [field.strip() for field in line.strip().strip("|").split("||")]
        if len(fields) > 2 and re.fullmatch(r"IMD\d+", fields[0]):
            code = fields[2]
            labels[fields[0]] = PH2_TXT_CLASSES.get(code, f"!{where}: image {fields[0]}: unknown diagnosis code {code!r}")
    return labels


def read_ph2(folder: Path, limits: Limits, dataset: dict) -> Scan:
    """PH2 in its own layout (folder or zip): BMP images, 1-bit lesion masks, PH2_dataset.xlsx or .txt labels."""
    entries = open_entries(folder, limits)
    sheet = find_member(entries, r"PH2_dataset\.xlsx$") or find_member(entries, r"PH2_dataset\.txt$")
    if sheet is None:
        raise BadInputError(f"{folder}: no PH2_dataset.xlsx or PH2_dataset.txt label sheet found")
    source, member = sheet
    data = source.read(member) if isinstance(source, Archive) else source.read_bytes()
    where = source.describe(member) if isinstance(source, Archive) else str(source)
    labels = ph2_labels_from_xlsx(data, where) if where.lower().endswith(".xlsx") else ph2_labels_from_txt(data, where)
    images: dict[str, Member] = {}
    masks: dict[str, Member] = {}
    for entry in entries.values():
        if isinstance(entry, Archive):
            for name in entry.members:
                if match := PH2_IMAGE.search(name):
                    images[match[2]] = Member(entry, name)
                elif match := PH2_MASK.search(name):
                    masks[match[2]] = Member(entry, name)
    if not images:
        raise BadInputError(f"{folder}: no 'IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp' images found (PH2 layout)")
    scan = Scan()
    attach_labels(scan, images, labels, where)
    for candidate in scan.candidates:
        candidate.mask = masks.get(candidate.image_id)
    return scan


MASK_SUFFIX = re.compile(r"(_segmentation|_mask|mask|_lesion)$", re.IGNORECASE)


def read_folder(folder: Path, limits: Limits, dataset: dict) -> Scan:
    """Dermofit-style class folders (<label>/.../<image>, masks named <image>mask), or images + a labels CSV."""
    archive = Archive(folder, limits)
    masks: dict[str, Member] = {}
    images: dict[str, Member] = {}
    folder_labels: dict[str, str] = {}
    for name in archive.members:
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if MASK_SUFFIX.search(path.stem):
            masks[MASK_SUFFIX.sub("", path.stem)] = Member(archive, name)
            continue
        if path.stem in images:
            raise BadInputError(f"{folder}: image id {path.stem!r} appears twice ({images[path.stem].name} and {name})")
        images[path.stem] = Member(archive, name)
        if len(path.parts) > 1:
            folder_labels[path.stem] = path.parts[0]
    scan = Scan()
    if "labels_csv" in dataset:
        frame, where = read_csv(folder / dataset["labels_csv"], None, ["image_id", "label"])
        labels = dict(zip(frame["image_id"], frame["label"].astype(str), strict=True))
        lesions = dict(zip(frame["image_id"], frame["lesion_id"], strict=True)) if "lesion_id" in frame else {}
        splits = dict(zip(frame["image_id"], frame["split"], strict=True)) if "split" in frame else {}
        attach_labels(scan, images, labels, where)
        for candidate in scan.candidates:
            candidate.lesion_id = lesions.get(candidate.image_id)
            candidate.split = splits.get(candidate.image_id)
    else:
        attach_labels(scan, images, folder_labels, f"{folder} (class folders)")
    for candidate in scan.candidates:
        candidate.mask = masks.get(candidate.image_id)
    return scan


READERS: dict[str, Callable[[Path, Limits, dict], Scan]] = {
    "isic2017": read_isic2017,
    "isic2018_task3": read_isic2018_task3,
    "ph2": read_ph2,
    "folder": read_folder,
}
