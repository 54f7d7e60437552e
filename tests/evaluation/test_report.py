import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melanoflow.evaluation import metrics, report
from melanoflow.io import BadInputError

from .prediction_tables import CLASSES, predictions_frame, random_predictions, save_tiny_classifier

PARAMS = {
    "seed": 3,
    "classes": CLASSES,
    "melanoma_class": "melanoma",
    "keratosis_class": "seborrheic_keratosis",
    "sensitivities": [0.82, 0.89, 0.95],
    "bootstrap": {"resamples": 200, "level": 0.95},
    "baseline": "baseline",
    "proposed": "proposed",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "classifier.pt"
    save_tiny_classifier(path)
    return str(path)


def write_variants(tmp_path, checkpoint):
    """A weak baseline and a perfect proposed classifier on the same 120 images, plus their metrics files."""
    baseline = random_predictions(120, seed=11, skill=0.4)
    labels = baseline["label"].to_numpy()
    proposed = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]] * 0.8 + 0.05)
    predictions, metrics_files = {}, {}
    for variant, frame in (("baseline", baseline), ("proposed", proposed)):
        predictions[variant] = str(tmp_path / f"{variant}.parquet")
        frame.sample(frac=1, random_state=0).to_parquet(predictions[variant])  # row order must not matter
        metrics_files[variant] = str(tmp_path / variant / "metrics.json")
        report.evaluate_variant(predictions[variant], metrics_files[variant], PARAMS, variant)
    return baseline, predictions, metrics_files


def test_evaluate_variant_writes_scores_and_intervals(tmp_path, checkpoint):
    baseline, _, metrics_files = write_variants(tmp_path, checkpoint)
    written = json.loads(Path(metrics_files["baseline"]).read_text())
    expected = metrics.score_predictions(
        baseline.sort_values("image_id"), CLASSES, "melanoma", "seborrheic_keratosis"
    )
    assert written["melanoma_auc"] == pytest.approx(expected["melanoma_auc"], abs=1e-12)
    assert written["confusion_matrix"] == expected["confusion_matrix"]
    low, high = written["intervals"]["mean_auc"]
    assert low < written["mean_auc"] < high


def test_compare_states_the_verdict_beside_the_paper(tmp_path, checkpoint):
    _, predictions, metrics_files = write_variants(tmp_path, checkpoint)
    outputs = {
        name: str(tmp_path / "out" / f"{name}.{suffix}")
        for name, suffix in [
            ("table", "csv"),
            ("markdown", "md"),
            ("html", "html"),
            ("roc", "png"),
            ("confusion", "png"),
            ("front_page", "rst"),
        ]
    }
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"demo": {"test": {"origin": "official", "images": 120, "classes": {}}}}))
    report.compare_variants(
        predictions, metrics_files, dict.fromkeys(predictions, checkpoint), outputs, PARAMS, splits=str(splits)
    )
    table = pd.read_csv(outputs["table"]).set_index("variant")
    assert table.loc["proposed", "melanoma_auc"] == 1.0
    assert table.loc["proposed", "melanoma_auc_diff"] == pytest.approx(
        1 - table.loc["baseline", "melanoma_auc"]
    )
    assert table.loc["proposed", "melanoma_auc_diff_low"] > 0
    assert np.isnan(table.loc["baseline", "melanoma_auc_diff"])
    markdown = Path(outputs["markdown"]).read_text()
    assert "Melanoma ROC AUC: proposed minus baseline" in markdown and "proposed beats baseline" in markdown
    for number in ("0.805", "0.873", "0.880", "0.915", "0.874", "0.911", "0.697", "0.648", "0.492"):
        assert number in markdown
    assert report.PAPER_SOURCE in markdown
    assert "trained without ImageNet weights" in markdown and "proposed (resnet18, random init)" in markdown
    assert "proposed beats baseline" in Path(outputs["html"]).read_text()
    front_page = Path(outputs["front_page"]).read_text()  # the report's landing page (tests/evaluation/test_front_page.py)
    verdicts = [line for line in markdown.splitlines() if line.startswith(("Melanoma ROC AUC:", "Mean ROC AUC:"))]
    assert len(verdicts) == 2 and all(line in front_page for line in verdicts)
    for variant, row in table.iterrows():
        assert f"{row['melanoma_auc']:.3f} [{row['melanoma_auc_low']:.3f}, {row['melanoma_auc_high']:.3f}]" in front_page
        assert f"{variant} (resnet18, random init)" in front_page
    assert "demo: test: 120 images, official" in front_page
    for figure in ("roc", "confusion"):
        assert Path(outputs[figure]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("interval", "outcome"),
    [
        ([0.01, 0.2], "proposed beats baseline"),
        ([-0.2, -0.01], "baseline beats proposed"),
        ([-0.1, 0.1], "no clear difference"),
    ],
)
def test_verdict_follows_the_interval(interval, outcome):
    difference = {"difference": sum(interval) / 2, "interval": interval, "share_not_better": 0.5}
    assert outcome in report.verdict("baseline", "proposed", difference, "Melanoma ROC AUC", 0.95)


def test_compare_refuses_predictions_on_different_images(tmp_path, checkpoint):
    _, predictions, metrics_files = write_variants(tmp_path, checkpoint)
    pd.read_parquet(predictions["proposed"]).iloc[1:].to_parquet(predictions["proposed"])
    with pytest.raises(BadInputError, match="not the same test images") as error:
        report.compare_variants(
            predictions, metrics_files, dict.fromkeys(predictions, checkpoint), {}, PARAMS
        )
    assert predictions["proposed"] in str(error.value)


def test_every_deep_variant_is_compared_with_the_classical_floor(tmp_path, checkpoint):
    baseline, predictions, _ = write_variants(tmp_path, checkpoint)
    floor_model = tmp_path / "classical_floor.json"
    floor_model.write_text("{}")
    floor = random_predictions(120, seed=12, skill=0.4).assign(label=baseline["label"].to_numpy())
    predictions["classical_floor"] = str(tmp_path / "classical_floor.parquet")
    floor.to_parquet(predictions["classical_floor"])
    outputs = {"table": str(tmp_path / "out.csv"), "markdown": str(tmp_path / "out.md")}
    checkpoints = dict.fromkeys(predictions, checkpoint) | {"classical_floor": str(floor_model)}
    report.compare_variants(predictions, None, checkpoints, outputs, PARAMS)
    markdown = Path(outputs["markdown"]).read_text()
    assert "Melanoma ROC AUC: proposed minus classical_floor" in markdown
    assert "proposed beats classical_floor" in markdown  # perfect against a weak floor
    assert "Mean ROC AUC: baseline minus classical_floor" in markdown
    assert "classical_floor minus" not in markdown
    assert "classical_floor (logistic regression on lesion features)" in markdown
    assert "'classical_floor' was trained without ImageNet weights" not in markdown
