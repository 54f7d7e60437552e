"""The classification jobs' settings: built from the keys each rule passes of the paper's config, and a
missing or unknown key is an error naming it."""

import pytest

from melanoflow.classification.recipe import Recipe
from melanoflow.classification.settings import (
    FLOOR_KEYS,
    MANIFEST_KEYS,
    PREDICTION_KEYS,
    TRAINING_JOB_KEYS,
    FloorSettings,
    ManifestSettings,
    PredictSettings,
    TrainJobSettings,
    TrainSettings,
)
from melanoflow.config_checks import field_names

from ..conftest import default_config

CONFIG = default_config()
CLASSIFICATION = CONFIG["classification"]
RUN = {"seed": CONFIG["seed"], "classes": CONFIG["classes"]}


def without(section: dict, key: str) -> dict:
    return {name: value for name, value in section.items() if name != key}


def training_section() -> dict:
    return {key: CLASSIFICATION[key] for key in TRAINING_JOB_KEYS}


def manifest_section(variant: str) -> dict:
    """What the manifest rule passes: the manifest keys, ``variants`` holding ``variant``'s recipe alone."""
    return {key: CLASSIFICATION[key] for key in MANIFEST_KEYS} | {
        "variants": {variant: CLASSIFICATION["variants"][variant]}}


def test_each_jobs_settings_read_the_keys_its_rule_passes():
    training = TrainJobSettings.from_config(training_section(), **RUN)
    training_keys = field_names(TrainSettings)
    assert training.training == TrainSettings.from_config({key: CLASSIFICATION[key] for key in training_keys})
    assert (training.device, training.lesion_crop, training.seed) == ("auto", None, CONFIG["seed"])
    assert training.color_constancy == "none"  # the paper corrects no colours
    assert training.classes == tuple(CONFIG["classes"])
    manifest = ManifestSettings.from_config(manifest_section("proposed"), variant="proposed", **RUN)
    assert manifest.recipe == Recipe.from_config(CLASSIFICATION["variants"]["proposed"], CLASSIFICATION["crop_scale"])
    assert (manifest.materialise, manifest.resize) == (False, 256)
    prediction = PredictSettings.from_config({key: CLASSIFICATION[key] for key in PREDICTION_KEYS})
    assert prediction == PredictSettings(batch_size=50, tta=False)
    floor = FloorSettings.from_config({key: CLASSIFICATION["classical_floor"][key] for key in FLOOR_KEYS}, **RUN)
    assert floor.C == (0.01, 0.1, 1.0, 10.0)


def test_training_job_settings_name_a_missing_or_unknown_key():
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.lesion_crop$"):
        TrainJobSettings.from_config(without(training_section(), "lesion_crop"), **RUN)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.tta$"):
        TrainJobSettings.from_config(training_section() | {"tta": False}, **RUN)
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.color_constancy$"):
        TrainJobSettings.from_config(without(training_section(), "color_constancy"), **RUN)


def test_colour_constancy_is_none_or_shades_of_gray():
    settings = TrainJobSettings.from_config(training_section() | {"color_constancy": "shades_of_gray"}, **RUN)
    assert settings.color_constancy == "shades_of_gray"
    with pytest.raises(ValueError, match=r"^classification\.color_constancy: 'gray_world' is not one of "
                                         r"\('none', 'shades_of_gray'\)$"):
        TrainJobSettings.from_config(training_section() | {"color_constancy": "gray_world"}, **RUN)


def test_manifest_settings_name_a_missing_or_unknown_key():
    section = manifest_section("proposed")
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.crop_scale$"):
        ManifestSettings.from_config(without(section, "crop_scale"), variant="proposed", **RUN)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.arch$"):
        ManifestSettings.from_config(section | {"arch": "resnet18"}, variant="proposed", **RUN)
    # another variant's recipe is not the job's to read
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.variants\.baseline, .*synthetic$"):
        ManifestSettings.from_config(section | {"variants": CLASSIFICATION["variants"]}, variant="proposed", **RUN)
    recipe = section["variants"]["proposed"]
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.variants\.proposed\.factor$"):
        ManifestSettings.from_config(section | {"variants": {"proposed": without(recipe, "factor")}},
                                     variant="proposed", **RUN)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.variants\.proposed\.crop_scale$"):
        ManifestSettings.from_config(section | {"variants": {"proposed": recipe | {"crop_scale": [0.5, 1.0]}}},
                                     variant="proposed", **RUN)


def test_prediction_settings_name_a_missing_or_unknown_key():
    section = {key: CLASSIFICATION[key] for key in PREDICTION_KEYS}
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.tta$"):
        PredictSettings.from_config(without(section, "tta"))
    # where predictions run is the caller's: the job's classification device, the predict command's own
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.device$"):
        PredictSettings.from_config(section | {"device": "cpu"})


def test_floor_settings_name_a_missing_or_unknown_key():
    with pytest.raises(ValueError, match=r"^missing key\(s\) classification\.classical_floor\.C$"):
        FloorSettings.from_config({}, **RUN)
    # whether the floor runs is decided when the workflow plans the DAG, not by the job
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.classical_floor\.enabled$"):
        FloorSettings.from_config(CLASSIFICATION["classical_floor"], **RUN)
