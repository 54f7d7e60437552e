import pytest
import torch
import torchvision
from torch import nn

from melanoflow.evaluation import vbp


def test_upsample_spreads_each_pixel_over_its_block_and_half_its_neighbours():
    mask = torch.zeros(1, 1, 3, 3)
    mask[0, 0, 1, 1] = 1.0
    up = vbp.upsample_ones(mask, (6, 6))[0, 0]
    # rows/cols 1..3 (2s-1 .. 2s+1 for s = 1); rows 1 and 3 are shared with a neighbour's kernel: halved
    tent = torch.tensor([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])
    assert torch.equal(up, tent[:, None] * tent[None, :])
    # a constant stays constant: no checkerboard from overlapping kernels, borders included
    assert torch.equal(vbp.upsample_ones(torch.ones(1, 1, 7, 7), (13, 13)), torch.ones(1, 1, 13, 13))


class AveragingResNet(nn.Module):
    """A ResNet-shaped net whose every stage only averages and halves: its VBP mask is known by hand."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.AvgPool2d(2)  # stem: /2
        self.relu = nn.ReLU()
        self.maxpool = nn.AvgPool2d(2)  # /4
        self.layer1 = nn.Identity()
        self.layer2, self.layer3, self.layer4 = (
            nn.AvgPool2d(2),
            nn.AvgPool2d(2),
            nn.AvgPool2d(2),
        )  # /8 /16 /32

    def forward(self, x):
        x = self.maxpool(self.relu(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x)))).flatten(1)


def test_mask_lights_up_only_the_bright_square():
    image = torch.zeros(1, 3, 128, 128)
    image[:, :, 64:96, 32:64] = 1.0  # one 32-pixel cell of the deepest stage's grid
    mask = vbp.visual_backprop(AveragingResNet(), image)[0]
    assert mask.shape == (128, 128)
    assert mask.max() == 1.0 and mask.min() == 0.0
    assert mask[64:96, 32:64].min() > 0  # every pixel of the square is seen...
    outside = torch.ones_like(mask, dtype=torch.bool)
    outside[63:97, 31:65] = False  # ...and nothing beyond one pixel of spill from the last upsampling
    assert mask[outside].max() == 0
    # the square's centre lies under every stage's overlapping kernels: it is where the maximum sits
    row, col = divmod(int(mask.argmax()), 128)
    assert 64 <= row < 96 and 32 <= col < 64


def test_torchvision_resnet_masks_are_normalised_and_hooks_removed():
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    masks = vbp.visual_backprop(model, torch.randn(2, 3, 72, 96))
    assert masks.shape == (2, 72, 96)
    assert torch.isclose(masks.amax(dim=(1, 2)), torch.ones(2)).all() and masks.min() == 0
    assert all(not stage._forward_hooks for stage in vbp.resnet_stages(model))


def test_rejects_a_model_without_resnet_stages():
    with pytest.raises(TypeError, match="no ResNet"):
        vbp.resnet_stages(nn.Sequential(nn.Conv2d(3, 3, 3)))


def test_saliency_share():
    mask = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    assert vbp.saliency_share(mask, torch.tensor([[False, True], [True, True]])) == 0.75
