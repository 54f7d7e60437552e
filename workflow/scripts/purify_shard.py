"""Snakemake adapter: purify one shard of the manifest with the configured method."""

from melanoflow.purification.run import purify_shard
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
purify_shard(
    snakemake.input.manifest,
    snakemake.input.masks,
    int(snakemake.wildcards.shard),
    snakemake.params.n_shards,
    snakemake.params.settings,
    snakemake.output.images,
    snakemake.output.table,
    network_path=snakemake.input.get("network"),
)
