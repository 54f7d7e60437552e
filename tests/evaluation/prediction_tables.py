"""Predictions tables shaped like the classify stage's output (docs/contracts.md), built by the tests."""

import numpy as np
import pandas as pd

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
ISIC2018_CLASSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]


def predictions_frame(labels, probabilities, classes=CLASSES, dataset="demo"):
    probabilities = np.asarray(probabilities, dtype=float)
    frame = pd.DataFrame(
        {
            "image_id": [f"ISIC_{index:07d}" for index in range(len(labels))],
            "dataset": dataset,
            "label": list(labels),
            "predicted": [classes[i] for i in probabilities.argmax(axis=1)],
        }
    )
    for index, name in enumerate(classes):
        frame[f"prob_{name}"] = probabilities[:, index]
    return frame


def random_predictions(n, classes=CLASSES, seed=0, decimals=2, skill=1.5):
    """Random labels with Dirichlet probabilities nudged towards the truth, rounded so that ties occur."""
    rng = np.random.default_rng(seed)
    shares = np.linspace(2, 1, len(classes))
    labels = rng.choice(classes, size=n, p=shares / shares.sum())
    concentration = np.ones((n, len(classes)))
    concentration[np.arange(n), [classes.index(label) for label in labels]] += skill
    probabilities = np.round(np.array([rng.dirichlet(row) for row in concentration]), decimals)
    return predictions_frame(labels, probabilities, classes)
