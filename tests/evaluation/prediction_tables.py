"""Predictions tables shaped like the classify stage's output (docs/contracts.md), built by the tests."""

from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
ISIC2018_CLASSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]


def predictions_frame(labels, probabilities, classes=CLASSES, dataset="demo", split="test"):
    probabilities = np.asarray(probabilities, dtype=float)
    frame = pd.DataFrame(
        {
            "image_id": [f"ISIC_{index:07d}" for index in range(len(labels))],
            "dataset": dataset,
            "split": split,
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


def write_evaluation_inputs(folder, variants=("baseline", "proposed"), n_images=12):
    """What the evaluation stage reads, under ``folder`` as a run's working directory: test images with a
    ruler-like band across their top, the purify stage's occlusion table, the ingest manifest, and per
    variant a predictions table and a small random ResNet-18 checkpoint (input 64, resized to 72).

    The band of image i covers 5 (i + 1) of its 60 rows; paths in the tables are relative to ``folder``.
    """
    from melanoflow import fileio

    folder = Path(folder)
    rng = np.random.default_rng(0)
    images, occlusions = [], []
    for index in range(n_images):
        image_id = f"ISIC_{index:07d}"
        mask = np.zeros((60, 90), dtype=np.uint8)
        mask[: 5 * (index + 1), :] = 255
        image_path, mask_path = f"results/images/{image_id}.png", f"results/purified/{image_id}_occlusion.png"
        fileio.write_image(folder / image_path, rng.integers(0, 255, size=(60, 90, 3), dtype=np.uint8))
        fileio.write_image(folder / mask_path, mask)
        images.append({"image_id": image_id, "dataset": "demo", "split": "test", "image_path": image_path})
        occlusions.append(
            {
                "image_id": image_id,
                "dataset": "demo",
                "split": "test",
                "occlusion_mask_path": mask_path,
                "occluded_fraction": float((mask > 0).mean()),
            }
        )
    (folder / "results/manifests").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(images).to_parquet(folder / "results/manifests/images.parquet")
    pd.DataFrame(occlusions).to_parquet(folder / "results/purified/occlusions.parquet")
    labels = [CLASSES[index % 3] for index in range(n_images)]
    for variant in variants:
        probabilities = rng.dirichlet(np.ones(3), size=n_images)
        (folder / "results/predictions").mkdir(parents=True, exist_ok=True)
        predictions_frame(labels, probabilities).to_parquet(folder / f"results/predictions/{variant}.parquet")
        save_tiny_classifier(folder / f"results/models/classifier.{variant}.pt")
    return folder


def save_tiny_classifier(path):
    """A randomly initialised ResNet-18 checkpoint as the classify stage saves it (input 64, resize 72)."""
    import torchvision

    from melanoflow.classification.model import classifier_metadata, save_classifier

    model = torchvision.models.resnet18(weights=None, num_classes=len(CLASSES))
    save_classifier(
        path, model, classifier_metadata("resnet18", CLASSES, 64, 72, (0.5,) * 3, (0.25,) * 3, None)
    )
