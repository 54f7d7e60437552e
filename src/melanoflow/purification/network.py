"""The purification network's loss (Liu et al. 2018) and its use as a purification method.

Loss = valid L1 + 6 x hole L1 + 0.05 x perceptual + 120 x style + 0.1 x total variation (weights from
config). The perceptual and style terms compare VGG16 pool1..pool3 features; VGG16's weights are read
from a local state-dict file named in config and are never downloaded. Without that file those two terms
are off and the log says so.

As a method, the improved method's detector finds the occlusions and the network fills them: as the
paper trained its network on pairs made by its morphological method, this one is trained on pairs made by
the improved method, so it learns to fill hairs and rulers the way that detector finds them, with texture
instead of a local mean.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from melanoflow.fileio import BadInputError
from melanoflow.purification.base import Purification
from melanoflow.purification.classic import detect_occlusions
from melanoflow.purification.partialconv import PConvUNet, PConvUNetSpec
from melanoflow.purification.settings import ClassicSettings
from melanoflow.runtime import autocast, load_checkpoint, select_device

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision vgg16().features indices that end at pool1, pool2 and pool3.
VGG_POOL_ENDS = (5, 10, 17)


class VGG16Features(nn.Module):
    """Frozen VGG16 feature maps at pool1, pool2, pool3 of images in [0, 1]."""

    def __init__(self, features: nn.Sequential):
        super().__init__()
        starts = (0, *VGG_POOL_ENDS[:-1])
        self.stages = nn.ModuleList(features[start:end] for start, end in zip(starts, VGG_POOL_ENDS, strict=True))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def load_vgg16_features(path: str | os.PathLike | None) -> VGG16Features | None:
    """VGG16 features from a local torchvision state dict, or None (with a warning) when no file is configured."""
    if path is None:
        log.warning("purification.network.vgg16_weights is not set: the perceptual and style loss terms are off")
        return None
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: VGG16 weights file (purification.network.vgg16_weights) does not exist")
    # VGG16's convolutional part only: building the whole model would initialise 120M unused classifier weights
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        # a whole torchvision VGG16 state dict, or just its convolutional part (the classifier is unused)
        features.load_state_dict({key.removeprefix("features."): value for key, value in state.items()
                                  if key.startswith("features.")})
    except (RuntimeError, KeyError, ValueError, AttributeError) as error:
        raise BadInputError(f"{path}: not a torchvision VGG16 state dict ({error})") from error
    log.info("perceptual and style loss terms use VGG16 weights from %s", path)
    return VGG16Features(features)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def total_variation(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute neighbour difference where both neighbours lie in ``region`` (N, 1, H, W)."""
    horizontal = (image[..., :, 1:] - image[..., :, :-1]).abs() * region[..., :, 1:] * region[..., :, :-1]
    vertical = (image[..., 1:, :] - image[..., :-1, :]).abs() * region[..., 1:, :] * region[..., :-1, :]
    return horizontal.mean() + vertical.mean()


class InpaintingLoss(nn.Module):
    """Liu et al.'s loss; ``forward`` returns every weighted term and their sum under ``total``."""

    def __init__(self, weights: dict[str, float], vgg: VGG16Features | None):
        super().__init__()
        self.weights = dict(weights)
        self.vgg = vgg

    def forward(self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """``mask`` (N, 1, H, W): 1 where the input was valid, 0 in the holes."""
        output, target = output.float(), target.float()
        hole = 1 - mask
        composite = mask * target + hole * output
        terms = {
            "valid": F.l1_loss(mask * output, mask * target),
            "hole": F.l1_loss(hole * output, hole * target),
            # smoothness across the 1-pixel dilated hole boundary (Liu et al.'s region P)
            "tv": total_variation(composite, F.max_pool2d(hole, 3, stride=1, padding=1)),
        }
        if self.vgg is not None:
            target_features = self.vgg(target)
            perceptual = style = output.new_zeros(())
            for image in (output, composite):
                for feature, reference in zip(self.vgg(image), target_features, strict=True):
                    perceptual = perceptual + F.l1_loss(feature, reference)
                    style = style + F.l1_loss(gram_matrix(feature), gram_matrix(reference))
            terms["perceptual"], terms["style"] = perceptual, style
        weighted = {name: self.weights[name] * value for name, value in terms.items()}
        weighted["total"] = sum(weighted.values())
        return weighted


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div(255)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    return tensor.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


class NetworkPurifier:
    """Purification method ``network``: the improved detector's mask, filled by the trained U-Net."""

    def __init__(self, model: PConvUNet, classic: ClassicSettings, device: torch.device):
        self.model = model.to(device).eval()
        self.classic = classic
        self.device = device

    @classmethod
    def load(cls, path: str | os.PathLike, classic: ClassicSettings, device: str) -> NetworkPurifier:
        saved = load_checkpoint(path)
        model = PConvUNet(PConvUNetSpec(**saved["spec"]))
        model.load_state_dict(saved["model"])
        return cls(model, classic, select_device(device))

    @torch.no_grad()
    def __call__(self, rgb: np.ndarray, lesion: np.ndarray | None) -> Purification:
        occlusion = detect_occlusions(rgb, lesion, self.classic)
        if not occlusion.any():
            return Purification(image=rgb.copy(), occlusion=occlusion)
        image = to_tensor(rgb).unsqueeze(0).to(self.device)
        valid = torch.from_numpy(~occlusion).float()[None, None].to(self.device)
        with autocast(self.device):
            output, _ = self.model(image * valid, valid)
        composite = valid * image + (1 - valid) * output.float()
        return Purification(image=to_image(composite[0]), occlusion=occlusion)
