"""Segmenter speed: training and inference images/s of the paper's network at 380x380, as a fraction of
this machine's bf16 matmul throughput measured in the same run.

Achieved throughput counts the convolution FLOPs of Table 1's network (``benchmarking.conv_flops``; a
training step is taken as 3x the forward FLOPs: forward, input gradients, weight gradients). Targets:
inference >= 50 % of the bf16 matmul ceiling, training >= 30 %. fp32 inference is measured too, against
the fp32 ceiling, so that the gain of bf16 autocast + channels_last is visible (fp32 training is left out
to keep the run under ~3 minutes on 2 cores). Each ceiling is measured just before and after its timing
and the higher value is used, so that a busy shared machine does not flatter the fractions.

    .venv/bin/python bench/bench_segmentation.py [--batch 2] [--repeats 2]

Writes bench/results/segmentation.md and .json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from melanoflow.fileio import write_json, write_text
from melanoflow.runtime import autocast, cpu_supports_bf16, select_device
from melanoflow.segmentation.model import PAPER, DilatedUNet
from melanoflow.segmentation.train import train_step

from benchmarking import best_of, conv_flops, matmul_tflops

ROOT = Path(__file__).resolve().parents[1]
TRAINING_FLOPS_PER_FORWARD = 3


def timed_against_ceiling(fn, repeats: int, dtype: torch.dtype, device: torch.device) -> tuple[float, float]:
    """Best seconds of ``fn`` and the matmul ceiling of ``dtype`` measured just before and just after it
    (the higher of the two), so that load from other users of a shared machine hits both alike."""
    before = matmul_tflops(dtype, device=device.type)
    seconds = best_of(fn, repeats=repeats, device=device.type)
    after = matmul_tflops(dtype, device=device.type)
    return seconds, max(before, after)


def measure(device: torch.device, batch: int, repeats: int, mixed_precision: bool, train: bool) -> dict:
    torch.manual_seed(0)
    dtype = torch.bfloat16 if mixed_precision else torch.float32
    model = DilatedUNet(PAPER).to(device).to(memory_format=torch.channels_last)
    size = PAPER.input_size
    inputs = torch.randn(batch, 7, size, size, device=device).contiguous(memory_format=torch.channels_last)
    targets = (torch.rand(batch, 1, size, size, device=device) > 0.5).float()
    forward_flops = conv_flops(model, inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    @torch.no_grad()
    def infer():
        with autocast(device, enabled=mixed_precision):
            model.predict_proba(inputs)

    def one_train_step():
        train_step(model, inputs, targets, optimizer, loss_fn, device, mixed_precision)

    model.eval()
    seconds, ceiling = timed_against_ceiling(infer, repeats, dtype, device)
    tflops = forward_flops / seconds / 1e12
    row = {
        "gflop_per_image_forward": forward_flops / batch / 1e9,
        "inference_images_per_s": batch / seconds,
        "inference_tflops": tflops,
        "inference_ceiling_tflops": ceiling,
        "inference_fraction_of_ceiling": tflops / ceiling,
    }
    if train:
        model.train()
        # one timed step after one warm-up: a step of the full network takes seconds to tens of seconds
        seconds, ceiling = timed_against_ceiling(one_train_step, 1, dtype, device)
        tflops = TRAINING_FLOPS_PER_FORWARD * forward_flops / seconds / 1e12
        row |= {
            "training_images_per_s": batch / seconds,
            "training_tflops": tflops,
            "training_ceiling_tflops": ceiling,
            "training_fraction_of_ceiling": tflops / ceiling,
        }
    return row


def run(batch: int, repeats: int, device_name: str) -> dict:
    device = select_device(device_name)
    report = {"device": str(device), "threads": torch.get_num_threads(), "batch": batch,
              "input_size": PAPER.input_size, "cpu_bf16": cpu_supports_bf16(), "paths": {}}  # fmt: skip
    for path, mixed, train in (("bf16 autocast + channels_last", True, True), ("fp32", False, False)):
        report["paths"][path] = measure(device, batch, repeats, mixed_precision=mixed, train=train)
        print(f"{path}: {report['paths'][path]}", flush=True)
    return report


def markdown(report: dict) -> str:
    lines = [
        f"# Segmentation benchmark: Table 1 network at {report['input_size']}x{report['input_size']}, "
        f"batch {report['batch']}, {report['device']}, {report['threads']} threads",
        "",
        "| path | inference img/s | TFLOP/s | matmul ceiling | of ceiling "
        "| training img/s | TFLOP/s | matmul ceiling | of ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, row in report["paths"].items():
        cells = [path]
        for phase in ("inference", "training"):
            if f"{phase}_tflops" in row:
                cells += [f"{row[f'{phase}_images_per_s']:.3f}", f"{row[f'{phase}_tflops']:.3f}",
                          f"{row[f'{phase}_ceiling_tflops']:.3f}", f"{100 * row[f'{phase}_fraction_of_ceiling']:.1f} %"]  # fmt: skip
            else:
                cells += ["not measured"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    first = next(iter(report["paths"].values()))
    lines += [
        "",
        f"Forward pass: {first['gflop_per_image_forward']:.1f} GFLOP per image (training step counted as 3x). "
        "Each ceiling is the sustained matmul TFLOP/s of the path's own precision (bf16 path: bf16), measured "
        "just before and after that timing in this run (the higher value). Targets for the bf16 path: "
        "inference >= 50 %, training >= 30 %.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    report = run(args.batch, args.repeats, args.device)
    out = ROOT / "bench" / "results"
    write_json(out / "segmentation.json", report)
    write_text(out / "segmentation.md", markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
