"""What every purification method returns, and which config sections each method reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The config sections each method's purifier reads: its own, or for the network the improved method's, whose
# detector finds the mask the network fills (the network's own section is read by its training).
PURIFIER_SECTIONS = {
    "paper": ("paper",),
    "improved": ("improved",),
    "dullrazor": ("dullrazor",),
    "network": ("improved",),
}
# The config sections (and keys) each ``purification.method`` reads, its network's training included: the
# network's own section, and the device it trains and runs on.
METHOD_SETTINGS = {**PURIFIER_SECTIONS, "network": ("improved", "network", "device")}


def purifier_keys(method: str) -> tuple[str, ...]:
    """What a purifier of ``method`` reads of the purification section (settings.PurifierSettings)."""
    return ("method", *PURIFIER_SECTIONS[method])


@dataclass(frozen=True)
class Purification:
    image: np.ndarray  # purified RGB uint8 (H, W, 3)
    occlusion: np.ndarray  # bool (H, W): the pixels found to be hair or ruler and replaced (the improved
    # method also feathers the pixels just beside them, see classic.soften_edge)

    @property
    def occluded_fraction(self) -> float:
        return float(self.occlusion.mean())
