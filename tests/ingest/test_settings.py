"""The ingest settings: built from the paper's config, and a missing or unknown key is an error naming it."""

import pytest
import yaml

from melanoflow.ingest.settings import IngestSettings, SplitFractions

from ..conftest import REPO

INGEST = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["ingest"]


def test_the_configs_ingest_section_builds_its_settings():
    settings = IngestSettings.from_config(INGEST)
    assert settings.split == SplitFractions(**INGEST["split"])
    assert (settings.split.of("val"), settings.split.of("test")) == (0.1, 0.2)


def test_ingest_settings_name_a_missing_or_unknown_key():
    without_limit = {key: value for key, value in INGEST.items() if key != "max_pixels"}
    with pytest.raises(ValueError, match=r"^missing key\(s\) ingest\.max_pixels$"):
        IngestSettings.from_config(without_limit)
    with pytest.raises(ValueError, match=r"^unknown key\(s\) ingest\.threads$"):
        IngestSettings.from_config(INGEST | {"threads": 4})
    with pytest.raises(ValueError, match=r"^missing key\(s\) ingest\.split\.test_fraction$"):
        IngestSettings.from_config(INGEST | {"split": {"val_fraction": 0.1}})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) ingest\.split\.train_fraction$"):
        IngestSettings.from_config(INGEST | {"split": {**INGEST["split"], "train_fraction": 0.7}})
