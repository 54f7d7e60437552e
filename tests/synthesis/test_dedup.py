"""MSE deduplication: exact against brute force, per-split leakage counting, and the workflow entry."""

import numpy as np
import pandas as pd
import pytest
import torch

from melanoflow import fileio
from melanoflow.synthesis.data import resize_center_crop
from melanoflow.synthesis.dedup import deduplicate, nearest_by_mse, summarise_nearest
from melanoflow.synthesis.settings import DedupSettings
from melanoflow.tables import NEAREST_SCHEMA, SAMPLES_SCHEMA, read_images_manifest, read_table, write_table

from .conftest import synthesis_params


def brute_force(queries: torch.Tensor, references: torch.Tensor):
    q = queries.double().flatten(1) / 255
    r = references.double().flatten(1) / 255
    mse = ((q[:, None, :] - r[None, :, :]) ** 2).mean(-1)
    return mse.min(1)


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_matches_brute_force_on_random_images(chunk):
    generator = torch.Generator().manual_seed(chunk)
    queries = torch.randint(0, 256, (13, 3, 16, 16), generator=generator, dtype=torch.uint8)
    references = torch.randint(0, 256, (37, 3, 16, 16), generator=generator, dtype=torch.uint8)
    references[5] = queries[2]  # an exact copy: MSE 0
    mse, index = nearest_by_mse(queries, references.split(chunk))
    expected_mse, expected_index = brute_force(queries, references)
    assert torch.equal(index, expected_index)
    assert torch.allclose(mse.double(), expected_mse, atol=1e-6)
    assert index[2] == 5 and mse[2] == pytest.approx(0.0, abs=1e-6)


def test_hand_computed_mse():
    query = torch.zeros((1, 1, 1, 4), dtype=torch.uint8)
    references = torch.tensor([[[[255, 0, 0, 0]]], [[[51, 51, 51, 51]]]], dtype=torch.uint8)
    mse, index = nearest_by_mse(query, [references])
    # (1 / 4, 0.2^2 = 0.04): the second reference is nearer
    assert index.tolist() == [1] and mse.item() == pytest.approx(0.04, rel=1e-5)


def test_summary_keeps_overall_nearest_and_drops_images_close_to_any_split():
    generated = pd.DataFrame({"synthetic_id": ["a", "b", "c"], "synthetic_path": ["a.png", "b.png", "c.png"]})
    per_split = {
        "train": pd.DataFrame({"mse": [0.005, 0.20, 0.30], "nearest_id": ["t0", "t1", "t2"],
                               "nearest_path": ["t0.png", "t1.png", "t2.png"], "nearest_split": "train"}),
        "test": pd.DataFrame({"mse": [0.40, 0.002, 0.50], "nearest_id": ["x0", "x1", "x2"],
                              "nearest_path": ["x0.png", "x1.png", "x2.png"], "nearest_split": "test"}),
    }
    result = summarise_nearest(generated, per_split, threshold=0.01)
    assert result["nearest_id"].tolist() == ["t0", "x1", "t2"]
    assert result["nearest_split"].tolist() == ["train", "test", "train"]
    assert result["kept"].tolist() == [False, False, True]


def test_deduplicate_drops_copies_and_counts_test_leaks(tiny_manifest, tmp_path):
    manifest = read_images_manifest(tiny_manifest)
    raw = tmp_path / "raw"
    copied = {"copy_of_train": "melanoma_train_0", "copy_of_test": "nevus_test_1"}
    rows = []
    for synthetic_id, source in copied.items():
        path = manifest.set_index("image_id").loc[source, "image_path"]
        fileio.write_image(raw / f"{synthetic_id}.png", resize_center_crop(fileio.read_image(path), 64))
        rows.append({"synthetic_id": synthetic_id, "synthetic_path": str(raw / f"{synthetic_id}.png"), "label": "m"})
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    fileio.write_image(raw / "novel.png", noise)
    rows.append({"synthetic_id": "novel", "synthetic_path": str(raw / "novel.png"), "label": "m"})
    samples = tmp_path / "samples.parquet"
    write_table(pd.DataFrame(rows), samples, SAMPLES_SCHEMA)

    out = tmp_path / "out"
    params = synthesis_params()
    deduplicate(str(samples), str(tiny_manifest), None, DedupSettings.from_config(params["dedup"]),
                params["gan"]["resolution"], str(out / "nearest.parquet"), str(out / "kept"), str(out / "summary.json"))

    table = read_table(out / "nearest.parquet", NEAREST_SCHEMA).set_index("synthetic_id")
    assert table.loc["copy_of_train", "nearest_id"] == "melanoma_train_0"
    assert table.loc["copy_of_test", ["nearest_id", "nearest_split"]].tolist() == ["nevus_test_1", "test"]
    assert table.loc["copy_of_train", "mse"] < 1e-4  # 0 up to fp32 rounding of |a|^2 + |b|^2 - 2ab
    assert table["kept"].to_dict() == {"copy_of_train": False, "copy_of_test": False, "novel": True}
    assert sorted(p.name for p in (out / "kept").iterdir()) == ["novel.png"]
    summary = pd.read_json(out / "summary.json", typ="series")
    assert summary["generated"] == 3 and summary["kept"] == 1 and summary["leaked_to_evaluation"] == 1
    assert summary["close_to"] == {"train": 1, "val": 0, "test": 1}


def test_dedup_settings_name_a_missing_or_unknown_key():
    section = synthesis_params()["dedup"]
    assert DedupSettings.from_config(section) == DedupSettings(mse_threshold=0.01, chunk_size=5)
    with pytest.raises(ValueError, match=r"^missing key\(s\) synthesis\.dedup\.chunk_size$"):
        DedupSettings.from_config({"mse_threshold": 0.01})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) synthesis\.dedup\.resolution$"):
        DedupSettings.from_config({**section, "resolution": 64})
