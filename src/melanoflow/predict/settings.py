"""A finished run's prediction settings, ``results/models/predict.json`` (rule ``predict_settings``): what
predicting new images reads of the run's config, exactly as the run's own jobs applied it. ``run_settings``
writes the file's content from the config; ``RunSettings`` reads it back, one frozen dataclass made of the
stages' own prediction settings.

Kept free of torch: the workflow writes the file's content when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from melanoflow.classification.settings import PREDICTION_KEYS as CLASSIFIER_PREDICTION_KEYS
from melanoflow.classification.settings import PredictSettings as ClassifierPredictSettings
from melanoflow.config_checks import check_section_keys, field_names
from melanoflow.purification.base import METHOD_SETTINGS
from melanoflow.purification.settings import PurifierSettings
from melanoflow.segmentation.settings import PREDICTION_KEYS as SEGMENTER_PREDICTION_KEYS
from melanoflow.segmentation.settings import PredictSettings as SegmenterPredictSettings


@dataclass(frozen=True)
class RunPurification:
    """The run's purification as prediction applies it: the purifier, and whether the classifier sees an
    image's purified copy (``test_time``) where its occluded fraction exceeds ``select_threshold``."""

    purifier: PurifierSettings
    select_threshold: float
    test_time: bool

    @classmethod
    def from_config(cls, purification: Mapping) -> Self:
        """The settings of the purification keys the file holds: PURIFICATION_KEYS and the sections the
        method reads (METHOD_SETTINGS; the network's own training sections are recorded, not read); a
        missing or unknown key is an error naming it."""
        purifier = PurifierSettings.from_config(
            {key: value for key, value in purification.items() if key in field_names(PurifierSettings)})
        check_section_keys(purification, (*PURIFICATION_KEYS, *METHOD_SETTINGS[purifier.method]), "purification")
        return cls(purifier, purification["select_threshold"], purification["test_time"])


@dataclass(frozen=True)
class RunSettings:
    """What predicting new images reads of a run: its classes and the classes its reports single out, its
    classifier variants, and the segmenter's, the purification's and the classifier's prediction settings."""

    classes: tuple[str, ...]
    melanoma_class: str
    keratosis_class: str | None  # None: the mean AUC averages every class's AUC (ISIC 2018)
    variants: tuple[str, ...]
    segmentation: SegmenterPredictSettings
    purification: RunPurification
    classification: ClassifierPredictSettings

    @classmethod
    def from_config(cls, settings: Mapping) -> Self:
        """The settings of a run's predict.json, as run_settings writes it; a missing or unknown key is an
        error naming it."""
        check_section_keys(settings, field_names(cls), "")
        # Runs made before segmentation.tta existed predicted their masks without test-time flips.
        segmentation = {"tta": False, **settings["segmentation"]}
        return cls(tuple(settings["classes"]), settings["melanoma_class"], settings["keratosis_class"],
                   tuple(settings["variants"]), SegmenterPredictSettings.from_config(segmentation),
                   RunPurification.from_config(settings["purification"]),
                   ClassifierPredictSettings.from_config(settings["classification"]))


# What the file holds of the purification section besides the method's sections.
PURIFICATION_KEYS = ("method", *(name for name in field_names(RunPurification) if name != "purifier"))


def run_settings(config: Mapping) -> dict:
    """The content of a run's predict.json: what prediction needs of the run's config (the
    ``predict_settings`` rule's params)."""
    purification = config["purification"]
    sections = METHOD_SETTINGS[purification["method"]]
    return {
        "classes": list(config["classes"]),
        "melanoma_class": config["evaluation"]["melanoma_class"],
        "keratosis_class": config["evaluation"]["keratosis_class"],
        "variants": list(config["classification"]["variants"]),
        "segmentation": {key: config["segmentation"][key] for key in SEGMENTER_PREDICTION_KEYS},
        "purification": {key: purification[key] for key in (*PURIFICATION_KEYS, *sections)},
        "classification": {key: config["classification"][key] for key in CLASSIFIER_PREDICTION_KEYS},
    }
