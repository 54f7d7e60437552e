"""The classification jobs' settings: frozen dataclasses, each built once from the keys of the config's
classification section that its rule passes (and the run's seed and classes where the job reads them), and
which keys each rule passes.

Kept free of torch so that the workflow can read the keys when it plans the DAG. The config holds every
value (config/config.yaml documents each); the dataclasses have no defaults of their own, so that a missing
setting is an error rather than a second, silently diverging default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from melanoflow.classification.colour import check_color_constancy
from melanoflow.classification.recipe import Recipe
from melanoflow.config_checks import SectionSettings, check_section_keys, field_names, section_keys

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")
SAMPLINGS = ("uniform", "balanced")
# How the kept epoch is chosen: lowest validation loss (reference code), highest validation mean one-vs-rest
# AUC (blind to class priors, which balanced sampling shifts), or the last epoch (the schedule's end).
SELECTIONS = ("val_loss", "val_auc", "last")


@dataclass(frozen=True)
class OnlineAugmentation:
    """Augmentation beyond the reference code's random crop and vertical flip (``classification.augment``),
    drawn per training example and epoch; every part off is the paper's."""

    right_angles: bool  # rotate by a random multiple of 90 degrees: with the flips, all eight orientations
    # Area fraction range of the random square crop of the cached image, resized to the input size;
    # None: the reference code's fixed input-size crop.
    scale: tuple[float, float] | None
    colour_jitter: float  # brightness, contrast and saturation factors drawn from [1 - j, 1 + j]
    hue_jitter: float  # hue shift drawn from [-j, j], as a fraction of the hue circle

    def __post_init__(self):
        if self.scale is not None and not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"classification.augment.scale: {list(self.scale)} is not 0 < low <= high <= 1")
        if not 0 <= self.colour_jitter < 1:
            raise ValueError(f"classification.augment.colour_jitter: {self.colour_jitter} is not in [0, 1)")
        if not 0 <= self.hue_jitter <= 0.5:
            raise ValueError(f"classification.augment.hue_jitter: {self.hue_jitter} is not in [0, 0.5]")

    @classmethod
    def from_config(cls, augment: Mapping) -> Self:
        """The settings of ``classification.augment``; a missing or unknown key is an error naming it."""
        check_section_keys(augment, field_names(cls), "classification.augment")
        scale = augment["scale"]
        return cls(**{**augment, "scale": None if scale is None else (float(scale[0]), float(scale[1]))})


@dataclass(frozen=True)
class TrainSettings:
    """How a classifier is trained: the classification section's training keys."""

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
    augment: OnlineAugmentation
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
        check_section_keys(section, field_names(cls), "classification")
        return cls(**{**section, "augment": OnlineAugmentation.from_config(section["augment"])})


@dataclass(frozen=True)
class TrainJobSettings:
    """What a classifier's training job reads: the training settings, where it trains, the margin its image
    cache cropped lesions with and the colour constancy it applied (both recorded in the classifier), and
    the run's seed and classes."""

    training: TrainSettings
    device: str
    lesion_crop: float | None
    color_constancy: str  # none or shades_of_gray (melanoflow.classification.colour)
    seed: int
    classes: tuple[str, ...]

    def __post_init__(self):
        check_color_constancy(self.color_constancy)

    @classmethod
    def from_config(cls, classification: Mapping, *, seed: int, classes: Sequence[str]) -> Self:
        """The settings of the classification section's keys the job reads (TRAINING_JOB_KEYS;
        ``classification``: those keys alone), the run's ``seed`` and ``classes``; a missing or unknown key
        is an error naming it."""
        check_section_keys(classification, TRAINING_JOB_KEYS, "classification")
        training = TrainSettings.from_config({key: classification[key] for key in field_names(TrainSettings)})
        return cls(training, classification["device"], classification["lesion_crop"],
                   classification["color_constancy"], seed, tuple(classes))


@dataclass(frozen=True)
class ManifestSettings:
    """What building one variant's training manifest reads: its recipe (``classification.variants.<variant>``
    with ``classification.crop_scale``), whether and at what size its examples are also written as images
    (``materialise``, ``resize``), and the run's seed and classes."""

    recipe: Recipe
    materialise: bool
    resize: int
    seed: int
    classes: tuple[str, ...]

    @classmethod
    def from_config(cls, classification: Mapping, *, variant: str, seed: int, classes: Sequence[str]) -> Self:
        """The settings of the classification section's keys the job reads (MANIFEST_KEYS, ``variants``
        holding ``variant``'s recipe alone), the run's ``seed`` and ``classes``; a missing or unknown key is an
        error naming it."""
        check_section_keys(classification, MANIFEST_KEYS, "classification")
        check_section_keys(classification["variants"], (variant,), "classification.variants")
        recipe = classification["variants"][variant]
        check_section_keys(recipe, RECIPE_KEYS, f"classification.variants.{variant}")
        return cls(Recipe.from_config(recipe, classification["crop_scale"]), classification["materialise"],
                   classification["resize"], seed, tuple(classes))


@dataclass(frozen=True)
class PredictSettings(SectionSettings):
    """What a classifier's predictions read of the classification section: the batch size and whether to
    average the four flips of each image (``tta``); where it runs is the caller's (the job's
    classification device, the predict command's own)."""

    SECTION = "classification"
    batch_size: int
    tta: bool


@dataclass(frozen=True)
class FloorSettings:
    """What the classical floor reads: the grid of C it chooses from (``classification.classical_floor``;
    ``enabled`` is read when the workflow plans the DAG) and the run's seed and classes."""

    C: tuple[float, ...]
    seed: int
    classes: tuple[str, ...]

    @classmethod
    def from_config(cls, classical_floor: Mapping, *, seed: int, classes: Sequence[str]) -> Self:
        """The settings of the ``classification.classical_floor`` keys the job reads (FLOOR_KEYS), the run's
        ``seed`` and ``classes``; a missing or unknown key is an error naming it."""
        check_section_keys(classical_floor, FLOOR_KEYS, "classification.classical_floor")
        return cls(tuple(classical_floor["C"]), seed, tuple(classes))


# What each rule passes of the classification section.
TRAINING_JOB_KEYS = (*field_names(TrainSettings), *(name for name in section_keys(TrainJobSettings)
                                                   if name != "training"))
# A variant's recipe is built with the crop scale, which is not part of the variant's own section.
RECIPE_KEYS = tuple(name for name in field_names(Recipe) if name != "crop_scale")
MANIFEST_KEYS = ("variants", "crop_scale", *(name for name in section_keys(ManifestSettings) if name != "recipe"))
PREDICTION_KEYS = field_names(PredictSettings)
FLOOR_KEYS = section_keys(FloorSettings)
