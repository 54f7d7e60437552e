"""Evaluation speed: bootstrap intervals and VisualBackProp on this machine.

References measured in the same run:
- bootstrap: the textbook loop, one ``sklearn.metrics.roc_auc_score`` call per class and resample, against
  ``bootstrap.resampled_aucs`` (all resamples at once through the Mann-Whitney U statistic), on the ISIC
  2017 test set's size (600 images: 117 melanoma, 90 seborrheic keratosis, 393 nevus). Target >= 10x.
- VisualBackProp: a plain forward pass of the same ResNet-50 (224 px, bf16 autocast where the CPU has
  it, channels_last) against ``vbp.visual_backprop``; target: VBP costs <= 1.3x a forward pass. The
  forward pass is also put against the bf16 matmul ceiling (``benchmarking.matmul_tflops``).
- the whole per-variant scoring (metrics + 2000 bootstrap resamples) and the comparison (figures included)
  of the demo's size (120 test images, two variants, 1000 resamples), in seconds.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_evaluation.py

Writes bench/results/evaluation.md and .json.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn.metrics
import torch
import torchvision

from melanoflow.evaluation import bootstrap, report, vbp
from melanoflow.evaluation.metrics import probability_columns
from melanoflow.evaluation.settings import ComparisonSettings
from melanoflow.fileio import write_json, write_text
from melanoflow.runtime import autocast

from benchmarking import best_of, conv_flops, matmul_tflops

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["melanoma", "nevus", "seborrheic_keratosis"]
ISIC2017_TEST = {"melanoma": 117, "nevus": 393, "seborrheic_keratosis": 90}


def predictions(counts: dict[str, int], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.repeat(list(counts), list(counts.values()))
    concentration = np.ones((len(labels), len(CLASSES)))
    concentration[np.arange(len(labels)), [CLASSES.index(label) for label in labels]] += 2
    probabilities = np.array([rng.dirichlet(row) for row in concentration])
    frame = pd.DataFrame(
        {
            "image_id": [f"ISIC_{i:07d}" for i in range(len(labels))],
            "dataset": "bench",
            "split": "test",
            "label": labels,
            "predicted": np.asarray(CLASSES)[probabilities.argmax(1)],
        }
    )
    return frame.assign(**dict(zip(probability_columns(CLASSES), probabilities.T, strict=True)))


def bootstrap_rates(resamples: int) -> dict[str, float]:
    frame = predictions(ISIC2017_TEST, seed=0)
    labels = frame["label"].to_numpy(dtype=object)
    probabilities = frame[probability_columns(CLASSES)].to_numpy()
    indices = bootstrap.stratified_resamples(labels, resamples, seed=0)

    def textbook(rows: np.ndarray) -> None:
        for row in rows:
            for column, name in enumerate(CLASSES):
                sklearn.metrics.roc_auc_score(labels[row] == name, probabilities[row, column])

    loop_seconds = best_of(lambda: textbook(indices[:40]), repeats=2) / 40 * resamples
    library_seconds = best_of(
        lambda: bootstrap.resampled_aucs(
            labels, probabilities, CLASSES, indices, "melanoma", "seborrheic_keratosis"
        ),
        repeats=3,
    )
    return {
        "resamples": resamples,
        "loop_s": loop_seconds,
        "library_s": library_seconds,
        "speedup": loop_seconds / library_seconds,
    }


def vbp_rates(batch: int) -> dict[str, float]:
    device = torch.device("cpu")
    model = torchvision.models.resnet50(num_classes=3).eval().to(memory_format=torch.channels_last)
    images = torch.randn(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.no_grad(), autocast(device):
            model(images)

    def explain():
        with autocast(device):
            vbp.visual_backprop(model, images)

    forward_seconds = best_of(forward, repeats=3)
    vbp_seconds = best_of(explain, repeats=3)
    flops = conv_flops(model, images)
    return {
        "batch": batch,
        "forward_s": forward_seconds,
        "vbp_s": vbp_seconds,
        "vbp_over_forward": vbp_seconds / forward_seconds,
        "forward_tflops": flops / forward_seconds / 1e12,
    }


def demo_seconds() -> dict[str, float]:
    evaluation = {
        "melanoma_class": "melanoma",
        "keratosis_class": "seborrheic_keratosis",
        "sensitivities": [0.82, 0.89, 0.95],
        "bootstrap": {"resamples": 1000, "level": 0.95},
        "baseline": "baseline",
        "proposed": "proposed",
    }
    settings = ComparisonSettings.from_config(evaluation, seed=200, classes=CLASSES)
    demo_counts = {"melanoma": 30, "nevus": 75, "seborrheic_keratosis": 15}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        paths, metrics = {}, {}
        started = time.perf_counter()
        for seed, variant in enumerate(("baseline", "proposed")):
            paths[variant] = str(folder / f"{variant}.parquet")
            predictions(demo_counts, seed).to_parquet(paths[variant])
            metrics[variant] = str(folder / variant / "metrics.json")
            report.evaluate_variant(paths[variant], metrics[variant], settings, variant)
        scored = time.perf_counter()
        checkpoint = folder / "classifier.pt"
        torch.save({"model": {}, "arch": "resnet18", "pretrained": False}, checkpoint)
        outputs = {name: str(folder / f"out.{name}") for name in ("table", "markdown", "html")}
        outputs |= {"roc": str(folder / "roc.png"), "confusion": str(folder / "confusion.png")}
        report.compare_variants(paths, metrics, dict.fromkeys(paths, str(checkpoint)), outputs, settings)
        compared = time.perf_counter()
    return {"score_two_variants_s": scored - started, "compare_s": compared - scored}


def main() -> None:
    ceiling = matmul_tflops(torch.bfloat16)
    results = {
        "matmul_bf16_tflops": ceiling,
        "bootstrap": bootstrap_rates(2000),
        "vbp": vbp_rates(8),
        "demo": demo_seconds(),
        "threads": torch.get_num_threads(),
    }
    results["vbp"]["forward_share_of_ceiling"] = results["vbp"]["forward_tflops"] / ceiling
    b, v, d = results["bootstrap"], results["vbp"], results["demo"]
    lines = [
        "# Evaluation benchmark",
        "",
        f"torch threads: {results['threads']}; bf16 matmul ceiling {ceiling:.3f} TFLOP/s (same run).",
        "",
        "| measurement | reference | library | ratio | target |",
        "|---|---|---|---|---|",
        f"| bootstrap AUCs, 600 images x 3 classes x {b['resamples']} resamples | sklearn loop {b['loop_s']:.2f} s "
        f"| {b['library_s']:.3f} s | {b['speedup']:.0f}x faster | >= 10x |",
        f"| VisualBackProp, ResNet-50 224 px, batch {v['batch']} | forward {v['forward_s']:.3f} s | {v['vbp_s']:.3f} s "
        f"| {v['vbp_over_forward']:.2f}x a forward | <= 1.3x |",
        f"| ResNet-50 forward (bf16 autocast, channels_last) | matmul ceiling {ceiling:.3f} TFLOP/s "
        f"| {v['forward_tflops']:.3f} TFLOP/s | {v['forward_share_of_ceiling']:.0%} of ceiling | - |",
        f"| demo size: score 2 variants (120 images, 1000 resamples) | - | {d['score_two_variants_s']:.2f} s | - | - |",
        f"| demo size: paired comparison + ROC/confusion figures | - | {d['compare_s']:.2f} s | - | - |",
        "",
    ]
    out = ROOT / "bench" / "results"
    write_text(out / "evaluation.md", "\n".join(lines))
    write_json(out / "evaluation.json", results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
