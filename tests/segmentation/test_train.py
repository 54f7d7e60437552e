"""Training: resumable to the same weights, trained on ground truth of the training split only."""

from __future__ import annotations

from dataclasses import replace

import cv2
import pandas as pd
import pytest
import torch

from melanoflow.resume import resume_path
from melanoflow.segmentation import train as train_module
from melanoflow.segmentation.predict import load_segmenter
from melanoflow.segmentation.settings import TrainSettings
from melanoflow.segmentation.train import SegmentationLoss, epoch_learning_rate, fit
from melanoflow.tables import write_images_manifest


def killed_in_second_epoch(monkeypatch):
    """Make the next training run die during its second epoch, after epoch 1's checkpoint was written."""
    real_epoch = train_module.train_one_epoch
    calls = []

    def epoch(*args):
        calls.append(1)
        if len(calls) == 2:
            monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(train_module, "train_one_epoch", epoch)


@pytest.mark.parametrize(("loss", "schedule", "occluders"), [
    ("bce", "constant", {"cloth": 0.0, "stickers": 0.0, "ink_rings": 0.0}), ("bce_jaccard", "cosine", {"cloth": 0.5, "stickers": 0.5, "ink_rings": 0.5}),
])  # fmt: skip
def test_a_killed_run_resumes_to_the_same_weights(lesion_manifest, tiny_settings, tmp_path, monkeypatch, caplog,
                                                  loss, schedule, occluders):  # fmt: skip
    settings = replace(tiny_settings, loss=loss, schedule=schedule, augment={**tiny_settings.augment, **occluders})
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    straight = fit(tmp_path / "images.parquet", settings, tmp_path / "a" / "model.pt", tmp_path / "a" / "history.csv")

    paths = tmp_path / "b" / "model.pt", tmp_path / "b" / "history.csv"
    killed_in_second_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "images.parquet", settings, *paths)
    assert resume_path(paths[0]).exists() and not paths[0].exists()
    caplog.set_level("INFO")
    resumed = fit(tmp_path / "images.parquet", settings, *paths)

    assert "after epoch 1" in caplog.text
    assert {**resumed, "seconds": 0} == {**straight, "seconds": 0}
    assert pd.read_csv(paths[1])["epoch"].tolist() == [1, 2]
    final = [torch.load(tmp_path / name / "model.pt", weights_only=False)["model"] for name in "ab"]
    assert final[0].keys() == final[1].keys()
    assert all(torch.equal(final[0][key], final[1][key]) for key in final[0])
    assert load_segmenter(paths[0], torch.device("cpu")).spec.input_size == tiny_settings.input_size
    assert not resume_path(paths[0]).exists()  # a finished run leaves only its outputs


@pytest.mark.parametrize("change", [{"learning_rate": 1e-2}, {"schedule": "cosine", "epochs": 3}])
def test_a_checkpoint_of_other_settings_is_not_resumed(lesion_manifest, tiny_settings, tmp_path, monkeypatch,
                                                       caplog, change):  # fmt: skip
    """With a cosine schedule the epoch count shapes every epoch's rate, so it is part of the setup."""
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    paths = tmp_path / "model.pt", tmp_path / "history.csv"
    first = replace(tiny_settings, schedule=change.get("schedule", "constant"))
    killed_in_second_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "images.parquet", first, *paths)
    caplog.set_level("INFO")
    fit(tmp_path / "images.parquet", replace(first, **change), *paths)
    assert "starting over" in caplog.text and "other settings" in caplog.text and "resuming" not in caplog.text
    assert pd.read_csv(paths[1])["epoch"].tolist() == list(range(1, change.get("epochs", 2) + 1))


def test_the_jaccard_term_is_one_minus_the_smoothed_soft_jaccard_of_each_image():
    logits = torch.tensor([[[[0.0, 0.0]]], [[[100.0, -100.0]]]])  # probabilities (0.5, 0.5) and (1, 0)
    targets = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 0.0]]]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    # image 1: overlap 0.5, union 1 + 1 - 0.5 = 1.5, Jaccard (0.5 + 1) / (1.5 + 1) = 0.6; image 2: exactly 1
    expected = bce + ((1 - 0.6) + (1 - 1.0)) / 2
    assert torch.isclose(SegmentationLoss(with_jaccard=True)(logits, targets), expected)
    assert torch.isclose(SegmentationLoss(with_jaccard=False)(logits, targets), bce)


def test_the_cosine_schedule_starts_at_the_rate_and_halves_it_midway(tiny_settings):
    settings = replace(tiny_settings, learning_rate=0.01, epochs=4)
    assert [epoch_learning_rate(replace(settings, schedule="constant"), epoch) for epoch in (1, 4)] == [0.01, 0.01]
    rates = [epoch_learning_rate(replace(settings, schedule="cosine"), epoch) for epoch in (1, 2, 3, 4)]
    assert rates[0] == 0.01 and abs(rates[2] - 0.005) < 1e-12 and rates[3] < rates[2] < rates[1] < rates[0]


def test_a_resume_file_for_other_masks_under_the_same_paths_is_not_resumed(lesion_manifest, tiny_settings, tmp_path,
                                                                          monkeypatch, caplog):  # fmt: skip
    write_images_manifest(lesion_manifest, tmp_path / "images.parquet")
    paths = tmp_path / "model.pt", tmp_path / "history.csv"
    killed_in_second_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "images.parquet", tiny_settings, *paths)
    mask_path = lesion_manifest.loc[lesion_manifest["split"] == "train", "mask_path"].dropna().iloc[0]
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(mask_path, 255 - mask)  # corrected ground truth, same file name
    caplog.set_level("INFO")
    fit(tmp_path / "images.parquet", tiny_settings, *paths)
    assert "starting over" in caplog.text and "other inputs" in caplog.text and "resuming" not in caplog.text


def test_training_settings_name_a_missing_or_unknown_key(tiny_params):
    section = {key: tiny_params[key] for key in ("device", "epochs", "input_size", "width", "batch_size",
                                                 "learning_rate", "betas", "augment", "mixed_precision", "loss",
                                                 "schedule", "threshold")}  # fmt: skip
    assert TrainSettings.from_config(section, seed=7).betas == (0.9, 0.999)
    without_loss = {key: value for key, value in section.items() if key != "loss"}
    with pytest.raises(ValueError, match=r"^missing key\(s\) segmentation\.loss$"):
        TrainSettings.from_config(without_loss, seed=7)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) segmentation\.largest_component$"):
        TrainSettings.from_config({**section, "largest_component": True}, seed=7)
