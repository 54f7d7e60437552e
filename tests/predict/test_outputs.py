"""What `melanoflow predict` writes besides the images: the submission tables and the index page, which
opens sorted by melanoma probability and re-sorts by any class in a real browser."""

import re

import numpy as np
import pandas as pd
import pytest

from melanoflow.predict import outputs
from tests.tools import browser

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
# image -> (melanoma, nevus, seborrheic keratosis)
PROBABILITIES = {"a": (0.2, 0.7, 0.1), "b": (0.9, 0.05, 0.05), "c": (0.5, 0.2, 0.3), "d": (0.1, 0.1, 0.8)}


def details() -> pd.DataFrame:
    frame = pd.DataFrame({"image_id": list(PROBABILITIES)})
    for index, name in enumerate(CLASSES):
        frame[f"prob_{name}"] = [values[index] for values in PROBABILITIES.values()]
    frame["predicted"] = [CLASSES[int(np.argmax(values))] for values in PROBABILITIES.values()]
    return frame


@pytest.fixture
def index_page(tmp_path):
    thumbnails = [outputs.thumbnail_uri(np.full((40, 160, 3), 200, np.uint8)) for _ in PROBABILITIES]
    skipped = pd.DataFrame({"source": ["scan.tif"], "reason": ["not a readable image"]})
    page = tmp_path / "index.html"
    page.write_text(outputs.index_html(details(), skipped, CLASSES, "melanoma", thumbnails, {"variant": "proposed"}))
    return page


def row_order(markup: str) -> list[str]:
    return re.findall(r'<tr data-image-id="([^"]+)"', markup)


def test_the_purified_copy_keeps_a_jpeg_inputs_format_and_is_lossless_otherwise():
    assert outputs.image_files("ISIC_1", "clinic/ISIC_1.JPEG")["purified"] == "purified/ISIC_1.jpg"
    assert outputs.image_files("ISIC_1", "batch.zip::ISIC_1.jpg")["purified"] == "purified/ISIC_1.jpg"
    files = outputs.image_files("scan", "clinic/scan.tif")
    assert files == {"mask": "masks/scan_segmentation.png", "purified": "purified/scan.png",
                     "saliency": "saliency/scan.jpg", "panel": "panels/scan.png"}


def test_submission_columns_follow_the_challenge_of_the_class_set():
    assert outputs.submission_columns(CLASSES, "melanoma", "seborrheic_keratosis") == ["melanoma", "seborrheic_keratosis"]
    seven = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
    assert outputs.submission_columns(seven, "MEL", None) == seven


def test_submission_tables_carry_the_probabilities_under_both_headers():
    ours, scorer = outputs.submission_tables(details(), ["melanoma", "seborrheic_keratosis"])
    assert list(ours.columns) == ["image_id", "melanoma", "seborrheic_keratosis"]
    assert list(scorer.columns) == ["image", "melanoma", "seborrheic_keratosis"]
    assert scorer.loc[1, "melanoma"] == 0.9 and ours.loc[3, "seborrheic_keratosis"] == 0.8


def test_the_page_opens_sorted_by_melanoma_probability_and_lists_what_was_skipped(index_page):
    markup = index_page.read_text()
    assert row_order(markup) == ["b", "c", "a", "d"]
    assert markup.count('src="data:image/jpeg;base64,') == 4
    assert "<code>scan.tif</code>: not a readable image" in markup


@pytest.fixture
def chromium():
    path = browser.find_chromium()
    if path is None:
        pytest.skip("no Chromium: run tests/tools/ensure_chromium.sh")
    return path


def clicks(*keys: str) -> str:
    return "".join(f'<script>document.querySelector(\'th[data-key="{key}"]\').click();</script>' for key in keys)


@pytest.mark.parametrize(
    ("keys", "order"),
    [
        ((), ["b", "c", "a", "d"]),
        (("p0",), ["d", "a", "c", "b"]),  # melanoma again: lowest first
        (("p1",), ["a", "c", "d", "b"]),  # nevus, highest first
        (("p2", "p2"), ["b", "a", "c", "d"]),  # seborrheic keratosis twice: lowest first
    ],
)
def test_clicking_a_class_sorts_the_rows_in_the_browser(index_page, chromium, keys, order):
    dom = browser.render_page(index_page, chromium, clicks(*keys))
    assert row_order(browser.visible_markup(dom)) == order
