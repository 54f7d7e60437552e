import numpy as np
import pandas as pd
import pytest
import sklearn.metrics
from isic_challenge_scoring import metrics as official_metrics
from isic_challenge_scoring.classification import ClassificationMetric, ClassificationScore

from melanoflow.evaluation import decision, metrics
from melanoflow.fileio import BadInputError
from melanoflow.tables import SchemaError

from .prediction_tables import CLASSES, ISIC2018_CLASSES, predictions_frame, random_predictions


def test_auc_counts_pairs_and_half_ties():
    assert metrics.roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.6, 0.1])) == 0.75
    # pairs: 0.8>0.5, 0.8>0.2, 0.5=0.5 (half), 0.5>0.2
    assert metrics.roc_auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.5, 0.5, 0.2])) == 3.5 / 4


# scores from high to low: P .95, N .9, P .8, P .7, N .6, P .5, N .4, N .3, P .2, N .1
WALK_LABELS = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 0])
WALK_SCORES = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])


@pytest.mark.parametrize(
    ("target", "specificity"),
    [
        (0.2, 1.0),  # reached by the first point, before any negative
        (0.8, 0.6),  # 4/5 positives at score .5, 2/5 negatives above it
        (0.82, 0.2),  # no interpolation: the next point (1.0 at .2) has 4 of 5 negatives above it
        (1.0, 0.2),
    ],
)
def test_specificity_takes_first_point_reaching_the_sensitivity(target, specificity):
    assert metrics.specificity_at_sensitivity(WALK_LABELS, WALK_SCORES, target) == pytest.approx(
        specificity, abs=1e-12
    )


def test_specificity_treats_tied_scores_as_one_point():
    # P .9 | P .7, N .7 (tied) | N .5 | P .2 | N .1: sensitivity 2/3 is first reached together with a negative
    labels = np.array([1, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.7, 0.7, 0.5, 0.2, 0.1])
    assert metrics.specificity_at_sensitivity(labels, scores, 0.6) == pytest.approx(2 / 3)
    assert metrics.specificity_at_sensitivity(labels, scores, 1.0) == pytest.approx(1 / 3)


def test_specificity_is_zero_when_no_point_reaches_the_sensitivity():
    assert (
        metrics.specificity_at_sensitivity(np.zeros(4, dtype=int), np.array([0.9, 0.5, 0.3, 0.1]), 0.82)
        == 0.0
    )


@pytest.mark.parametrize("target", [0.0, 1.5])
def test_specificity_rejects_impossible_targets(target):
    with pytest.raises(ValueError, match="sensitivity"):
        metrics.specificity_at_sensitivity(WALK_LABELS, WALK_SCORES, target)


def test_argmax_marks_shared_maximum_undecided():
    probabilities = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.4, 0.3, 0.3]])
    assert list(decision.argmax_labels(probabilities, CLASSES)) == [decision.UNDECIDED, CLASSES[2], CLASSES[0]]


def test_balanced_accuracy_counts_undecided_wrong_and_skips_absent_classes():
    labels = np.array(["a", "a", "b", "b", "b", "c"], dtype=object)
    predicted = np.array(["a", decision.UNDECIDED, "b", "a", "b", "c"], dtype=object)
    assert metrics.balanced_multiclass_accuracy(labels, predicted) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    # class "d" is predicted but absent from the truth: it neither adds a recall nor changes the others
    predicted[-1] = "d"
    assert metrics.balanced_multiclass_accuracy(labels, predicted) == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)


def test_score_predictions_hand_built():
    labels = ["melanoma", "melanoma", "nevus", "nevus", "seborrheic_keratosis", "seborrheic_keratosis"]
    probabilities = [
        [0.7, 0.2, 0.1],  # right
        [0.4, 0.4, 0.2],  # tie between melanoma and nevus: wrong
        [0.1, 0.8, 0.1],  # right
        [0.6, 0.3, 0.1],  # predicted melanoma
        [0.1, 0.2, 0.7],  # right
        [0.2, 0.5, 0.3],  # predicted nevus
    ]
    scores = metrics.score_predictions(
        predictions_frame(labels, probabilities), CLASSES, "melanoma", "seborrheic_keratosis"
    )
    assert scores["accuracy"] == pytest.approx(3 / 6)
    assert scores["balanced_accuracy"] == pytest.approx(1 / 2)
    assert scores["undecided"] == 1
    assert scores["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    # melanoma scores: positives .7, .4; negatives .1, .6, .1, .2 -> (4 + 3) / 8
    assert scores["melanoma_auc"] == pytest.approx(7 / 8)
    # keratosis scores: positives .7, .3; negatives .1, .2, .1, .1 -> 8 / 8
    assert scores["auc"]["seborrheic_keratosis"] == pytest.approx(1.0)
    assert scores["mean_auc"] == pytest.approx((7 / 8 + 1) / 2)
    # sensitivity 1/2 reached at .7 (no negative above); 1.0 at .4 (one negative, .6, above)
    assert scores["specificity_at_sensitivity"] == {"0.82": 0.75, "0.89": 0.75, "0.95": 0.75}
    assert scores["class_counts"] == {"melanoma": 2, "nevus": 2, "seborrheic_keratosis": 2}


def official_score(frame, classes):
    """isic_challenge_scoring's scorer, fed DataFrames directly (its CSV loader needs an older pandas)."""
    index = pd.Index(frame["image_id"], name="image")
    truth = pd.DataFrame(
        {name: (frame["label"] == name).astype(float).to_numpy() for name in classes}, index=index
    )
    prediction = pd.DataFrame({name: frame[f"prob_{name}"].to_numpy() for name in classes}, index=index)
    weights = pd.DataFrame({"score_weight": 1.0, "validation_weight": 1.0}, index=index)
    return ClassificationScore(truth, prediction, weights, ClassificationMetric.AUC)


@pytest.mark.parametrize(
    ("classes", "melanoma", "keratosis", "seed"),
    [
        (CLASSES, "melanoma", "seborrheic_keratosis", 1),
        (CLASSES, "melanoma", "seborrheic_keratosis", 2),
        (ISIC2018_CLASSES, "MEL", None, 3),
    ],
)
def test_equals_official_isic_scorer(classes, melanoma, keratosis, seed):
    frame = random_predictions(300, classes=classes, seed=seed, decimals=1)
    assert (
        decision.argmax_labels(frame[metrics.probability_columns(classes)].to_numpy(), classes)
        == decision.UNDECIDED
    ).any(), "the case must contain tied maxima"
    ours = metrics.score_predictions(frame, classes, melanoma, keratosis)
    official = official_score(frame, classes)
    for name in classes:
        assert ours["auc"][name] == pytest.approx(official.per_category.loc[name, "auc"], abs=1e-9)
    assert ours["macro_auc"] == pytest.approx(official.macro_average["auc"], abs=1e-9)
    mean_of = [melanoma, keratosis] if keratosis else classes
    assert ours["mean_auc"] == pytest.approx(official.per_category.loc[mean_of, "auc"].mean(), abs=1e-9)
    assert ours["balanced_accuracy"] == pytest.approx(official.aggregate["balanced_accuracy"], abs=1e-9)


def test_isic2018_measures_hand_built():
    labels = np.array(["a", "a", "b", "b", "c"], dtype=object)
    probabilities = np.array(
        [
            [0.6, 0.3, 0.1],  # a: decided a
            [0.5, 0.5, 0.0],  # a: tied top, decides nothing (wrong)
            [0.2, 0.7, 0.1],  # b: decided b
            [0.3, 0.2, 0.5],  # b: decided c
            [0.4, 0.3, 0.3],  # c: decided a
        ]
    )
    measures = metrics.isic2018_measures(labels, probabilities, ["a", "b", "c"])
    # a: TP 1 FN 1, FP 1 TN 2; b: TP 1 FN 1, FP 0 TN 3; c: TP 0 FN 1, FP 1 TN 3
    assert measures["per_class"] == {
        "sensitivity": {"a": 0.5, "b": 0.5, "c": 0.0},
        "specificity": {"a": 2 / 3, "b": 1.0, "c": 0.75},
    }
    assert measures["accuracy"] == pytest.approx(2 / 5)
    assert measures["sensitivity"] == pytest.approx(1 / 3)
    assert measures["specificity"] == pytest.approx((2 / 3 + 1 + 0.75) / 3)


@pytest.mark.parametrize(("seed", "absent"), [(4, None), (5, None), (6, "VASC"), (7, "DF")])
@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn in the scorer, on a class without positives
def test_isic2018_measures_equal_official_isic_scorer_on_decisions(seed, absent, monkeypatch):
    """Table 6's measures are the official scorer's on the arg-max decisions (a one-hot prediction per
    image, none where the top is tied): its multiclass accuracy from the confusion, its per-class
    sensitivity (the balanced accuracy) and specificity averaged over the classes with cases."""
    frame = random_predictions(300, classes=ISIC2018_CLASSES, seed=seed, decimals=1)
    frame = frame.loc[frame["label"] != absent].reset_index(drop=True)
    probabilities = frame[metrics.probability_columns(ISIC2018_CLASSES)].to_numpy()
    decided = decision.argmax_labels(probabilities, ISIC2018_CLASSES)
    assert (decided == decision.UNDECIDED).any()
    if absent:
        # the scorer's partial AUC fails on a class without positives; it plays no part in these measures
        partial_auc = official_metrics.auc_above_sensitivity
        monkeypatch.setattr(
            official_metrics,
            "auc_above_sensitivity",
            lambda truth, *rest: np.nan if truth.sum() == 0 else partial_auc(truth, *rest),
        )
    one_hot = frame.assign(**{f"prob_{name}": (decided == name).astype(float) for name in ISIC2018_CLASSES})
    official = official_score(one_hot, ISIC2018_CLASSES)
    present = [name for name in ISIC2018_CLASSES if name != absent]
    ours = metrics.score_predictions(frame, ISIC2018_CLASSES, "MEL", None)["isic2018"]
    assert ours["accuracy"] == pytest.approx(sklearn.metrics.accuracy_score(frame["label"], decided), abs=1e-12)
    assert ours["sensitivity"] == pytest.approx(official.per_category.loc[present, "sensitivity"].mean(), abs=1e-12)
    assert ours["sensitivity"] == pytest.approx(official.aggregate["balanced_accuracy"], abs=1e-12)
    assert ours["specificity"] == pytest.approx(official.macro_average["specificity"], abs=1e-12)
    for name in present:
        assert ours["per_class"]["sensitivity"][name] == pytest.approx(official.per_category.loc[name, "sensitivity"])
    if absent:
        assert ours["per_class"]["sensitivity"][absent] is None


def test_read_predictions_checks_the_contract(tmp_path):
    frame = random_predictions(20)
    good = tmp_path / "good.parquet"
    frame.iloc[::-1].to_parquet(good)
    assert list(metrics.read_predictions(good, CLASSES)["image_id"]) == sorted(frame["image_id"])
    missing = tmp_path / "missing.parquet"
    frame.drop(columns="prob_nevus").to_parquet(missing)
    with pytest.raises(SchemaError, match=f"{missing}: missing columns \\['prob_nevus'\\]"):
        metrics.read_predictions(missing, CLASSES)
    cases = {
        "not among the configured classes": frame.assign(label="BCC"),
        "predicted twice": pd.concat([frame, frame.iloc[:1]]),
        "within": frame.assign(prob_melanoma=1.5),
        "no predictions": frame.iloc[:0],
    }
    for problem, bad in cases.items():
        path = tmp_path / "bad.parquet"
        bad.to_parquet(path)
        with pytest.raises(BadInputError, match=problem) as error:
            metrics.read_predictions(path, CLASSES)
        assert str(path) in str(error.value)
