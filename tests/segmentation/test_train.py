"""Training: resumable to the same weights, trained on ground truth of the training split only."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from melanoflow.manifest import write_images_manifest
from melanoflow.segmentation import train as train_module
from melanoflow.segmentation.predict import load_segmenter
from melanoflow.segmentation.train import SegmentationLoss, checkpoint_path_for, epoch_learning_rate, fit


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


def test_the_jaccard_term_is_one_minus_the_smoothed_soft_jaccard_of_each_image():
    logits = torch.tensor([[[[0.0, 0.0]]], [[[100.0, -100.0]]]])  # probabilities (0.5, 0.5) and (1, 0)
    targets = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 0.0]]]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    # image 1: overlap 0.5, union 1 + 1 - 0.5 = 1.5, Jaccard (0.5 + 1) / (1.5 + 1) = 0.6; image 2: exactly 1
    expected = bce + ((1 - 0.6) + (1 - 1.0)) / 2
    assert torch.isclose(SegmentationLoss(with_jaccard=True)(logits, targets), expected)
    assert torch.isclose(SegmentationLoss(with_jaccard=False)(logits, targets), bce)


def test_the_cosine_schedule_starts_at_the_rate_and_halves_it_midway():
    params = {"learning_rate": 0.01, "epochs": 4}
    assert [epoch_learning_rate({**params, "schedule": "constant"}, epoch) for epoch in (1, 4)] == [0.01, 0.01]
    rates = [epoch_learning_rate({**params, "schedule": "cosine"}, epoch) for epoch in (1, 2, 3, 4)]
    assert rates[0] == 0.01 and abs(rates[2] - 0.005) < 1e-12 and rates[3] < rates[2] < rates[1] < rates[0]


def test_a_cosine_run_with_the_jaccard_loss_resumes_exactly_and_restarts_when_epochs_change(
        lesion_manifest, tiny_params, tmp_path, monkeypatch, caplog):  # fmt: skip
    params = {**tiny_params, "loss": "bce_jaccard", "schedule": "cosine"}
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    straight = fit(tmp_path / "images.parquet", params, tmp_path / "a" / "model.pt", tmp_path / "a" / "history.csv")

    paths = tmp_path / "b" / "model.pt", tmp_path / "b" / "history.csv"
    # epochs=1 is another schedule (the rate at epoch 1 of 2 differs): its checkpoint is not resumed
    fit(tmp_path / "images.parquet", {**params, "epochs": 1}, *paths)
    one_epoch = torch.load(checkpoint_path_for(paths[0]), weights_only=False)
    assert one_epoch["identity"] != torch.load(checkpoint_path_for(tmp_path / "a" / "model.pt"), weights_only=False)["identity"]

    # killed during epoch 2 of the full run: the rerun continues from epoch 1's checkpoint
    real_epoch = train_module.train_one_epoch
    calls = []

    def killed_in_second_epoch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(train_module, "train_one_epoch", killed_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "images.parquet", params, *paths)
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)
    caplog.set_level("INFO", logger=train_module.__name__)
    resumed = fit(tmp_path / "images.parquet", params, *paths)
    assert "after epoch 1" in caplog.text
    assert {**resumed, "seconds": 0} == {**straight, "seconds": 0}
    final = [torch.load(checkpoint_path_for(tmp_path / name / "model.pt"), weights_only=False)["model"] for name in "ab"]
    assert all(torch.equal(final[0][key], final[1][key]) for key in final[0])
