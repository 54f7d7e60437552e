"""Weight loading, exact resume, best checkpoint + metadata, and predictions tables."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from melanoflow.classification.cache import build_cache, cache_sources, write_cache
from melanoflow.classification.data import IMAGENET_MEAN, IMAGENET_STD
from melanoflow.classification.manifests import TRAIN_MANIFEST_SCHEMA, build_training_manifest
from melanoflow.classification.model import (
    build_classifier,
    classifier_metadata,
    for_inference,
    load_classifier,
    save_classifier,
)
from melanoflow.classification.predict import predict_variant, predictions_schema
from melanoflow.classification.recipe import Recipe
from melanoflow.classification.train import TrainSettings, fit
from melanoflow.io import BadInputError
from melanoflow.manifest import read_table, write_table

from .conftest import CLASSES

TINY = TrainSettings(arch="resnet18", input_size=32, epochs=3, batch_size=5, lr=0.01, lr_step_epochs=2)


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
    history = fit(manifest, cache, TINY, CLASSES, 200, root / "model.pt", root / "history.csv", root / "resume.pt")
    return {**tiny_project, "manifest": manifest, "cache": cache, "history": history}


def test_resumed_training_equals_an_uninterrupted_run(trained):
    root = trained["root"] / "interrupted"
    args = (trained["manifest"], trained["cache"], TINY, CLASSES, 200, root / "model.pt", root / "history.csv",
            root / "resume.pt")
    fit(*args, stop_after_epoch=1)
    assert (root / "resume.pt").exists() and not (root / "model.pt").exists()
    resumed = fit(*args)
    uninterrupted, _ = load_classifier(trained["root"] / "model.pt")
    model, meta = load_classifier(root / "model.pt")
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    columns = ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(resumed[columns], trained["history"][columns])
    assert not (root / "resume.pt").exists()


def test_best_checkpoint_and_history(trained):
    history = pd.read_csv(trained["root"] / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["lr"].tolist() == pytest.approx([0.01, 0.01, 0.001])  # step decay after lr_step_epochs
    model, meta = load_classifier(trained["root"] / "model.pt")
    assert {"arch", "classes", "input_size", "resize", "mean", "std", "pretrained"} <= meta.keys()
    assert meta["classes"] == CLASSES and meta["pretrained"] is False and meta["resize"] == 40
    assert meta["epoch"] == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert meta["val_loss"] == pytest.approx(history["val_loss"].min())


def test_predictions_for_the_test_split_and_purified_test_images(tiny_project):
    root = tiny_project["root"]
    manifest, _ = build_training_manifest(tiny_project["images"], Recipe(), CLASSES, 200)
    write_table(manifest, root / "train.parquet", TRAIN_MANIFEST_SCHEMA)
    write_cache(cache_sources(manifest), 40, root / "cache.npy", root / "cache.json")
    tiny_project["occlusions"].to_parquet(root / "occlusions.parquet")
    torch.manual_seed(0)  # an untrained network: its probabilities are far from saturated
    save_classifier(root / "model.pt", build_classifier("resnet18", 3).eval(),
                    classifier_metadata("resnet18", CLASSES, 32, 40, IMAGENET_MEAN, IMAGENET_STD, None))
    params = {"device": "cpu", "batch_size": 4}
    inputs = [str(root / name) for name in ("train.parquet", "cache.npy", "cache.json", "model.pt")]
    predict_variant(*inputs, str(root / "pred.parquet"), params)
    predict_variant(*inputs, str(root / "pred.purified.parquet"), params, str(root / "occlusions.parquet"))
    schema = predictions_schema(CLASSES)
    plain = read_table(root / "pred.parquet", schema)
    purified = read_table(root / "pred.purified.parquet", schema)
    test = tiny_project["images"].query("split == 'test'")
    assert sorted(plain["image_id"]) == sorted(test["image_id"])
    probabilities = plain[[f"prob_{label}" for label in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (plain["predicted"].to_numpy() == np.asarray(CLASSES)[probabilities.argmax(1)]).all()
    # occluded test images (ids ending in _0) were replaced by their purified copies, the others were not
    changed = plain.set_index("image_id")["prob_melanoma"] != purified.set_index("image_id")["prob_melanoma"]
    assert changed[changed].index.str.endswith("_0").all() and changed.any()


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
