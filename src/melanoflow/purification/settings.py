"""The settings a purifier reads, as one frozen dataclass: the configured method and its sections' settings.

Which keys each method reads is in purification.base, which the workflow imports when it plans the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from melanoflow.config_checks import check_section_keys
from melanoflow.purification.base import PURIFIER_SECTIONS, purifier_keys
from melanoflow.purification.classic import ClassicSettings
from melanoflow.purification.dullrazor import DullRazorSettings
from melanoflow.purification.paper import PaperSettings

# Each section a purifier may read, and the dataclass of its settings.
SECTION_SETTINGS = {"paper": PaperSettings, "improved": ClassicSettings, "dullrazor": DullRazorSettings}


@dataclass(frozen=True)
class PurifierSettings:
    """``purification.method`` with the settings of the sections its purifier reads (PURIFIER_SECTIONS);
    the other sections are None."""

    method: str
    paper: PaperSettings | None = None
    improved: ClassicSettings | None = None
    dullrazor: DullRazorSettings | None = None

    @classmethod
    def from_config(cls, section: Mapping) -> PurifierSettings:
        """The settings of the purification section's method and the sections it reads (purifier_keys); an
        unknown method, or a missing or unknown key, is an error naming it."""
        method = section.get("method")
        if method not in PURIFIER_SECTIONS:
            raise ValueError(f"purification.method must be paper, improved, dullrazor or network, got {method!r}")
        check_section_keys(section, purifier_keys(method), "purification")
        sections = PURIFIER_SECTIONS[method]
        return cls(method, **{name: SECTION_SETTINGS[name].from_config(section[name]) for name in sections})
