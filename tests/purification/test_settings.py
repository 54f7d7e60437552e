"""The purification settings: each method's section, the purifier's (the configured method with the sections
it reads), and a missing or unknown key is an error naming it."""

from dataclasses import asdict

import pytest

from melanoflow.purification.base import purifier_keys
from melanoflow.purification.settings import SECTION_SETTINGS, ClassicSettings, PurifierSettings
from tests.purification.conftest import configured_purification

PURIFICATION = configured_purification()


@pytest.mark.parametrize("method", ["paper", "improved", "dullrazor", "network"])
def test_each_method_reads_its_own_sections_only(method):
    section = {key: PURIFICATION[key] for key in purifier_keys(method)} | {"method": method}
    settings = PurifierSettings.from_config(section)
    sections = {"paper": settings.paper, "improved": settings.improved, "dullrazor": settings.dullrazor}
    read = {"network": {"improved"}}.get(method, {method})
    assert {name for name, section in sections.items() if section is not None} == read
    if method == "network":  # the network fills the mask that the improved method's detector finds
        assert settings.improved == ClassicSettings.from_config(PURIFICATION["improved"])


def test_purifier_settings_name_a_missing_or_unknown_key():
    with pytest.raises(ValueError, match=r"^missing key\(s\) purification\.improved$"):
        PurifierSettings.from_config({"method": "network"})
    with pytest.raises(ValueError, match=r"^unknown key\(s\) purification\.device, purification\.paper$"):
        PurifierSettings.from_config({"method": "improved", "improved": {}, "paper": {}, "device": "cpu"})
    with pytest.raises(ValueError, match=r"^purification\.method must be .*, got None$"):
        PurifierSettings.from_config({"improved": {}})


@pytest.mark.parametrize("section", sorted(SECTION_SETTINGS))
def test_method_settings_name_a_missing_or_unknown_key(section):
    configured = PURIFICATION[section]
    assert asdict(SECTION_SETTINGS[section].from_config(configured)) == configured
    without_threshold = {key: value for key, value in configured.items() if key != "threshold"}
    with pytest.raises(ValueError, match=rf"^missing key\(s\) purification\.{section}\.threshold$"):
        SECTION_SETTINGS[section].from_config(without_threshold)
    with pytest.raises(ValueError, match=rf"^unknown key\(s\) purification\.{section}\.radius$"):
        SECTION_SETTINGS[section].from_config({**configured, "radius": 3})
