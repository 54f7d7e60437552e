"""Ingest of the team's three real archives (../shared/data) through the workflow, as a user runs it."""

import json
import subprocess

import pandas as pd
import yaml

from melanoflow.tables import read_images_manifest

from .conftest import REPO, SNAKEMAKE


def test_three_real_archives_through_the_workflow(tmp_path, shared_data):
    labels = {name: name for name in ("melanoma", "nevus", "seborrheic_keratosis")}
    overlay = {"datasets": {
        "isic2017": {"path": str(shared_data / "isic2017-crops")},
        "ph2": {"path": str(shared_data / "ph2-real")},
        "isic_real": {"format": "isic2017", "path": str(shared_data / "isic-real"), "labels": labels,
                      "split": "official"},
    }}
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    targets = ["results/manifests/images.parquet", "results/manifests/splits.json"]
    command = [SNAKEMAKE, *targets, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "2",
               "--configfile", str(REPO / "config" / "isic2017-cpu.yaml"), str(tmp_path / "overlay.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]

    manifest = read_images_manifest(tmp_path / targets[0])
    counts = manifest.groupby(["dataset", "split"]).size().to_dict()
    # ISIC 2017 crops: the official validation part is kept, a fifth of the whole is carved from training
    assert counts[("isic2017", "val")] == 73
    assert counts[("isic2017", "train")] + counts[("isic2017", "test")] == 1747
    assert 330 <= counts[("isic2017", "test")] <= 380
    assert counts[("ph2", "train")] == 120 and ("ph2", "test") not in counts  # extra training data only
    assert sum(counts[("isic_real", split)] for split in ("train", "val", "test")) == 179  # val and test carved
    for dataset, folder, prefix in (("isic2017", "isic2017-crops", "ISIC-2017"), ("ph2", "ph2-real", "PH2"),
                                    ("isic_real", "isic-real", "ISIC-2017")):
        truth = pd.concat(pd.read_csv(path, dtype={"image_id": str})
                          for path in (shared_data / folder).glob(f"{prefix}_*_Part3_GroundTruth.csv"))
        expected = {row.image_id: "melanoma" if row.melanoma == 1 else
                    "seborrheic_keratosis" if row.seborrheic_keratosis == 1 else "nevus" for row in truth.itertuples()}
        rows = manifest[manifest.dataset == dataset]
        assert dict(zip(rows.image_id, rows.label, strict=True)) == expected, dataset
    assert manifest.mask_path.notna().all()
    splits = json.loads((tmp_path / targets[1]).read_text())
    assert splits["isic2017"]["test"]["origin"].startswith("carved from the official training part")
    assert splits["isic2017"]["val"]["origin"] == "official"
    assert splits["ph2"] == {"train": {"origin": "all images (split: train)", "images": 120,
                                       "classes": {"melanoma": 24, "nevus": 96}}}
    assert "no test part" in (tmp_path / "results" / "logs" / "ingest" / "isic2017.log").read_text()
