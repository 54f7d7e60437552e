import numpy as np
import pytest

from melanoflow.evaluation import bootstrap, metrics

from .prediction_tables import CLASSES, predictions_frame, random_predictions

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
    intervals = bootstrap.auc_intervals(
        frame, CLASSES, "melanoma", KERATOSIS, resamples=300, seed=0, level=0.95
    )
    assert set(intervals) == {
        "auc.melanoma",
        "auc.nevus",
        f"auc.{KERATOSIS}",
        "melanoma_auc",
        "mean_auc",
        "macro_auc",
    }
    low, high = intervals["melanoma_auc"]
    assert low < observed["melanoma_auc"] < high
    assert 0.02 < high - low < 0.4
    labels = frame["label"].to_numpy()
    perfect = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]])
    assert bootstrap.auc_intervals(perfect, CLASSES, "melanoma", KERATOSIS, 100, 0, 0.95)["mean_auc"] == [
        1.0,
        1.0,
    ]


def test_paired_difference():
    reference = random_predictions(150, seed=6, skill=0.5)
    labels = reference["label"].to_numpy()
    perfect = predictions_frame(labels, np.eye(3)[[CLASSES.index(label) for label in labels]])
    same = bootstrap.paired_auc_differences(
        reference, reference, CLASSES, "melanoma", KERATOSIS, 200, 0, 0.95
    )
    assert same["mean_auc"] == {"difference": 0.0, "interval": [0.0, 0.0], "share_not_better": 1.0}
    better = bootstrap.paired_auc_differences(
        reference, perfect, CLASSES, "melanoma", KERATOSIS, 200, 0, 0.95
    )
    observed = metrics.score_predictions(reference, CLASSES, "melanoma", KERATOSIS)
    assert better["melanoma_auc"]["difference"] == pytest.approx(1 - observed["melanoma_auc"])
    assert 0 < better["melanoma_auc"]["interval"][0] < better["melanoma_auc"]["difference"]
    assert better["melanoma_auc"]["share_not_better"] == 0.0
    with pytest.raises(ValueError, match="same images"):
        bootstrap.paired_auc_differences(
            reference, perfect.iloc[1:], CLASSES, "melanoma", KERATOSIS, 10, 0, 0.95
        )
