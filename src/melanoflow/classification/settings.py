"""The classifier's training settings: one dataclass, read from the config's classification section.

Kept free of torch so that the workflow can read which settings training uses when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")
SAMPLINGS = ("uniform", "balanced")
# How the kept epoch is chosen: lowest validation loss (reference code), highest validation mean one-vs-rest
# AUC (blind to class priors, which balanced sampling shifts), or the last epoch (the schedule's end).
SELECTIONS = ("val_loss", "val_auc", "last")


@dataclass(frozen=True)
class TrainSettings:
    arch: str = "resnet50"
    weights: str | None = None  # state dict path or torchvision weights name; None = random initialisation
    input_size: int = 224
    epochs: int = 90
    batch_size: int = 50
    optimizer: str = "sgd"  # sgd (with momentum) or adamw
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "step"  # step: lr x lr_gamma every lr_step_epochs; cosine: cosine decay to 0
    lr_step_epochs: int = 30
    lr_gamma: float = 0.1
    warmup_epochs: int = 0  # linear warm-up from lr / 10 over this many epochs (before the schedule)
    label_smoothing: float = 0.0
    sampling: str = "uniform"  # uniform: each example once per epoch; balanced: classes drawn equally often
    epoch_size: int | None = None  # examples per epoch (None: the training rows), the same for every variant
    selection: str = "val_loss"  # which epoch is kept: see SELECTIONS
    loader_workers: int = 0

    def __post_init__(self):
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("sampling", SAMPLINGS),
                              ("selection", SELECTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"classification.{name}: {getattr(self, name)!r} is not one of {allowed}")

    @classmethod
    def from_params(cls, params: Mapping) -> TrainSettings:
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})
