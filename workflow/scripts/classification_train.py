"""Snakemake adapter: train one variant's classifier (the epoch `selection` picks on the validation split)."""

from melanoflow.classification.settings import TrainJobSettings
from melanoflow.classification.train import train_variant
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
train_variant(
    snakemake.input.manifest,
    snakemake.input.cache,
    snakemake.input.index,
    snakemake.output.model,
    snakemake.output.history,
    TrainJobSettings.from_config(**snakemake.params.settings),
    threads=snakemake.threads,
)
