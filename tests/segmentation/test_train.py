"""Training: resumable to the same weights, trained on ground truth of the training split only."""

from __future__ import annotations

import pandas as pd
import torch

from melanoflow.manifest import write_images_manifest
from melanoflow.segmentation.predict import load_segmenter
from melanoflow.segmentation.train import checkpoint_path_for, fit


def test_interrupted_training_resumes_to_the_same_weights(lesion_manifest, tiny_params, tmp_path):
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    straight = fit(tmp_path / "images.parquet", tiny_params, tmp_path / "a" / "model.pt", tmp_path / "a" / "history.csv")

    # "interrupted" after epoch 1: the run stops with its checkpoint, then the full run is started again
    fit(tmp_path / "images.parquet", {**tiny_params, "epochs": 1}, tmp_path / "b" / "model.pt", tmp_path / "b" / "history.csv")
    resumed = fit(tmp_path / "images.parquet", tiny_params, tmp_path / "b" / "model.pt", tmp_path / "b" / "history.csv")

    assert {**resumed, "seconds": 0} == {**straight, "seconds": 0}
    for name in ("a", "b"):
        assert pd.read_csv(tmp_path / name / "history.csv")["epoch"].tolist() == [1, 2]
    final = [torch.load(checkpoint_path_for(tmp_path / name / "model.pt"), weights_only=False)["model"] for name in "ab"]
    assert final[0].keys() == final[1].keys()
    assert all(torch.equal(final[0][key], final[1][key]) for key in final[0])
    model = load_segmenter(tmp_path / "b" / "model.pt", torch.device("cpu"))
    assert model.spec.input_size == tiny_params["input_size"]

    # a rerun of a finished run (its outputs deleted, as Snakemake does) restores them without training
    (tmp_path / "b" / "model.pt").unlink()
    (tmp_path / "b" / "history.csv").unlink()
    again = fit(tmp_path / "images.parquet", tiny_params, tmp_path / "b" / "model.pt", tmp_path / "b" / "history.csv")
    assert again == resumed
    assert pd.read_csv(tmp_path / "b" / "history.csv")["epoch"].tolist() == [1, 2]


def test_a_checkpoint_of_other_settings_is_not_resumed(lesion_manifest, tiny_params, tmp_path):
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    paths = tmp_path / "model.pt", tmp_path / "history.csv"
    fit(tmp_path / "images.parquet", {**tiny_params, "epochs": 1}, *paths)
    fit(tmp_path / "images.parquet", {**tiny_params, "epochs": 1, "learning_rate": 1e-2}, *paths)
    history = pd.read_csv(paths[1])
    assert history["epoch"].tolist() == [1]  # started afresh, not "already done"
