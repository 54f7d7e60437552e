"""The HTML report of the tiny run renders in headless Chromium and shows the ROC figure and the verdict."""

import re

import pytest

from melanoflow.evaluation import browser

from .conftest import REPO, snakemake

ROC_CAPTION = (REPO / "workflow" / "report" / "evaluation_roc.rst").read_text().split("(")[0].strip()


@pytest.mark.slow
def test_report_shows_the_roc_figure(tiny_run, tmp_path):
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium: run tests/tools/ensure_chromium.sh")
    report = tmp_path / "report.html"
    snakemake(tiny_run, "--report", str(report))
    dom = browser.render_result(report, "reports/roc.png", chromium)
    assert 'data-shown-result="results/reports/roc.png"' in dom
    assert re.search(r'<img src="data:image/png;[^"]*filename=roc\.png;base64,', browser.visible_markup(dom))
    assert ROC_CAPTION in browser.visible_markup(dom)


def test_summary_states_whether_proposed_beats_baseline(tiny_run):
    summary = (tiny_run / "results" / "reports" / "comparison.md").read_text()
    verdict = re.search(
        r"Melanoma ROC AUC: proposed minus baseline = [+-]\d\.\d{3}, 95% CI \[[+-]\d\.\d{3}, "
        r"[+-]\d\.\d{3}\].*: (proposed beats baseline|baseline beats proposed|no clear difference)",
        summary,
    )
    assert verdict, summary
