"""The network against the paper's Table 1, row by row, on a real forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from melanoflow.segmentation.model import PAPER, DilatedUNet, SegmenterSpec, check_input_size

# Table 1 of Bisla et al. (2019), copied from the paper: layer, output size, kernel, stride, padding, dilation.
TABLE_1 = [
    ("Conv", (64, 378, 378), 3, 1, 0, 1),
    ("Conv", (64, 376, 376), 3, 1, 0, 1),
    ("Maxpool", (64, 188, 188), 2, 2, 0, 1),
    ("Conv", (128, 186, 186), 3, 1, 0, 1),
    ("Conv", (128, 184, 184), 3, 1, 0, 1),
    ("Maxpool", (128, 92, 92), 2, 2, 0, 1),
    ("Conv", (256, 90, 90), 3, 1, 0, 1),
    ("Conv", (256, 88, 88), 3, 1, 0, 1),
    ("Maxpool", (256, 44, 44), 2, 2, 0, 1),
    ("Conv", (512, 40, 40), 3, 1, 0, 2),
    ("Conv", (512, 36, 36), 3, 1, 0, 2),
    ("Conv", (1024, 28, 28), 3, 1, 0, 4),
    ("Conv", (1024, 20, 20), 3, 1, 0, 4),
    ("Trans-Conv", (1024, 28, 28), 3, 1, 0, 4),
    ("Trans-Conv", (512, 36, 36), 3, 1, 0, 4),
    ("Trans-Conv", (512, 40, 40), 3, 1, 0, 2),
    ("Trans-Conv", (512, 44, 44), 3, 1, 0, 2),
    ("Up-Conv", (256, 88, 88), 3, 1, 1, 1),
    ("Trans-Conv", (256, 90, 90), 3, 1, 0, 1),
    ("Trans-Conv", (256, 92, 92), 3, 1, 0, 1),
    ("Up-Conv", (128, 184, 184), 3, 1, 1, 1),
    ("Trans-Conv", (128, 186, 186), 3, 1, 0, 1),
    ("Trans-Conv", (128, 188, 188), 3, 1, 0, 1),
    ("Up-Conv", (64, 376, 376), 3, 1, 1, 1),
    ("Trans-Conv", (64, 378, 378), 3, 1, 0, 1),
    ("Trans-Conv", (64, 380, 380), 3, 1, 0, 1),
    ("Conv", (1, 380, 380), 1, 1, 0, 1),
]
LAYER_TYPES = {"Conv": nn.Conv2d, "Maxpool": nn.MaxPool2d, "Trans-Conv": nn.ConvTranspose2d, "Up-Conv": nn.Conv2d}


def table_layers(model: DilatedUNet) -> list[tuple[nn.Module, nn.Module]]:
    """(module whose output Table 1 lists, module holding kernel/stride/padding/dilation), in table order."""
    layers = [(layer, layer) for layer in model.down]
    layers += [(layer, getattr(layer, "conv", layer)) for layer in model.up]
    return layers + [(model.head, model.head)]


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def test_every_row_of_table_1_on_a_forward_pass():
    torch.manual_seed(0)
    model = DilatedUNet(PAPER).eval()
    layers = table_layers(model)
    assert len(layers) == len(TABLE_1)
    shapes, input_minima = {}, {}

    def record(k):
        def hook(module, inputs, output):
            shapes[k] = tuple(output.shape[1:])
            input_minima[k] = float(inputs[0].min())

        return hook

    hooks = [outer.register_forward_hook(record(k)) for k, (outer, _) in enumerate(layers)]
    with torch.no_grad():
        output = model(torch.randn(1, 7, 380, 380))
    for hook in hooks:
        hook.remove()
    assert output.shape == (1, 1, 380, 380)
    # a ReLU follows every convolution but the last: every later layer reads non-negative features
    assert input_minima[0] < 0 and all(input_minima[k] >= 0 for k in range(1, len(layers)))
    assert float(output.min()) < 0
    for k, ((name, size, kernel, stride, padding, dilation), (outer, inner)) in enumerate(zip(TABLE_1, layers, strict=True)):
        row = f"row {k + 1} ({name})"
        assert isinstance(inner, LAYER_TYPES[name]), row
        assert shapes[k] == size, row
        assert pair(inner.kernel_size) == (kernel, kernel), row
        assert pair(inner.stride) == (stride, stride), row
        assert pair(inner.padding) == (padding, padding), row
        assert pair(inner.dilation) == (dilation, dilation), row
        if name == "Up-Conv":
            assert isinstance(outer[0], nn.Upsample) and outer[0].scale_factor == 2, row


def test_input_is_seven_channels_and_output_a_probability():
    model = DilatedUNet(SegmenterSpec(input_size=228, width=0.03))
    assert model.down[0].in_channels == 7
    probabilities = model.predict_proba(torch.randn(2, 7, 228, 228))
    assert probabilities.shape == (2, 1, 228, 228)
    assert probabilities.min() >= 0 and probabilities.max() <= 1


@pytest.mark.parametrize("size", [228, 252, 284])
def test_width_multiplier_scales_channels_and_keeps_the_geometry(size):
    model = DilatedUNet(SegmenterSpec(input_size=size, width=0.25))
    assert [m.out_channels for m in model.down if isinstance(m, nn.Conv2d)] == [16, 16, 32, 32, 64, 64, 128, 128, 256, 256]
    with torch.no_grad():
        assert model(torch.randn(1, 7, size, size)).shape == (1, 1, size, size)


@pytest.mark.parametrize("size", [128, 220, 230, 256, 381])
def test_sizes_the_network_cannot_map_back_are_refused(size):
    with pytest.raises(ValueError, match=f"input size {size}"):
        check_input_size(size)
