"""Snakemake adapter: merge the per-shard purification tables into results/purified/occlusions.parquet."""

from melanoflow.manifest import OCCLUSIONS_SCHEMA, merge_shard_tables
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
merge_shard_tables(list(snakemake.input.shards), snakemake.output[0], OCCLUSIONS_SCHEMA)
