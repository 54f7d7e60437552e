import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melanoflow.evaluation import decision, metrics, report
from melanoflow.evaluation.settings import ComparisonSettings
from melanoflow.fileio import BadInputError

from .prediction_tables import CLASSES, predictions_frame, random_predictions, save_tiny_classifier
from .test_front_page import rendered_text

EVALUATION = {
    "melanoma_class": "melanoma",
    "keratosis_class": "seborrheic_keratosis",
    "sensitivities": [0.82, 0.89, 0.95],
    "bootstrap": {"resamples": 200, "level": 0.95},
    "baseline": "baseline",
    "proposed": "proposed",
}
PARAMS = ComparisonSettings.from_config(EVALUATION, seed=3, classes=CLASSES)


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


SEVEN_CLASSES = [
    "melanoma",
    "nevus",
    "basal_cell_carcinoma",
    "actinic_keratosis",
    "benign_keratosis",
    "dermatofibroma",
    "vascular_lesion",
]
SEVEN_CLASS_PARAMS = ComparisonSettings.from_config(EVALUATION | {"keratosis_class": None}, seed=3,
                                                   classes=SEVEN_CLASSES)


def test_seven_class_comparison_leads_with_balanced_accuracy_beside_table_6(tmp_path, checkpoint):
    """An ISIC 2018 Task 3 run (no keratosis class), whose test split has no vascular lesion."""
    baseline = random_predictions(240, classes=SEVEN_CLASSES, seed=21, decimals=1, skill=0.8)
    baseline = baseline.loc[baseline["label"] != "vascular_lesion"]
    right = np.eye(7)[[SEVEN_CLASSES.index(label) for label in baseline["label"]]] * 0.8 + 0.02
    proposed = baseline.assign(**dict(zip(metrics.probability_columns(SEVEN_CLASSES), right.T, strict=True)))
    predictions = {}
    for variant, frame in (("baseline", baseline), ("proposed", proposed)):
        predictions[variant] = str(tmp_path / f"{variant}.parquet")
        frame.to_parquet(predictions[variant])
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
    report.compare_variants(
        predictions, None, dict.fromkeys(predictions, checkpoint), outputs, SEVEN_CLASS_PARAMS
    )
    table = pd.read_csv(outputs["table"]).set_index("variant")
    # balanced accuracy by hand: each present class's share predicted right (a tied maximum is wrong)
    probabilities = baseline[metrics.probability_columns(SEVEN_CLASSES)].to_numpy()
    right_share = (decision.argmax_labels(probabilities, SEVEN_CLASSES) == baseline["label"]).groupby(
        baseline["label"].to_numpy()
    )
    assert table.loc["baseline", "balanced_accuracy"] == pytest.approx(right_share.mean().mean(), abs=1e-12)
    assert table.loc["proposed", "balanced_accuracy"] == 1.0
    assert table.loc["proposed", "balanced_accuracy_diff"] == pytest.approx(
        1 - table.loc["baseline", "balanced_accuracy"]
    )
    assert table.loc["proposed", "balanced_accuracy_diff_low"] > 0
    # every one-vs-rest call of the proposed classifier is right; the absent class counts 1.0
    table6 = ["isic2018_accuracy", "isic2018_sensitivity", "isic2018_specificity"]
    assert table.loc["proposed", table6].tolist() == [1.0, 1.0, 1.0]
    assert "auc_vascular_lesion" not in table and "auc_nevus_low" in table

    markdown = Path(outputs["markdown"]).read_text()
    header = [cell.strip() for cell in markdown.splitlines()[0].strip("|").split("|")]
    assert header[:6] == [
        "model",
        "source",
        "balanced accuracy",
        "Δ balanced accuracy vs baseline",
        "macro AUC",
        "melanoma AUC",
    ]
    assert {"accuracy (Table 6)", "sensitivity (Table 6)", "specificity (Table 6)"} <= set(header)
    assert {"nevus AUC", "vascular_lesion AUC"} <= set(header)
    verdicts = [line for line in markdown.splitlines() if line.startswith("Balanced multiclass accuracy:")]
    assert verdicts == [verdicts[0]] and "proposed beats baseline" in verdicts[0]
    paper_rows = {
        line.split("|")[1].strip(): line for line in markdown.splitlines() if "paper (ISIC 2018" in line
    }
    assert set(paper_rows) == {
        "classifier with test-time purification",
        "classifier without test-time purification",
    }
    for number in ("0.717", "0.754", "0.837"):
        assert number in paper_rows["classifier with test-time purification"]
    for number in ("0.675", "0.561", "0.954"):
        assert number in paper_rows["classifier without test-time purification"]
    front_page = rendered_text(Path(outputs["front_page"]).read_text())
    assert "System Message" not in front_page
    assert verdicts[0] in front_page and "Table 6" in front_page
    for shown in (markdown, front_page):
        for variant, row in table.iterrows():
            low, high = row["balanced_accuracy_low"], row["balanced_accuracy_high"]
            assert f"{row['balanced_accuracy']:.3f} [{low:.3f}, {high:.3f}]" in shown, variant
        for paper_2017 in ("ISIC 2017", "Tables 3 and 4", "traditional baseline (ResNet-50)"):
            assert paper_2017 not in shown
    assert "balanced multiclass accuracy" in Path(outputs["html"]).read_text()
    for figure in ("roc", "confusion"):
        assert Path(outputs[figure]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_time_purification_is_judged_against_the_same_classifier(tmp_path, checkpoint):
    """Table 6's comparison: each variant's predictions on purified test inputs against its own on the
    originals, paired on the same images."""
    baseline, predictions, _ = write_variants(tmp_path, checkpoint)
    labels = baseline["label"].to_numpy()
    purified = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]] * 0.8 + 0.05)
    predictions["baseline.test_purified"] = str(tmp_path / "baseline.test_purified.parquet")
    purified.to_parquet(predictions["baseline.test_purified"])
    outputs = {"table": str(tmp_path / "out.csv"), "markdown": str(tmp_path / "out.md")}
    report.compare_variants(predictions, None, dict.fromkeys(predictions, checkpoint), outputs, PARAMS)
    markdown = Path(outputs["markdown"]).read_text()
    assert "Melanoma ROC AUC: baseline.test_purified minus baseline" in markdown
    assert "baseline.test_purified beats baseline" in markdown  # perfect against weak, on the same images
    assert "proposed.test_purified" not in markdown  # no purified predictions of proposed: no sentence
