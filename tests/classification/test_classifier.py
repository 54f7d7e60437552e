"""Weight loading, exact resume, best checkpoint + metadata, and predictions tables."""

import logging
from dataclasses import replace

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from melanoflow import fileio
from melanoflow.classification import predict as classification_predict
from melanoflow.classification.cache import ImageCache, build_cache, cache_sources, write_cache
from melanoflow.classification.colour import shades_of_gray
from melanoflow.classification.data import IMAGENET_MEAN, IMAGENET_STD
from melanoflow.classification.manifests import build_training_manifest
from melanoflow.classification.model import (
    build_classifier,
    classifier_metadata,
    for_inference,
    load_classifier,
    save_classifier,
)
from melanoflow.classification.predict import predict_variant
from melanoflow.classification.recipe import Recipe
from melanoflow.classification.settings import PredictSettings
from melanoflow.classification.train import TrainSettings, fit
from melanoflow.fileio import BadInputError
from melanoflow.tables import TRAIN_MANIFEST_SCHEMA, predictions_schema, read_table, write_table

from .conftest import CLASSES

# The classification section's training settings (config/config.yaml), shrunk to a run of seconds.
TINY_SECTION = {
    "arch": "resnet18", "weights": None, "input_size": 32, "epochs": 3, "batch_size": 5, "optimizer": "sgd",
    "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "schedule": "step", "lr_step_epochs": 2,
    "lr_gamma": 0.1, "warmup_epochs": 0, "label_smoothing": 0.0, "sampling": "uniform", "epoch_size": None,
    "selection": "val_loss", "loader_workers": 0,
    "augment": {"right_angles": False, "scale": None, "colour_jitter": 0.0, "hue_jitter": 0.0},
}
TINY = TrainSettings.from_config(TINY_SECTION)


def test_imagenet_state_dict_loads_into_the_backbone(tmp_path):
    torch.manual_seed(1)
    imagenet = torchvision.models.resnet18(num_classes=1000)
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    model = build_classifier("resnet18", 3, str(tmp_path / "resnet18.pth"))
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_mean, imagenet.layer4[1].bn2.running_mean)
    assert model.fc.out_features == 3
    with pytest.raises(BadInputError, match=r"resnet18\.pth: not a state dict of this architecture"):
        build_classifier("resnet34", 3, str(tmp_path / "resnet18.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match=r"junk\.pth"):
        build_classifier("resnet18", 3, str(tmp_path / "junk.pth"))


def test_random_initialisation_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING):
        build_classifier("resnet18", 3, None)
    assert "random initialisation" in caplog.text


@pytest.fixture
def trained(tiny_project):
    root = tiny_project["root"]
    manifest, _ = build_training_manifest(tiny_project["images"], Recipe(), CLASSES, 200)
    cache = build_cache(cache_sources(manifest), 40)
    history = fit(manifest, cache, TINY, CLASSES, 200, root / "model.pt", root / "history.csv")
    return {**tiny_project, "manifest": manifest, "cache": cache, "history": history}


def test_resumed_training_equals_an_uninterrupted_run(trained):
    root = trained["root"] / "interrupted"
    args = (trained["manifest"], trained["cache"], TINY, CLASSES, 200, root / "model.pt", root / "history.csv")
    fit(*args, stop_after_epoch=1)
    assert (root / "model.resume.pt").exists() and not (root / "model.pt").exists()
    resumed = fit(*args)
    uninterrupted, _ = load_classifier(trained["root"] / "model.pt")
    model, meta = load_classifier(root / "model.pt")
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    columns = ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(resumed[columns], trained["history"][columns])
    assert not (root / "model.resume.pt").exists()


def test_a_resume_file_for_other_pixels_under_the_same_paths_is_not_resumed(trained, caplog):
    """A re-purified image keeps its path: the resume file is stamped with the pixels, not the paths."""
    root = trained["root"] / "stale"
    fit(trained["manifest"], trained["cache"], TINY, CLASSES, 200, root / "model.pt", root / "history.csv",
        stop_after_epoch=1)
    changed = ImageCache(trained["cache"].pixels.copy(), trained["cache"].slots)
    changed.pixels[0] = 255 - changed.pixels[0]
    with caplog.at_level(logging.INFO):
        history = fit(trained["manifest"], changed, TINY, CLASSES, 200, root / "model.pt", root / "history.csv")
    assert "starting over" in caplog.text and "other inputs" in caplog.text and "resuming" not in caplog.text
    assert history["epoch"].tolist() == [1, 2, 3]


def test_best_checkpoint_and_history(trained):
    history = pd.read_csv(trained["root"] / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["lr"].tolist() == pytest.approx([0.01, 0.01, 0.001])  # step decay after lr_step_epochs
    model, meta = load_classifier(trained["root"] / "model.pt")
    assert {"arch", "classes", "input_size", "resize", "mean", "std", "pretrained"} <= meta.keys()
    assert meta["classes"] == CLASSES and meta["pretrained"] is False and meta["resize"] == 40
    assert meta["epoch"] == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert meta["val_loss"] == pytest.approx(history["val_loss"].min())
    assert meta["selection"] == "val_loss" and history["val_mean_auc"].between(0, 1).all()
    assert meta["lesion_crop"] is None and meta["color_constancy"] == "none"  # what the cache did, recorded


@pytest.mark.parametrize("selection", ["val_auc", "last"])
def test_other_epoch_selections(trained, selection):
    root = trained["root"] / selection
    settings = replace(TINY, selection=selection)
    history = fit(trained["manifest"], trained["cache"], settings, CLASSES, 200, root / "model.pt",
                  root / "history.csv", color_constancy="shades_of_gray")
    chosen = history["val_mean_auc"].idxmax() if selection == "val_auc" else len(history) - 1
    _, meta = load_classifier(root / "model.pt")
    assert meta["epoch"] == int(history.loc[chosen, "epoch"]) and meta["selection"] == selection
    assert meta["color_constancy"] == "shades_of_gray"
    assert meta["val_mean_auc"] == pytest.approx(history.loc[chosen, "val_mean_auc"])


def test_predictions_for_the_test_split_and_purified_test_images(tiny_project):
    root = tiny_project["root"]
    manifest, _ = build_training_manifest(tiny_project["images"], Recipe(), CLASSES, 200)
    write_table(manifest, root / "train.parquet", TRAIN_MANIFEST_SCHEMA)
    write_cache(cache_sources(manifest), 40, root / "cache.npy", root / "cache.json")
    tiny_project["occlusions"].to_parquet(root / "occlusions.parquet")
    torch.manual_seed(0)  # an untrained network: its probabilities are far from saturated
    save_classifier(root / "model.pt", build_classifier("resnet18", 3).eval(),
                    classifier_metadata("resnet18", CLASSES, 32, 40, IMAGENET_MEAN, IMAGENET_STD, None))
    settings = PredictSettings(batch_size=4, tta=False)
    inputs = [str(root / name) for name in ("train.parquet", "cache.npy", "cache.json", "model.pt")]
    predict_variant(*inputs, str(root / "pred.parquet"), settings, "cpu")
    predict_variant(*inputs, str(root / "pred.purified.parquet"), settings, "cpu", str(root / "occlusions.parquet"))
    predict_variant(*inputs, str(root / "pred.tta.parquet"), replace(settings, tta=True), "cpu")
    schema = predictions_schema(CLASSES)
    both = read_table(root / "pred.parquet", schema)
    purified = read_table(root / "pred.purified.parquet", schema)
    images = tiny_project["images"]
    # validation rows are predicted too (for selection and the validation report), the training rows never
    assert sorted(both["image_id"]) == sorted(images.query("split != 'train'")["image_id"])
    assert (both.set_index("image_id")["split"] == images.set_index("image_id")["split"].loc[both["image_id"]]).all()
    plain = both[both["split"] == "test"]
    test = images.query("split == 'test'")
    assert sorted(plain["image_id"]) == sorted(test["image_id"]) == sorted(purified["image_id"])
    probabilities = plain[[f"prob_{label}" for label in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (plain["predicted"].to_numpy() == np.asarray(CLASSES)[probabilities.argmax(1)]).all()
    # occluded test images (ids ending in _0) were replaced by their purified copies, the others were not
    changed = plain.set_index("image_id")["prob_melanoma"] != purified.set_index("image_id")["prob_melanoma"]
    assert changed[changed].index.str.endswith("_0").all() and changed.any()
    # test-time augmentation: the mean over the four flips of the centre crop, computed here by hand
    tta = read_table(root / "pred.tta.parquet", schema).set_index("image_id")
    model, meta = load_classifier(root / "model.pt")
    cache = build_cache(list(test["image_path"]), 40)
    crops = torch.stack([torch.from_numpy(cache.pixels[slot][4:36, 4:36]).permute(2, 0, 1)
                         for slot in range(len(test))]).float().div(255)
    crops = (crops - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.inference_mode():
        views = [crops, crops.flip(-1), crops.flip(-2), crops.flip((-2, -1))]
        expected = torch.stack([torch.softmax(model(view), 1) for view in views]).mean(0).numpy()
    np.testing.assert_allclose(tta.loc[test["image_id"], [f"prob_{c}" for c in CLASSES]].to_numpy(), expected,
                               atol=2e-3)
    assert not np.allclose(expected, plain.set_index("image_id").loc[test["image_id"],
                                                                     [f"prob_{c}" for c in CLASSES]].to_numpy(),
                           atol=1e-4)


def test_purified_test_images_get_the_classifiers_colour_constancy(tiny_project, monkeypatch):
    """The purified test images are decoded by the prediction job itself, as the model's metadata says."""
    root = tiny_project["root"]
    manifest, _ = build_training_manifest(tiny_project["images"], Recipe(), CLASSES, 200)
    write_table(manifest, root / "train.parquet", TRAIN_MANIFEST_SCHEMA)
    tiny_project["occlusions"].to_parquet(root / "occlusions.parquet")
    for path in tiny_project["images"]["image_path"]:  # a warm cast for the correction to remove
        fileio.write_image(path, (fileio.read_image(path) * np.array([1.0, 0.7, 0.4])).astype(np.uint8))
    meta = classifier_metadata("resnet18", CLASSES, 32, 40, IMAGENET_MEAN, IMAGENET_STD, None)
    caches = []  # the images each prediction was given; the network's outputs are not this test's

    def keep_cache(model, meta, rows, cache, *args):
        caches.append(cache)

    monkeypatch.setattr(classification_predict, "predict_rows", keep_cache)
    monkeypatch.setattr(classification_predict, "write_table", lambda *args: None)
    model = build_classifier("resnet18", 3)
    for color_constancy in ("shades_of_gray", None):  # None: a checkpoint from before the setting
        extra = {} if color_constancy is None else {"color_constancy": color_constancy}
        save_classifier(root / "model.pt", model, meta | {"lesion_crop": None} | extra)
        predict_variant(str(root / "train.parquet"), "unused.npy", "unused.json", str(root / "model.pt"),
                        "unused.parquet", PredictSettings(batch_size=4, tta=False), "cpu",
                        str(root / "occlusions.parquet"))
    corrected, plain = caches
    assert list(corrected.slots) == list(plain.slots)
    for path, slot in plain.slots.items():
        image = fileio.read_image(path)
        np.testing.assert_array_equal(plain.pixels[slot], cv2.resize(image, (40, 40), interpolation=cv2.INTER_AREA))
        np.testing.assert_array_equal(corrected.pixels[slot],
                                      cv2.resize(shades_of_gray(image), (40, 40), interpolation=cv2.INTER_AREA))


def test_test_rows_never_influence_training(trained):
    """Selection uses the validation rows only: relabelling the test rows and swapping their images
    leaves the trained weights and the history exactly as they were."""
    manifest = trained["manifest"].copy()
    test = manifest["split"] == "test"
    manifest.loc[test, "label"] = manifest.loc[test, "label"].to_numpy()[::-1]
    manifest.loc[test, "source_path"] = manifest.loc[manifest["split"] == "train", "source_path"].to_numpy()[
        : test.sum()]
    root = trained["root"] / "relabelled"
    history = fit(manifest, trained["cache"], TINY, CLASSES, 200, root / "model.pt", root / "history.csv")
    original, _ = load_classifier(trained["root"] / "model.pt")
    relabelled, _ = load_classifier(root / "model.pt")
    for key, value in original.state_dict().items():
        assert torch.equal(value, relabelled.state_dict()[key]), key
    pd.testing.assert_frame_equal(history.drop(columns=["seconds", "train_images_per_s"]),
                                  trained["history"].drop(columns=["seconds", "train_images_per_s"]))


def test_schedules_warm_up_and_decay():
    from melanoflow.classification.train import make_optimizer, make_scheduler

    def rates(settings):
        optimizer = make_optimizer(torch.nn.Linear(2, 2), settings)
        scheduler = make_scheduler(optimizer, settings)
        seen = []
        for _ in range(settings.epochs):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return seen

    cosine = replace(TINY, epochs=5, lr=0.1, schedule="cosine", warmup_epochs=1, optimizer="adamw")
    # warm-up epoch at lr / 10, then cosine over the 4 remaining epochs: 0.1 (1 + cos(pi k / 4)) / 2
    assert rates(cosine) == pytest.approx([0.01, 0.1, 0.0853553, 0.05, 0.0146447], rel=1e-5)
    step = replace(TINY, epochs=4, lr=0.1, lr_step_epochs=2, lr_gamma=0.1)
    assert rates(step) == pytest.approx([0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match="classification.sampling"):
        replace(TINY, sampling="oversample")


def test_training_settings_name_a_missing_or_unknown_key():
    without_lr = {key: value for key, value in TINY_SECTION.items() if key != "lr"}
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.lr$"):
        TrainSettings.from_config(without_lr)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.learning_rate$"):
        TrainSettings.from_config({**TINY_SECTION, "learning_rate": 0.1})


def test_inference_copy_folds_batch_norm_without_changing_outputs():
    torch.manual_seed(0)
    model = build_classifier("resnet18", 3).eval()
    for module in model.modules():  # non-trivial running statistics, so folding them is really tested
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    images = torch.randn(4, 3, 64, 64)
    with torch.inference_mode():
        expected = model(images)
        fused, dtype = for_inference(model, torch.device("cpu"), low_precision=False)
        assert dtype == torch.float32
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
        torch.testing.assert_close(fused(images), expected, rtol=1e-4, atol=1e-4)
        fast, dtype = for_inference(model, torch.device("cpu"))
        probabilities = torch.softmax(fast(images.to(dtype)).float(), 1)
        torch.testing.assert_close(probabilities, torch.softmax(expected, 1), rtol=0, atol=0.05)
