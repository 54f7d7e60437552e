"""The ingest section of the config as one frozen dataclass, built once from the config.

Kept free of the image libraries, like the other stages' settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from melanoflow.config_checks import SectionSettings, check_section_keys, field_names


@dataclass(frozen=True)
class SplitFractions(SectionSettings):
    """``ingest.split``: the shares of a dataset held out as val and test where ingest splits it (stratified
    datasets, and the parts an official archive lacks)."""

    SECTION = "ingest.split"
    val_fraction: float
    test_fraction: float

    def of(self, split: str) -> float:
        """The fraction held out as ``split`` (val or test)."""
        return getattr(self, f"{split}_fraction")


@dataclass(frozen=True)
class IngestSettings:
    """The config's ingest section (config/config.yaml describes each key)."""

    on_bad_image: str  # fail: stop at the first unreadable image; skip: quarantine it
    max_pixels: int
    max_uncompressed_bytes: int
    max_compression_ratio: float
    split: SplitFractions

    @classmethod
    def from_config(cls, section: Mapping) -> IngestSettings:
        """The settings of the ingest section; a missing or unknown key is an error naming it."""
        check_section_keys(section, field_names(cls), "ingest")
        return cls(**{**section, "split": SplitFractions.from_config(section["split"])})
