"""Snakemake adapter: decode and resize every source image of a manifest once, into a memory-mapped cache."""

from melanoflow.classification.cache import write_manifest_cache
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_manifest_cache(
    snakemake.input.manifest,
    snakemake.params.size,
    snakemake.output.cache,
    snakemake.output.index,
    threads=snakemake.threads,
)
