"""Partial convolutions (Liu et al. 2018): equal to a plain conv on valid data, holes shrink, holes ignored."""

import pytest
import torch
import torch.nn.functional as F

from melanoflow.purification.partialconv import PartialConv2d, PConvUNet, PConvUNetSpec


def test_all_valid_mask_equals_plain_convolution():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 12, 12)
    layer = PartialConv2d(4, 5, 3, padding=0, bias=True)
    out, mask = layer(x, torch.ones_like(x))
    torch.testing.assert_close(out, F.conv2d(x, layer.weight, layer.bias))
    assert mask.shape == (2, 5, 10, 10) and bool(mask.all())


def test_all_valid_mask_equals_plain_convolution_inside_the_padding():
    """With padding, the border is rescaled (padding counts as hole); the interior is the plain conv."""
    torch.manual_seed(1)
    x = torch.randn(1, 3, 10, 10)
    layer = PartialConv2d(3, 2, 3, padding=1, bias=False)
    out, _ = layer(x, torch.ones_like(x))
    plain = F.conv2d(x, layer.weight, padding=1)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1])
    # a corner window holds 4 of 9 valid inputs: rescaled by 9/4
    torch.testing.assert_close(out[..., 0, 0], plain[..., 0, 0] * 9 / 4)


def test_holes_shrink_layer_by_layer():
    x = torch.randn(1, 1, 32, 32)
    mask = torch.ones_like(x)
    mask[..., 10:21, 10:21] = 0  # an 11x11 hole
    layers = [PartialConv2d(1, 1, 3, padding=1) for _ in range(6)]
    sizes = []
    for layer in layers:
        x, mask = layer(x, mask)
        sizes.append(int((mask == 0).sum()))
    assert sizes == [9 * 9, 7 * 7, 5 * 5, 3 * 3, 1, 0]


def test_output_does_not_depend_on_what_is_in_the_holes():
    torch.manual_seed(2)
    model = PConvUNet(PConvUNetSpec(base_channels=4, depth=3)).eval()
    image = torch.rand(1, 3, 40, 48)
    mask = torch.ones(1, 1, 40, 48)
    mask[..., 12:20, 5:40] = 0
    garbage = image.clone()
    garbage[..., 12:20, 5:40] = torch.rand(3, 8, 35) * 100
    with torch.no_grad():
        clean_out, final_mask = model(image, mask)
        garbage_out, _ = model(garbage, mask)
    torch.testing.assert_close(clean_out, garbage_out)
    assert clean_out.shape == image.shape
    assert bool(final_mask.all())  # after the encoder the hole is gone: every output pixel is predicted


@pytest.mark.parametrize(("depth", "widths"), [(7, [64, 128, 256, 512, 512, 512, 512]), (3, [8, 16, 32])])
def test_channel_plan_follows_liu_et_al(depth, widths):
    base = widths[0]
    spec = PConvUNetSpec(base_channels=base, depth=depth)
    assert spec.channels() == widths
    model = PConvUNet(spec)
    assert [block.conv.out_channels for block in model.encoder] == widths
    assert [block.conv.kernel_size[0] for block in model.encoder][:3] == [7, 5, 5][:depth]
