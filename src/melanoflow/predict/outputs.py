"""What prediction writes: per image its lesion mask, purified copy, saliency overlay and one panel; per
folder the ISIC submission tables, the skipped inputs and a self-contained ``index.html``.

Panels are drawn with OpenCV rather than matplotlib: one per image, in the time budget of inference.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from melanoflow import fileio
from melanoflow.evaluation.heatmap import overlay
from melanoflow.predict.pipeline import ImagePrediction

PANEL_HEIGHT = 256
CAPTION_HEIGHT = 26
FONT = cv2.FONT_HERSHEY_SIMPLEX
MASK_COLOUR = (0, 220, 0)
THUMBNAIL_WIDTH = 720
# Image folders inside an output folder, and each image's file name in them ({suffix}: see image_files).
IMAGE_FILES = {
    "mask": "masks/{image_id}_segmentation.png",
    "purified": "purified/{image_id}{suffix}",
    "saliency": "saliency/{image_id}.jpg",
    "panel": "panels/{image_id}.png",
}
JPEG_SUFFIXES = (".jpg", ".jpeg")
SKIPPED_COLUMNS = ["source", "reason"]


def to_height(image: np.ndarray, height: int = PANEL_HEIGHT, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=interpolation)


def outlined(image: np.ndarray, region: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """``image`` (RGB uint8) with the outline of a boolean ``region`` of its size drawn on it."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    drawn = image.copy()
    cv2.drawContours(drawn, contours, -1, colour, 2)
    return drawn


def saliency_overlay(prediction: ImagePrediction, height: int = PANEL_HEIGHT) -> np.ndarray:
    """The VisualBackProp mask in jet colours over the classifier's view, scaled to ``height``."""
    view = cv2.resize(prediction.view, (height, height), interpolation=cv2.INTER_CUBIC)
    saliency = np.clip(cv2.resize(prediction.saliency, (height, height), interpolation=cv2.INTER_LINEAR), 0, 1)
    return np.rint(overlay(view, saliency) * 255).astype(np.uint8)


def with_caption(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((CAPTION_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, CAPTION_HEIGHT - 8), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([tile, bar])


def class_text(name: str) -> str:
    return name.replace("_", " ") if name else "tie"


def probability_text(probabilities: np.ndarray, classes: list[str], predicted: str) -> str:
    listed = "  ".join(f"{class_text(name)} {p:.2f}" for name, p in zip(classes, probabilities, strict=True))
    return f"{listed}  ->  {class_text(predicted)}"


def panel(image_id: str, image: np.ndarray, prediction: ImagePrediction, classes: list[str],
          saliency: np.ndarray) -> np.ndarray:
    """original | lesion mask | purified | ``saliency`` (see saliency_overlay), captioned, under a line with
    the class probabilities."""
    purified_caption = f"purified ({prediction.purification.occluded_fraction:.1%} replaced)"
    if prediction.purified_input:
        purified_caption += ", classified"
    original = to_height(image)
    # the outline is drawn at the panel's size: one resize of the image, not two
    mask = cv2.resize(prediction.mask.astype(np.uint8), original.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    tiles = [
        with_caption(original, "original"),
        with_caption(outlined(original, mask > 0, MASK_COLOUR), f"lesion mask ({prediction.mask.mean():.0%} of the image)"),
        with_caption(to_height(prediction.purification.image), purified_caption),
        with_caption(saliency, "VisualBackProp (classifier's view)"),
    ]
    body = np.hstack([np.pad(tile, ((0, 0), (0, 6), (0, 0)), constant_values=255) for tile in tiles])
    header = np.full((34, body.shape[1], 3), 255, np.uint8)
    title = f"{image_id}:  {probability_text(prediction.probabilities, classes, prediction.predicted)}"
    cv2.putText(header, title, (4, 23), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, body])


def image_files(image_id: str, source: str) -> dict[str, str]:
    """One image's files, relative to the output folder. The purified copy of a JPEG input is a JPEG (OpenCV's
    quality 95: a fifth of the PNG's size and a tenth of its encoding time at 1024x768); of any other input,
    a PNG, as lossless as its source. The saliency overlay, a blend of photograph and heat map, is always a
    JPEG (a twentieth of the PNG's encoding time); the mask and the panel, with its text, are PNGs."""
    suffix = ".jpg" if Path(source).suffix.lower() in JPEG_SUFFIXES else ".png"
    return {kind: pattern.format(image_id=image_id, suffix=suffix) for kind, pattern in IMAGE_FILES.items()}


def write_image_files(out_dir: Path, image_id: str, source: str, image: np.ndarray, prediction: ImagePrediction,
                      classes: list[str]) -> tuple[dict[str, str], str]:
    """Write one image's mask, purified copy, saliency overlay and panel; their paths relative to ``out_dir``
    and the panel's thumbnail for the index page."""
    files = image_files(image_id, source)
    fileio.write_image(out_dir / files["mask"], prediction.mask.astype(np.uint8) * 255)
    fileio.write_image(out_dir / files["purified"], prediction.purification.image)
    saliency = saliency_overlay(prediction)
    fileio.write_image(out_dir / files["saliency"], saliency)
    drawn = panel(image_id, image, prediction, classes, saliency)
    fileio.write_image(out_dir / files["panel"], drawn)
    return files, thumbnail_uri(drawn)


def detail_columns(classes: list[str]) -> list[str]:
    return ["image_id", "source", "predicted", *(f"prob_{name}" for name in classes), "lesion_fraction",
            "occluded_fraction", "purified_input", *(f"{kind}_path" for kind in IMAGE_FILES)]


def detail_row(image_id: str, source: str, prediction: ImagePrediction, classes: list[str],
               files: dict[str, str]) -> dict:
    return {
        "image_id": image_id,
        "source": source,
        "predicted": prediction.predicted,
        **{f"prob_{name}": float(p) for name, p in zip(classes, prediction.probabilities, strict=True)},
        "lesion_fraction": float(prediction.mask.mean()),
        "occluded_fraction": prediction.purification.occluded_fraction,
        "purified_input": prediction.purified_input,
        **{f"{kind}_path": path for kind, path in files.items()},
    }


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with fileio.atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def submission_columns(classes: list[str], melanoma: str, keratosis: str | None) -> list[str]:
    """The scored classes: ISIC 2017's two (melanoma, seborrheic keratosis) for a three-class run with a
    keratosis class, else every class (ISIC 2018 and later)."""
    if keratosis is not None and len(classes) == 3:
        return [melanoma, keratosis]
    return list(classes)


def submission_tables(details: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ISIC 2017 submission table (``image_id`` first) and the same under the ``image`` header that
    isic-challenge-scoring and the live ISIC challenges read."""
    table = pd.DataFrame({"image_id": details["image_id"]})
    for name in columns:
        table[name] = details[f"prob_{name}"].astype(float)
    return table, table.rename(columns={"image_id": "image"})


def thumbnail_uri(panel: np.ndarray) -> str:
    """A panel (RGB uint8) as a JPEG data URI at most THUMBNAIL_WIDTH wide, for the self-contained index."""
    image = cv2.cvtColor(panel, cv2.COLOR_RGB2BGR)
    if image.shape[1] > THUMBNAIL_WIDTH:
        image = cv2.resize(image, (THUMBNAIL_WIDTH, round(image.shape[0] * THUMBNAIL_WIDTH / image.shape[1])),
                           interpolation=cv2.INTER_AREA)
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


INDEX_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: middle; }
th.sortable { cursor: pointer; white-space: nowrap; }
th.sortable::after { content: " \\2195"; color: #999; }
td.number { font-variant-numeric: tabular-nums; text-align: right; }
img.panel { width: 720px; max-width: 70vw; }
"""
# Clicking a numeric column's header sorts by it, highest first; clicking again reverses.
INDEX_SCRIPT = """
document.querySelectorAll("th.sortable").forEach((header) => {
  header.addEventListener("click", () => {
    const key = header.dataset.key;
    const body = document.querySelector("#predictions tbody");
    const descending = body.dataset.sortKey !== key || body.dataset.sortOrder !== "descending";
    const rows = Array.from(body.rows);
    rows.sort((a, b) => (Number(a.dataset[key]) - Number(b.dataset[key])) * (descending ? -1 : 1));
    rows.forEach((row) => body.appendChild(row));
    body.dataset.sortKey = key;
    body.dataset.sortOrder = descending ? "descending" : "ascending";
  });
});
"""


def index_html(details: pd.DataFrame, skipped: pd.DataFrame, classes: list[str], melanoma: str,
               thumbnails: list[str], about: dict) -> str:
    """Every image's panel (``thumbnails``: data URIs, in the rows' order) and probabilities in one page, rows
    sorted by melanoma probability (highest first) and sortable by any class's probability."""
    order = np.argsort(-details[f"prob_{melanoma}"].to_numpy(), kind="stable")
    headers = "".join(
        f'<th class="sortable" data-key="p{index}">{html.escape(class_text(name))}</th>'
        for index, name in enumerate(classes)
    )
    rows = []
    for position in order:
        row = details.iloc[position]
        values = [float(row[f"prob_{name}"]) for name in classes]
        attributes = " ".join(f'data-p{index}="{value!r}"' for index, value in enumerate(values))
        cells = "".join(f'<td class="number">{value:.3f}</td>' for value in values)
        rows.append(
            f'<tr data-image-id="{html.escape(row["image_id"])}" {attributes}>'
            f'<td>{html.escape(row["image_id"])}</td>{cells}<td>{html.escape(class_text(row["predicted"]))}</td>'
            f'<td><img class="panel" alt="{html.escape(row["image_id"])}" src="{thumbnails[position]}"></td></tr>'
        )
    melanoma_key = f"p{classes.index(melanoma)}"
    skipped_items = "".join(
        f"<li><code>{html.escape(str(item.source))}</code>: {html.escape(str(item.reason))}</li>"
        for item in skipped.itertuples()
    )
    skipped_block = (f"<h2>Skipped ({len(skipped)})</h2><ul>{skipped_items}</ul>" if len(skipped)
                     else "<p>No input was skipped.</p>")
    about_items = "".join(f"<li>{html.escape(key)}: {html.escape(str(value))}</li>" for key, value in about.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>melanoflow predictions ({len(details)} images)</title><style>{INDEX_STYLE}</style></head><body>"
        f"<h1>melanoflow predictions: {len(details)} images</h1><ul>{about_items}</ul>"
        "<p>Each panel: the image, its predicted lesion mask, the purified copy (hairs and rulers replaced) "
        "and where the classifier looked (VisualBackProp). Click a class to sort by its probability.</p>"
        f'<table id="predictions"><thead><tr><th>image</th>{headers}<th>predicted</th><th>panel</th></tr></thead>'
        f'<tbody data-sort-key="{melanoma_key}" data-sort-order="descending">{"".join(rows)}</tbody></table>'
        f"{skipped_block}<script>{INDEX_SCRIPT}</script></body></html>"
    )
