"""DAG size benchmark: `snakemake --dry-run` over a generated 50,000-image manifest.

Per-image work runs in shards, so the DAG must have O(shards) jobs whatever the number of images. The
benchmark places an ingested-looking project (placeholder archives, then a manifest of N generated rows)
in a scratch folder and times a dry run of the whole demo DAG for 500 and 50,000 images at a few shard
counts. Reported: jobs in the DAG, seconds, and the ratio of the 50,000-image time to the 500-image time
measured in the same run (1.0 means the image count costs nothing). Target: <= 10 s at 50,000 images.

    .venv/bin/python bench/bench_dag.py

Writes bench/results/dag.md and .json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from melanoflow.config_files import load_config
from melanoflow.demo.generate import archive_file_names
from melanoflow.fileio import write_json, write_text
from melanoflow.tables import QUARANTINE_SCHEMA, write_images_manifest, write_table

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CONFIG = ROOT / "config" / "demo.yaml"
TARGET_SECONDS = 10.0


def fake_manifest(images: int, classes: list[str]) -> pd.DataFrame:
    """``images`` rows of the image manifest with plausible values (the files need not exist)."""
    ids = [f"ISIC_{index:07d}" for index in range(images)]
    splits = ["train", "train", "train", "train", "val", "test"]
    return pd.DataFrame(
        {
            "image_id": ids,
            "dataset": "demo",
            "split": [splits[index % len(splits)] for index in range(images)],
            "label": [classes[index % len(classes)] for index in range(images)],
            "image_path": [f"results/images/demo/{image_id}.jpg" for image_id in ids],
            "mask_path": [f"results/images/demo/{image_id}_segmentation.png" for image_id in ids],
            "lesion_id": None,
            "width": 1024,
            "height": 768,
            "sha256": "0" * 64,
            "source": "generated for bench_dag",
        }
    )


def ingested_project(folder: Path, images: int, config: dict) -> None:
    """Archives, then ingest's outputs (newer), so that a dry run plans everything after ingest (the
    per-dataset jobs and their merge included)."""
    demo = folder / config["demo"]["path"]
    (demo / "occlusions").mkdir(parents=True)
    for name in archive_file_names(config["demo"]):
        (demo / name).touch()
    past = time.time() - 3600
    for path in demo.iterdir():
        os.utime(path, (past, past))
    manifests = folder / "results" / "manifests"
    write_images_manifest(fake_manifest(images, config["classes"]), manifests / "images.parquet")
    write_table(
        pd.DataFrame(columns=QUARANTINE_SCHEMA.names), manifests / "quarantine.parquet", QUARANTINE_SCHEMA
    )
    (folder / "results" / "images").mkdir()


def dry_run(folder: Path, shards: int) -> tuple[float, int]:
    """Seconds for `snakemake --dry-run` of the whole DAG, and its number of jobs."""
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(folder), "--configfile", str(CONFIG),
               "--config", f"shards={shards}", "--cores", "1", "--dry-run"]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"dry run failed:\n{result.stderr[-4000:]}")
    total = re.search(r"^total\s+(\d+)$", result.stdout + result.stderr, flags=re.MULTILINE)
    return seconds, int(total.group(1)) if total else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[500, 50_000])
    parser.add_argument("--shards", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args()
    config = load_config([CONFIG], ROOT / "config" / "config.yaml")

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_dag_") as scratch:
        for images in args.images:
            folder = Path(scratch) / f"images_{images}"
            ingested_project(folder, images, config)
            for shards in args.shards:
                seconds, jobs = dry_run(folder, shards)
                rows.append({"images": images, "shards": shards, "jobs": jobs, "seconds": round(seconds, 2)})
                print(rows[-1], flush=True)

    smallest = {row["shards"]: row["seconds"] for row in rows if row["images"] == min(args.images)}
    for row in rows:
        row["ratio_to_fewest_images"] = round(row["seconds"] / smallest[row["shards"]], 2)
        row["meets_target"] = row["seconds"] <= TARGET_SECONDS
    lines = [
        "# DAG size: `snakemake --dry-run` of the demo DAG",
        "",
        f"Target: <= {TARGET_SECONDS:.0f} s at {max(args.images):,} images. Ratio: time over the "
        f"{min(args.images):,}-image time at the same shard count, same run (1.0 = image count is free).",
        "",
        "| images | shards | jobs | seconds | ratio to fewest images | meets target |",
        "|---:|---:|---:|---:|---:|:---:|",
        *(
            f"| {row['images']:,} | {row['shards']} | {row['jobs']} | {row['seconds']:.2f} "
            f"| {row['ratio_to_fewest_images']:.2f} | {'yes' if row['meets_target'] else 'NO'} |"
            for row in rows
        ),
    ]
    results = ROOT / "bench" / "results"
    write_text(results / "dag.md", "\n".join(lines) + "\n")
    write_json(results / "dag.json", rows)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
