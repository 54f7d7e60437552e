"""The evaluation jobs' settings: built from the keys each rule passes of the paper's config, and a missing or
unknown key is an error naming it."""

from pathlib import Path

import pytest
import yaml

from melanoflow.config_checks import section_keys
from melanoflow.evaluation.settings import (
    AucSettings,
    BootstrapSettings,
    ComparisonSettings,
    InsertionSettings,
    ScoringSettings,
    TrapDropSettings,
    VbpSettings,
)

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text())
EVALUATION = CONFIG["evaluation"]


def without(section: dict, key: str) -> dict:
    return {name: value for name, value in section.items() if name != key}


@pytest.mark.parametrize("cls", [AucSettings, ScoringSettings, ComparisonSettings, TrapDropSettings])
def test_each_jobs_settings_read_the_keys_its_rule_passes(cls):
    section = {key: EVALUATION[key] for key in section_keys(cls)}
    settings = cls.from_config(section, seed=CONFIG["seed"], classes=CONFIG["classes"])
    assert settings.classes == tuple(CONFIG["classes"])
    assert settings.bootstrap == BootstrapSettings(**EVALUATION["bootstrap"])


def test_comparison_settings_name_a_missing_or_unknown_key():
    section = {key: EVALUATION[key] for key in section_keys(ComparisonSettings)}
    with pytest.raises(ValueError, match=r"^missing key\(s\) evaluation\.proposed$"):
        ComparisonSettings.from_config(without(section, "proposed"), seed=1, classes=CONFIG["classes"])
    with pytest.raises(ValueError, match=r"^unknown key\(s\) evaluation\.vbp$"):
        ComparisonSettings.from_config(section | {"vbp": EVALUATION["vbp"]}, seed=1, classes=CONFIG["classes"])
    # the scoring of one prediction set does not read the variants the verdict is on
    with pytest.raises(ValueError, match=r"^unknown key\(s\) evaluation\.baseline, evaluation\.proposed$"):
        ScoringSettings.from_config(section, seed=1, classes=CONFIG["classes"])


def test_bootstrap_settings_name_a_missing_or_unknown_key():
    section = {key: EVALUATION[key] for key in section_keys(AucSettings)}
    with pytest.raises(ValueError, match=r"^missing key\(s\) evaluation\.bootstrap\.level$"):
        AucSettings.from_config(section | {"bootstrap": {"resamples": 10}}, seed=1, classes=CONFIG["classes"])
    with pytest.raises(ValueError, match=r"^unknown key\(s\) evaluation\.bootstrap\.paired$"):
        AucSettings.from_config(section | {"bootstrap": {**EVALUATION["bootstrap"], "paired": True}}, seed=1,
                                classes=CONFIG["classes"])


@pytest.mark.parametrize(("cls", "section", "where"), [
    (VbpSettings, EVALUATION["vbp"], "evaluation.vbp"),
    (InsertionSettings, EVALUATION["artefacts"]["counterfactual"], "evaluation.artefacts.counterfactual"),
])
def test_explanation_and_insertion_settings_name_a_missing_or_unknown_key(cls, section, where):
    assert cls.from_config(section).variants == tuple(section["variants"])
    with pytest.raises(ValueError, match=rf"^missing key\(s\) {where}\.device$"):
        cls.from_config(without(section, "device"))
    with pytest.raises(ValueError, match=rf"^unknown key\(s\) {where}\.batch_size$"):
        cls.from_config(section | {"batch_size": 4})
