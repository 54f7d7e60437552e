"""The segmenter's training and prediction settings as dataclasses, and which segmentation settings each job
reads.

Kept free of torch so that the workflow can read them when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from melanoflow.config_checks import SectionSettings, check_section_keys


@dataclass(frozen=True)
class TrainSettings:
    """What segmenter training reads: the config's segmentation section (config/config.yaml describes each
    key) and the run's seed."""

    seed: int
    device: str
    epochs: int
    input_size: int
    width: float
    batch_size: int
    learning_rate: float
    betas: tuple[float, float]
    augment: Mapping  # flip, rotation_degrees, scale, cloth, stickers, ink_rings: see segmentation.data
    mixed_precision: bool
    loss: str
    schedule: str
    threshold: float

    @classmethod
    def from_config(cls, section: Mapping, *, seed: int) -> TrainSettings:
        """The settings of the segmentation section's training keys; a missing or unknown key is an error
        naming it."""
        check_section_keys(section, {field.name for field in fields(cls)} - {"seed"}, "segmentation")
        return cls(**{**section, "betas": tuple(section["betas"])}, seed=seed)


@dataclass(frozen=True)
class PredictSettings(SectionSettings):
    """What mask prediction reads of the segmentation section (config/config.yaml describes each key); where
    it runs is the caller's (the job's segmentation device, the predict command's own)."""

    SECTION = "segmentation"
    threshold: float
    largest_component: bool
    predict_batch_size: int
    mixed_precision: bool
    tta: bool


# What the training job reads of the config's segmentation section.
TRAINING_JOB_KEYS = tuple(field.name for field in fields(TrainSettings) if field.name != "seed")
# What mask prediction reads (besides the device); the run's predict.json holds them for the predict command.
PREDICTION_KEYS = tuple(field.name for field in fields(PredictSettings))
