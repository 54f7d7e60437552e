"""Snakemake adapter: decode and resize one shard of a training manifest's images into a cache piece."""

from melanoflow.classification.cache import write_manifest_cache_shard
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_manifest_cache_shard(
    snakemake.input.manifest,
    int(snakemake.wildcards.shard),
    snakemake.params.n_shards,
    snakemake.params.size,
    snakemake.output.cache,
    snakemake.output.index,
    threads=snakemake.threads,
    masks_path=snakemake.input.get("masks"),
    lesion_crop=snakemake.params.lesion_crop,
    color_constancy=snakemake.params.color_constancy,
)
