"""What test-time views buy on a finished run: melanoma and mean AUC of one classifier variant with
1, 2, 4 and 8 views (see classification.predict.tta_views), each against 1 view with its paired
bootstrap interval, on one split of the run's own images (through `melanoflow predict`'s pipeline).

Not part of `make bench` (it needs a finished run):

    .venv/bin/python bench/tta_on_run.py --results results --split val [--variant proposed]

Writes bench/results/tta_<split>.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from melanoflow.evaluation.bootstrap import metric_intervals, paired_differences
from melanoflow.evaluation.metrics import score_predictions
from melanoflow.fileio import read_image, write_text
from melanoflow.predict.pipeline import Predictor
from melanoflow.tables import read_columns

ROOT = Path(__file__).resolve().parents[1]
VIEWS = (1, 2, 4, 8)
RESAMPLES = 2000


def view_predictions(predictor: Predictor, rows: pd.DataFrame, batch: int = 16) -> dict[int, pd.DataFrame]:
    """Per number of views, the predictions table of ``rows`` (each image segmented and purified once)."""
    inputs = []
    for start in tqdm(range(0, len(rows), batch), desc="segmenting and purifying"):
        images = [read_image(path) for path in rows["image_path"].iloc[start : start + batch]]
        inputs.append(predictor.prepare(images)[-1])
    frames = {}
    for views in VIEWS:
        predictor.views = views
        probabilities = np.concatenate([predictor.classify(chunk) for chunk in inputs])
        frame = rows[["dataset", "image_id", "label"]].reset_index(drop=True)
        for index, name in enumerate(predictor.classes):
            frame[f"prob_{name}"] = probabilities[:, index]
        frames[views] = frame
    return frames


def interval(value: float, bounds: list[float], sign: str = "") -> str:
    return f"{value:{sign}.3f} [{bounds[0]:{sign}.3f}, {bounds[1]:{sign}.3f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--variant", default="proposed")
    parser.add_argument("--dataset", help="only this dataset's images (default: all of the split)")
    args = parser.parse_args()
    predictor = Predictor(args.results, args.variant)
    settings = predictor.run.settings
    classes, melanoma, keratosis = predictor.classes, settings.melanoma_class, settings.keratosis_class
    rows = read_columns(Path(args.results) / "manifests" / "images.parquet",
                        ["dataset", "image_id", "split", "label", "image_path"])
    rows = rows[(rows["split"] == args.split) & (args.dataset is None or rows["dataset"] == args.dataset)]
    frames = view_predictions(predictor, rows)
    lines = [f"# Test-time views: {args.variant} on the {args.split} split of {args.results} ({len(rows)} images)",
             "", "| views | melanoma AUC | mean AUC | minus 1 view: melanoma | minus 1 view: mean |", "|---|---|---|---|---|"]
    for views, frame in frames.items():
        observed = score_predictions(frame, classes, melanoma, keratosis)
        intervals = metric_intervals(frame, classes, melanoma, keratosis, RESAMPLES, 0, 0.95)
        cells = [interval(observed[key], intervals[key]) for key in ("melanoma_auc", "mean_auc")]
        if views == VIEWS[0]:
            cells += ["", ""]
        else:
            differences = paired_differences(frames[VIEWS[0]], frame, classes, melanoma, keratosis, RESAMPLES, 0,
                                                 0.95)
            cells += [interval(differences[key]["difference"], differences[key]["interval"], "+")
                      for key in ("melanoma_auc", "mean_auc")]
        lines.append(f"| {views} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    write_text(ROOT / "bench" / "results" / f"tta_{args.split}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
