"""The decoupled DCGAN against the paper's Table 2, row by row."""

import pytest
import torch
from torch import nn

from melanoflow.synthesis.dcgan import Discriminator, Generator, discriminator_specs, generator_specs

# Table 2 (output channels, height = width, kernel, stride, padding). The 512x4x4 discriminator row is
# listed with stride 1 in the paper, which cannot give 4x4 from 8x8; we use stride 2 (see dcgan.py).
TABLE2_GENERATOR = [(256, 4, 4, 1, 0), (128, 8, 4, 2, 1), (64, 16, 4, 2, 1), (32, 32, 4, 2, 1),
                    (16, 64, 4, 2, 1), (8, 128, 4, 2, 1), (3, 256, 4, 2, 1)]
TABLE2_DISCRIMINATOR = [(16, 128, 4, 2, 1), (32, 64, 4, 2, 1), (64, 32, 4, 2, 1), (128, 16, 4, 2, 1),
                        (256, 8, 4, 2, 1), (512, 4, 4, 2, 1), (1, 1, 4, 1, 0)]


def layer_outputs(model: nn.Module, layer_type, x, *extra):
    """(layer, output shape) for every layer of ``layer_type`` in forward order."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, tuple(o.shape))))
             for m in model.modules() if isinstance(m, layer_type)]
    with torch.no_grad():
        model(x, *extra)
    for hook in hooks:
        hook.remove()
    return seen


def test_generator_matches_every_row_of_table2():
    generator = Generator(resolution=256, latent_dim=10).eval()
    rows = layer_outputs(generator, nn.ConvTranspose2d, torch.randn(2, 10))
    assert len(rows) == len(TABLE2_GENERATOR)
    for (layer, shape), (channels, size, kernel, stride, padding) in zip(rows, TABLE2_GENERATOR, strict=True):
        assert shape == (2, channels, size, size)
        assert (layer.kernel_size, layer.stride, layer.padding) == ((kernel,) * 2, (stride,) * 2, (padding,) * 2)
    assert rows[0][0].in_channels == 10  # latent of length 10


def test_generator_has_batchnorm_relu_after_each_but_last_and_tanh():
    blocks = list(Generator(resolution=256).layers)
    for block in blocks[:-1]:
        assert [type(m) for m in block] == [nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in blocks[-1]] == [nn.ConvTranspose2d, nn.Tanh]
    images = Generator(resolution=256).eval()(torch.randn(3, 10) * 10)
    assert images.min() >= -1 and images.max() <= 1


def test_discriminator_matches_every_row_of_table2():
    discriminator = Discriminator(resolution=256).eval()
    rows = layer_outputs(discriminator, nn.Conv2d, torch.randn(2, 3, 256, 256))
    assert len(rows) == len(TABLE2_DISCRIMINATOR)
    for (layer, shape), (channels, size, kernel, stride, padding) in zip(rows, TABLE2_DISCRIMINATOR, strict=True):
        assert shape == (2, channels, size, size)
        assert (layer.kernel_size, layer.stride, layer.padding) == ((kernel,) * 2, (stride,) * 2, (padding,) * 2)


def test_discriminator_blocks_and_outputs():
    discriminator = Discriminator(resolution=256)
    for block in discriminator.body:
        assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU]
        assert block[2].negative_slope == 0.2
    assert [type(m) for m in discriminator.head] == [nn.Conv2d]  # sigmoid folded into BCE-with-logits
    logits, features = discriminator.eval()(torch.randn(2, 3, 256, 256))
    assert logits.shape == (2,) and features.shape == (2, 512, 4, 4)


@pytest.mark.parametrize("resolution, n_layers", [(64, 5), (128, 6)])
def test_lower_resolutions_truncate_table2(resolution, n_layers):
    generator = Generator(resolution=resolution, latent_dim=10).eval()
    g_rows = layer_outputs(generator, nn.ConvTranspose2d, torch.randn(2, 10))
    expected = [*TABLE2_GENERATOR[: n_layers - 1], (3, resolution, 4, 2, 1)]
    assert [shape[1:] for _, shape in g_rows] == [(c, s, s) for c, s, *_ in expected]
    d_rows = layer_outputs(Discriminator(resolution=resolution).eval(), nn.Conv2d,
                           torch.randn(2, 3, resolution, resolution))
    assert [shape[1:] for _, shape in d_rows] == [(c, s, s) for c, s, *_ in TABLE2_DISCRIMINATOR[-n_layers:]]


def test_width_scales_hidden_channels_only():
    assert [s.out_channels for s in generator_specs(64, 10, width=0.5)] == [128, 64, 32, 16, 3]
    assert [s.out_channels for s in discriminator_specs(64, width=0.5)] == [32, 64, 128, 256, 1]


def test_unsupported_resolution_is_refused():
    with pytest.raises(ValueError, match="resolution 96"):
        Generator(resolution=96)
