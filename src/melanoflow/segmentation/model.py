"""The paper's lesion segmentation network (Section 3.2.3, Figure 4, Table 1): a U-Net with dilated valid
convolutions at the bottom and transposed convolutions in place of most up-sampling blocks.

All convolutions of the down path are valid (no padding), so every layer shrinks its input; the up path
grows it back by the same amounts with transposed convolutions of the same dilation (a 3x3 transposed
convolution with dilation d adds 2d pixels: 20 -> 28 -> 36 needs d = 4, 36 -> 40 -> 44 needs d = 2), and
three "up-convs" (x2 up-sampling + padded 3x3 convolution) undo the three max-pools. Output size therefore
equals input size for every input of side ``8k + 28`` with ``k >= 25`` (380 = 8 * 44 + 28).

Skip connections (Figure 4's black lines) concatenate each down-path convolution output onto the up-path
layer output of the same spatial size; the next up layer reads both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

IN_CHANNELS = 7  # RGB + HSV + luminance

# Table 1, down path: ("conv", channels, dilation) or ("pool",).
DOWN_LAYERS = (
    ("conv", 64, 1), ("conv", 64, 1), ("pool",),
    ("conv", 128, 1), ("conv", 128, 1), ("pool",),
    ("conv", 256, 1), ("conv", 256, 1), ("pool",),
    ("conv", 512, 2), ("conv", 512, 2),
    ("conv", 1024, 4), ("conv", 1024, 4),
)  # fmt: skip
# Table 1, up path: ("tconv", channels, dilation) or ("upconv", channels).
UP_LAYERS = (
    ("tconv", 1024, 4), ("tconv", 512, 4), ("tconv", 512, 2), ("tconv", 512, 2),
    ("upconv", 256), ("tconv", 256, 1), ("tconv", 256, 1),
    ("upconv", 128), ("tconv", 128, 1), ("tconv", 128, 1),
    ("upconv", 64), ("tconv", 64, 1), ("tconv", 64, 1),
)  # fmt: skip


def fits_network(size: int) -> bool:
    """True when the valid convolutions and 2x2 pools map an input of this side back onto itself."""
    side = size
    for layer in DOWN_LAYERS:
        if layer[0] == "pool":
            if side % 2:
                return False
            side //= 2
        else:
            side -= 2 * layer[2]
    return side >= 1


def check_input_size(size: int) -> None:
    if not fits_network(size):
        valid = [s for s in range(size - 40, size + 41) if fits_network(s)]
        raise ValueError(
            f"input size {size} does not fit the network (valid convolutions and three 2x2 pools need "
            f"8k + 28 with k >= 25); nearby valid sizes: {valid}"
        )


@dataclass(frozen=True)
class SegmenterSpec:
    """Everything needed to rebuild a segmenter: stored in its checkpoint next to the weights."""

    input_size: int = 380
    width: float = 1.0

    def __post_init__(self):
        check_input_size(self.input_size)
        if not self.width > 0:
            raise ValueError(f"width multiplier must be positive, got {self.width}")


PAPER = SegmenterSpec(input_size=380, width=1.0)


def scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


class UpConv(nn.Sequential):
    """Table 1's Up-Conv: x2 up-sampling followed by a padded 3x3 convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),
        )

    @property
    def conv(self) -> nn.Conv2d:
        return self[1]


class DilatedUNet(nn.Module):
    """Table 1's network. ``forward`` returns logits; the paper's final sigmoid is applied by the loss
    (``BCEWithLogitsLoss``, numerically safer) and by :meth:`predict_proba`."""

    def __init__(self, spec: SegmenterSpec = PAPER):
        super().__init__()
        self.spec = spec
        channels = IN_CHANNELS
        down_channels = []  # output channels of each down layer, for the skips
        self.down = nn.ModuleList()
        for layer in DOWN_LAYERS:
            if layer[0] == "pool":
                self.down.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                out = scaled(layer[1], spec.width)
                self.down.append(nn.Conv2d(channels, out, kernel_size=3, stride=1, padding=0, dilation=layer[2]))
                channels = out
            down_channels.append(channels)

        # up layer j produces the size of down layer (last - 1 - j); down convs there feed a skip
        self.skip_from = [len(DOWN_LAYERS) - 2 - j for j in range(len(UP_LAYERS))]
        self.up = nn.ModuleList()
        for j, layer in enumerate(UP_LAYERS):
            out = scaled(layer[1], spec.width)
            if layer[0] == "upconv":
                self.up.append(UpConv(channels, out))
            else:
                self.up.append(nn.ConvTranspose2d(channels, out, kernel_size=3, stride=1, padding=0, dilation=layer[2]))
            channels = out
            if self.has_skip(j):
                channels += down_channels[self.skip_from[j]]
        self.head = nn.Conv2d(channels, 1, kernel_size=1)
        self.reset_parameters()

    def has_skip(self, up_index: int) -> bool:
        source = self.skip_from[up_index]
        return source >= 0 and isinstance(self.down[source], nn.Conv2d)

    def reset_parameters(self) -> None:
        # He initialisation: 27 ReLU layers and no normalisation train poorly from PyTorch's default scale.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.ConvTranspose2d):
                # a transposed conv's weight is (in, out, k, k): its fan-in is torch's "fan_out"
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.head.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = []
        for layer in self.down:
            x = layer(x)
            if isinstance(layer, nn.Conv2d):
                x = torch.relu(x)
            features.append(x)
        for j, layer in enumerate(self.up):
            x = torch.relu(layer(x))
            if self.has_skip(j):
                x = torch.cat([x, features[self.skip_from[j]]], dim=1)
        return self.head(x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x).float())
