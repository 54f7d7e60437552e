"""What every purification method returns, and how method settings are read from config."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# The config sections (and keys) each ``purification.method`` reads. The network fills the mask that the
# improved method's detector finds, on the configured device.
METHOD_SETTINGS = {
    "paper": ("paper",),
    "improved": ("improved",),
    "dullrazor": ("dullrazor",),
    "network": ("improved", "network", "device"),
}


@dataclass(frozen=True)
class Purification:
    image: np.ndarray  # purified RGB uint8 (H, W, 3)
    occlusion: np.ndarray  # bool (H, W): the pixels found to be hair or ruler and replaced (the improved
    # method also feathers the pixels just beside them, see classic.soften_edge)

    @property
    def occluded_fraction(self) -> float:
        return float(self.occlusion.mean())


def settings_from_section(cls, section: dict, name: str):
    """Build the settings dataclass ``cls`` from a config section, naming unknown keys."""
    unknown = set(section) - {field.name for field in fields(cls)}
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}")
    return cls(**section)
