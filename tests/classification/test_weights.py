"""ImageNet weights by torchvision name (torch hub cache, never the network here) or by local path."""

import logging
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from melanoflow.classification.model import build_classifier, classifier_metadata, weights_file
from melanoflow.fileio import BadInputError

RESNET18_V1_FILE = "resnet18-f37072fd.pth"  # basename of torchvision's ResNet18_Weights.IMAGENET1K_V1.url


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache under TORCH_HOME=tmp, and a network that is always down (calls recorded)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a set_dir() elsewhere would win over TORCH_HOME
    downloads = []

    def offline(url, dst, *args, **kwargs):
        downloads.append((url, dst))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return {"checkpoints": tmp_path / "torch" / "hub" / "checkpoints", "downloads": downloads}


def recognisable_resnet18_state(value=0.125):
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        model.conv1.weight.fill_(value)
        model.layer4[1].bn2.running_mean.fill_(-value)
    return model.state_dict()


def test_the_expected_cache_file_is_torchvisions():
    assert Path(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url).name == RESNET18_V1_FILE


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1", "DEFAULT"])
def test_weights_name_loads_from_the_hub_cache(hub, name, caplog):
    hub["checkpoints"].mkdir(parents=True)
    cached = hub["checkpoints"] / RESNET18_V1_FILE
    torch.save(recognisable_resnet18_state(), cached)
    with caplog.at_level(logging.INFO, logger="melanoflow.classification.model"):
        model = build_classifier("resnet18", 3, name)
    assert torch.equal(model.conv1.weight, torch.full_like(model.conv1.weight, 0.125))
    assert torch.equal(model.layer4[1].bn2.running_mean, torch.full((512,), -0.125))
    assert model.fc.out_features == 3
    assert str(cached) in caplog.text
    assert hub["downloads"] == []
    meta = classifier_metadata("resnet18", ["a", "b", "c"], 224, 256, (0.5,) * 3, (0.25,) * 3, name)
    assert meta["pretrained"] is True and meta["weights_path"] == str(cached)


def test_missing_cache_file_offline_names_the_file_and_its_url(hub):
    expected = hub["checkpoints"] / RESNET18_V1_FILE
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    with pytest.raises(BadInputError) as error:
        build_classifier("resnet18", 3, "IMAGENET1K_V1")
    message = str(error.value)
    assert str(expected) in message and url in message and "no network in tests" in message
    assert "Put the file" in message and "local state dict path" in message
    assert [(u, Path(dst).parent) for u, dst in hub["downloads"]] == [(url, hub["checkpoints"])]
    assert weights_file("resnet18", "IMAGENET1K_V1") == str(expected)


def test_missing_cache_file_is_fetched_into_the_cache_when_online(hub, monkeypatch):
    def download(url, dst, *args, **kwargs):
        torch.save(recognisable_resnet18_state(0.25), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    model = build_classifier("resnet18", 3, "IMAGENET1K_V1")
    assert torch.equal(model.conv1.weight, torch.full_like(model.conv1.weight, 0.25))
    assert (hub["checkpoints"] / RESNET18_V1_FILE).is_file()


@pytest.mark.parametrize("value", ["IMAGENET1K_V3", "imagenet1k_v1", "ResNet50_Weights.IMAGENET1K_V2"])
def test_unknown_name_that_is_no_file_lists_the_valid_names(hub, tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match=rf"{value!r}.* neither a torchvision weights name for resnet18 "
                                            r"\(IMAGENET1K_V1, DEFAULT\) nor an existing state dict file"):
        build_classifier("resnet18", 3, value)
    assert hub["downloads"] == []


def test_a_local_path_keeps_working(hub, tmp_path, monkeypatch):
    path = tmp_path / "IMAGENET1K_V3"  # a file of a name-like name is still a file
    torch.save(recognisable_resnet18_state(0.5), path)
    monkeypatch.chdir(tmp_path)
    for value in (str(path), "IMAGENET1K_V3"):
        model = build_classifier("resnet18", 3, value)
        assert torch.equal(model.conv1.weight, torch.full_like(model.conv1.weight, 0.5))
        assert classifier_metadata("resnet18", ["a"], 8, 8, (0,) * 3, (1,) * 3, value)["weights_path"] == value
    with pytest.raises(BadInputError, match=r"absent\.pth: cannot read a torch state dict"):
        build_classifier("resnet18", 3, str(tmp_path / "absent.pth"))
    assert hub["downloads"] == []
