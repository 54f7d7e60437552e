"""Builders of small official-layout archives for ingest tests."""

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np


def jpeg(width=40, height=30, value=120, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(value, 30, (height, width, 3)), 0, 255).astype(np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


def png_mask(width=40, height=30) -> bytes:
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 255
    return cv2.imencode(".png", mask)[1].tobytes()


def write_isic2017(folder: Path, rows: dict[str, tuple[float, float]], split="Training", images=None, masks=None,
                   prefix="ISIC-2017") -> Path:
    """An ISIC 2017 triple: ``rows`` maps image id -> (melanoma, seborrheic_keratosis)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}_{split}"
    images = images if images is not None else {image_id: jpeg(seed=i) for i, image_id in enumerate(rows)}
    masks = masks if masks is not None else {image_id: png_mask() for image_id in images}
    with zipfile.ZipFile(folder / f"{stem}_Data.zip", "w") as archive:
        for image_id, data in images.items():
            archive.writestr(f"{stem}_Data/{image_id}.jpg", data)
    with zipfile.ZipFile(folder / f"{stem}_Part1_GroundTruth.zip", "w") as archive:
        for image_id, data in masks.items():
            archive.writestr(f"{stem}_Part1_GroundTruth/{image_id}_segmentation.png", data)
    lines = ["image_id,melanoma,seborrheic_keratosis"] + [f"{k},{m},{s}" for k, (m, s) in rows.items()]
    (folder / f"{stem}_Part3_GroundTruth.csv").write_text("\n".join(lines) + "\n")
    return folder


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ISIC2018_CODES = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")


def isic2018_truth(labels: dict[str, str]) -> str:
    """An ISIC 2018 Task 3 ground-truth CSV (its official ``image`` header): image id -> code, one-hot."""
    lines = ["image," + ",".join(ISIC2018_CODES)]
    lines += [f"{image_id}," + ",".join("1.0" if code == label else "0.0" for code in ISIC2018_CODES)
              for image_id, label in labels.items()]
    return "\n".join(lines) + "\n"


def write_isic2018_part(folder: Path, part: str, labels: dict[str, str], truth: bool = True, zipped: bool = True,
                        seed: int = 0) -> None:
    """One ISIC 2018 Task 3 part (Training, Validation or Test): its input and, if ``truth``, its ground
    truth, each zipped like the official downloads or unpacked into a folder of the same name."""
    folder.mkdir(parents=True, exist_ok=True)
    members = {f"ISIC2018_Task3_{part}_Input/{image_id}.jpg": jpeg(seed=seed + index)
               for index, image_id in enumerate(labels)}
    if truth:
        members[f"ISIC2018_Task3_{part}_GroundTruth/ISIC2018_Task3_{part}_GroundTruth.csv"] = (
            isic2018_truth(labels).encode())
    for name in (f"ISIC2018_Task3_{part}_Input", f"ISIC2018_Task3_{part}_GroundTruth"):
        part_members = {member: data for member, data in members.items() if member.startswith(name + "/")}
        if not part_members:
            continue
        if zipped:
            (folder / f"{name}.zip").write_bytes(zip_bytes(part_members))
        else:
            for member, data in part_members.items():
                (folder / member).parent.mkdir(parents=True, exist_ok=True)
                (folder / member).write_bytes(data)
