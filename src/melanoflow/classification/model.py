"""The classifier (paper Section 4.1): a torchvision ResNet with its final layer replaced for our classes.

ImageNet weights come from a local torchvision state-dict file named in config (nothing is downloaded).
Without one the network starts from random initialisation; that is logged as a warning and recorded in
the checkpoint (``pretrained: False``) so the report can say so.

A saved classifier is a dict: ``model`` (state dict), ``arch``, ``classes``, ``input_size``, ``resize``,
``mean``, ``std``, ``pretrained`` and ``weights_path``. :func:`load_classifier` rebuilds the network from it (the
evaluation stage uses it for VisualBackProp).
"""

from __future__ import annotations

import logging
import os
import pickle

import torch
import torchvision
from torch import nn

from melanoflow.io import BadInputError
from melanoflow.runtime import low_precision_dtype, save_checkpoint

log = logging.getLogger(__name__)

ARCHITECTURES = ("resnet18", "resnet34", "resnet50")


def build_classifier(arch: str, num_classes: int, weights_path: str | None = None) -> nn.Module:
    """``arch`` with ImageNet weights from ``weights_path`` (if given) and a fresh ``num_classes`` head."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    model = getattr(torchvision.models, arch)(weights=None)
    if weights_path:
        load_backbone_weights(model, weights_path)
        log.info("%s: ImageNet weights from %s", arch, weights_path)
    else:
        log.warning("%s: NO pretrained weights configured: training starts from random initialisation "
                    "(the paper fine-tunes ImageNet weights)", arch)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def load_backbone_weights(model: nn.Module, weights_path: str | os.PathLike) -> None:
    """Load a torchvision state dict into ``model``, all but the final layer (which is replaced anyway)."""
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise BadInputError(f"{weights_path}: cannot read a torch state dict ({error})") from error
    if not isinstance(state, dict):
        raise BadInputError(f"{weights_path}: expected a torchvision state dict, got {type(state).__name__}")
    backbone = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(backbone, strict=False)
    except RuntimeError as error:  # shape mismatch: weights of another architecture
        raise BadInputError(f"{weights_path}: weights do not fit this architecture ({error})") from error
    missing = [key for key in missing if not key.startswith("fc.")]
    if missing or unexpected:
        raise BadInputError(f"{weights_path}: not a state dict of this architecture: missing {missing[:5]}, "
                            f"unexpected {unexpected[:5]}")


def classifier_metadata(arch: str, classes: list[str], input_size: int, resize: int, mean, std,
                        weights_path: str | None) -> dict:
    """What a user of the classifier needs: images are resized to ``resize`` square, centre-cropped to
    ``input_size`` and normalised with ``mean`` / ``std``."""
    return {"arch": arch, "classes": list(classes), "input_size": int(input_size), "resize": int(resize),
            "mean": list(mean),
            "std": list(std), "pretrained": bool(weights_path), "weights_path": weights_path}


def save_classifier(path: str | os.PathLike, model: nn.Module, meta: dict) -> None:
    save_checkpoint(path, {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **meta})


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on ``device``, metadata) from a checkpoint written by :func:`save_classifier`."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
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
