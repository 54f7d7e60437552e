"""Snakemake adapter: train one variant's classifier (best checkpoint by validation loss)."""

from melanoflow.classification.train import train_variant
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
train_variant(
    snakemake.input.manifest,
    snakemake.input.cache,
    snakemake.input.index,
    snakemake.output.model,
    snakemake.output.history,
    snakemake.output.figure,
    snakemake.params.settings,
    threads=snakemake.threads,
)
