"""Snakemake adapter: train the partial-convolution purification network on pairs purified by method improved."""

from melanoflow.purification.train import NetworkSettings, train_network
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
settings = NetworkSettings.from_config(**snakemake.params.settings)
train_network(snakemake.input.manifest, snakemake.input.masks, settings, snakemake.output[0])
