"""Snakemake adapter: train the GAN of one scarce class (or the coupled GAN of all of them)."""

from melanoflow.runtime import setup_logging
from melanoflow.synthesis.settings import GanSettings
from melanoflow.synthesis.train import train_gan

setup_logging(snakemake.log[0])
train_gan(
    snakemake.input.manifest,
    snakemake.input.get("purified"),
    snakemake.params.classes,
    GanSettings.from_config(**snakemake.params.settings),
    snakemake.output[0],
    threads=snakemake.threads,
)
