"""VisualBackProp (Bojarski et al., 2016) for torchvision-style ResNets: where the classifier looks.

Each stage's feature maps are averaged over channels. Starting from the deepest stage, the running mask
is scaled up to the next shallower stage's size with a transposed convolution whose weights are all one
(kernel 2s-1 for stride s, so neighbouring contributions overlap as in the paper's deconvolution; the
overlaps are averaged, see upsample_ones) and multiplied pointwise with that stage's average; after the shallowest stage it is scaled up to the input
and normalised to [0, 1]. Only regions active at every depth survive the products.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from melanoflow.classification.data import to_model_input
from melanoflow.runtime import autocast

STAGE_NAMES = ("relu", "layer1", "layer2", "layer3", "layer4")


def resnet_stages(model: nn.Module) -> list[nn.Module]:
    """The stem's ReLU and the four residual stages of the first ResNet found inside ``model``."""
    for module in model.modules():
        if all(isinstance(getattr(module, name, None), nn.Module) for name in STAGE_NAMES):
            return [getattr(module, name) for name in STAGE_NAMES]
    raise TypeError(f"{type(model).__name__} holds no ResNet (a module with {', '.join(STAGE_NAMES)})")


def upsample_ones(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Scale a (B, 1, h, w) mask up to ``size`` with an all-ones transposed convolution.

    The stride is the size ratio (rounded up; the result is cropped to ``size``). A kernel of 2s - 1 with
    padding s - 1 and output padding s - 1 gives exactly s times the input size, each input pixel
    spreading over its own s x s block and half a block into its neighbours. Each output pixel is divided
    by the number of kernels that cover it: a plain sum counts the overlaps twice (four times in 2D), a
    checkerboard that the stage-by-stage products would amplify into a grid over the whole mask.
    """
    stride = tuple(
        max(1, math.ceil(target / current)) for target, current in zip(size, mask.shape[-2:], strict=True)
    )
    kernel = tuple(2 * s - 1 for s in stride)
    weight = torch.ones((1, 1, *kernel), dtype=mask.dtype, device=mask.device)
    padding = tuple(s - 1 for s in stride)
    upsampled = F.conv_transpose2d(mask, weight, stride=stride, padding=padding, output_padding=padding)
    overlaps = F.conv_transpose2d(
        torch.ones_like(mask[:1]), weight, stride=stride, padding=padding, output_padding=padding
    )
    return (upsampled / overlaps)[..., : size[0], : size[1]]


@torch.no_grad()
def visual_backprop(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, H, W) masks in [0, 1] for a batch of normalised (B, 3, H, W) images; the model is set to eval."""
    model.eval()
    features: list[torch.Tensor] = []
    handles = [
        stage.register_forward_hook(
            lambda module, inputs, output: features.append(output.float().mean(dim=1, keepdim=True))
        )
        for stage in resnet_stages(model)
    ]
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
    if len(features) != len(STAGE_NAMES):
        raise RuntimeError(f"expected one output per ResNet stage ({len(STAGE_NAMES)}), got {len(features)}")
    # the forward pass may run under autocast; products of many small averages need float32
    with torch.autocast(images.device.type, enabled=False):
        mask = features[-1]
        for shallower in reversed(features[:-1]):
            mask = upsample_ones(mask, shallower.shape[-2:]) * shallower
        mask = upsample_ones(mask, images.shape[-2:]).squeeze(1)
    low = mask.amin(dim=(1, 2), keepdim=True)
    span = mask.amax(dim=(1, 2), keepdim=True) - low
    return torch.where(
        span > 0, (mask - low) / span.clamp_min(torch.finfo(mask.dtype).tiny), torch.zeros_like(mask)
    )


def saliency_share(mask: torch.Tensor, region: torch.Tensor) -> float:
    """Share of a mask's total saliency that falls inside a boolean ``region`` (e.g. hairs and rulers)."""
    total = mask.sum()
    return float((mask * region).sum() / total) if total > 0 else 0.0


def saliency_maps(model: torch.nn.Module, meta: Mapping, views: list[np.ndarray], device: torch.device,
                  batch_size: int = 16) -> list[np.ndarray]:
    """VisualBackProp masks of images already in the classifier's view (RGB uint8, ``input_size`` square)."""
    masks = []
    for start in range(0, len(views), batch_size):
        batch = torch.from_numpy(np.stack(views[start : start + batch_size])).permute(0, 3, 1, 2)
        with autocast(device):
            masks += list(
                visual_backprop(model, to_model_input(batch, device, meta["mean"], meta["std"]))
                .cpu()
                .numpy()
            )
    return masks
