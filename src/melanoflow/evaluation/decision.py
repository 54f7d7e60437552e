"""The decision rule: one class per image from its class probabilities (ISIC 2018's tie rule).

Kept apart from the metrics (scikit-learn) so that prediction can label images without importing them.
"""

from __future__ import annotations

import numpy as np

# Label of a prediction whose maximum probability is tied between classes: matches no true class.
UNDECIDED = "undecided"


def argmax_labels(probabilities: np.ndarray, classes: list[str]) -> np.ndarray:
    """The most probable class per row, or UNDECIDED where the maximum is shared (the ISIC 2018 rule)."""
    maximum = probabilities.max(axis=1, keepdims=True)
    tied = (probabilities == maximum).sum(axis=1) > 1
    labels = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    labels[tied] = UNDECIDED
    return labels
