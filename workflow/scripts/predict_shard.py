"""Snakemake adapter: predict the input images of one shard into its folder."""

import torch

from melanoflow.predict.run import predict_inputs
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
predict_inputs(
    [snakemake.input.images],
    snakemake.output[0],
    snakemake.params.results,
    snakemake.params.variant,
    snakemake.params.device,
    snakemake.params.tta,
    shard=int(snakemake.wildcards.shard),
    n_shards=snakemake.params.shards,
)
