"""The evaluation jobs' settings: frozen dataclasses, each built once from the evaluation keys its rule
passes (and the run's seed and classes), and which keys each rule passes.

Kept free of the scoring code (and of torch) so that the workflow can read the keys when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from melanoflow.config_checks import SectionSettings, check_section_keys, section_keys


@dataclass(frozen=True)
class BootstrapSettings(SectionSettings):
    """``evaluation.bootstrap``: how many resamples (stratified by true class, the same ones for every
    prediction set) and the intervals' level."""

    SECTION = "evaluation.bootstrap"
    resamples: int
    level: float


@dataclass(frozen=True)
class AucSettings:
    """What AUCs with bootstrap intervals read: the run's seed and classes, and the evaluation section's
    classes the AUCs are of (config/config.yaml describes each key) and its bootstrap."""

    seed: int
    classes: tuple[str, ...]
    melanoma_class: str
    keratosis_class: str | None  # None: the mean AUC averages every class's AUC (ISIC 2018)
    bootstrap: BootstrapSettings

    @classmethod
    def from_config(cls, evaluation: Mapping, *, seed: int, classes: Sequence[str]) -> Self:
        """The settings of the keys of the evaluation section that ``cls`` holds (``evaluation``: those keys
        alone), the run's ``seed`` and ``classes``; a missing or unknown key is an error naming it."""
        check_section_keys(evaluation, section_keys(cls), "evaluation")
        return cls(**cls.typed(evaluation), seed=seed, classes=tuple(classes))

    @classmethod
    def typed(cls, evaluation: Mapping) -> dict:
        """The section's values as the fields hold them."""
        return {**evaluation, "bootstrap": BootstrapSettings.from_config(evaluation["bootstrap"])}


@dataclass(frozen=True)
class ScoringSettings(AucSettings):
    """What scoring one prediction set reads: the AUCs' settings and the melanoma sensitivities at which
    specificity is reported."""

    sensitivities: tuple[float, ...]

    @classmethod
    def typed(cls, evaluation: Mapping) -> dict:
        return {**super().typed(evaluation), "sensitivities": tuple(evaluation["sensitivities"])}


@dataclass(frozen=True)
class ComparisonSettings(ScoringSettings):
    """What comparing prediction sets reads: the scoring settings and the two variants the verdict is on."""

    baseline: str
    proposed: str


@dataclass(frozen=True)
class TrapDropSettings(AucSettings):
    """What the trap split's AUC drops read: the AUCs' settings and the variant the drops are compared with."""

    baseline: str


@dataclass(frozen=True)
class VbpSettings(SectionSettings):
    """``evaluation.vbp``: the classifiers explained with VisualBackProp, how many test images the occlusion
    figure shows, and where the explanations run."""

    SECTION = "evaluation.vbp"
    variants: tuple[str, ...]
    occlusion_images: int
    device: str


@dataclass(frozen=True)
class InsertionSettings(SectionSettings):
    """``evaluation.artefacts.counterfactual``: whether artefacts are pasted onto clean test images, into
    how many, which classifiers predict them, and where."""

    SECTION = "evaluation.artefacts.counterfactual"
    enabled: bool
    images: int
    variants: tuple[str, ...]
    device: str


# What each rule passes of the evaluation section.
AUC_KEYS = section_keys(AucSettings)
SCORING_KEYS = section_keys(ScoringSettings)
COMPARISON_KEYS = section_keys(ComparisonSettings)
TRAP_DROP_KEYS = section_keys(TrapDropSettings)
