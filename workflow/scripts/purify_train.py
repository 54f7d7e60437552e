"""Snakemake adapter: train the partial-convolution purification network on pairs purified by method improved."""

from melanoflow.purification.train import NetworkSettings, train_network
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
params = snakemake.params.settings
settings = NetworkSettings.from_config(
    params["network"], improved=params["improved"], device=params["device"], seed=params["seed"]
)
train_network(snakemake.input.manifest, snakemake.input.masks, settings, snakemake.output[0])
