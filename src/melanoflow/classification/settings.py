"""The classifier's training settings: one dataclass, read from the config's classification section.

Kept free of torch so that the workflow can read which settings training uses when it plans the DAG.
The config holds every value (config/config.yaml documents each); the dataclass has no defaults of its
own, so that a missing setting is an error rather than a second, silently diverging default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from melanoflow.config_checks import check_section_keys

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")
SAMPLINGS = ("uniform", "balanced")
# How the kept epoch is chosen: lowest validation loss (reference code), highest validation mean one-vs-rest
# AUC (blind to class priors, which balanced sampling shifts), or the last epoch (the schedule's end).
SELECTIONS = ("val_loss", "val_auc", "last")
# What the training job reads besides TrainSettings: the run's seed and classes, where it runs, and the
# margin its image cache cropped lesions with (recorded in the classifier).
JOB_KEYS = ("seed", "classes", "device", "lesion_crop")


@dataclass(frozen=True)
class TrainSettings:
    arch: str
    weights: str | None  # state dict path or torchvision weights name; None = random initialisation
    input_size: int
    epochs: int
    batch_size: int
    optimizer: str  # sgd (with momentum) or adamw
    lr: float
    momentum: float
    weight_decay: float
    schedule: str  # step: lr x lr_gamma every lr_step_epochs; cosine: cosine decay to 0
    lr_step_epochs: int
    lr_gamma: float
    warmup_epochs: int  # linear warm-up from lr / 10 over this many epochs (before the schedule)
    label_smoothing: float
    sampling: str  # uniform: each example once per epoch; balanced: classes drawn equally often
    epoch_size: int | None  # examples per epoch (None: the training rows), the same for every variant
    selection: str  # which epoch is kept: see SELECTIONS
    loader_workers: int

    def __post_init__(self):
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("sampling", SAMPLINGS),
                              ("selection", SELECTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"classification.{name}: {getattr(self, name)!r} is not one of {allowed}")

    @classmethod
    def from_config(cls, section: Mapping) -> TrainSettings:
        """The settings of the classification section's training keys; a missing or unknown key is an
        error naming it."""
        check_section_keys(section, (field.name for field in fields(cls)), "classification")
        return cls(**section)
