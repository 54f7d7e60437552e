"""The evaluation rules run under Snakemake and their figures render in the HTML report.

A minimal Snakefile includes the project's real common.smk and evaluate.smk, on inputs this test
writes in place of the upstream stages; `snakemake --report` builds the report and headless Chromium
shows its ROC figure. (tests/e2e/test_report_html.py does the same on the tiny end-to-end run.)
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from melanoflow.evaluation import browser

from .prediction_tables import write_evaluation_inputs

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ROC_CAPTION = (REPO / "workflow" / "report" / "evaluation_roc.rst").read_text().split("(")[0].strip()

SNAKEFILE = f"""
report: "{REPO}/workflow/report/workflow.rst"
include: "{REPO}/workflow/rules/common.smk"
include: "{REPO}/workflow/rules/evaluate.smk"

rule evaluation_all:
    input: evaluation_targets()
"""
OVERRIDES = {
    "evaluation": {
        "bootstrap": {"resamples": 50, "level": 0.95},
        "vbp": {"variants": ["baseline", "proposed"], "occlusion_images": 2, "device": "cpu"},
    }
}


def run_snakemake(workdir: Path, *args: str) -> str:
    command = [
        SNAKEMAKE,
        "-s",
        "Snakefile",
        "--configfile",
        str(REPO / "config" / "demo.yaml"),
        "overrides.yaml",
        "--cores",
        "1",
        *args,
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def chromium():
    path = browser.find_chromium()
    if path is None:
        pytest.skip("no Chromium: run tests/tools/ensure_chromium.sh")
    return path


@pytest.mark.slow
def test_rules_run_and_the_report_shows_the_roc_figure(tmp_path, chromium):
    write_evaluation_inputs(tmp_path, n_images=9)
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "overrides.yaml").write_text(yaml.safe_dump(OVERRIDES))
    # every evaluation target resolves to the stage's rules; only the comparison runs (VBP has unit tests)
    everything = run_snakemake(tmp_path, "--dry-run", "evaluation_all")
    for rule in ("evaluate_variant", "compare_variants", "explain_cases", "occlusion_reliance"):
        assert rule in everything
    run_snakemake(tmp_path, "results/reports/roc.png")
    assert "proposed" in (tmp_path / "results/reports/comparison.md").read_text()
    run_snakemake(tmp_path, "--report", "report.html", "results/reports/roc.png")
    dom = browser.render_result(tmp_path / "report.html", "reports/roc.png", chromium)
    assert 'data-shown-result="results/reports/roc.png"' in dom
    width, height = map(int, dom.split('data-shown-size="')[1].split('"')[0].split("x"))
    assert width > 500 and height > 300
    shown = browser.visible_markup(dom)
    assert ROC_CAPTION in shown
    assert re.search(r'<img src="data:image/png;[^"]*filename=roc\.png;base64,', shown)
