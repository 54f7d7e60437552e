"""Coupled DCGANs against the paper's Table 5, shared parameters, and balanced mini-batches."""

from collections import Counter

import torch
from torch import nn

from melanoflow.synthesis.coupled import CoupledDiscriminator, CoupledGenerator, balanced_batches

from .test_dcgan import TABLE2_DISCRIMINATOR, TABLE2_GENERATOR, layer_outputs

ISIC2018_CLASSES = 7


def test_generator_shares_first_four_rows_of_table5():
    generator = CoupledGenerator(ISIC2018_CLASSES, resolution=256, latent_dim=100).eval()
    shared = layer_outputs(generator.shared, nn.ConvTranspose2d, torch.randn(2, 100, 1, 1))
    assert [shape[1:] for _, shape in shared] == [(c, s, s) for c, s, *_ in TABLE2_GENERATOR[:4]]
    assert shared[0][0].in_channels == 100  # latent of length 100
    labels = torch.arange(ISIC2018_CLASSES)
    rows = layer_outputs(generator, nn.ConvTranspose2d, torch.randn(ISIC2018_CLASSES, 100), labels)
    specific = [shape[1:] for _, shape in rows[4:]]
    # each class's block of rows 16x64, 8x128, 3x256 sees only its own image
    assert specific == [(c, s, s) for c, s, *_ in TABLE2_GENERATOR[4:]] * ISIC2018_CLASSES
    assert len(generator.heads) == ISIC2018_CLASSES


def test_discriminator_shares_last_four_rows_of_table5():
    discriminator = CoupledDiscriminator(ISIC2018_CLASSES, resolution=256).eval()
    labels = torch.arange(ISIC2018_CLASSES)
    rows = layer_outputs(discriminator, nn.Conv2d, torch.randn(ISIC2018_CLASSES, 3, 256, 256), labels)
    specific = [shape[1:] for _, shape in rows[: 3 * ISIC2018_CLASSES]]
    assert specific == [(c, s, s) for c, s, *_ in TABLE2_DISCRIMINATOR[:3]] * ISIC2018_CLASSES
    shared = [shape for _, shape in rows[3 * ISIC2018_CLASSES :]]
    assert shared == [(ISIC2018_CLASSES, c, s, s) for c, s, *_ in TABLE2_DISCRIMINATOR[3:]]
    logits, _ = discriminator(torch.randn(ISIC2018_CLASSES, 3, 256, 256), labels)
    assert logits.shape == (ISIC2018_CLASSES,)


def test_shared_parameters_are_one_tensor_and_heads_are_separate():
    generator = CoupledGenerator(3, resolution=64, latent_dim=100, width=0.25).eval()
    shared_ids = {id(p) for p in generator.shared.parameters()}
    head_ids = [{id(p) for p in head.parameters()} for head in generator.heads]
    assert all(not (ids & shared_ids) for ids in head_ids)
    assert not (head_ids[0] & head_ids[1])
    all_ids = [id(p) for p in generator.parameters()]
    assert len(all_ids) == len(set(all_ids)) == len(shared_ids) + sum(len(ids) for ids in head_ids)

    z = torch.randn(6, 100)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    before = generator(z, labels)
    with torch.no_grad():  # a change to class 0's head affects class 0's images only
        next(generator.heads[0].parameters()).add_(0.5)
    after_head = generator(z, labels)
    assert not torch.allclose(before[labels == 0], after_head[labels == 0])
    assert torch.equal(before[labels != 0], after_head[labels != 0])
    with torch.no_grad():  # a change to the shared block affects every class
        next(generator.shared.parameters()).add_(0.5)
    after_shared = generator(z, labels)
    for c in range(3):
        assert not torch.allclose(after_head[labels == c], after_shared[labels == c])


def test_gradients_of_one_class_reach_shared_and_own_blocks_only():
    discriminator = CoupledDiscriminator(3, resolution=64, width=0.25)
    logits, _ = discriminator(torch.randn(4, 3, 64, 64), torch.tensor([1, 1, 1, 1]))
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.shared.parameters())
    assert all(p.grad is not None for p in discriminator.heads[1].parameters())
    assert all(p.grad is None for c in (0, 2) for p in discriminator.heads[c].parameters())


def test_routing_keeps_row_order():
    generator = CoupledGenerator(2, resolution=64, latent_dim=100, width=0.25).eval()
    z = torch.randn(4, 100)
    mixed = generator(z, torch.tensor([1, 0, 1, 0]))
    assert torch.allclose(mixed[[1, 3]], generator(z[[1, 3]], torch.tensor([0, 0])), atol=1e-6)
    assert torch.allclose(mixed[[0, 2]], generator(z[[0, 2]], torch.tensor([1, 1])), atol=1e-6)


def test_balanced_batches_hold_equal_counts_and_cover_every_image():
    labels = [0] * 10 + [1] * 3 + [2] * 1
    batches = list(balanced_batches(labels, per_class=4, generator=torch.Generator().manual_seed(0)))
    assert len(batches) == 3  # ceil(10 / 4): until the largest class was seen once
    for batch in batches:
        assert Counter(labels[i] for i in batch.tolist()) == {0: 4, 1: 4, 2: 4}
    seen = torch.cat(batches).tolist()
    assert set(seen) == set(range(len(labels)))
    # the large class is drawn without repetition within its pass
    first_class = [i for i in seen if labels[i] == 0]
    assert sorted(first_class[:10]) == list(range(10))
