"""The HTML report of the tiny run: it opens on the run's verdict and comparison table, its result
categories follow the data flow, and headless Chromium shows the ROC figure."""

import json
import re

import pytest

from melanoflow.evaluation import report
from tests.tools import browser

from ..evaluation.landing import run_expectations
from .conftest import REPO, snakemake

ROC_CAPTION = (REPO / "workflow" / "report" / "evaluation_roc.rst").read_text().split("(")[0].strip()
DATA_FLOW = [
    "1. Data",
    "2. Segmentation",
    "3. Purification",
    "4. Synthetic lesions",
    "5. Classifiers",
    "6. Comparison",
    "7. Explanations",
    "8. Shortcuts",
]


@pytest.fixture(scope="module")
def tiny_report(tiny_run, tmp_path_factory):
    """The tiny run's report, built once for this module's tests."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(tiny_run, "--report", str(path))
    return path


@pytest.fixture(scope="module")
def chromium():
    path = browser.find_chromium()
    if path is None:
        pytest.skip("no Chromium: run tests/tools/ensure_chromium.sh")
    return path


@pytest.mark.slow
def test_report_shows_the_roc_figure(tiny_report, chromium):
    dom = browser.render_result(tiny_report, "reports/roc.png", chromium)
    assert 'data-shown-result="results/reports/roc.png"' in dom
    assert re.search(r'<img src="data:image/png;[^"]*filename=roc\.png;base64,', browser.visible_markup(dom))
    assert ROC_CAPTION in browser.visible_markup(dom)


@pytest.mark.slow
def test_report_opens_on_the_runs_verdict_and_comparison_table(tiny_run, tiny_report, chromium):
    landing = browser.description_text(browser.render_page(tiny_report, chromium))
    for expected in run_expectations(tiny_run):  # comparison.md's verdict, comparison.csv's numbers
        assert expected in landing
    splits = json.loads((tiny_run / "results" / "manifests" / "splits.json").read_text())
    for line in report.split_lines(splits):
        assert line in landing


@pytest.mark.slow
def test_report_categories_are_numbered_in_data_flow_order(tiny_report):
    embedded = re.search(r'<script id="categories">\s*var categories = (.*?);\s*</script>', tiny_report.read_text(), re.S)
    categories = sorted(json.loads(embedded.group(1)))
    assert set(categories) <= set(DATA_FLOW), categories
    assert {"1. Data", "5. Classifiers", "6. Comparison"} <= set(categories)


def test_summary_states_whether_proposed_beats_baseline(tiny_run):
    summary = (tiny_run / "results" / "reports" / "comparison.md").read_text()
    verdict = re.search(
        r"Melanoma ROC AUC: proposed minus baseline = [+-]\d\.\d{3}, 95% CI \[[+-]\d\.\d{3}, "
        r"[+-]\d\.\d{3}\].*: (proposed beats baseline|baseline beats proposed|no clear difference)",
        summary,
    )
    assert verdict, summary
