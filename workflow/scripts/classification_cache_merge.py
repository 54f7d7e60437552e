"""Snakemake adapter: assemble a variant's memory-mapped image cache from its shard pieces."""

from melanoflow.classification.cache import merge_manifest_cache
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
merge_manifest_cache(
    snakemake.input.manifest,
    list(zip(snakemake.input.caches, snakemake.input.indexes, strict=True)),
    snakemake.params.size,
    snakemake.output.cache,
    snakemake.output.index,
)
