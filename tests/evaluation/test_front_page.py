"""The report's landing page: the front page the comparison writes, and workflow/report/workflow.rst,
which includes it when Snakemake renders the report's description."""

import html
import re
from pathlib import Path

import pandas as pd
from docutils.core import publish_parts
from jinja2 import Environment

from melanoflow.evaluation import report

from .landing import table_numbers

REPO = Path(__file__).resolve().parents[2]
SENSITIVITIES = [0.82, 0.89, 0.95]
SPLITS = {
    "isic2017": {
        "train": {"origin": "official training part, less the images carved out", "images": 90, "classes": {}},
        "test": {"origin": "carved from the official training part (30 images)", "images": 30, "classes": {}},
    },
    "ph2": {"train": {"origin": "all images (split: train)", "images": 20, "classes": {}}},
}


def comparison_csv_rows() -> pd.DataFrame:
    """comparison.csv as compare_variants writes it: baseline, proposed and the classical floor."""
    rows = []
    for index, (variant, arch, pretrained) in enumerate(
        [
            ("baseline", "resnet50", True),
            ("proposed", "resnet50", True),
            ("classical_floor", "logistic regression on lesion features", None),
        ]
    ):
        row = {"variant": variant, "n_images": 30, "arch": arch, "pretrained": pretrained}
        for metric, base in (("melanoma_auc", 0.701), ("mean_auc", 0.752), ("macro_auc", 0.733)):
            value = base + 0.0113 * index
            row |= {metric: value, f"{metric}_low": value - 0.1021, f"{metric}_high": value + 0.0817}
            if variant != "baseline":
                row |= {
                    f"{metric}_diff": 0.0113 * index,
                    f"{metric}_diff_low": -0.0412,
                    f"{metric}_diff_high": 0.0637 + index / 100,
                    f"{metric}_share_not_better": 0.3,
                }
        row |= {f"spec_{target:.2f}": 0.611 - target / 10 + index / 100 for target in SENSITIVITIES}
        rows.append(row | {"accuracy": 0.6, "balanced_accuracy": 0.55})
    return pd.DataFrame(rows)


def rendered_text(rst: str) -> str:
    """The text docutils renders from ``rst`` (as the report shows it), whitespace collapsed; docutils'
    error messages, which it renders into the page, fail the caller's checks by their 'System Message'."""
    body = publish_parts(rst, writer="html")["html_body"]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_front_page_shows_verdict_table_with_intervals_splits_and_the_papers_rows_as_other_data():
    table = comparison_csv_rows()
    rows = report.summary_rows(table, SENSITIVITIES)
    verdict = report.verdict(
        "baseline", "proposed", {"difference": 0.0113, "interval": [-0.0412, 0.0737], "share_not_better": 0.3},
        "Melanoma ROC AUC", 0.95,
    )
    texts = ["Bootstrap: 200 resamples.", verdict, "Warning: classifier 'x_y_' is *odd*.", report.PAPER_NOTE]
    page = report.front_page(rows, texts, SPLITS)
    shown = rendered_text(page)
    assert "System Message" not in shown
    assert verdict in shown and "no clear difference between proposed and baseline" in shown
    assert "Warning: classifier 'x_y_' is *odd*." in shown  # markup characters shown as they are
    assert shown.index(verdict) < shown.index("0.701 [0.599, 0.783]")  # the answer first
    for number in table_numbers(table):
        assert number in shown
    assert "classical_floor (logistic regression on lesion features)" in shown
    assert "baseline (resnet50, ImageNet init)" in shown
    assert "isic2017: test: 30 images, carved from the official training part (30 images)" in shown
    assert "ph2: train: 20 images, all images (split: train)" in shown
    assert "other data" in shown and "not comparable" in shown
    assert "ISIC 2017 challenge winners" not in shown  # the paper's rows stay in the full comparison
    assert "Where the splits came from" not in rendered_text(report.front_page(rows, texts, None))


class Record:
    """What the description's template sees of a result in the report (snakemake.report.FileRecord)."""

    def __init__(self, path):
        self.path = Path(path)


def render_description(records) -> str:
    """workflow/report/workflow.rst as `snakemake --report` renders it (snakemake/report/__init__.py):
    Jinja2 with the report's results as ``files``, then docutils, from the run's working directory."""
    template = (REPO / "workflow" / "report" / "workflow.rst").read_text()
    environment = Environment(trim_blocks=True, lstrip_blocks=True)
    return rendered_text(environment.from_string(template).render(snakemake=None, categories={}, files=records))


def test_the_description_includes_the_runs_front_page_and_still_renders_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = comparison_csv_rows()
    rows = report.summary_rows(table, SENSITIVITIES)
    results = [Record("results/reports/comparison.csv"), Record("results/reports/validation/comparison.csv")]
    placeholder = "This report holds no comparison of the classifiers yet"
    # before the run, a report of part of the DAG, a run from before the front page: the description alone
    for records in ([], [Record("results/manifests/class_counts.png")], results):
        shown = render_description(records)
        assert "melanoflow run" in shown and placeholder in shown and "System Message" not in shown
    (tmp_path / "results" / "reports").mkdir(parents=True)
    (tmp_path / "results" / "reports" / "front_page.rst").write_text(report.front_page(rows, ["Verdict."], SPLITS))
    assert placeholder in render_description(results[1:])  # the validation comparison has no front page
    shown = render_description(results)
    assert placeholder not in shown and "System Message" not in shown
    assert "melanoflow run" in shown and "Verdict." in shown
    for number in table_numbers(table):
        assert number in shown
