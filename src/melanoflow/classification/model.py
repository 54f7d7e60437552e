"""The classifier (paper Section 4.1): a torchvision ResNet with its final layer replaced for our classes.

ImageNet weights are named in config either as a torchvision weights name for the architecture
(``IMAGENET1K_V2`` or ``ResNet50_Weights.IMAGENET1K_V2``), looked up in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``, downloaded there by torchvision when missing and the network allows), or
as a local torchvision state-dict file. Without either the network starts from random initialisation; that
is logged as a warning and recorded in the checkpoint (``pretrained: False``) so the report can say so.

A saved classifier is a dict: ``model`` (state dict), ``arch``, ``classes``, ``input_size``, ``resize``,
``mean``, ``std``, ``pretrained`` and ``weights_path``. :func:`load_classifier` rebuilds the network from it (the
evaluation stage uses it for VisualBackProp).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from melanoflow.fileio import BadInputError
from melanoflow.runtime import load_checkpoint, low_precision_dtype, save_checkpoint

log = logging.getLogger(__name__)

ARCHITECTURES = ("resnet18", "resnet34", "resnet50")


# What a weights name looks like (IMAGENET1K_V2, ResNet50_Weights.DEFAULT): one word, no folder or suffix.
_NAME_LIKE = re.compile(r"(\w+_Weights\.)?\w+")


def build_classifier(arch: str, num_classes: int, weights: str | None = None) -> nn.Module:
    """``arch`` with the ImageNet ``weights`` (see :func:`load_imagenet_weights`; None: random
    initialisation) and a fresh ``num_classes`` head."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    model = getattr(torchvision.models, arch)(weights=None)
    if weights:
        load_imagenet_weights(model, arch, weights)
    else:
        log.warning("%s: NO pretrained weights configured: training starts from random initialisation "
                    "(the paper fine-tunes ImageNet weights)", arch)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def torchvision_weights(arch: str, value: str) -> torchvision.models.WeightsEnum | None:
    """The torchvision weights of ``arch`` that ``value`` names (``IMAGENET1K_V2``, ``DEFAULT`` or
    ``ResNet50_Weights.IMAGENET1K_V2``), or None when it names none (then it is a file path)."""
    enum = torchvision.models.get_model_weights(arch)
    prefix, dot, name = value.rpartition(".")
    if dot and prefix != enum.__name__:
        return None
    return enum.__members__.get(name)


def weights_names(arch: str) -> list[str]:
    """The weights names torchvision knows for ``arch``."""
    return list(torchvision.models.get_model_weights(arch).__members__)


def hub_cache_file(weights: torchvision.models.WeightsEnum) -> str:
    """Where torch hub keeps the file of ``weights`` (honours ``TORCH_HOME``)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(weights.url).path))


def weights_file(arch: str, value: str | None) -> str | None:
    """The state-dict file ``value`` stands for: the hub cache file for a weights name, else ``value``."""
    if not value:
        return None
    weights = torchvision_weights(arch, value)
    return hub_cache_file(weights) if weights is not None else value


def load_imagenet_weights(model: nn.Module, arch: str, value: str) -> str:
    """Load the backbone weights ``value`` names into ``model`` (an ``arch``); return the file used.

    A torchvision weights name is read from the torch hub cache; a missing file is fetched by torchvision
    into that cache, and where that fails (offline) the error says which file to put where. Any other value
    is a local state-dict path.
    """
    weights = torchvision_weights(arch, value)
    if weights is None:
        if _NAME_LIKE.fullmatch(value) and not os.path.exists(value):
            raise BadInputError(f"classification weights {value!r} are neither a torchvision weights name for "
                                f"{arch} ({', '.join(weights_names(arch))}) nor an existing state dict file")
        load_backbone_weights(model, value)
        log.info("%s: ImageNet weights from %s", arch, value)
        return value
    path = hub_cache_file(weights)
    if os.path.exists(path):
        load_backbone_weights(model, path)
        log.info("%s: ImageNet weights %r from the torch hub cache: %s", arch, str(weights), path)
        return path
    log.info("%s: weights %r not in the torch hub cache (%s); downloading %s", arch, str(weights), path,
             weights.url)
    try:
        state = weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except (OSError, RuntimeError) as error:  # offline (URLError is an OSError), or a corrupt download
        raise BadInputError(
            f"ImageNet weights {weights} for {arch} are not in the torch hub cache and could not be downloaded "
            f"({error}). Put the file {os.path.basename(path)} from {weights.url} at {path} (the cache "
            f"follows TORCH_HOME), or set classification.weights to a local state dict path instead"
        ) from error
    _load_backbone_state(model, state, path)
    log.info("%s: ImageNet weights %r downloaded to %s", arch, str(weights), path)
    return path


def load_backbone_weights(model: nn.Module, weights_path: str | os.PathLike) -> None:
    """Load a torchvision state dict into ``model``, all but the final layer (which is replaced anyway)."""
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise BadInputError(f"{weights_path}: cannot read a torch state dict ({error})") from error
    _load_backbone_state(model, state, weights_path)


def _load_backbone_state(model: nn.Module, state, source: str | os.PathLike) -> None:
    if not isinstance(state, dict):
        raise BadInputError(f"{source}: expected a torchvision state dict, got {type(state).__name__}")
    backbone = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(backbone, strict=False)
    except RuntimeError as error:  # shape mismatch: weights of another architecture
        raise BadInputError(f"{source}: weights do not fit this architecture ({error})") from error
    missing = [key for key in missing if not key.startswith("fc.")]
    if missing or unexpected:
        raise BadInputError(f"{source}: not a state dict of this architecture: missing {missing[:5]}, "
                            f"unexpected {unexpected[:5]}")


def classifier_metadata(arch: str, classes: list[str], input_size: int, resize: int, mean, std,
                        weights: str | None) -> dict:
    """What a user of the classifier needs: images are resized to ``resize`` square, centre-cropped to
    ``input_size`` and normalised with ``mean`` / ``std``. ``weights`` is the configured ImageNet weights
    (a torchvision weights name or a file); ``weights_path`` records the file they were read from."""
    return {"arch": arch, "classes": list(classes), "input_size": int(input_size), "resize": int(resize),
            "mean": list(mean),
            "std": list(std), "pretrained": bool(weights), "weights_path": weights_file(arch, weights)}


def save_classifier(path: str | os.PathLike, model: nn.Module, meta: dict) -> None:
    save_checkpoint(path, {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **meta})


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on ``device``, metadata) from a checkpoint written by :func:`save_classifier`."""
    checkpoint = load_checkpoint(path)
    meta = {key: value for key, value in checkpoint.items() if key != "model"}
    model = getattr(torchvision.models, meta["arch"])(weights=None)
    model.fc = nn.Linear(model.fc.in_features, len(meta["classes"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), meta


def for_inference(model: nn.Module, device: torch.device, low_precision: bool = True) -> tuple[nn.Module, torch.dtype]:
    """A copy of ``model`` made for fast inference, and the input dtype it expects.

    Batch norms are folded into their convolutions, then the weights are cast to the device's fast reduced
    precision (bf16 on capable CPUs). On this CPU that was about 3x faster than bf16 autocast (which
    recasts the fp32 weights at every call and runs each batch norm as its own pass over the activations).
    """
    from torch.fx.experimental.optimization import fuse

    dtype = (low_precision_dtype(device) if low_precision else None) or torch.float32
    fused = fuse(model.eval())
    return fused.to(device=device, dtype=dtype, memory_format=torch.channels_last), dtype
