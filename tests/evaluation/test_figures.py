"""The ROC and confusion figures: what their panels say, with three classes and with seven."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from melanoflow.evaluation import figures, metrics

from .prediction_tables import CLASSES, predictions_frame, random_predictions

SEVEN_CLASSES = [
    "melanoma",
    "nevus",
    "basal_cell_carcinoma",
    "actinic_keratosis",
    "benign_keratosis",
    "dermatofibroma",
    "vascular_lesion",
]


def cell_texts(axis) -> list[str]:
    return [text.get_text() for text in axis.texts]


def test_confusion_cells_show_the_share_of_the_true_class_and_the_count():
    labels = ["melanoma", "melanoma", "nevus", "nevus", "seborrheic_keratosis", "seborrheic_keratosis"]
    probabilities = [
        [0.7, 0.2, 0.1],
        [0.4, 0.4, 0.2],  # tied: predicts no class, yet counts in the melanoma row's share
        [0.1, 0.8, 0.1],
        [0.6, 0.3, 0.1],
        [0.1, 0.2, 0.7],
        [0.2, 0.5, 0.3],
    ]
    scores = metrics.score_predictions(predictions_frame(labels, probabilities), CLASSES, "melanoma", None)
    figure = figures.plot_confusion_matrices({"variant": scores}, CLASSES)
    axis = figure.axes[0]
    assert cell_texts(axis) == [
        "0.50\n1", "0.00\n0", "0.00\n0",
        "0.50\n1", "0.50\n1", "0.00\n0",
        "0.00\n0", "0.50\n1", "0.50\n1",
    ]  # fmt: skip
    assert "balanced 0.500, 1 tied" in axis.get_title()
    assert [label.get_text() for label in axis.get_xticklabels()] == ["M", "nevus", "SK"]
    assert "M = melanoma, SK = seborrheic keratosis" in [text.get_text() for text in figure.texts]
    plt.close(figure)


def test_seven_class_figures_wrap_panels_and_name_every_class():
    frame = random_predictions(300, classes=SEVEN_CLASSES, seed=3)
    variants = ["baseline", "proposed", "baseline.test_purified", "proposed.test_purified", "classical_floor"]
    frames = {variant: frame for variant in variants}
    scores = {}
    for variant in variants:
        scores[variant] = metrics.score_predictions(frame, SEVEN_CLASSES, "melanoma", None)
        scores[variant]["intervals"] = {f"auc.{name}": [0.5, 0.9] for name in SEVEN_CLASSES}
    roc = figures.plot_roc_curves(frames, scores, SEVEN_CLASSES)
    assert len(roc.axes) == 5
    assert len({round(axis.get_position().y0, 3) for axis in roc.axes}) == 2  # two rows, not one
    legend = [text.get_text() for text in roc.axes[0].get_legend().get_texts()]
    auc = scores["baseline"]["auc"]["basal_cell_carcinoma"]
    assert legend[2] == f"basal cell carcinoma: AUC {auc:.3f} [0.500, 0.900]"
    # a class keeps its colour in every panel
    assert len({to_hex(axis.lines[2].get_color()) for axis in roc.axes}) == 1
    confusion = figures.plot_confusion_matrices(scores, SEVEN_CLASSES)
    assert len(confusion.axes) == 5 and len(cell_texts(confusion.axes[0])) == 49
    ticks = [label.get_text() for label in confusion.axes[0].get_yticklabels()]
    assert ticks == ["M", "nevus", "BCC", "AK", "BK", "D", "VL"]
    key = " ".join(text.get_text() for text in confusion.texts)
    assert "BCC = basal cell carcinoma" in key and "VL = vascular lesion" in key
    for figure in (roc, confusion):
        plt.close(figure)


@pytest.mark.parametrize(
    ("classes", "names"),
    [
        (CLASSES, ["M", "nevus", "SK"]),
        (["melanoma", "metastasis", "nevus"], ["melanoma", "metastasis", "nevus"]),  # "M" twice: full names
    ],
)
def test_axis_names_are_short_and_unambiguous(classes, names):
    assert figures.axis_names(classes) == names
