"""Snakemake adapter: train the partial-convolution purification network on pairs purified by method improved."""

from melanoflow.purification.train import train_network
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
train_network(snakemake.input.manifest, snakemake.input.masks, snakemake.params.settings, snakemake.output[0])
