"""Partial convolutions (Liu et al., ECCV 2018) and the U-Net built from them (paper Supplement 6.1).

A partial convolution sees only valid pixels: the input is multiplied by its mask, the result is rescaled
by (window size / number of valid inputs in the window), and an output position becomes valid when its
window held at least one valid input. Holes therefore shrink with every layer until the deepest layers
see none. Padding counts as a hole, so at the image border the output is rescaled too (Liu et al.'s
choice, which keeps the border from darkening).

Masks have the same channels as the features they go with (multi-channel masks), so that concatenating
decoder and skip features also concatenates their masks correctly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class PartialConv2d(nn.Conv2d):
    """``forward(x, mask) -> (y, new_mask)``; mask is 1 for valid, 0 for hole, shaped like ``x``."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            ones = torch.ones(1, self.in_channels, *self.kernel_size, device=x.device, dtype=mask.dtype)
            valid_count = F.conv2d(mask, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
            window = float(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            new_mask = (valid_count > 0).to(mask.dtype)
            ratio = window / valid_count.clamp(min=1.0) * new_mask
        raw = F.conv2d(x * mask, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        out = raw * ratio.to(raw.dtype)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1).to(out.dtype)
        out = out * new_mask.to(out.dtype)
        return out, new_mask.expand(-1, self.out_channels, -1, -1)


class EncoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, batch_norm: bool):
        super().__init__()
        self.conv = PartialConv2d(in_channels, out_channels, kernel, stride=2, padding=kernel // 2,
                                  bias=not batch_norm)
        self.norm = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()

    def forward(self, x, mask):
        x, mask = self.conv(x, mask)
        return F.relu(self.norm(x)), mask


class DecoderBlock(nn.Module):
    """Nearest upsampling, concatenation with the skip features (and masks), 3x3 partial conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, last: bool):
        super().__init__()
        self.conv = PartialConv2d(in_channels + skip_channels, out_channels, 3, padding=1, bias=True)
        self.norm = nn.Identity() if last else nn.BatchNorm2d(out_channels)
        self.last = last

    def forward(self, x, mask, skip, skip_mask):
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        mask = F.interpolate(mask, size=skip.shape[-2:], mode="nearest")
        x, mask = self.conv(torch.cat([x, skip], 1), torch.cat([mask, skip_mask], 1))
        return (x if self.last else F.leaky_relu(self.norm(x), 0.2)), mask


@dataclass(frozen=True)
class PConvUNetSpec:
    base_channels: int = 64
    depth: int = 7
    in_channels: int = 3

    def channels(self) -> list[int]:
        """Encoder widths: doubling from ``base_channels`` up to 8x (Liu et al.: 64 .. 512)."""
        return [self.base_channels * min(2**level, 8) for level in range(self.depth)]


class PConvUNet(nn.Module):
    """Liu et al.'s inpainting U-Net: 7/5/5/3... stride-2 partial convs down, nearest-up partial convs up.

    The first encoder layer has no batch norm and the last decoder layer no activation (as in the paper);
    the output is the image in the input's range.
    """

    def __init__(self, spec: PConvUNetSpec):
        super().__init__()
        self.spec = spec
        widths = spec.channels()
        kernels = [7, 5, 5] + [3] * max(0, spec.depth - 3)
        inputs = [spec.in_channels] + widths[:-1]
        self.encoder = nn.ModuleList(
            EncoderBlock(inputs[level], widths[level], kernels[level], batch_norm=level > 0)
            for level in range(spec.depth)
        )
        skips = [spec.in_channels] + widths[:-1]  # the decoder level ``i`` meets the encoder input of level ``i``
        outs = [spec.in_channels] + widths[:-1]
        self.decoder = nn.ModuleList(
            DecoderBlock(widths[level], skips[level], outs[level], last=level == 0) for level in range(spec.depth)
        )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``image`` with holes (any values there), ``mask`` (N, 1 or C, H, W) 1 = valid."""
        mask = mask.expand_as(image).to(image.dtype)
        features, masks = [image], [mask]
        x = image
        for block in self.encoder:
            x, mask = block(x, mask)
            features.append(x)
            masks.append(mask)
        for level in reversed(range(self.spec.depth)):
            x, mask = self.decoder[level](x, mask, features[level], masks[level])
        return x, mask
