"""Snakemake adapter: purify one shard of the manifest with the configured method."""

from melanoflow.purification.run import purify_shard
from melanoflow.purification.settings import PurifierSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
purify_shard(
    snakemake.input.manifest,
    snakemake.input.masks,
    int(snakemake.wildcards.shard),
    snakemake.params.n_shards,
    PurifierSettings.from_config(snakemake.params.purifier),
    snakemake.params.select_threshold,
    snakemake.output.images,
    snakemake.output.table,
    network_path=snakemake.input.get("network"),
    device=snakemake.params.device,
)
