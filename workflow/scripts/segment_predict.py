"""Snakemake adapter: write lesion masks for the images of one shard of the manifest."""

from melanoflow.runtime import setup_logging
from melanoflow.segmentation.predict import predict_shard

setup_logging(snakemake.log[0])
predict_shard(
    snakemake.input.manifest,
    snakemake.input.model,
    int(snakemake.wildcards.shard),
    snakemake.params.shards,
    snakemake.params.settings,
    snakemake.output.masks,
    snakemake.output.table,
    threads=snakemake.threads,
)
