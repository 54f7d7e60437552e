"""Sampling PNGs from a trained checkpoint, and the stage's figures."""

import pandas as pd
import pytest
import torch

from melanoflow import fileio
from melanoflow.synthesis.dedup import deduplicate
from melanoflow.synthesis.figures import draw_figures, gallery_rows
from melanoflow.synthesis.sample import load_generator, sample_class
from melanoflow.synthesis.settings import DedupSettings, FigureSettings
from melanoflow.synthesis.train import train_gan
from melanoflow.tables import NEAREST_SCHEMA, SAMPLES_SCHEMA, read_table

from .conftest import job_settings, synthesis_params


@pytest.fixture
def trained(tiny_manifest, tmp_path):
    checkpoint = tmp_path / "models" / "melanoma.pt"
    settings = job_settings(synthesis_params(epochs=1))
    train_gan(str(tiny_manifest), None, ["melanoma"], settings, str(checkpoint))
    return checkpoint


def test_sampling_writes_the_configured_count_reproducibly(trained, tmp_path):
    for run in ("a", "b"):
        sample_class(str(trained), "melanoma", 5, 7, str(tmp_path / run / "raw"), str(tmp_path / run / "s.parquet"))
    table = read_table(tmp_path / "a" / "s.parquet", SAMPLES_SCHEMA)
    assert table["synthetic_id"].tolist() == [f"melanoma_gan_{i:05d}" for i in range(5)]
    images = [fileio.read_image(p) for p in table["synthetic_path"]]
    assert all(image.shape == (64, 64, 3) for image in images)
    again = [fileio.read_image(tmp_path / "b" / "raw" / f"{i}.png") for i in table["synthetic_id"]]
    assert all((x == y).all() for x, y in zip(images, again, strict=True))
    generator, state = load_generator(trained)
    assert not generator.training and state["best_epoch"] == 0


def test_sampling_refuses_a_class_the_gan_was_not_trained_for(trained, tmp_path):
    with pytest.raises(ValueError, match="nevus"):
        sample_class(str(trained), "nevus", 2, 7, str(tmp_path / "raw"), str(tmp_path / "s.parquet"))


def test_gallery_rows_pick_quantiles_and_smallest():
    nearest = pd.DataFrame({"mse": [0.5, 0.1, 0.3, 0.2, 0.4]})
    at_quantiles, smallest = gallery_rows(nearest, [0.0, 0.5, 1.0], 2)
    assert at_quantiles["mse"].tolist() == [0.1, 0.3, 0.5]
    assert smallest["mse"].tolist() == [0.1, 0.2]


def test_figures_are_written(trained, tiny_manifest, tmp_path):
    params = synthesis_params()
    sample_class(str(trained), "melanoma", 6, 7, str(tmp_path / "raw"), str(tmp_path / "s.parquet"))
    nearest = tmp_path / "nearest.parquet"
    resolution = params["gan"]["resolution"]
    deduplicate(str(tmp_path / "s.parquet"), str(tiny_manifest), None, DedupSettings.from_config(params["dedup"]),
                resolution, str(nearest), str(tmp_path / "kept"), str(tmp_path / "summary.json"))
    assert len(read_table(nearest, NEAREST_SCHEMA)) == 6
    paths = [tmp_path / "fig" / name for name in ("hist.png", "gallery.png", "curves.png")]
    draw_figures(str(nearest), str(trained), "melanoma", FigureSettings.from_config(params["figures"]),
                 params["dedup"]["mse_threshold"], resolution, *map(str, paths))
    assert all(p.stat().st_size > 1000 for p in paths)
    assert torch.load(trained, weights_only=False)["history"]


def test_figure_settings_name_a_missing_or_unknown_key():
    section = synthesis_params()["figures"]
    assert FigureSettings.from_config(section) == FigureSettings(quantiles=(0.0, 0.5, 1.0), smallest=2)
    with pytest.raises(ValueError, match=r"^missing key\(s\) synthesis\.figures\.smallest$"):
        FigureSettings.from_config({"quantiles": [0.5]})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) synthesis\.figures\.mse_threshold$"):
        FigureSettings.from_config({**section, "mse_threshold": 0.01})
