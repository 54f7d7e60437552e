"""The purification network: Liu et al.'s loss, local-only VGG16 loading, training, resuming, purifying."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from melanoflow.fileio import BadInputError, read_image, write_image
from melanoflow.purification import train as train_module
from melanoflow.purification.network import InpaintingLoss, NetworkPurifier, load_vgg16_features, to_image
from melanoflow.purification.settings import ClassicSettings
from melanoflow.purification.train import NetworkSettings, run_fingerprint, train_network
from melanoflow.resume import resume_path
from melanoflow.tables import IMAGES_SCHEMA, read_images_manifest, write_images_manifest
from tests.purification.conftest import configured_purification, scene

WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}
TINY_NETWORK = {"base_channels": 4, "depth": 2, "image_size": 32, "batch_size": 2, "adam_steps": 3, "sgd_steps": 2,
                "adam_lr": 2e-4, "sgd_lr": 1e-4, "random_strokes": 2, "loss_weights": WEIGHTS, "vgg16_weights": None,
                "checkpoint_every": 2}
IMPROVED = configured_purification()["improved"]


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """A VGG16 state dict saved by the test itself (random weights; only the loading path is tested)."""
    path = tmp_path_factory.mktemp("vgg") / "vgg16_features.pth"
    state = torchvision.models.vgg16(weights=None).state_dict()
    torch.save({key: value for key, value in state.items() if key.startswith("features.")}, path)
    return path


def test_loss_terms_by_hand():
    target = torch.zeros(1, 3, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2, :] = 0  # top half is hole
    output = target.clone()
    output[..., :2, :] = 0.5  # wrong by 0.5 in the hole only
    terms = InpaintingLoss(WEIGHTS, vgg=None)(output, target, mask)
    assert float(terms["valid"]) == 0
    assert float(terms["hole"]) == pytest.approx(6.0 * 0.5 * 0.5)  # weight x error x hole share
    # the composite is 0.5 in the hole and 0 below it: the only TV edge is the hole's lower border
    assert float(terms["tv"]) == pytest.approx(0.1 * 0.5 * (4 * 3) / (3 * 3 * 4))
    assert float(terms["total"]) == pytest.approx(sum(float(terms[k]) for k in ("valid", "hole", "tv")))
    assert "perceptual" not in terms and "style" not in terms


def test_without_vgg_weights_the_feature_terms_are_off_and_logged(caplog):
    with caplog.at_level(logging.WARNING):
        assert load_vgg16_features(None) is None
    assert "perceptual and style loss terms are off" in caplog.text


def test_vgg_weights_come_from_the_configured_file(vgg_weights, tmp_path):
    vgg = load_vgg16_features(vgg_weights)
    features = vgg(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in features] == [64, 128, 256]
    assert [f.shape[-1] for f in features] == [16, 8, 4]
    output, target = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    terms = InpaintingLoss(WEIGHTS, vgg)(output, target, torch.ones(1, 1, 32, 32))
    assert float(terms["perceptual"]) > 0 and float(terms["style"]) > 0
    with pytest.raises(BadInputError, match="does not exist"):
        load_vgg16_features(tmp_path / "absent.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(BadInputError, match="wrong.pth"):
        load_vgg16_features(tmp_path / "wrong.pth")


@pytest.fixture
def training_inputs(tmp_path):
    rows, mask_rows = [], []
    for index in range(4):
        image_id = f"ISIC_{index:07d}"
        image, _, lesion, _ = scene(48, 64, with_lesion=True, hair=True, seed=index)
        image_path, mask_path = tmp_path / f"{image_id}.png", tmp_path / f"{image_id}_segmentation.png"
        write_image(image_path, image)
        write_image(mask_path, lesion.astype(np.uint8) * 255)
        rows.append({"image_id": image_id, "dataset": "demo", "split": "train", "label": "nevus",
                     "image_path": str(image_path), "mask_path": None, "lesion_id": None, "width": 64,
                     "height": 48, "sha256": "0" * 64, "source": "test"})
        mask_rows.append({"image_id": image_id, "dataset": "demo", "mask_path": str(mask_path)})
    write_images_manifest(pd.DataFrame(rows, columns=IMAGES_SCHEMA.names), tmp_path / "images.parquet")
    pd.DataFrame(mask_rows).to_parquet(tmp_path / "masks.parquet")
    return tmp_path, NetworkSettings.from_config(TINY_NETWORK, improved=IMPROVED, device="cpu", seed=200)


def test_training_runs_both_phases_and_the_network_purifies(training_inputs):
    folder, settings = training_inputs
    history = train_network(folder / "images.parquet", folder / "masks.parquet", settings, folder / "net.pt")
    assert [entry["phase"] for entry in history] == ["adam"] * 3 + ["sgd"] * 2
    assert all(np.isfinite(entry["total"]) for entry in history)
    assert not resume_path(folder / "net.pt").exists()

    image, _, lesion, hair = scene(48, 64, with_lesion=True, hair=True, seed=9)
    result = NetworkPurifier.load(folder / "net.pt", ClassicSettings(), "cpu")(image, lesion)
    assert result.occlusion[hair & ~lesion].mean() > 0.9
    np.testing.assert_array_equal(result.image[~result.occlusion], image[~result.occlusion])
    assert not np.array_equal(result.image[result.occlusion], image[result.occlusion])


def train_killed_after_the_adam_phase(folder, settings, out_path, monkeypatch):
    """A training run whose SGD phase's optimiser fails: it dies after the Adam phase's last checkpoint."""
    original_phases = train_module.phases

    def failing_phases(model, settings):
        adam, (name, steps, _) = original_phases(model, settings)
        return [adam, (name, steps, lambda: (_ for _ in ()).throw(RuntimeError("killed")))]

    monkeypatch.setattr(train_module, "phases", failing_phases)
    with pytest.raises(RuntimeError, match="killed"):
        train_network(folder / "images.parquet", folder / "masks.parquet", settings, out_path)
    monkeypatch.setattr(train_module, "phases", original_phases)


def test_interrupted_training_resumes_exactly(training_inputs, monkeypatch):
    folder, settings = training_inputs
    train_network(folder / "images.parquet", folder / "masks.parquet", settings, folder / "straight.pt")

    train_killed_after_the_adam_phase(folder, settings, folder / "resumed.pt", monkeypatch)
    assert resume_path(folder / "resumed.pt").exists()
    train_network(folder / "images.parquet", folder / "masks.parquet", settings, folder / "resumed.pt")

    straight = torch.load(folder / "straight.pt", weights_only=True)
    resumed = torch.load(folder / "resumed.pt", weights_only=True)
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value)


def test_training_crops_keep_the_image_resolution(training_inputs):
    """Targets are windows of the purified image at its own resolution, so hairs keep their width in pixels."""
    folder, settings = training_inputs
    rows = train_module.with_lesion_masks(pd.read_parquet(folder / "images.parquet"),
                                          pd.read_parquet(folder / "masks.parquet"), "masks")
    pairs = train_module.PurificationPairs(rows, ClassicSettings(), size=32, strokes=0, seed=200)
    _, valid, target = pairs[(0, 0, 0)]
    row = rows.iloc[0]
    purified = train_module.purify_classic(train_module.read_image(row.image_path),
                                           train_module.read_lesion(row.lesion_mask_path, (48, 64)),
                                           ClassicSettings()).image
    target = to_image(target)
    windows = [purified[top : top + 32, left : left + 32] for top in range(17) for left in range(33)]
    windows += [window[:, ::-1] for window in windows]
    assert any(np.array_equal(target, window) for window in windows)
    assert valid.shape == (1, 32, 32)


def test_a_resume_file_for_other_images_under_the_same_paths_starts_over(training_inputs, monkeypatch, caplog):
    folder, settings = training_inputs
    train_killed_after_the_adam_phase(folder, settings, folder / "net.pt", monkeypatch)
    image_path = read_images_manifest(folder / "images.parquet").query("split == 'train'")["image_path"].iloc[0]
    write_image(image_path, 255 - read_image(image_path))  # the same file, other pixels
    with caplog.at_level("INFO"):
        history = train_network(folder / "images.parquet", folder / "masks.parquet", settings, folder / "net.pt")
    assert "starting over" in caplog.text and "other inputs" in caplog.text
    assert [entry["step"] for entry in history] == [0, 1, 2, 3, 4]


def test_network_settings_name_a_missing_or_unknown_key():
    without_depth = {key: value for key, value in TINY_NETWORK.items() if key != "depth"}
    with pytest.raises(ValueError, match=r"^missing key\(s\) purification\.network\.depth$"):
        NetworkSettings.from_config(without_depth, improved=IMPROVED, device="cpu", seed=200)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) purification\.network\.steps$"):
        NetworkSettings.from_config({**TINY_NETWORK, "steps": 5}, improved=IMPROVED, device="cpu", seed=200)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) purification\.improved\.radius$"):
        NetworkSettings.from_config(TINY_NETWORK, improved={**IMPROVED, "radius": 3}, device="cpu", seed=200)


def test_the_resume_stamp_follows_every_setting_but_the_checkpoint_interval_and_device():
    rows = pd.DataFrame({"image_path": [], "lesion_mask_path": []})

    def stamp(network=TINY_NETWORK, improved=IMPROVED, device="cpu", seed=200):
        settings = NetworkSettings.from_config(network, improved=improved, device=device, seed=seed)
        return run_fingerprint(rows, settings)["settings"]

    assert stamp() == stamp({**TINY_NETWORK, "checkpoint_every": 7}, device="cuda")
    assert stamp() == stamp(improved={**IMPROVED, "threshold": ClassicSettings().threshold})  # the default spelled out
    for changed in (stamp({**TINY_NETWORK, "sgd_lr": 1e-3}), stamp(improved={**IMPROVED, "threshold": 0.2}),
                    stamp(seed=1)):
        assert changed != stamp()
