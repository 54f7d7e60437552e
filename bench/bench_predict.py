"""`melanoflow predict` speed: images per second at 1024x768 input, the share of time per step, and the
whole command against the sum of its stages' own inference times.

The run it predicts with has the CPU config's sizes (config/isic2017-cpu.yaml: segmenter 228 px at 1/8
width, ResNet-18 on 96-px lesion crops, the improved purification, test-time flips) with untrained
weights, which cost the same time as trained ones. The references, measured in the same run on the same
decoded images: the segmenter's batched inference and post-processing, the purifier, the classifier's
inputs (lesion crop, colour constancy, resize) and test-time views, and VisualBackProp, each alone.
Target: the command (process start, model loading, decoding and every file it writes included) within
1.5x their sum. The references and the command are measured in turn ``--repeats`` times and the median
ratio is the result (a shared machine's speed drifts by a fifth between minutes); every repeat's numbers
are kept.

The inputs are the real ISIC 2017 images of ../shared/data/isic-real resized to 1024x768 when present,
generated 1024x768 textures otherwise.

    .venv/bin/python bench/bench_predict.py [--images 96] [--repeats 3]

Writes bench/results/predict.md and .json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from melanoflow.classification.model import build_classifier, classifier_metadata, save_classifier
from melanoflow.config_files import load_config
from melanoflow.evaluation.vbp import saliency_maps
from melanoflow.fileio import read_image, write_json, write_text
from melanoflow.predict.artefacts import SETTINGS_FILE
from melanoflow.predict.pipeline import Predictor
from melanoflow.predict.settings import run_settings
from melanoflow.runtime import cpu_flags, save_checkpoint
from melanoflow.segmentation.model import DilatedUNet, SegmenterSpec

ROOT = Path(__file__).resolve().parents[1]
ISIC = ROOT.parent / "shared" / "data" / "isic-real" / "ISIC-2017_Training_Data.zip"
CONFIG = ROOT / "config" / "isic2017-cpu.yaml"
SIZE = (1024, 768)
TARGET_RATIO = 1.5


def input_images(folder: Path, count: int) -> str:
    """``count`` 1024x768 JPEGs in ``folder``; says where they came from."""
    folder.mkdir(parents=True)
    if ISIC.exists():
        with zipfile.ZipFile(ISIC) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".jpg") and "superpixels" not in n)[:count]
            for name in names:
                image = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR)
                cv2.imwrite(str(folder / Path(name).name), cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
        return f"{len(names)} real ISIC 2017 images (shared/data/isic-real) resized to 1024x768"
    rng = np.random.default_rng(0)
    for index in range(count):
        noise = cv2.GaussianBlur(rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8), (0, 0), 3)
        cv2.imwrite(str(folder / f"generated_{index}.jpg"), noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return f"{count} generated 1024x768 JPEGs"


def untrained_run(results: Path, config: dict) -> None:
    """A results folder with the models and settings `melanoflow predict` reads, at the config's sizes."""
    torch.manual_seed(0)
    segmentation, classification = config["segmentation"], config["classification"]
    spec = SegmenterSpec(input_size=segmentation["input_size"], width=segmentation["width"])
    save_checkpoint(results / "models" / "segmenter.pt", {"spec": asdict(spec), "model": DilatedUNet(spec).state_dict()})
    model = build_classifier(classification["arch"], len(config["classes"]))
    meta = classifier_metadata(classification["arch"], config["classes"], classification["input_size"],
                               classification["resize"], (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), None)
    save_classifier(results / "models" / "classifier.proposed.pt", model,
                    {**meta, "lesion_crop": classification["lesion_crop"],
                     "color_constancy": classification["color_constancy"]})
    write_json(results / SETTINGS_FILE, run_settings(config))


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def stage_seconds(results: Path, images: list[np.ndarray]) -> dict[str, float]:
    """Each stage's own inference time over ``images`` (after one warm-up image)."""
    predictor = Predictor(results, "proposed", "cpu")
    predictor.predict(images[:1])
    masks = predictor.segment(images)
    inputs = predictor.classifier_inputs(images, masks)
    views = predictor.centre_views(inputs)
    return {
        "segment": timed(lambda: predictor.segment(images)),
        "purify": timed(lambda: [predictor.purify(image, mask) for image, mask in zip(images, masks, strict=True)]),
        "classify": timed(lambda: predictor.classify(predictor.classifier_inputs(images, masks))),
        "explain": timed(lambda: saliency_maps(predictor.model, predictor.meta, views, predictor.device,
                                               predictor.batch_size)),
    }


def command_seconds(folder: Path) -> tuple[float, dict[str, float]]:
    """The command's wall time over ``folder/images`` and the seconds per step it reports."""
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "melanoflow"), "predict", str(folder / "images"),
               "--out", str(out), "--results", str(folder / "results")]
    wall = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    return wall, json.loads((out / "run.json").read_text())["seconds"]


def run(count: int, repeats: int) -> dict:
    config = load_config([CONFIG], ROOT / "config" / "config.yaml")
    with tempfile.TemporaryDirectory(prefix="melanoflow-bench-predict-") as folder:
        folder = Path(folder)
        source = input_images(folder / "images", count)
        untrained_run(folder / "results", config)
        images = [read_image(path) for path in sorted((folder / "images").iterdir())]
        trials = []
        for _ in range(repeats):
            stages = stage_seconds(folder / "results", images)
            wall, steps = command_seconds(folder)
            trials.append((wall / sum(stages.values()), wall, stages, steps))
    ratios = [trial[0] for trial in trials]
    _, wall, stages, steps = trials[int(np.argsort(ratios)[len(ratios) // 2])]
    stage_sum = sum(stages.values())
    return {
        "cpu": " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})),
        "threads": torch.get_num_threads(),
        "inputs": source,
        "images": count,
        "command_seconds": round(wall, 2),
        "images_per_second": round(count / wall, 2),
        "stage_seconds": {name: round(value, 2) for name, value in stages.items()},
        "stage_sum_seconds": round(stage_sum, 2),
        "ratio_to_stage_sum": round(wall / stage_sum, 2),
        "ratios_of_repeats": [round(ratio, 2) for ratio in ratios],
        "target_ratio": TARGET_RATIO,
        "command_step_seconds": steps,
        "command_step_shares": {step: round(value / wall, 3) for step, value in steps.items()},
        "startup_and_loading_seconds": round(wall - sum(steps.values()), 2),
    }


def markdown(report: dict) -> str:
    verdict = "meets" if report["ratio_to_stage_sum"] <= report["target_ratio"] else "MISSES"
    lines = [
        "# melanoflow predict: speed at 1024x768",
        "",
        f"CPU flags: {report['cpu'] or 'none of avx2/avx512'}; {report['threads']} threads; inputs: {report['inputs']}.",
        "",
        f"- whole command: {report['command_seconds']} s for {report['images']} images = "
        f"**{report['images_per_second']} images/s**",
        f"- sum of the stages' own inference times: {report['stage_sum_seconds']} s "
        f"({', '.join(f'{k} {v} s' for k, v in report['stage_seconds'].items())})",
        f"- command / stage sum: **{report['ratio_to_stage_sum']}x** ({verdict} the target of "
        f"{report['target_ratio']}x); the median of {len(report['ratios_of_repeats'])} repeats "
        f"({', '.join(f'{ratio}x' for ratio in report['ratios_of_repeats'])}), whose numbers are shown",
        "",
        "| step | seconds in the command | share of its wall time |",
        "|---|---|---|",
        *(f"| {step} | {seconds} | {report['command_step_shares'][step]:.0%} |"
          for step, seconds in report["command_step_seconds"].items()),
        f"| start, imports, model loading, summary | {report['startup_and_loading_seconds']} | "
        f"{report['startup_and_loading_seconds'] / report['command_seconds']:.0%} |",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report = run(args.images, args.repeats)
    out = ROOT / "bench" / "results"
    write_json(out / "predict.json", report)
    write_text(out / "predict.md", markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
