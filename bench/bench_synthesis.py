"""Synthesis benchmark: MSE deduplication against the paper's per-pair loop, and GAN training speed.

Dedup: 1000 generated vs 3000 real images at 256x256 (random pixels: the arithmetic does not depend
on content) through ``dedup.nearest_by_mse``. Reported: wall time, the achieved fraction of this
machine's fp32 matmul throughput (``benchmarking.matmul_tflops`` measured in the same run, same
threads), peak resident memory, and the speed-up over two per-pair loops measured on a subset and
extrapolated to all pairs: the paper's (every real image re-read from disk for every generated one)
and an in-memory NumPy loop. Targets: >= 100x over the paper's loop, >= 50 % of matmul throughput,
peak memory under 4 GB.

GAN: training images/s (one joint round = discriminator + generator step) at 64, 128 and 256 pixels
with Table 2's widths, fp32 and bf16 autocast (where the CPU has bf16 units), on one CPU thread (as
the workflow trains) and on CUDA when there is one.

    .venv/bin/python bench/bench_synthesis.py [--generated 1000 --real 3000 --loop-pairs 400]

Writes bench/results/synthesis.md and .json.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from melanoflow import runtime
from melanoflow.fileio import write_json, write_text
from melanoflow.synthesis.dcgan import Discriminator, Generator
from melanoflow.synthesis.dedup import nearest_by_mse
from melanoflow.synthesis.settings import GanSettings
from melanoflow.synthesis.train import GanTrainer

from benchmarking import best_of, conv_flops, matmul_tflops

ROOT = Path(__file__).resolve().parents[1]
RESOLUTION = 256
CHUNK = 256


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def bench_dedup(n_generated: int, n_real: int, loop_pairs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)  # draws uint8 directly (torch.randint would go through int64)
    shape = (3, RESOLUTION, RESOLUTION)
    generated = torch.from_numpy(rng.integers(0, 256, (n_generated, *shape), dtype=np.uint8))
    real = torch.from_numpy(rng.integers(0, 256, (n_real, *shape), dtype=np.uint8))
    dims = real[0].numel()

    ceiling = matmul_tflops(torch.float32, size=2048, repeats=5)
    start = time.perf_counter()
    mse, index = nearest_by_mse(generated, real.split(CHUNK))
    seconds = time.perf_counter() - start
    achieved = 2.0 * n_generated * n_real * dims / seconds / 1e12
    peak = peak_rss_gb()

    # The paper's loop: for each generated image, read every real image from disk and compare.
    n_real_loop = max(1, loop_pairs // 2)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(n_real_loop):
            path = Path(folder) / f"real_{i}.png"
            cv2.imwrite(str(path), real[i].permute(1, 2, 0).numpy())
            paths.append(str(path))
        queries = [generated[g].permute(1, 2, 0).numpy().astype(np.float64) / 255 for g in range(2)]
        start = time.perf_counter()
        for query in queries:
            for path in paths:
                other = cv2.imread(path).astype(np.float64) / 255
                float(np.mean((query - other) ** 2))
        per_pair_disk = (time.perf_counter() - start) / (len(queries) * len(paths))
    in_memory = [real[i].permute(1, 2, 0).numpy() for i in range(n_real_loop)]
    start = time.perf_counter()
    for query in queries:
        for other in in_memory:
            float(np.mean((query - other.astype(np.float64) / 255) ** 2))
    per_pair_memory = (time.perf_counter() - start) / (len(queries) * len(in_memory))

    # exactness spot check of the first generated images against brute force, in bounded memory
    brute = torch.stack([
        torch.cat([((g.double() - chunk.double()) / 255).square().flatten(1).mean(1) for chunk in real.split(100)])
        for g in generated[:4]
    ])
    return {
        "generated": n_generated, "real": n_real, "resolution": RESOLUTION, "chunk": CHUNK,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "achieved_tflops": achieved,
        "fp32_matmul_tflops": ceiling,
        "matmul_fraction": achieved / ceiling,
        "peak_rss_gb": peak,
        "paper_loop_per_pair_ms": per_pair_disk * 1e3,
        "paper_loop_extrapolated_s": per_pair_disk * n_generated * n_real,
        "speedup_over_paper_loop": per_pair_disk * n_generated * n_real / seconds,
        "memory_loop_per_pair_ms": per_pair_memory * 1e3,
        "speedup_over_memory_loop": per_pair_memory * n_generated * n_real / seconds,
        "max_abs_error_vs_brute_force": float((mse[:4].double() - brute.min(1).values).abs().max()),
        "argmin_matches_brute_force": bool(torch.equal(index[:4], brute.argmin(1))),
    }


def bench_gan(device: torch.device, resolutions: list[int], batch: int, seed: int) -> list[dict]:
    """Images/s with one thread, as the workflow trains (classes run in parallel, one core each)."""
    torch.set_num_threads(1)
    rows = []
    amp_choices = [False, True] if device.type == "cuda" or runtime.cpu_supports_bf16() else [False]
    for resolution in resolutions:
        g_flops = conv_flops(Generator(resolution, 10).eval(), torch.randn(1, 10))
        d_flops = conv_flops(Discriminator(resolution).eval(), torch.randn(1, 3, resolution, resolution))
        for amp in amp_choices:
            settings = GanSettings.from_config({
                "resolution": resolution, "width": 1.0, "latent_dim": {"decoupled": 10, "coupled": 100},
                "batch_size": batch, "epochs": 1, "learning_rate": 2e-4, "betas": [0.5, 0.999], "real_label": 0.9,
                "feature_matching": 1.0, "extra_generator_every": 10, "extra_generator_rounds": 2,
                "min_diversity_ratio": 0.2, "patience": 5, "warmup_epochs": 5, "diversity_batch": 4,
                "checkpoint_every": 1, "amp": amp,
            }, mode="decoupled", device=device.type, seed=seed)
            images = torch.randint(0, 256, (batch, 3, resolution, resolution), dtype=torch.uint8)
            trainer = GanTrainer(images, torch.zeros(batch, dtype=torch.long), ["lesion"], settings, device)
            seconds = best_of(trainer.train_one_epoch, repeats=3, warmup=1, device=str(device))
            rows.append({
                "device": device.type, "resolution": resolution, "precision": "bf16 autocast" if amp else "fp32",
                "batch": batch, "images_per_s": batch / seconds,
                "forward_gflop_per_image": (g_flops + d_flops) / 1e9,
            })
            print(rows[-1], flush=True)
    return rows


def markdown(dedup: dict, gan: list[dict]) -> str:
    lines = [
        "# Synthesis benchmark",
        "",
        f"## MSE deduplication: {dedup['generated']} generated vs {dedup['real']} real images at "
        f"{dedup['resolution']}x{dedup['resolution']} ({dedup['threads']} threads)",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| wall time | {dedup['seconds']:.2f} s | |",
        f"| achieved fp32 throughput | {dedup['achieved_tflops']:.3f} TFLOP/s | |",
        f"| fp32 matmul ceiling (same run) | {dedup['fp32_matmul_tflops']:.3f} TFLOP/s | |",
        f"| fraction of matmul ceiling | {dedup['matmul_fraction']:.0%} | >= 50 % |",
        f"| paper's loop (re-reads each real image), per pair | {dedup['paper_loop_per_pair_ms']:.3f} ms | |",
        f"| paper's loop, extrapolated to all pairs | {dedup['paper_loop_extrapolated_s'] / 3600:.1f} h | |",
        f"| speed-up over the paper's loop | {dedup['speedup_over_paper_loop']:.0f}x | >= 100x |",
        f"| speed-up over an in-memory per-pair NumPy loop | {dedup['speedup_over_memory_loop']:.0f}x | |",
        f"| peak resident memory (process) | {dedup['peak_rss_gb']:.2f} GB | < 4 GB |",
        f"| max abs error vs brute force (4 images) | {dedup['max_abs_error_vs_brute_force']:.1e} | |",
        f"| nearest image equals brute force | {dedup['argmin_matches_brute_force']} | |",
        "",
        "## GAN training (Table 2 widths, one joint round per batch, one thread as in the workflow)",
        "",
        "| device | resolution | precision | batch | images/s | forward GFLOP/image (G + D) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['device']} | {r['resolution']} | {r['precision']} | {r['batch']} | {r['images_per_s']:.1f} | "
              f"{r['forward_gflop_per_image']:.2f} |" for r in gan]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generated", type=int, default=1000)
    parser.add_argument("--real", type=int, default=3000)
    parser.add_argument("--loop-pairs", type=int, default=400, help="pairs timed for the per-pair loops")
    parser.add_argument("--gan-batch", type=int, default=8)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--seed", type=int, default=200)
    args = parser.parse_args()

    dedup = bench_dedup(args.generated, args.real, args.loop_pairs, args.seed)
    print(dedup, flush=True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    gan = [row for device in devices for row in bench_gan(device, args.resolutions, args.gan_batch, args.seed)]
    out = ROOT / "bench" / "results"
    write_json(out / "synthesis.json", {"dedup": dedup, "gan": gan})
    write_text(out / "synthesis.md", markdown(dedup, gan))
    print(markdown(dedup, gan))


if __name__ == "__main__":
    main()
