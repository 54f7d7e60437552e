"""Coupled DCGANs (paper Supplement 6.3, Table 5): one generator and one discriminator per class.

The generators share their first 4 rows (latent 100 -> 256x4 -> 128x8 -> 64x16 -> 32x32) and keep
their last rows class-specific; the discriminators keep their first rows class-specific and share their
last 4 (128x16 -> 256x8 -> 512x4 -> 1x1). Rows are those of Table 2 (see ``dcgan``), so a lower
resolution shortens only the class-specific blocks. Every mini-batch holds the same number of images
of each class (``balanced_batches``), the paper's online balancing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from melanoflow.synthesis.dcgan import (
    discriminator_block,
    discriminator_specs,
    generator_block,
    generator_specs,
    init_weights,
)

SHARED_ROWS = 4


def _route(blocks: nn.ModuleList, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Run each row of ``inputs`` through the block of its class; rows keep their order."""
    outputs = None
    for index, block in enumerate(blocks):
        rows = (labels == index).nonzero(as_tuple=True)[0]
        if len(rows) == 0:
            continue
        result = block(inputs[rows])
        if outputs is None:
            outputs = result.new_empty((inputs.shape[0], *result.shape[1:]))
        outputs[rows] = result
    if outputs is None:
        raise ValueError("empty batch")
    return outputs


class CoupledGenerator(nn.Module):
    """Latent (N, latent_dim) and class indices (N,) -> images of each row's class."""

    def __init__(self, n_classes: int, resolution: int = 256, latent_dim: int = 100, width: float = 1.0):
        super().__init__()
        if n_classes < 1:
            raise ValueError("a coupled GAN needs at least one class")
        self.latent_dim = latent_dim
        specs = generator_specs(resolution, latent_dim, width)
        self.shared = nn.Sequential(*(generator_block(s) for s in specs[:SHARED_ROWS]))
        self.heads = nn.ModuleList(
            nn.Sequential(*(generator_block(s) for s in specs[SHARED_ROWS:])) for _ in range(n_classes)
        )
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hidden = self.shared(z.view(z.shape[0], self.latent_dim, 1, 1))
        return _route(self.heads, hidden, labels)


class CoupledDiscriminator(nn.Module):
    """Images and class indices -> (logits (N,), features of the last hidden shared row)."""

    def __init__(self, n_classes: int, resolution: int = 256, width: float = 1.0):
        super().__init__()
        specs = discriminator_specs(resolution, width)
        split = len(specs) - SHARED_ROWS
        self.heads = nn.ModuleList(
            nn.Sequential(*(discriminator_block(s) for s in specs[:split])) for _ in range(n_classes)
        )
        self.shared = nn.Sequential(*(discriminator_block(s) for s in specs[split:-1]))
        self.score = discriminator_block(specs[-1])
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor):
        features = self.shared(_route(self.heads, images, labels))
        return self.score(features).flatten(), features


class _ShuffledCycle:
    """Endless reshuffled passes over one class's indices."""

    def __init__(self, members: torch.Tensor, generator: torch.Generator):
        self.members, self.generator = members, generator
        self.order, self.position = self._shuffled(), 0

    def _shuffled(self) -> torch.Tensor:
        return self.members[torch.randperm(len(self.members), generator=self.generator)]

    def take(self, count: int) -> torch.Tensor:
        pieces = []
        while count:
            if self.position == len(self.order):
                self.order, self.position = self._shuffled(), 0
            step = min(count, len(self.order) - self.position)
            pieces.append(self.order[self.position : self.position + step])
            self.position += step
            count -= step
        return torch.cat(pieces)


def balanced_batches(
    labels: Sequence[int], per_class: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Index batches with ``per_class`` images of every class, for one epoch.

    Each class is drawn from its own shuffled order, reshuffled whenever it runs out, so small classes
    repeat (the online balancing) while the epoch lasts until the largest class has been seen once.
    """
    labels = torch.as_tensor(labels)
    members = [(labels == c).nonzero(as_tuple=True)[0] for c in range(int(labels.max()) + 1)]
    if any(len(m) == 0 for m in members):
        raise ValueError("every class needs at least one training image")
    cycles = [_ShuffledCycle(m, generator) for m in members]
    for _ in range(-(-max(len(m) for m in members) // per_class)):
        yield torch.cat([cycle.take(per_class) for cycle in cycles])
