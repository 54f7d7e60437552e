import numpy as np
import pytest

from melanoflow.evaluation import bootstrap, metrics

from .prediction_tables import CLASSES, ISIC2018_CLASSES, predictions_frame, random_predictions

KERATOSIS = "seborrheic_keratosis"


def test_resamples_keep_class_counts_and_are_seeded():
    labels = np.array(["a"] * 5 + ["b"] * 3 + ["a"] * 2 + ["c"], dtype=object)
    indices = bootstrap.stratified_resamples(labels, 50, seed=7)
    assert indices.shape == (50, len(labels))
    resampled = labels[indices]
    assert (
        (resampled[:, :7] == "a").all()
        and (resampled[:, 7:10] == "b").all()
        and (resampled[:, 10] == "c").all()
    )
    assert np.array_equal(indices, bootstrap.stratified_resamples(labels, 50, seed=7))
    assert not np.array_equal(indices, bootstrap.stratified_resamples(labels, 50, seed=8))


def test_resampled_aucs_equal_sklearn_on_each_resample():
    frame = random_predictions(80, seed=4, decimals=1)
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[metrics.probability_columns(CLASSES)].to_numpy()
    indices = np.vstack([np.arange(len(frame)), bootstrap.stratified_resamples(labels, 5, seed=1)])
    samples = bootstrap.resampled_aucs(labels, probabilities, CLASSES, indices, "melanoma", KERATOSIS)
    for row, rows in enumerate(indices):
        expected = metrics.score_predictions(frame.iloc[rows], CLASSES, "melanoma", KERATOSIS)
        for name in CLASSES:
            assert samples[f"auc.{name}"][row] == pytest.approx(expected["auc"][name], abs=1e-12)
        for name in ("melanoma_auc", "mean_auc", "macro_auc"):
            assert samples[name][row] == pytest.approx(expected[name], abs=1e-12)


def test_intervals_bracket_the_estimate_and_collapse_for_a_perfect_classifier():
    frame = random_predictions(150, seed=5)
    observed = metrics.score_predictions(frame, CLASSES, "melanoma", KERATOSIS)
    intervals = bootstrap.metric_intervals(
        frame, CLASSES, "melanoma", KERATOSIS, resamples=300, seed=0, level=0.95
    )
    assert set(intervals) == {
        "auc.melanoma",
        "auc.nevus",
        f"auc.{KERATOSIS}",
        "melanoma_auc",
        "mean_auc",
        "macro_auc",
        "balanced_accuracy",
        "isic2018.accuracy",
        "isic2018.sensitivity",
        "isic2018.specificity",
    }
    low, high = intervals["melanoma_auc"]
    assert low < observed["melanoma_auc"] < high
    assert 0.02 < high - low < 0.4
    labels = frame["label"].to_numpy()
    perfect = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]])
    assert bootstrap.metric_intervals(perfect, CLASSES, "melanoma", KERATOSIS, 100, 0, 0.95)["mean_auc"] == [
        1.0,
        1.0,
    ]


def test_paired_difference():
    reference = random_predictions(150, seed=6, skill=0.5)
    labels = reference["label"].to_numpy()
    perfect = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]])
    same = bootstrap.paired_differences(
        reference, reference, CLASSES, "melanoma", KERATOSIS, 200, 0, 0.95
    )
    assert same["mean_auc"] == {"difference": 0.0, "interval": [0.0, 0.0], "share_not_better": 1.0}
    better = bootstrap.paired_differences(
        reference, perfect, CLASSES, "melanoma", KERATOSIS, 200, 0, 0.95
    )
    observed = metrics.score_predictions(reference, CLASSES, "melanoma", KERATOSIS)
    assert better["melanoma_auc"]["difference"] == pytest.approx(1 - observed["melanoma_auc"])
    assert 0 < better["melanoma_auc"]["interval"][0] < better["melanoma_auc"]["difference"]
    assert better["melanoma_auc"]["share_not_better"] == 0.0
    with pytest.raises(ValueError, match="same images"):
        bootstrap.paired_differences(
            reference, perfect.iloc[1:], CLASSES, "melanoma", KERATOSIS, 10, 0, 0.95
        )


def seven_class_predictions(n, seed, skill=1.5):
    """Random 7-class predictions with tied maxima, probabilities of exactly 0.5, and no VASC image."""
    frame = random_predictions(n, classes=ISIC2018_CLASSES, seed=seed, decimals=1, skill=skill)
    return frame.loc[frame["label"] != "VASC"].reset_index(drop=True)


DECISION_MEASURES = ("balanced_accuracy", "isic2018.accuracy", "isic2018.sensitivity", "isic2018.specificity")


def observed_measure(scores, name):
    group, _, measure = name.partition(".")
    return scores[group][measure] if measure else scores[group]


def test_resampled_decision_measures_equal_score_predictions_on_each_resample():
    frame = seven_class_predictions(200, seed=8)
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[metrics.probability_columns(ISIC2018_CLASSES)].to_numpy()
    indices = np.vstack([np.arange(len(frame)), bootstrap.stratified_resamples(labels, 5, seed=2)])
    samples = bootstrap.resampled_decision_measures(labels, probabilities, ISIC2018_CLASSES, indices)
    for row, rows in enumerate(indices):
        expected = metrics.score_predictions(frame.iloc[rows], ISIC2018_CLASSES, "MEL", None)
        for name in DECISION_MEASURES:
            assert samples[name][row] == pytest.approx(observed_measure(expected, name), abs=1e-12)


def test_decision_measure_intervals_bracket_the_estimate():
    frame = seven_class_predictions(400, seed=9)
    observed = metrics.score_predictions(frame, ISIC2018_CLASSES, "MEL", None)
    intervals = bootstrap.metric_intervals(frame, ISIC2018_CLASSES, "MEL", None, 300, seed=0, level=0.95)
    for name in DECISION_MEASURES:
        low, high = intervals[name]
        assert low < observed_measure(observed, name) < high, name
        assert high - low < 0.2, name


def test_paired_balanced_accuracy_difference():
    reference = seven_class_predictions(300, seed=10, skill=0.5)
    same = bootstrap.paired_differences(reference, reference, ISIC2018_CLASSES, "MEL", None, 200, 0, 0.95)
    for name in DECISION_MEASURES:
        assert same[name] == {"difference": 0.0, "interval": [0.0, 0.0], "share_not_better": 1.0}
    one_hot = np.eye(7)[[ISIC2018_CLASSES.index(label) for label in reference["label"]]]
    columns = metrics.probability_columns(ISIC2018_CLASSES)
    perfect = reference.assign(**dict(zip(columns, one_hot.T, strict=True)))
    better = bootstrap.paired_differences(reference, perfect, ISIC2018_CLASSES, "MEL", None, 200, 0, 0.95)
    observed = metrics.score_predictions(reference, ISIC2018_CLASSES, "MEL", None)
    difference = better["balanced_accuracy"]
    assert difference["difference"] == pytest.approx(1 - observed["balanced_accuracy"])
    assert 0 < difference["interval"][0] < difference["difference"] < difference["interval"][1]
    assert difference["share_not_better"] == 0.0
