"""A run's prediction settings (results/models/predict.json): written from the config, read back typed, and a
missing or unknown key is an error naming it."""

import json
import re

import pytest

from melanoflow.classification.settings import PredictSettings as ClassifierPredictSettings
from melanoflow.fileio import BadInputError
from melanoflow.predict.artefacts import SETTINGS_FILE, locate_run
from melanoflow.predict.settings import RunSettings, run_settings
from melanoflow.purification.settings import ClassicSettings
from melanoflow.segmentation.settings import PredictSettings as SegmenterPredictSettings
from tests.conftest import default_config

CONFIG = default_config()


def with_method(method: str) -> dict:
    config = default_config()
    config["purification"]["method"] = method
    return config


def test_the_file_holds_what_prediction_reads_of_the_config():
    settings = run_settings(CONFIG)
    assert list(settings) == ["classes", "melanoma_class", "keratosis_class", "variants", "segmentation",
                              "purification", "classification"]
    assert list(settings["purification"]) == ["method", "select_threshold", "test_time", "paper"]
    # the network method records its own training sections too, which prediction does not read
    assert list(run_settings(with_method("network"))["purification"]) == [
        "method", "select_threshold", "test_time", "improved", "network", "device"]
    assert settings["classification"] == {"batch_size": 50, "tta": False}


@pytest.mark.parametrize("method", ["paper", "improved", "dullrazor", "network"])
def test_the_file_reads_back_as_the_stages_prediction_settings(method):
    config = with_method(method)
    settings = RunSettings.from_config(json.loads(json.dumps(run_settings(config))))
    assert settings.classes == tuple(config["classes"])
    assert settings.variants == tuple(config["classification"]["variants"])
    assert settings.segmentation == SegmenterPredictSettings.from_config(run_settings(config)["segmentation"])
    assert settings.classification == ClassifierPredictSettings(batch_size=50, tta=False)
    purification = settings.purification
    assert purification.purifier.method == method
    assert (purification.select_threshold, purification.test_time) == (0.01, False)
    if method == "network":  # the network fills the mask that the improved method's detector finds
        assert purification.purifier.improved == ClassicSettings.from_config(config["purification"]["improved"])


def test_run_settings_name_a_missing_or_unknown_key():
    written = run_settings(CONFIG)
    with pytest.raises(ValueError, match=r"^missing key\(s\) variants$"):
        RunSettings.from_config({key: value for key, value in written.items() if key != "variants"})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) seed$"):
        RunSettings.from_config(written | {"seed": 200})
    purification = written["purification"]
    with pytest.raises(ValueError, match=r"^missing key\(s\) purification\.select_threshold$"):
        RunSettings.from_config(written | {"purification": {key: value for key, value in purification.items()
                                                            if key != "select_threshold"}})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) purification\.figure_images$"):
        RunSettings.from_config(written | {"purification": purification | {"figure_images": 6}})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) classification\.device$"):
        RunSettings.from_config(written | {"classification": written["classification"] | {"device": "cpu"}})


def test_a_run_from_before_segmentation_tta_predicts_masks_without_flips():
    written = run_settings(CONFIG | {"segmentation": CONFIG["segmentation"] | {"tta": True}})
    assert RunSettings.from_config(written).segmentation.tta
    older = written | {"segmentation": {key: value for key, value in written["segmentation"].items() if key != "tta"}}
    assert RunSettings.from_config(older).segmentation.tta is False


def test_a_broken_settings_file_is_named(tmp_path):
    path = tmp_path / SETTINGS_FILE
    path.parent.mkdir(parents=True)
    written = run_settings(CONFIG)
    path.write_text(json.dumps({key: value for key, value in written.items() if key != "classes"}))
    with pytest.raises(BadInputError, match=rf"^{re.escape(str(path))}: missing key\(s\) classes$"):
        locate_run(tmp_path, "proposed")
    path.write_text("{")
    with pytest.raises(BadInputError, match=rf"^{re.escape(str(path))}: "):
        locate_run(tmp_path, "proposed")
