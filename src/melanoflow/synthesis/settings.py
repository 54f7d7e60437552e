"""The synthesis stage's settings: frozen dataclasses for the GAN trainer, the deduplication and the figures,
each built once from its part of the config's synthesis section.

Kept free of torch so that the settings can be built and checked without the deep-learning stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from melanoflow.config_checks import SectionSettings, check_section_keys

# decoupled: one DCGAN per scarce class; coupled: a generator and a discriminator per class, sharing layers.
MODES = ("decoupled", "coupled")


@dataclass(frozen=True)
class GanSettings:
    """``synthesis.gan`` of the config (config/config.yaml describes each key) with the latent size of the
    configured mode, and the mode, device and seed the training also reads."""

    resolution: int
    width: float
    latent_dim: int  # the config's per-mode latent size, for `mode`
    batch_size: int
    epochs: int
    learning_rate: float
    betas: tuple[float, float]
    extra_generator_every: int
    extra_generator_rounds: int
    real_label: float
    feature_matching: float
    min_diversity_ratio: float
    patience: int
    warmup_epochs: int
    diversity_batch: int
    checkpoint_every: int
    amp: bool
    mode: str
    device: str
    seed: int

    @classmethod
    def from_config(cls, gan: Mapping, *, mode: str, device: str, seed: int) -> GanSettings:
        """The settings of the ``synthesis.gan`` section, ``synthesis.mode``, ``synthesis.device`` and the
        run's ``seed`` (the keywords the workflow passes them by); a missing or unknown key of the gan
        section is an error naming it."""
        if mode not in MODES:
            raise ValueError(f"synthesis.mode: {mode!r} is not one of {MODES}")
        check_section_keys(gan, {field.name for field in fields(cls)} - {"mode", "device", "seed"}, "synthesis.gan")
        if mode not in gan["latent_dim"]:
            raise ValueError(f"missing key(s) synthesis.gan.latent_dim.{mode}: the latent size in mode {mode}")
        return cls(**{**gan, "latent_dim": gan["latent_dim"][mode], "betas": tuple(gan["betas"])}, mode=mode,
                   device=device, seed=seed)


@dataclass(frozen=True)
class DedupSettings(SectionSettings):
    """``synthesis.dedup`` of the config (config/config.yaml describes each key)."""

    SECTION = "synthesis.dedup"
    mse_threshold: float
    chunk_size: int


@dataclass(frozen=True)
class FigureSettings(SectionSettings):
    """``synthesis.figures`` of the config: the gallery's MSE quantiles and how many smallest-MSE images it
    shows."""

    SECTION = "synthesis.figures"
    quantiles: tuple[float, ...]
    smallest: int
