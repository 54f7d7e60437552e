"""The decoupled DCGAN of the paper's Table 2, at 256x256 or truncated to 128x128 / 64x64 for CPU runs.

Generator rows (out channels x size, kernel 4): 256x4 (s1 p0), 128x8, 64x16, 32x32, 16x64, 8x128,
3x256 (s2 p1), batch norm + ReLU after every layer but the last, tanh at the end. The discriminator
mirrors it: 16x128, 32x64, 64x32, 128x16, 256x8, 512x4, 1x1, batch norm + leaky ReLU 0.2, sigmoid.

Table 2 lists the 512x4x4 discriminator row with stride 1 and padding 1, which turns the 8x8 maps of the
row before into 7x7 (and the final 4x4 kernel then gives 4x4, not 1x1). We use stride 2, padding 1 for
that row, the only kernel-4 choice that produces the 4x4 the table states and lets the last row end at
1x1, exactly like every other down-sampling row of the table.

A lower resolution keeps the deep end of both networks: the generator keeps its first rows and ends
with the 3-channel row at the wanted size; the discriminator drops its first rows, so its last rows
(and the features the generator matches) are the same at every resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

RESOLUTIONS = (64, 128, 256)
IMAGE_CHANNELS = 3

# Table 2 at 256x256: (output channels, output size) per row, kernel 4 everywhere.
GENERATOR_ROWS = ((256, 4), (128, 8), (64, 16), (32, 32), (16, 64), (8, 128), (3, 256))
DISCRIMINATOR_ROWS = ((16, 128), (32, 64), (64, 32), (128, 16), (256, 8), (512, 4), (1, 1))
KERNEL = 4


@dataclass(frozen=True)
class LayerSpec:
    """One row of Table 2: a (transposed) convolution and the feature map it produces."""

    in_channels: int
    out_channels: int
    stride: int
    padding: int
    out_size: int
    last: bool


def check_resolution(resolution: int) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"GAN resolution {resolution} is not one of {RESOLUTIONS}")


def _scaled(channels: int, width: float, fixed: int) -> int:
    """Hidden channel counts scale with ``width`` (1.0 = Table 2); image and score channels do not."""
    return channels if channels == fixed else max(1, round(channels * width))


def generator_specs(resolution: int, latent_dim: int, width: float = 1.0) -> list[LayerSpec]:
    check_resolution(resolution)
    n_layers = int(math.log2(resolution)) - 1  # 4x4 first, then one doubling per row
    rows = [*GENERATOR_ROWS[: n_layers - 1], (IMAGE_CHANNELS, resolution)]
    specs, in_channels = [], latent_dim
    for index, (channels, size) in enumerate(rows):
        out_channels = _scaled(channels, width, IMAGE_CHANNELS)
        stride, padding = (1, 0) if index == 0 else (2, 1)
        specs.append(LayerSpec(in_channels, out_channels, stride, padding, size, index == len(rows) - 1))
        in_channels = out_channels
    return specs


def discriminator_specs(resolution: int, width: float = 1.0) -> list[LayerSpec]:
    check_resolution(resolution)
    n_layers = int(math.log2(resolution)) - 1
    rows = DISCRIMINATOR_ROWS[len(DISCRIMINATOR_ROWS) - n_layers :]
    specs, in_channels = [], IMAGE_CHANNELS
    for index, (channels, size) in enumerate(rows):
        out_channels = _scaled(channels, width, 1)
        last = index == len(rows) - 1
        stride, padding = (1, 0) if last else (2, 1)  # 512x4x4 row: s2 p1, see the module docstring
        specs.append(LayerSpec(in_channels, out_channels, stride, padding, size, last))
        in_channels = out_channels
    return specs


def generator_block(spec: LayerSpec) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(spec.in_channels, spec.out_channels, KERNEL, spec.stride, spec.padding, bias=spec.last)
    ]
    layers += [nn.Tanh()] if spec.last else [nn.BatchNorm2d(spec.out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def discriminator_block(spec: LayerSpec) -> nn.Sequential:
    """The last block yields logits: its sigmoid is folded into the loss (BCE with logits, autocast-safe)."""
    layers: list[nn.Module] = [
        nn.Conv2d(spec.in_channels, spec.out_channels, KERNEL, spec.stride, spec.padding, bias=spec.last)
    ]
    if not spec.last:
        layers += [nn.BatchNorm2d(spec.out_channels), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al.): N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """Latent (N, latent_dim) from N(0, 1) -> images (N, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, resolution: int = 256, latent_dim: int = 10, width: float = 1.0):
        super().__init__()
        self.latent_dim = latent_dim
        self.layers = nn.Sequential(*(generator_block(s) for s in generator_specs(resolution, latent_dim, width)))
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.layers(z.view(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """Images -> (logits (N,), features (N, C, 4, 4) of the last hidden row, used for feature matching)."""

    def __init__(self, resolution: int = 256, width: float = 1.0):
        super().__init__()
        specs = discriminator_specs(resolution, width)
        self.body = nn.Sequential(*(discriminator_block(s) for s in specs[:-1]))
        self.head = discriminator_block(specs[-1])
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        features = self.body(images)
        return self.head(features).flatten(), features
